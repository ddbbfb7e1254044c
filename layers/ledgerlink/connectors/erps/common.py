"""Helpers the HTTP ERP connectors share: external references that fit short ERP fields, the
"uncertain outcome → look up before any retry" rule, and journal-line arithmetic."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from ledgerlink.connectors.erps.base import (
    BulkItemResult,
    BulkPoster,
    ConnectionLimits,
    DocumentPoster,
    ErpReader,
    PartyKeeper,
    PostResult,
)
from ledgerlink.errors import DocumentRejected, UncertainOutcome
from ledgerlink.model.documents import JournalEntry, JournalLine
from ledgerlink.model.ids import DOCUMENT_ID_PREFIX
from ledgerlink.model.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.connectors.erps.connection import HttpConnection
    from ledgerlink.connectors.erps.readback import ReadbackBudget
    from ledgerlink.connectors.erps.session import ErpSession

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


def looked_up(external_id: str, found: PostResult | None) -> BulkItemResult:
    """A journal of a bulk post whose outcome was uncertain, after the lookup by its external id: posted (by this
    attempt) when found, else still uncertain (the next run looks it up again before posting)."""
    if found is not None:
        return BulkItemResult(external_id, PostResult(found.erp_ref, True))
    return BulkItemResult(external_id, reason="uncertain_outcome", message="outcome unknown; looked up, not found yet")


def resolve_uncertain(journals: Sequence[JournalEntry], early: dict[int, BulkItemResult],
                      lookup: Callable[[str], PostResult | None]) -> list[BulkItemResult]:
    """A bulk request's outcome is unknown: every journal it carried is looked up before anything is retried
    (``early``: the journals rejected before the request, by position, keep their rejection)."""
    return [early[position] if position in early else looked_up(journal.document_id, lookup(journal.document_id))
            for position, journal in enumerate(journals)]


def rejected_early(journal: JournalEntry, exc: DocumentRejected) -> BulkItemResult:
    """A journal of a bulk post that the connector refused before sending anything (its body could not be built)."""
    return BulkItemResult(journal.document_id, reason=exc.reason, message=exc.message)


def in_batches(journals: Sequence[JournalEntry], size: int,
               post: Callable[[list[JournalEntry]], list[BulkItemResult]]) -> list[BulkItemResult]:
    """``post`` each run of at most ``size`` journals (the ERP's bulk limit); the results in journal order."""
    results: list[BulkItemResult] = []
    for start in range(0, len(journals), size):
        results += post(list(journals[start:start + size]))
    return results


def only_result(connection_id: str, item: BulkItemResult) -> PostResult:
    """The result of a one-journal bulk post, or its failure raised: an uncertain outcome as ``UncertainOutcome``
    (looked up, not found), anything else as the ERP's rejection."""
    from ledgerlink.connectors.erps.session import rejected

    if item.result is not None:
        return item.result
    if item.reason == "uncertain_outcome":
        raise UncertainOutcome(f"{connection_id}: {item.message}")
    raise rejected(connection_id, item.message or "rejected", reason=item.reason or "erp_rejected")


class Cached[T]:
    """One value read from the ERP (its periods, preferences, lock dates), kept for ``ttl_ms`` of the connector's
    clock: period checks before every post cost no call of their own."""

    def __init__(self, clock_ms: Callable[[], int], ttl_ms: int = 300_000) -> None:
        self._clock_ms = clock_ms
        self._ttl_ms = ttl_ms
        self._held: tuple[int, T] | None = None

    def get(self, load: Callable[[], T]) -> T:
        now = self._clock_ms()
        if self._held is None or now - self._held[0] > self._ttl_ms:
            self._held = (now, load())
        return self._held[1]


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
    fx = journal.fx
    if fx is not None:
        text += f" (FX {fx.from_currency}->{fx.to_currency} {fx.rate} {fx.source})"
    return text[:limit]


# ---- reading raw JSON answers: a vendor's response body is JsonValue until one of these narrows it -----------

def obj(value: JsonValue) -> JsonObject:
    """``value`` if it is a JSON object, else an empty one (an absent or null member reads as ``{}``)."""
    return value if isinstance(value, dict) else {}


def objects(value: JsonValue) -> list[JsonObject]:
    """The objects of a JSON array (an absent or null member reads as ``[]``)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def text(value: JsonValue) -> str:
    """A member as text, ``""`` when absent, null or empty."""
    return str(value) if value else ""


def number(value: JsonValue) -> Decimal:
    """A member as an exact amount, 0 when absent, null or empty (the JSON parser reads numbers as Decimal)."""
    return Decimal(str(value or 0))


def optional_text(value: JsonValue) -> str | None:
    return None if value is None else str(value)


def location_id(location: str | None) -> str:
    """The last path segment of a ``Location`` header (the id of what a request created)."""
    return (location or "").rstrip("/").rsplit("/", 1)[-1]


class _ReadsBackHost(Protocol):
    """What ``ApiConnector.readback_budget`` needs from the connector it is mixed into."""

    _context: ConnectorContext
    _readback_budget: ReadbackBudget | None

    @property
    def connection(self) -> HttpConnection: ...

    def limits(self) -> ConnectionLimits: ...


class ApiConnector:
    """What the four API connectors share: their answers to the port's capability questions (each posts in bulk,
    posts native documents, keeps parties and reads back; none lists postings by id — it reads them back), its
    API call count, and its read-back (``connectors/erps/readback.py``): LedgerLink's key is the document id unless
    the ERP holds a shorter reference (Business Central overrides ``readback_key``), and one read-back budget per
    connector, so every listing of a run draws from the same share of the daily budget."""

    session: ErpSession
    _readback_budget: ReadbackBudget | None = None

    def as_bulk_poster(self: BulkPoster) -> BulkPoster:
        return self

    def as_document_poster(self: DocumentPoster) -> DocumentPoster:
        return self

    def as_party_keeper(self: PartyKeeper) -> PartyKeeper:
        return self

    def as_reader(self: ErpReader) -> ErpReader:
        return self

    def as_day_lister(self) -> None:
        return None

    def as_preparer(self) -> None:
        return None   # the ERP's chart of accounts is the ERP's: nothing to open before posting

    def api_calls(self) -> int:
        return self.session.calls

    @staticmethod
    def readback_key(document_id: str) -> str:
        return document_id

    def readback_budget(self: _ReadsBackHost) -> ReadbackBudget:
        """The read-back share of the connection's daily budget (built once per connector)."""
        from ledgerlink.connectors.erps.readback import ReadbackBudget

        if self._readback_budget is None:
            self._readback_budget = ReadbackBudget.for_connection(
                self._context, self.connection, self.limits().daily_budget)
        return self._readback_budget


ReadsBack = ApiConnector   # the name the connectors used before the capability answers joined it
