"""An embedded book with an API budget (issue 23): a Beancount connection with ``limits`` sends its writes through
the connection's shared limiter, as an HTTP ERP's calls do, so a month-end burst against a tight ERP budget (and its
backlog forecast) can be rehearsed on the local stack. Without ``limits`` the book stays unlimited."""

from __future__ import annotations

from typing import Any

from ledgerlink.connectors.erps.base import ConnectionLimits, PostResult


class BudgetedBook:
    """Delegates to the book; ``post_journal`` and ``ensure_party`` first take a call from the limiter (which raises
    :class:`~ledgerlink.errors.RateLimited` when the wait would be too long: the workflow retries later)."""

    def __init__(self, book: Any, limiter: Any, limits: Any) -> None:
        self._book = book
        self._limiter = limiter
        self._limits = limits

    def __getattr__(self, name: str) -> Any:
        return getattr(self._book, name)

    def _call(self, method: str, *args: Any) -> Any:
        lease = self._limiter.acquire()
        try:
            return getattr(self._book, method)(*args)
        finally:
            self._limiter.release(lease)

    def post_journal(self, journal: Any) -> PostResult:
        return self._call("post_journal", journal)   # type: ignore[no-any-return]

    def ensure_party(self, party: Any) -> str:
        return self._call("ensure_party", party)   # type: ignore[no-any-return]

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=self._limits.requests_per_minute,
                                daily_budget=self._limits.daily_budget, max_concurrency=self._limits.max_concurrency,
                                bulk_size=1, burst=self._limits.burst)
