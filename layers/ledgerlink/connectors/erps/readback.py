"""Reading back what an ERP holds for an entity and a date (issue 19), so reconciliation can compare it with what
the ledger says was posted — document by document, lines and amounts included.

Every API connector lists one entity-day with the ERP's own date filter and paging (SuiteQL ``limit``/``offset``,
QuickBooks ``STARTPOSITION``/``MAXRESULTS``, Xero ``page``, Business Central ``$top``/``$skip`` or
``@odata.nextLink``): a day costs O(pages) calls, never one per document. Each call goes through the connection's
shared limiter (the same one posting uses) *and* through a :class:`ReadbackBudget`, the share of the connection's
daily API budget that reading back may use (``readback_budget_share``, default 10 %): when the next call would
exceed it, the listing stops with :class:`BudgetShareReached` and the day is reported "not checked".

A listed document is an :class:`ErpRecord`: the ERP's reference, whether LedgerLink made it (its external id or
the deterministic ``LL…`` reference is on it) and under which key, its date, and its lines as signed amounts per
account (debit positive), so a changed amount or account shows as a difference per account.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ledgerlink.errors import RateLimited, TransientError

if TYPE_CHECKING:
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.connectors.erps.connection import HttpConnection
    from ledgerlink.connectors.erps.ratelimit import Limiter

DEFAULT_BUDGET_SHARE = Decimal("0.10")
MARKER = re.compile(r"\[(doc_[0-9a-f]{32})\]")       # the external id LedgerLink writes into a memo / narration
RATE_LIMIT_RETRIES = 3                                # a 429 in the middle of a listing: wait, then ask again


class BudgetShareReached(TransientError):
    """The next listing call would take reading back past its share of the connection's daily API budget."""

    reason = "readback_budget_share_reached"


@dataclass(frozen=True, slots=True)
class ErpRecord:
    """One document as the ERP holds it."""

    erp_ref: str                                  # as the connector's PostResult.erp_ref names it
    kind: str                                     # "journal" or an ERP-native kind (invoice, bill, payment, ...)
    key: str | None                               # LedgerLink's key (connector.readback_key(document id)); None: not ours
    on: date
    lines: tuple[tuple[str, Decimal], ...] = ()   # (account, signed amount: debit > 0, credit < 0)
    total: Decimal | None = None                  # native documents: the document's total as the ERP shows it
    currency: str | None = None

    def nets(self) -> dict[str, Decimal]:
        return net_by_account(self.lines)

    def debit_total(self) -> Decimal:
        return sum((amount for _, amount in self.lines if amount > 0), Decimal(0))


@dataclass
class Listing:
    """What one ``read_back`` call found and what it cost."""

    records: list[ErpRecord] = field(default_factory=list)
    calls: int = 0
    pages: int = 0


def net_by_account(lines: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    nets: dict[str, Decimal] = {}
    for account, amount in lines:
        nets[account] = nets.get(account, Decimal(0)) + Decimal(amount)
    return {account: amount for account, amount in sorted(nets.items()) if amount != 0}


def external_id_in(text: object) -> str | None:
    match = MARKER.search(str(text or ""))
    return match.group(1) if match else None


class ReadbackBudget:
    """The share of a connection's rolling-day API budget that reading back may spend.

    With a deployment's shared limiters the share is a limiter of its own (``<connection>#readback``, a daily budget
    of ``share × daily budget``, counted over the same rolling day) next to the connection's limiter, so every run
    of the day — the scheduled one and any ``ledgerlink reconcile`` — draws from the same share. Without shared
    limiters (one process) it is a process-local limiter with the same policy. ``allowance`` None: no daily budget
    is documented or configured for the connection; only the connection's own limiter applies."""

    def __init__(self, allowance: int | None, limiter: Limiter | None = None) -> None:
        self.allowance = allowance
        self._limiter = limiter
        self.spent = 0

    @classmethod
    def for_connection(cls, context: ConnectorContext | None, connection: HttpConnection,
                       daily_budget: int | None) -> ReadbackBudget:
        from ledgerlink.connectors.erps.ratelimit import LimitPolicy, MemoryLimiter, wall_clock_ms

        overrides = connection.limits
        budget = (overrides.daily_budget if overrides is not None else None) or daily_budget
        if budget is None:
            return cls(None)
        share = Decimal(str(connection.readback_budget_share))
        allowance = max(1, int(Decimal(budget) * share))
        policy = LimitPolicy(daily_budget=allowance)
        if context is not None and context.limiters is not None:
            return cls(allowance, context.limiters.for_connection(f"{connection.id}#readback", policy))
        return cls(allowance, MemoryLimiter(policy, clock=(context.clock_ms if context else None) or wall_clock_ms,
                                            max_wait_ms=0, connection_id=f"{connection.id}#readback"))

    def spend(self) -> None:
        """Take one call from the share, or raise :class:`BudgetShareReached` (nothing is sent then)."""
        if self._limiter is not None:
            try:
                self._limiter.release(self._limiter.acquire())
            except RateLimited:
                raise BudgetShareReached(f"reading back would exceed its share of the daily API budget "
                                         f"({self.allowance} calls)", allowance=self.allowance) from None
        self.spent += 1


def read_page[T](budget: ReadbackBudget, listing: Listing, call: Callable[[], T]) -> T:
    """One listing call: charged to the read-back share first, then sent through the connection's limiter
    (inside ``call``). A 429 (``RateLimited``) has already blocked the shared limiter for its Retry-After: the
    page is asked again, which waits in the limiter, up to :data:`RATE_LIMIT_RETRIES` times."""
    for attempt in range(RATE_LIMIT_RETRIES + 1):
        try:
            budget.spend()
        except BudgetShareReached as exc:
            exc.detail["calls"] = listing.calls     # what this listing had spent when it stopped
            raise
        listing.calls += 1
        try:
            result = call()
        except RateLimited:
            if attempt == RATE_LIMIT_RETRIES:
                raise
            continue
        listing.pages += 1
        return result
    raise AssertionError("unreachable")
