"""Helpers the HTTP ERP connectors share: external references that fit short ERP fields, the
"uncertain outcome → look up before any retry" rule, and journal-line arithmetic."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledgerlink.connectors.erps.base import PostResult
from ledgerlink.errors import UncertainOutcome
from ledgerlink.model.documents import JournalEntry, JournalLine
from ledgerlink.model.ids import DOCUMENT_ID_PREFIX

_HEX = re.compile(r"^[0-9a-f]{32}$")


def short_ref(external_id: str, length: int) -> str:
    """A deterministic reference of ``length`` characters for ERP fields shorter than a document id
    (QuickBooks DocNumber: 21, Business Central document numbers: 20): ``LL`` + the first hex digits of the
    id's fingerprint. 18 hex digits are 72 bits — a collision among a billion documents has odds below 1e-3,
    and the connector still compares the full id (kept in a memo/note field) before trusting a match."""
    digest = external_id.removeprefix(DOCUMENT_ID_PREFIX)
    if not _HEX.match(digest):
        from ledgerlink.model.ids import fingerprint

        digest = fingerprint(external_id)
    return ("LL" + digest.upper())[:length]


def post_with_lookup(external_id: str, post: Callable[[], PostResult],
                     lookup: Callable[[str], PostResult | None]) -> PostResult:
    """Post; if the outcome is uncertain (timeout, reset, 5xx after sending), look the document up by its
    external id *before* anything is retried. Found: it was posted (by this attempt). Not found: raise, and
    the state machine's retry looks it up again before posting (the ERP may still have been committing)."""
    try:
        return post()
    except UncertainOutcome:
        found = lookup(external_id)
        if found is not None:
            return PostResult(erp_ref=found.erp_ref, created=True)
        raise


def debit_credit(line: JournalLine) -> tuple[Decimal, Decimal]:
    """(debit, credit), both non-negative, quantized to the currency's exponent."""
    amount = Decimal(line.amount.canonical())
    return (amount, Decimal(0)) if amount > 0 else (Decimal(0), -amount)


def amount_of(line: JournalLine) -> Decimal:
    return Decimal(line.amount.canonical())


def journal_currency(journal: JournalEntry) -> str:
    """The one currency of a journal (connectors post single-currency journals; FX conversion runs first)."""
    currencies = {line.amount.currency for line in journal.lines}
    if len(currencies) != 1:
        from ledgerlink.errors import DocumentRejected

        raise DocumentRejected(f"journal {journal.document_id} mixes currencies {sorted(currencies)}",
                               reason="multi_currency_journal",
                               suggested_fix="set foreign_currency: convert_to_base on the entity")
    return currencies.pop()


def narration(journal: JournalEntry, limit: int = 4000) -> str:
    """Memo text that always carries the external id (lookups match on it) and, for converted journals, the
    rate and its source."""
    text = f"{journal.memo or journal.source.object_type} [{journal.document_id}]"
    fx = getattr(journal, "fx", None)
    if fx is not None:
        text += f" (FX {fx.from_currency}->{fx.to_currency} {fx.rate} {fx.source})"
    return text[:limit]


class ReadsBack:
    """What every API connector's read-back shares (``connectors/erps/readback.py``): LedgerLink's key is the
    document id unless the ERP holds a shorter reference (Business Central overrides ``readback_key``), and one
    read-back budget per connector, so every listing of a run draws from the same share of the daily budget.
    Needs ``_context``, ``connection`` and ``limits()``, as every HTTP connector has."""

    _readback_budget: Any = None

    @staticmethod
    def readback_key(document_id: str) -> str:
        return document_id

    def readback_budget(self) -> Any:
        """The read-back share of the connection's daily budget (built once per connector)."""
        from ledgerlink.connectors.erps.readback import ReadbackBudget

        if self._readback_budget is None:
            self._readback_budget = ReadbackBudget.for_connection(
                self._context, self.connection, self.limits().daily_budget)  # type: ignore[attr-defined]
        return self._readback_budget
