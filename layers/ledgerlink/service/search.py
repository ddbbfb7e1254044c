"""Search for the finance-ops console: the documents (and exception cases, and received events) behind what an
operator types — an id, a customer or vendor, an amount.

Two ways, in this order:

1. **By id** (a query without whitespace): the ledger item of that document id (``GetItem``), then every
   document whose event id, correlation id, external id (the source's id of the document) or ERP reference is the
   query — the ledger's keys-only indexes (``DynamoLedger.find``, the lookups ``trace`` uses). Anything found
   answers the query; nothing is scanned.
2. **By scan** (nothing found by id, or a query with whitespace): every ledger item is read once and matched on
   the customer or vendor of its document (party id or name, case-insensitive substring) and on its amount (the
   query is a number — ``1234.56``, ``1,234.56``, ``1234.56 USD``, ``USD 1234.56`` — equal as a Decimal to the
   document's total/amount, or to a payout's gross, in that currency when one is given). A scan costs the whole
   table's read capacity (decision in the decisions file: what it costs per 10,000 documents, and the index that
   would replace it).

Cases: for a query without whitespace, the exception cases whose document id, correlation id or event (subject
``<source>#<event id>``) is the query (a filtered scan of the cases table, which is small next to the ledger),
and the cases of every document found by id (index ``by_document``). Events: with ``sources`` given, an event id
no document was found for is looked up in the inbox under each source (one ``GetItem`` each): an event
received but never normalized (in flight, failed, or lost) is found too.

Hits are ordered newest accounting date first; ``limit`` of them are returned, ``total`` says how many matched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Protocol, TypedDict

from ledgerlink.model.money import CurrencyError, normalize_currency

MAX_QUERY_LENGTH = 200
MAX_LIMIT = 500
# index lookups in the order they are tried: LEDGER_LOOKUPS kind → what a hit says matched
ID_LOOKUPS = (("event", "event_id"), ("correlation", "correlation_id"), ("external", "external_id"),
              ("erp", "erp_reference"))
# what the scan reads of each item (DynamoDB charges the whole item; the projection saves the transfer)
SCAN_ATTRIBUTES = ("document_id", "document_type", "entity_id", "source_id", "status", "amount", "currency",
                   "accounting_date", "erp_ref", "document")
PARTY_ROLES = ("customer", "vendor")
_AMOUNT = re.compile(r"^(?:(?P<before>[A-Za-z]{3})\s*)?(?P<number>[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)"
                     r"(?:\s*(?P<after>[A-Za-z]{3}))?$")


class LedgerReader(Protocol):
    """The posting ledger as search reads it (``DynamoLedger``; Any: items as stored, read field by field)."""

    def get(self, document_id: str) -> Mapping[str, Any] | None: ...
    def find(self, kind: str, reference: str) -> list[str]: ...
    def scan_projected(self, attributes: Sequence[str]) -> Iterable[Mapping[str, Any]]: ...


class InboxReader(Protocol):
    def get(self, source: str, event_id: str) -> Mapping[str, object] | None: ...


class CaseReader(Protocol):
    def for_document(self, document_id: str) -> list[dict[str, Any]]: ...
    def referencing(self, reference: str) -> list[dict[str, Any]]: ...


class DocumentHitJson(TypedDict):
    document_id: str
    document_type: str | None
    entity_id: str | None
    source: str | None
    status: str | None
    amount: str | None
    currency: str | None
    accounting_date: str | None
    erp_reference: str | None
    matched_on: str


class CaseHitJson(TypedDict):
    exception_id: str
    status: str | None
    reason: str | None
    document_id: str | None
    entity_id: str | None
    source: str | None
    correlation_id: str | None
    opened_at: str | None
    matched_on: str


class EventHitJson(TypedDict):
    source: str
    event_id: str
    event_type: str | None
    status: str | None
    outcome: str | None
    received_at: str | None
    correlation_id: str | None
    archive_key: str | None
    document_ids: list[str]
    last_error: str | None
    matched_on: str


class SearchJson(TypedDict):
    query: str
    mode: str
    total: int
    truncated: bool
    scanned: int
    hits: list[DocumentHitJson]
    cases: list[CaseHitJson]
    events: list[EventHitJson]


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True, slots=True)
class DocumentHit:
    document_id: str
    document_type: str | None
    entity_id: str | None
    source: str | None
    status: str | None
    amount: str | None              # the document's total / amount as stored (exact decimal text)
    currency: str | None
    accounting_date: str | None     # the document's own (ISO date)
    erp_reference: str | None
    matched_on: str                 # document_id | event_id | correlation_id | external_id | erp_reference |
    #                                 customer_id | customer_name | vendor_id | vendor_name | amount | gross_amount

    @classmethod
    def of(cls, item: Mapping[str, Any], matched_on: str) -> DocumentHit:
        return cls(document_id=str(item["document_id"]), document_type=_text(item.get("document_type")),
                   entity_id=_text(item.get("entity_id")), source=_text(item.get("source_id")),
                   status=_text(item.get("status")), amount=_text(item.get("amount")),
                   currency=_text(item.get("currency")), accounting_date=_text(item.get("accounting_date")),
                   erp_reference=_text(item.get("erp_ref")), matched_on=matched_on)

    def to_dict(self) -> DocumentHitJson:
        return {"document_id": self.document_id, "document_type": self.document_type, "entity_id": self.entity_id,
                "source": self.source, "status": self.status, "amount": self.amount, "currency": self.currency,
                "accounting_date": self.accounting_date, "erp_reference": self.erp_reference,
                "matched_on": self.matched_on}


@dataclass(frozen=True, slots=True)
class CaseHit:
    exception_id: str
    status: str | None
    reason: str | None
    document_id: str | None
    entity_id: str | None
    source: str | None
    correlation_id: str | None
    opened_at: str | None
    matched_on: str                 # document_id | event_id | correlation_id; or, for a case of a document found
    #                                 by id, what that document matched on

    @classmethod
    def of(cls, case: Mapping[str, Any], matched_on: str) -> CaseHit:
        return cls(exception_id=str(case["exception_id"]), status=_text(case.get("status")),
                   reason=_text(case.get("reason")), document_id=_text(case.get("document_id")),
                   entity_id=_text(case.get("entity_id")), source=_text(case.get("source")),
                   correlation_id=_text(case.get("correlation_id")), opened_at=_text(case.get("opened_at")),
                   matched_on=matched_on)

    def to_dict(self) -> CaseHitJson:
        return {"exception_id": self.exception_id, "status": self.status, "reason": self.reason,
                "document_id": self.document_id, "entity_id": self.entity_id, "source": self.source,
                "correlation_id": self.correlation_id, "opened_at": self.opened_at, "matched_on": self.matched_on}


@dataclass(frozen=True, slots=True)
class EventHit:
    """An event the inbox holds (received within its retention) that the ledger has no document for."""

    source: str
    event_id: str
    event_type: str | None
    status: str | None              # pending | processed
    outcome: str | None             # normalized | ignored | exception (once processed)
    received_at: str | None         # ISO 8601 UTC
    correlation_id: str | None
    archive_key: str | None
    document_ids: tuple[str, ...]
    last_error: str | None          # why the last attempt to normalize it failed (error type and place)

    def to_dict(self) -> EventHitJson:
        return {"source": self.source, "event_id": self.event_id, "event_type": self.event_type,
                "status": self.status, "outcome": self.outcome, "received_at": self.received_at,
                "correlation_id": self.correlation_id, "archive_key": self.archive_key,
                "document_ids": list(self.document_ids), "last_error": self.last_error, "matched_on": "event_id"}


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str                      # as searched (whitespace stripped)
    mode: Literal["id", "scan"]     # found by id (GetItem / index queries), or by a scan of the ledger
    hits: tuple[DocumentHit, ...] = ()
    total: int = 0                  # documents that matched (hits holds the first ``limit``)
    scanned: int = 0                # ledger items the scan read (0: found by id)
    cases: tuple[CaseHit, ...] = ()
    events: tuple[EventHit, ...] = ()

    @property
    def truncated(self) -> bool:
        return self.total > len(self.hits)

    def to_dict(self) -> SearchJson:
        return {"query": self.query, "mode": self.mode, "total": self.total, "truncated": self.truncated,
                "scanned": self.scanned, "hits": [hit.to_dict() for hit in self.hits],
                "cases": [case.to_dict() for case in self.cases], "events": [event.to_dict() for event in self.events]}


@dataclass(frozen=True, slots=True)
class AmountQuery:
    amount: Decimal
    currency: str | None


def amount_query(query: str) -> AmountQuery | None:
    """The amount a query names (``1234.56``, ``1,234.56``, ``-12.5``, ``1234.56 USD``, ``usd 1234.56``), None when
    it names none (thousands separators must group by three; a currency must be an ISO 4217 code)."""
    match = _AMOUNT.match(query)
    if match is None or (match["before"] and match["after"]):
        return None
    code = match["before"] or match["after"]
    try:
        currency = normalize_currency(code) if code else None
        return AmountQuery(Decimal(match["number"].replace(",", "")), currency)
    except (CurrencyError, InvalidOperation):
        return None


def check_query(query: str) -> str:
    """The query stripped; ValueError when it is empty or longer than :data:`MAX_QUERY_LENGTH`."""
    stripped = query.strip() if isinstance(query, str) else ""
    if not stripped:
        raise ValueError("the search query is empty: type a document, event, correlation or external id, an ERP "
                         "reference, a customer or vendor, or an amount")
    if len(stripped) > MAX_QUERY_LENGTH:
        raise ValueError(f"the search query is {len(stripped)} characters long; at most {MAX_QUERY_LENGTH} are "
                         "searched")
    return stripped


def search(query: str, *, ledger: LedgerReader, inbox: InboxReader, cases: CaseReader, limit: int = 50,
           sources: Sequence[str] = ()) -> SearchResult:
    """The documents, cases and events ``query`` names (see the module's docstring). ``sources``: the configured
    source ids, to look an event id up in the inbox (none given: the inbox is not read)."""
    text = check_query(query)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
    id_shaped = not any(character.isspace() for character in text)
    found = _by_id(text, ledger) if id_shaped else []
    scanned = 0
    if found:
        mode: Literal["id", "scan"] = "id"
    else:
        mode = "scan"
        found, scanned = _by_scan(text, ledger)
    found.sort(key=lambda hit: (hit.accounting_date or "", hit.document_id), reverse=True)
    case_hits = _cases(text, found if mode == "id" else [], cases) if id_shaped else []
    events = _events(text, inbox, sources) if id_shaped and mode == "scan" else []
    return SearchResult(query=text, mode=mode, hits=tuple(found[:limit]), total=len(found), scanned=scanned,
                        cases=tuple(case_hits), events=tuple(events))


def _by_id(text: str, ledger: LedgerReader) -> list[DocumentHit]:
    """Documents whose id, event id, correlation id, external id or ERP reference is ``text``: one GetItem and
    one query of each keys-only index, then one GetItem per document found."""
    hits: dict[str, DocumentHit] = {}
    item = ledger.get(text)
    if item is not None:
        hits[text] = DocumentHit.of(item, "document_id")
    for kind, matched_on in ID_LOOKUPS:
        for document_id in ledger.find(kind, text):
            if document_id in hits:
                continue
            found = ledger.get(document_id)
            if found is not None:
                hits[document_id] = DocumentHit.of(found, matched_on)
    return list(hits.values())


def _by_scan(text: str, ledger: LedgerReader) -> tuple[list[DocumentHit], int]:
    needle = text.casefold()
    amount = amount_query(text)
    hits: list[DocumentHit] = []
    scanned = 0
    for item in ledger.scan_projected(SCAN_ATTRIBUTES):
        scanned += 1
        document = _document(item)
        matched_on = _party_match(document, needle) or (_amount_match(item, document, amount) if amount else None)
        if matched_on is not None:
            hits.append(DocumentHit.of(item, matched_on))
    return hits, scanned


def _document(item: Mapping[str, Any]) -> Mapping[str, Any]:
    stored = item.get("document")
    try:
        document = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return {}
    return document if isinstance(document, Mapping) else {}


def _party_match(document: Mapping[str, Any], needle: str) -> str | None:
    """``customer_id`` / ``vendor_id`` / ``customer_name`` / ``vendor_name`` when the document's party (a customer
    or vendor) has the needle in its id or name (case-insensitive), else None."""
    party = document.get("party")
    if not isinstance(party, Mapping) or party.get("role") not in PARTY_ROLES:
        return None
    for attribute, suffix in (("source_id", "id"), ("name", "name")):
        value = party.get(attribute)
        if isinstance(value, str) and needle in value.casefold():
            return f"{party['role']}_{suffix}"
    return None


def _amount_match(item: Mapping[str, Any], document: Mapping[str, Any], wanted: AmountQuery) -> str | None:
    """``amount`` when the item's total/amount equals the wanted one (in its currency, if named), ``gross_amount``
    when a payout's gross does; else None."""
    currency = _text(item.get("currency"))
    if wanted.currency is not None and currency != wanted.currency:
        return None
    if _decimal(item.get("amount")) == wanted.amount:
        return "amount"
    if item.get("document_type") == "payout" and _payout_gross(document) == wanted.amount:
        return "gross_amount"
    return None


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _payout_gross(document: Mapping[str, Any]) -> Decimal | None:
    """The payout's gross (``Payout.gross``: what it relieves the clearing account of), None when unreadable."""
    from pydantic import ValidationError

    from ledgerlink.model.documents import DocumentAdapter, Payout

    try:
        payout = DocumentAdapter.validate_python(document)
    except (ValidationError, ValueError):
        return None
    return payout.gross.amount if isinstance(payout, Payout) else None


def _cases(text: str, found: Sequence[DocumentHit], cases: CaseReader) -> list[CaseHit]:
    """Cases of the documents found by id (index ``by_document``), and cases whose document id, correlation id or
    event id is the query (a filtered scan of the cases table, skipped when the query is a document id found)."""
    hits: dict[str, CaseHit] = {}
    for hit in found:
        for case in cases.for_document(hit.document_id):
            hits.setdefault(str(case["exception_id"]), CaseHit.of(case, hit.matched_on))
    if not any(hit.matched_on == "document_id" for hit in found):
        for case in cases.referencing(text):
            hits.setdefault(str(case["exception_id"]), CaseHit.of(case, _case_field(case, text)))
    return sorted(hits.values(), key=lambda hit: (hit.opened_at or "", hit.exception_id))


def _case_field(case: Mapping[str, Any], text: str) -> str:
    if case.get("document_id") == text:
        return "document_id"
    if case.get("correlation_id") == text:
        return "correlation_id"
    return "event_id"


def _events(text: str, inbox: InboxReader, sources: Sequence[str]) -> list[EventHit]:
    """The inbox's claims of event id ``text`` under each source (asked when no document was found by id)."""
    events = []
    for source in sources:
        claim = inbox.get(source, text)
        if claim is not None:
            events.append(_event_hit(source, text, claim))
    return events


def _event_hit(source: str, event_id: str, claim: Mapping[str, object]) -> EventHit:
    claimed = _decimal(claim.get("claimed_at"))
    documents = claim.get("document_ids")
    return EventHit(
        source=source, event_id=event_id, event_type=_text(claim.get("event_type")), status=_text(claim.get("status")),
        outcome=_text(claim.get("outcome")),
        received_at=datetime.fromtimestamp(float(claimed), UTC).isoformat(timespec="seconds") if claimed else None,
        correlation_id=_text(claim.get("correlation_id")), archive_key=_text(claim.get("archive_key")),
        document_ids=tuple(str(document) for document in documents) if isinstance(documents, list) else (),
        last_error=_text(claim.get("last_error")))


