"""A document's item in the posting ledger, as the posting side reads it.

The store keeps one DynamoDB item per canonical document id (``store/ledger.py``); :meth:`LedgerItem.parse`
reads the fields the posting steps and finance ops decide on from the deserialized item and keeps the whole
item in ``stored`` (receivable claims, trace attributes, anything written later) so nothing is lost. Items
written before this type existed read back unchanged: every field but the id is optional; ``status`` is None
for an item stored without one (or with a value that is no :class:`DocumentStatus`), so a step that refuses such
an item still can.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ledgerlink.model.counters import CounterKey
from ledgerlink.model.status import DocumentStatus


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


_STATUSES = {status.value: status for status in DocumentStatus}


def _status(value: object) -> DocumentStatus | None:
    return _STATUSES.get(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class LedgerItem:
    """One document in the posting ledger. ``document`` and ``journal`` are JSON text (``journal`` once posted:
    reversals and settlements read the rate it was booked at); the store keeps them compressed and reads them back
    as text."""

    document_id: str
    status: DocumentStatus | None
    document_type: str | None = None
    erp_ref: str | None = None
    exception_id: str | None = None
    summary_id: str | None = None
    correlation_id: str | None = None
    source_id: str | None = None
    document: str | None = None
    journal: str | None = None
    stored: Mapping[str, object] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, stored: Mapping[str, object]) -> LedgerItem:
        """The item as read from the table (``store.dynamo.from_item``) or as a test double holds it."""
        document = stored.get("document")
        return cls(document_id=str(stored.get("document_id") or ""), status=_status(stored.get("status")),
                   document_type=_text(stored.get("document_type")), erp_ref=_text(stored.get("erp_ref")),
                   exception_id=_text(stored.get("exception_id")), summary_id=_text(stored.get("summary_id")),
                   correlation_id=_text(stored.get("correlation_id")), source_id=_text(stored.get("source_id")),
                   document=document if isinstance(document, str) else None,
                   journal=_text(stored.get("journal")), stored=stored)

    @property
    def status_text(self) -> str | None:
        """The status as stored (None for an item written without one), for messages that quote it."""
        return _text(self.stored.get("status"))

    @property
    def counter_key(self) -> CounterKey:
        """Where the document is counted (the counter fields it was registered with)."""
        return CounterKey.of(self.stored)

    def document_json(self) -> object:
        """The canonical document as JSON data (read as text; an older item may hold the map itself)."""
        if self.document is not None:
            return json.loads(self.document)
        return self.stored.get("document")


@dataclass(frozen=True, slots=True)
class Lease:
    """The post step's lease on a ledger item. ``taken`` or not; when not, ``item`` is the item as it was
    (``status`` posted / summarized: the stored result; a live ``lease_until``: another invocation posts it)."""

    taken: bool
    item: Mapping[str, object] = field(default_factory=dict)

    @property
    def record(self) -> LedgerItem:
        """The refused lease's item, typed."""
        return LedgerItem.parse(self.item)


class DocumentStateError(RuntimeError):
    """A transition from a status the caller did not expect (e.g. posting an ignored document). ``actual``: the
    status the item had, as stored (None: not in the ledger, or stored without one)."""

    def __init__(self, message: str, *, actual: str | None = None) -> None:
        super().__init__(message)
        self.actual = actual
