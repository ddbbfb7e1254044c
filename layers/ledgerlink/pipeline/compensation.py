"""Compensation: a cancellation, void, chargeback or correction undoes a posted journal with a *new* journal
that mirrors it — never an edit of the posted entry.

Refunds and credit notes are their own documents with their own posting rules (``enrich``); they are
linked to what they compensate (``related_document_ids``). A :class:`Reversal` is generic: it takes the
original's posted journal, flips every line (in full, or scaled to a partial amount with the rounding
remainder on the largest line so it still balances), and is dated on the event — or on the original's date
when the source says so (a void). Either date then meets the period gate like any journal: in a closed
period the entity's policy decides (``reject`` → exception, ``next_open_period`` → first open day).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from ledgerlink.errors import DocumentRejected
from ledgerlink.model.allocation import allocate
from ledgerlink.model.documents import JournalEntry, JournalLine, Reversal
from ledgerlink.model.money import Money, currency_exponent


def _scaled(lines: tuple[JournalLine, ...], ratio: Decimal) -> list[JournalLine]:
    """Each line times ``ratio``, exactly: per currency the debit side's scaled total (rounded half-even to the
    currency) is split over the debit lines and, mirrored, over the credit lines by largest remainder
    (``model.allocation.allocate``), so each side sums to it, the journal stays balanced and no line takes another
    line's rounding."""
    out = list(lines)
    for currency in {line.amount.currency for line in lines}:
        quantum = Decimal(1).scaleb(-currency_exponent(currency))
        debits = [i for i, line in enumerate(lines) if line.amount.currency == currency and line.amount.amount > 0]
        credits = [i for i, line in enumerate(lines) if line.amount.currency == currency and line.amount.amount < 0]
        target = (sum((lines[i].amount.amount for i in debits), Decimal(0)) * ratio).quantize(
            quantum, rounding=ROUND_HALF_EVEN)
        for side, sign in ((debits, 1), (credits, -1)):
            if not side:
                continue
            parts = allocate(Money(amount=sign * target, currency=currency), [abs(lines[i].amount.amount) for i in side])
            for i, part in zip(side, parts, strict=True):
                out[i] = lines[i].model_copy(update={"amount": part})
    return [line for line in out if not line.amount.is_zero()]


def reversal_journal(reversal: Reversal, original: JournalEntry, *, config_version: int | None) -> JournalEntry:
    if original.entity_id != reversal.entity_id:
        raise DocumentRejected("a reversal must be in the entity of the original", reason="compensation_mismatch")
    lines = original.lines
    if reversal.amount is not None:
        size = original.totals_by_currency().get(reversal.amount.currency)
        if size is None or reversal.amount.amount > size.amount:
            raise DocumentRejected(f"cannot reverse {reversal.amount} of a journal of {size}",
                                   reason="compensation_exceeds_original", original=original.document_id)
        lines = tuple(_scaled(lines, reversal.amount.amount / size.amount))
    flipped = [line.model_copy(update={"amount": -line.amount, "original_amount": None,
                                       "memo": f"reversal of {line.memo}" if line.memo else "reversal"})
               for line in lines]
    on = reversal.accounting_date
    if reversal.reverse_on == "original_date":
        on = original.original_accounting_date or original.accounting_date
    memo = f"{reversal.reason} of {original.document_id}: {original.memo or ''}".strip().rstrip(":")
    try:
        return JournalEntry(
            document_id=reversal.document_id, source=reversal.source, entity_id=reversal.entity_id,
            correlation_id=reversal.correlation_id, occurred_at=reversal.occurred_at, accounting_date=on,
            currency=original.currency, memo=memo[:512],
            related_document_ids=tuple(dict.fromkeys((original.document_id, *reversal.related_document_ids))),
            lines=tuple(flipped), mapping_version=config_version, fx=original.fx)
    except ValueError as exc:
        raise DocumentRejected(f"reversal of {original.document_id} is invalid: {exc}",
                               reason="unbalanced_journal") from None


def compensation_links(document: object) -> tuple[str, ...]:
    """The documents a compensating document points at (credit note → invoice, refund → what it refunds)."""
    links = list(getattr(document, "related_document_ids", ()) or ())
    kind = getattr(document, "document_type", "")
    if kind in ("credit_note", "reversal") and getattr(document, "original_document_id", None):
        links.append(document.original_document_id)  # type: ignore[attr-defined]
    if kind == "payment" and getattr(document, "direction", "") in ("refunded", "chargeback", "chargeback_reversed") \
            and getattr(document, "applies_to_document_id", None):
        links.append(document.applies_to_document_id)  # type: ignore[attr-defined]
    return tuple(dict.fromkeys(link for link in links if link))
