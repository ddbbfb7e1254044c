"""One limiter per ERP connection: token bucket + daily budget + concurrency cap + Retry-After blocks.

The decision is a pure function of the shared state (``decide``), so the DynamoDB-backed limiter
(``ledgerlink.store.limiter``, shared by every Lambda) and the in-memory one used in tests run the same
arithmetic. Everything is integer milliseconds and milli-tokens: no float drift, and DynamoDB refuses floats.

**Never exceeding a per-minute limit.** A bucket of capacity ``burst`` refilled at ``rate`` per minute lets
through at most ``burst + rate`` calls in any 60-second window (the tokens present at the window's start
plus what refills during it). So the refill rate is ``requests_per_minute - burst``: Xero's 60/min with a
burst of 5 refills 55 per minute and can never send a 61st call within a minute, however the calls are spread.

**Never exceeding a daily budget.** ERPs count a day as a rolling 24 hours, not a calendar day (a UTC-day
counter would allow twice the budget across midnight). Calls are counted per clock hour for the last 25
hours: any 24-hour window lies within 25 consecutive hour slots, so keeping their sum within the budget keeps
every rolling day within it — at the cost of at most one hour's calls of headroom.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from ledgerlink.errors import RateLimited

# The policy, the shared state and the pure decision live in ``model.ratelimit`` (the DynamoDB limiter in
# ``store/`` runs them too); importable from here as before.
from ledgerlink.model.ratelimit import (
    DAY_SLOTS,
    HOUR_MS,
    LEASE_POLL_MS,
    MINUTE_MS,
    ConnectionLimitsLike,
    Decision,
    LimiterState,
    LimitPolicy,
    decide,
    real_sleep,
    wall_clock_ms,
)

__all__ = [
    "DAY_SLOTS", "HOUR_MS", "LEASE_POLL_MS", "MINUTE_MS", "ConnectionLimitsLike", "Decision", "Limiter", "LimiterState",
    "LimitPolicy", "MemoryLimiter", "NullLimiter", "decide", "real_sleep", "wall_clock_ms",
]


# ---- the interface connectors use -----------------------------------------------------------------------

class Limiter(Protocol):
    def acquire(self, cost: int = 1) -> str:
        """Block (up to the limiter's max wait) until ``cost`` calls may go out; returns a lease id.
        Raises :class:`RateLimited` when the wait would be longer."""
        ...

    def release(self, lease: str) -> None: ...

    def penalize(self, seconds: float, why: str = "retry_after") -> None:
        """The ERP said 429 / Retry-After: every caller of this connection waits until then."""
        ...


class NullLimiter:
    """No limits (the embedded book, tests that are not about limits)."""

    def acquire(self, cost: int = 1) -> str:
        return ""

    def release(self, lease: str) -> None:
        return None

    def penalize(self, seconds: float, why: str = "retry_after") -> None:
        return None


class MemoryLimiter:
    """The same decisions on a process-local state (single-process tools and unit tests)."""

    def __init__(self, policy: LimitPolicy, *, clock: Callable[[], int] = wall_clock_ms,
                 sleeper: Callable[[float], None] = real_sleep, max_wait_ms: int = 2_000,
                 connection_id: str = "memory") -> None:
        self.policy = policy
        self.connection_id = connection_id
        self._clock = clock
        self._sleep = sleeper
        self._max_wait_ms = max_wait_ms
        self._state = LimiterState()
        self._lock = threading.Lock()
        self.granted = 0
        self.waits: list[tuple[int, str]] = []

    def acquire(self, cost: int = 1) -> str:
        lease = uuid.uuid4().hex[:16]
        while True:
            with self._lock:
                decision = decide(self._state, self.policy, self._clock(), lease, cost)
                self._state = decision.state
                if decision.granted:
                    self.granted += cost
                    return lease
            self.waits.append((decision.wait_ms, decision.why))
            if decision.wait_ms > self._max_wait_ms:
                raise RateLimited(f"connection {self.connection_id}: {decision.why} limit reached",
                                  retry_after=decision.wait_ms / 1000, limit=decision.why)
            self._sleep(decision.wait_ms / 1000)

    def release(self, lease: str) -> None:
        with self._lock:
            leases = dict(self._state.leases)
            leases.pop(lease, None)
            self._state = replace(self._state, leases=leases)

    def penalize(self, seconds: float, why: str = "retry_after") -> None:
        with self._lock:
            until = self._clock() + int(seconds * 1000)
            if until > self._state.blocked_until_ms:
                self._state = replace(self._state, blocked_until_ms=until)
