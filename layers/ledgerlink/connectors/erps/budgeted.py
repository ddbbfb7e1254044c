"""An embedded book with an API budget (issue 23): a Beancount connection with ``limits`` sends its writes through
the connection's shared limiter, as an HTTP ERP's calls do, so a month-end burst against a tight ERP budget (and its
backlog forecast) can be rehearsed on the local stack. Without ``limits`` the book stays unlimited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, TypeVar

from ledgerlink.connectors.erps.base import (
    ConnectionLimits,
    DayLister,
    PartyKeeper,
    PeriodStatus,
    PostResult,
    Preparer,
)

if TYPE_CHECKING:
    from ledgerlink.config.model import Entity, LedgerLinkConfig
    from ledgerlink.connectors.erps.beancount.connector import BeancountBook
    from ledgerlink.connectors.erps.connection import ConnectionLimitsConfig
    from ledgerlink.connectors.erps.ratelimit import Limiter
    from ledgerlink.model.documents import JournalEntry, Party

T = TypeVar("T")


class BudgetedBook:
    """The book's connector with ``post_journal`` and ``ensure_party`` first taking a call from the limiter (which
    raises :class:`~ledgerlink.errors.RateLimited` when the wait would be too long: the workflow retries later).
    Every other name is the book's own (reports, the trial balance)."""

    def __init__(self, book: BeancountBook, limiter: Limiter, limits: ConnectionLimitsConfig) -> None:
        self._book = book
        self._limiter = limiter
        self._limits = limits

    @property
    def connection_id(self) -> str:
        return self._book.connection_id

    def __getattr__(self, name: str) -> object:
        return getattr(self._book, name)

    def _call(self, call: Callable[[], T]) -> T:
        lease = self._limiter.acquire()
        try:
            return call()
        finally:
            self._limiter.release(lease)

    def post_journal(self, journal: JournalEntry) -> PostResult:
        return self._call(lambda: self._book.post_journal(journal))

    def ensure_party(self, party: Party) -> str:
        return self._call(lambda: self._book.ensure_party(party))

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        return self._book.find_by_external_id(external_id, kind)

    def period_status(self, entity: Entity, on: date) -> PeriodStatus:
        return self._book.period_status(entity, on)

    def posted_on(self, entity_id: str, business_date: str) -> list[str]:
        return self._book.posted_on(entity_id, business_date)

    def posted_count(self, entity_id: str, business_date: str) -> int:
        return self._book.posted_count(entity_id, business_date)

    def prepare(self, config: LedgerLinkConfig, *, config_version: int) -> None:
        self._book.prepare(config, config_version=config_version)

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=self._limits.requests_per_minute,
                                daily_budget=self._limits.daily_budget, max_concurrency=self._limits.max_concurrency,
                                bulk_size=1, burst=self._limits.burst)

    # ---- the port's capability questions: the book's answers, with the budgeted writes --------------------

    def as_bulk_poster(self) -> None:
        return None

    def as_document_poster(self) -> None:
        return None

    def as_party_keeper(self) -> PartyKeeper:
        return self

    def as_reader(self) -> None:
        return None

    def as_day_lister(self) -> DayLister:
        return self

    def as_preparer(self) -> Preparer:
        return self

    def api_calls(self) -> None:
        return None
