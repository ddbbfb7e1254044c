"""ERP-native documents from a canonical document and its enriched journal (``posting_policies[].post_as:
document``): the journal decides the accounts, the canonical document supplies the party, dates and links.

===================  =====================================================================================
invoice              revenue lines (credit lines, as positive amounts), discounts (negative), tax as a line
                     on the tax account; total = the invoice total; the receivable account from the journal
credit note          the same from the mirrored journal; applies to the original invoice
payment received     gross amount into the cash/clearing account; applies to the invoice it pays
bill                 the expense lines (debits, positive) owed to the vendor; the payable account from the
                     journal; due date and the vendor's invoice number
reversal of a bill   a vendor credit: the mirrored journal's expense credits (as positive amounts) from the
                     vendor named on the reversal; applies to the original bill (QuickBooks refuses an A/P
                     journal line without a vendor, so a journal is not a way to undo a native bill there)
===================  =====================================================================================

Anything else (payments with processor fees, refunds, expenses, other reversals, journals) returns ``None``: it
posts as a journal, which every connector supports.
"""

from __future__ import annotations

from decimal import Decimal

from ledgerlink.model.documents import Bill, CreditNote, Document, Invoice, JournalEntry, Payment, Reversal
from ledgerlink.model.erp import ErpDocument, ErpLine
from ledgerlink.model.money import Money, sum_money

LINE_ROLES = ("revenue", "discounts", "tax")


def _lines(journal: JournalEntry, sign: int) -> tuple[ErpLine, ...]:
    lines = []
    for line in journal.lines:
        role = (line.role or "").split(".", 1)[0]
        if role in LINE_ROLES:
            amount = -line.amount if sign > 0 else line.amount
            lines.append(ErpLine(account=line.account, amount=amount, description=line.memo,
                                 dimensions=dict(line.dimensions)))
    return tuple(lines)


def _account(journal: JournalEntry, *roles: str) -> str | None:
    for line in journal.lines:
        if (line.role or "") in roles:
            return line.account
    return None


def _rate(journal: JournalEntry) -> Decimal | None:
    return journal.fx.rate if journal.fx is not None else None


def erp_document(document: Document, journal: JournalEntry) -> ErpDocument | None:
    if journal.fx is not None:
        return None   # converted to the base currency: the journal is what balances to the cent
    if isinstance(document, Invoice | CreditNote):
        lines = _lines(journal, +1 if isinstance(document, Invoice) else -1)
        if not lines:
            return None
        return ErpDocument(
            kind="invoice" if isinstance(document, Invoice) else "credit_note", external_id=document.document_id,
            entity_id=document.entity_id, party=document.party, date=journal.accounting_date,
            currency=document.currency, total=document.total, lines=lines, number=document.number,
            due_date=getattr(document, "due_date", None), memo=journal.memo,
            account=_account(journal, "receivable"),
            applies_to=getattr(document, "original_document_id", None), exchange_rate=_rate(journal))
    if isinstance(document, Bill):
        expenses = tuple(ErpLine(account=line.account, amount=line.amount, description=line.memo,
                                 dimensions=dict(line.dimensions))
                         for line in journal.lines if (line.role or "").split(".", 1)[0] == "expense")
        return ErpDocument(
            kind="bill", external_id=document.document_id, entity_id=document.entity_id, party=document.party,
            date=journal.accounting_date, currency=document.currency, total=document.total, lines=expenses,
            number=document.number, due_date=document.due_date, memo=journal.memo,
            account=_account(journal, "accounts_payable"), exchange_rate=_rate(journal))
    if isinstance(document, Reversal) and document.party is not None and document.party.role == "vendor":
        return _vendor_credit(document, journal)
    if isinstance(document, Payment) and document.direction == "received" and not document.fees \
            and document.party is not None and document.applies_to_document_id:
        return ErpDocument(
            kind="payment", external_id=document.document_id, entity_id=document.entity_id, party=document.party,
            date=journal.accounting_date, currency=document.currency, total=Money.of(document.amount.amount,
                                                                                     document.currency),
            memo=journal.memo, account=_account(journal, "cash_clearing", "cash_out_of_band"),
            applies_to=document.applies_to_document_id, exchange_rate=_rate(journal))
    return None


def _vendor_credit(document: Reversal, journal: JournalEntry) -> ErpDocument | None:
    """A reversed bill's journal is Dr accounts_payable · Cr expense lines; anything else stays a journal."""
    payable = [line for line in journal.lines if line.role == "accounts_payable"]
    expenses = [line for line in journal.lines if (line.role or "").split(".", 1)[0] == "expense"]
    if not payable or len(payable) + len(expenses) != len(journal.lines) or \
            not all(line.is_debit for line in payable) or any(line.is_debit for line in expenses):
        return None
    total = sum_money([line.amount for line in payable], journal.currency)
    return ErpDocument(
        kind="vendor_credit", external_id=document.document_id, entity_id=document.entity_id,
        party=document.party,  # type: ignore[arg-type]  # checked by the caller
        date=journal.accounting_date, currency=journal.currency, total=total,
        lines=tuple(ErpLine(account=line.account, amount=-line.amount, description=line.memo,
                            dimensions=dict(line.dimensions)) for line in expenses),
        memo=journal.memo, account=payable[0].account, applies_to=document.original_document_id,
        exchange_rate=_rate(journal))
