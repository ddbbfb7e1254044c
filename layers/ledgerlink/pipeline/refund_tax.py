"""A refund's share of the tax of the invoice it refunds (issue 17, D88).

A refund gives back part of what the customer paid, tax included, so it reverses the tax collected on the
refunded part: the refund is split over the invoice's net (total − tax) and its tax per tax treatment, by largest
remainder (``model.allocation.allocate``), so net share + tax shares = the refund exactly. For a 20.00 refund of a
128.52 invoice with 20.52 tax: weights (108.00, 20.52) → 16.81 refunds, 3.19 tax. Inclusive tax counts like
exclusive tax: it is part of the total either way.

The enrich step reads the invoice from the posting ledger and posts the refund with ``refunded_tax`` set
(``service.posting.enrich_step``); the close check recomputes the same shares to tie out tax payable.
"""

from __future__ import annotations

from ledgerlink.errors import DocumentRejected
from ledgerlink.model.allocation import allocate
from ledgerlink.model.documents import Invoice, Payment, TaxShare
from ledgerlink.model.money import Money


def invoice_taxes(invoice: Invoice) -> list[tuple[str | None, Money]]:
    """The invoice's tax (exclusive + inclusive) per tax treatment, in the order the invoice posts its tax lines."""
    zero = Money.zero(invoice.currency)
    taxes: dict[str | None, Money] = {}
    for line in invoice.lines:
        tax = (line.tax or zero) + (line.inclusive_tax or zero)
        if not tax.is_zero():
            taxes[line.tax_treatment] = taxes.get(line.tax_treatment, zero) + tax
    return sorted(taxes.items(), key=lambda item: item[0] or "")


def refund_tax(refund: Payment, invoice: Invoice) -> tuple[TaxShare, ...]:
    """The tax shares of ``refund`` (no shares when the invoice has no tax)."""
    taxes = invoice_taxes(invoice)
    if not taxes:
        return ()
    if invoice.currency != refund.currency:
        raise DocumentRejected(f"refund {refund.document_id} is in {refund.currency}, its invoice "
                               f"{invoice.document_id} in {invoice.currency}", reason="refund_currency_mismatch",
                               invoice=invoice.document_id)
    net = invoice.total - sum((tax for _, tax in taxes), Money.zero(invoice.currency))
    weights = [net.amount, *(tax.amount for _, tax in taxes)]
    if any(weight < 0 for weight in weights):
        raise DocumentRejected(f"invoice {invoice.document_id} has a negative net or tax: the tax share of refund "
                               f"{refund.document_id} cannot be computed", reason="refund_tax_unallocatable",
                               invoice=invoice.document_id,
                               suggested_fix="post the refund's tax share by hand, then resolve this case")
    shares = allocate(refund.amount, weights)[1:]
    return tuple(TaxShare(treatment=treatment, amount=share)
                 for (treatment, _), share in zip(taxes, shares, strict=True) if not share.is_zero())


def with_refunded_tax(refund: Payment, invoice: object) -> Payment:
    """The refund as it posts: with its share of the invoice's tax when it refunds an invoice (a refund of
    something else — an Adyen sale payment — has no tax to share)."""
    if not isinstance(invoice, Invoice):
        return refund
    shares = refund_tax(refund, invoice)
    return refund.model_copy(update={"refunded_tax": shares}) if shares else refund
