"""The interface every ERP connector implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from ledgerlink.config.model import Entity
from ledgerlink.model.documents import JournalEntry


@dataclass(frozen=True, slots=True)
class PostResult:
    erp_ref: str          # where the ERP holds it (id, URL, file)
    created: bool         # False: it was already there (a retry or replay found it by external id)


@dataclass(frozen=True, slots=True)
class PeriodStatus:
    open: bool
    closed_through: date | None
    source: str           # who decided: "config", "erp"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    requests_per_minute: int | None
    daily_budget: int | None
    max_concurrency: int | None
    bulk_size: int


class ErpConnector(Protocol):
    connection_id: str

    def post_journal(self, journal: JournalEntry) -> PostResult:
        """Post once: the journal's ``document_id`` is the external id / idempotency key."""
        ...

    def find_by_external_id(self, external_id: str) -> PostResult | None: ...

    def period_status(self, entity: Entity, on: date) -> PeriodStatus: ...

    def limits(self) -> ConnectionLimits: ...
