"""A Beancount connection with ``limits`` (issue 23) takes each write from the connection's limiter, as an HTTP ERP's
calls do: the local stack can rehearse a tight ERP budget. Without ``limits`` it is the plain book."""

from __future__ import annotations

import pytest

from ledgerlink.config.erps import BeancountConnection
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.beancount import BeancountBook
from ledgerlink.connectors.erps.budgeted import BudgetedBook
from ledgerlink.connectors.erps.ratelimit import MemoryLimiter
from ledgerlink.errors import RateLimited


class _Limiters:
    def __init__(self) -> None:
        self.built: dict[str, MemoryLimiter] = {}

    def for_connection(self, connection_id, policy):
        self.now = 0
        limiter = MemoryLimiter(policy, clock=lambda: self.now, sleeper=lambda _s: None, max_wait_ms=0,
                                connection_id=connection_id)
        self.built[connection_id] = limiter
        return limiter


class _Book:
    def __init__(self) -> None:
        self.posted: list[str] = []

    def post_journal(self, journal):
        self.posted.append(journal)
        return journal

    def posted_count(self, entity_id, business_date):
        return len(self.posted)


def test_writes_take_a_call_from_the_limiter_and_the_rest_is_the_book(tmp_path):
    limiters = _Limiters()
    connection = BeancountConnection(id="books", kind="beancount", limits={"requests_per_minute": 3, "burst": 2})
    built = BUILDERS["beancount"](connection, ConnectorContext(books_uri=f"file://{tmp_path}", limiters=limiters))
    assert isinstance(built, BudgetedBook)
    assert built.limits().requests_per_minute == 3 and built.limits().burst == 2

    book = _Book()
    budgeted = BudgetedBook(book, limiters.built["books"], connection.limits)
    assert [budgeted.post_journal("j1"), budgeted.post_journal("j2")] == ["j1", "j2"]   # the bucket of 2
    with pytest.raises(RateLimited):   # the third within the same instant waits for a refill: refused, retried later
        budgeted.post_journal("j3")
    assert book.posted == ["j1", "j2"] and budgeted.posted_count("us01", "2026-11-30") == 2   # reads are not budgeted
    limiters.now = 60_000   # a minute later the bucket has refilled (1 a minute above the burst)
    assert budgeted.post_journal("j3") == "j3"


def test_without_limits_or_without_a_limiter_table_it_is_the_plain_book(tmp_path):
    plain = BeancountConnection(id="books", kind="beancount")
    assert isinstance(BUILDERS["beancount"](plain, ConnectorContext(books_uri=f"file://{tmp_path}",
                                                                     limiters=_Limiters())), BeancountBook)
    limited = BeancountConnection(id="books", kind="beancount", limits={"requests_per_minute": 3})
    # readers such as the close check build connectors without limiters: they get the book itself
    assert isinstance(BUILDERS["beancount"](limited, ConnectorContext(books_uri=f"file://{tmp_path}")), BeancountBook)
