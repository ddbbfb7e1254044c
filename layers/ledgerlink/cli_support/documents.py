"""Find and list ledger documents for ``ledgerlink trace`` and ``ledgerlink documents list|show``.

Where the rows come from (never a whole-table scan on a deployed stack):

- ``--id`` (any id: document, event, correlation, external, ERP reference): the ledger's keys-only indexes
  (:func:`ledgerlink.service.trace.resolve`), then one GetItem per document;
- ``--entity`` with ``--date`` or ``--from``/``--to``: the ``by_day`` index, one query per business day;
- anything else: a filtered scan, on the local stack only (a few thousand items); a deployed stack refuses it
  with ``scan_refused`` and says which filter to add.

A local stack whose tables predate the lookup indexes (a reopened state directory) is searched by a scan instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict

from ledgerlink.cli_support.args import UsageError
from ledgerlink.errors import OpsError
from ledgerlink.store.tables import LEDGER_LOOKUPS

MAX_DAYS = 366   # one query per day: a longer range is refused (give a narrower one)

# `documents list --json` → "documents": one record per document, these keys in this order (README)
SUMMARY_KEYS = ("document_id", "status", "document_type", "source", "entity_id", "business_date", "accounting_date",
                "currency", "amount", "event_id", "correlation_id", "external_id", "erp_connection", "erp_ref",
                "exception_id", "config_version", "posted_at", "ignored_reason")


# A ledger item as the store returns it (DynamoDB attributes, numbers as Decimal); read by key, values narrowed.
type StoredItem = Mapping[str, object]


class DocumentSummary(TypedDict):
    """``documents list --json``: one record per document, the keys of ``SUMMARY_KEYS`` in that order."""

    document_id: object
    status: object
    document_type: object
    source: object
    entity_id: object
    business_date: str | None
    accounting_date: object
    currency: object
    amount: str | None
    event_id: object
    correlation_id: object
    external_id: str | None
    erp_connection: object
    erp_ref: object
    exception_id: object
    config_version: int | None
    posted_at: object
    ignored_reason: object


class DocumentDetail(DocumentSummary):
    """``documents show --json``: the summary, the canonical document and the journal (parsed JSON)."""

    document: object
    journal: object


def external_id(item: StoredItem) -> str | None:
    if item.get("external_id"):
        return str(item["external_id"])
    _, _, rest = str(item.get("source_object") or "").partition(":")
    object_id, _, _ = rest.rpartition(":")
    return object_id or None


def business_date(item: StoredItem) -> str | None:
    _, _, day = str(item.get("day_key") or "").partition("#")
    accounting = item.get("accounting_date")
    return day or (accounting if isinstance(accounting, str) or accounting is None else str(accounting))


def _version(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | str | Decimal):
        return int(value)
    raise TypeError(f"{type(value).__name__} is not a configuration version")


def summary(item: StoredItem) -> DocumentSummary:
    """The documented record of one ledger item (no storage attributes: leases, day_key, the raw JSON)."""
    amount = item.get("amount")
    return {
        "document_id": item["document_id"], "status": item.get("status"), "document_type": item.get("document_type"),
        "source": item.get("source_id"), "entity_id": item.get("entity_id"), "business_date": business_date(item),
        "accounting_date": item.get("accounting_date"), "currency": item.get("currency"),
        "amount": str(amount) if amount is not None else None, "event_id": item.get("event_id"),
        "correlation_id": item.get("correlation_id"), "external_id": external_id(item),
        "erp_connection": item.get("erp_connection"), "erp_ref": item.get("erp_ref"),
        "exception_id": item.get("exception_id"),
        "config_version": _version(item.get("config_version")),
        "posted_at": item.get("posted_at"), "ignored_reason": item.get("ignored_reason"),
    }


def detail(item: StoredItem) -> DocumentDetail:
    """``documents show``: the summary, the canonical document and the journal (parsed, not JSON strings)."""
    def parsed(name: str) -> object:
        raw = item.get(name)
        return json.loads(raw) if isinstance(raw, str) else raw

    return {**summary(item), "document": parsed("document"), "journal": parsed("journal")}


def _missing_index(error: BaseException) -> bool:
    """A Query on an index the table does not have (DynamoDB: ValidationException "The table does not have the
    specified index"; moto: ResourceNotFoundException "Invalid index")."""
    from ledgerlink.store.clients import error_code

    return error_code(error) in ("ValidationException", "ResourceNotFoundException") and "index" in str(error).lower()


def resolve(reference: str, *, ledger: Any, local: bool) -> tuple[str, list[str]]:
    """(kind, document ids) of any id. A local table without the lookup indexes (a reopened older state) is scanned
    for the kinds it lacks; a deployed stack names them in the not_found error (they arrive one deployment at a
    time: context ``ledger_lookup_indexes``)."""
    from ledgerlink.service.trace import resolve as by_index

    try:
        return by_index(reference, ledger=ledger, missing_index=_missing_index)
    except OpsError as error:
        missing = error.detail.get("missing") or []
        if not (local and missing):
            raise
    items = ledger.scan()
    for kind in missing:
        attribute = LEDGER_LOOKUPS[kind]
        found = sorted(item["document_id"] for item in items
                       if (external_id(item) if attribute == "external_id" else item.get(attribute)) == reference)
        if found:
            return kind, found
    raise OpsError(f"no document has the id {reference!r} (tried: document id, event id, correlation id, external "
                   "id, ERP reference)", status=404, reason="not_found")


@dataclass
class Filters:
    reference: str | None = None
    entity: str | None = None
    source: str | None = None
    status: str | None = None
    first: date | None = None
    last: date | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None

    def keeps(self, item: StoredItem) -> bool:
        return self._keeps_fields(item) and self._keeps_day(business_date(item)) and self._keeps_amount(item)

    def _keeps_fields(self, item: StoredItem) -> bool:
        return not ((self.entity and item.get("entity_id") != self.entity)
                    or (self.source and item.get("source_id") != self.source)
                    or (self.status and item.get("status") != self.status))

    def _keeps_day(self, day: str | None) -> bool:
        if self.first and (not day or day < self.first.isoformat()):
            return False
        return not (self.last and (not day or day > self.last.isoformat()))

    def _keeps_amount(self, item: StoredItem) -> bool:
        if self.min_amount is None and self.max_amount is None:
            return True
        try:
            amount = Decimal(str(item.get("amount")))
        except (InvalidOperation, ValueError):
            return False     # no amount: outside any amount range
        if self.min_amount is not None and amount < self.min_amount:
            return False
        return self.max_amount is None or amount <= self.max_amount


@dataclass
class Page:
    documents: list[StoredItem] = field(default_factory=list)
    next_cursor: str | None = None
    matched_by: str | None = None     # the kind of --id, when one was given


def cursor_of(item: StoredItem) -> str:
    return f"{business_date(item) or ''}/{item['document_id']}"


def _sort_key(item: StoredItem) -> tuple[str, str]:
    return business_date(item) or "", str(item["document_id"])


def list_documents(ledger: Any, filters: Filters, *, local: bool, limit: int, after: str | None = None) -> Page:
    """One page of the documents ``filters`` keep, by business date then document id; ``after``: the cursor the
    previous page returned."""
    page = Page()
    if filters.reference:
        page.matched_by, ids = resolve(filters.reference, ledger=ledger, local=local)
        items = ledger.get_many(ids)
    elif filters.entity and filters.first and filters.last:
        days = (filters.last - filters.first).days + 1
        if days > MAX_DAYS:
            raise UsageError("range_too_long", f"{days} days from --from to --to: give at most {MAX_DAYS}")
        items = []
        for offset in range(days):
            items.extend(ledger.on_day(filters.entity, (filters.first + timedelta(days=offset)).isoformat()))
    elif local:
        items = ledger.scan()
    else:
        raise UsageError("scan_refused", "on a deployed stack give --id, or --entity with --date (or --from and "
                                         "--to): without them the whole ledger table would be read")
    kept = sorted((item for item in items if filters.keeps(item)), key=_sort_key)
    if after:
        kept = [item for item in kept if cursor_of(item) > after]
    page.documents = kept[:limit]
    if len(kept) > limit:
        page.next_cursor = cursor_of(page.documents[-1])
    return page
