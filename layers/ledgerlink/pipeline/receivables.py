"""The receivables subledger: what is still open on each invoice, so cash is applied only up to it (D92).

An invoice's posting-ledger item carries ``receivable_claims`` — one entry per document that changed what the
customer owes on it, keyed by that document's id (so a replay or retry claims nothing twice) — and
``receivable_version``, bumped by every claim (optimistic concurrency: two receipts for one invoice never both take
its last open amount). Open = the invoice's total − the claims.

What claims (signed: + reduces what is open):

- a receipt applied to the invoice (a provider payment, a cash-applied bank line): what it applied;
- a credit note, a write-off, a void: the amount it credited, wrote off or voided;
- a write-off recovery or a refund paying out a credit note (Dr receivable): minus its amount.

A provider payment claims what the provider says it paid (Stripe's ``amount_paid`` is capped at what Stripe had
open; the excess in the same event is already an ``unapplied_payment``). A bank line — cash LedgerLink applies
itself — claims at most what is open when it is applied; the rest is ``unapplied`` (Cr customer_credit).
"""

from __future__ import annotations

from decimal import Decimal

from ledgerlink.model.documents import (
    CREDIT_NOTE_REFUND,
    BankTransaction,
    CreditNote,
    Document,
    Payment,
    Reversal,
    WriteOff,
)

# The ledger item's claims and open amount are read in model/ (the ledger store applies claims with them).
from ledgerlink.model.receivables import (
    CLAIMS,
    VERSION,
    claimed,
    claims_of,
    invoice_total,
    open_amount,
)

__all__ = ["CLAIMS", "VERSION", "claim_of", "claimed", "claims_of", "invoice_total", "open_amount", "split"]


def claim_of(document: Document, invoice_total: Decimal | None = None) -> tuple[str, Decimal] | None:
    """(invoice id, signed amount) a document claims on its invoice's open amount, or None. Bank lines are not
    here: they claim what they apply (capped), see :func:`ledgerlink.service.normalize`."""
    if isinstance(document, Payment) and document.applies_to_document_id:
        if document.source.object_type == CREDIT_NOTE_REFUND:
            return document.applies_to_document_id, -document.amount.amount
        if document.direction == "received" and document.source.object_type != "unapplied_payment":
            return document.applies_to_document_id, document.amount.amount
        return None
    if isinstance(document, CreditNote) and document.original_document_id:
        return document.original_document_id, document.total.amount
    if isinstance(document, WriteOff):
        sign = 1 if document.direction == "written_off" else -1
        return document.original_document_id, sign * document.amount.amount
    if isinstance(document, Reversal) and document.reason == "void" and invoice_total is not None:
        return document.original_document_id, invoice_total
    return None


def split(transaction: BankTransaction, applied: Decimal) -> BankTransaction:
    """A bank line applied to an invoice, with what the subledger let it apply; the rest is unapplied."""
    from ledgerlink.model.money import Money

    rest = transaction.amount.amount - applied
    if rest <= 0:
        return transaction
    return transaction.model_copy(update={"unapplied": Money(rest, transaction.currency)})
