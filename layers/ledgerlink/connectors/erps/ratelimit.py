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

import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ledgerlink.clock import epoch_ms
from ledgerlink.errors import RateLimited

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_SLOTS = 25
LEASE_POLL_MS = 250


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    requests_per_minute: int | None = None
    burst: int = 1
    daily_budget: int | None = None
    max_concurrency: int | None = None
    lease_ms: int = 130_000          # a crashed holder's concurrency slot frees itself after this (> Lambda timeout)

    def __post_init__(self) -> None:
        if self.requests_per_minute is not None and not 1 <= self.burst < self.requests_per_minute:
            raise ValueError("burst must be at least 1 and below requests_per_minute")

    @property
    def refill_per_minute(self) -> int | None:
        return None if self.requests_per_minute is None else self.requests_per_minute - self.burst

    @classmethod
    def from_limits(cls, limits: Any, overrides: Any = None) -> LimitPolicy:
        """From a connector's ``ConnectionLimits`` and the connection config's ``limits`` overrides."""
        values = {
            "requests_per_minute": limits.requests_per_minute,
            "daily_budget": limits.daily_budget,
            "max_concurrency": limits.max_concurrency,
            "burst": getattr(limits, "burst", None),
        }
        if overrides is not None:
            for key in values:
                override = getattr(overrides, key, None)
                if override is not None:
                    values[key] = override
        rpm = values["requests_per_minute"]
        burst = values["burst"] or (max(1, min(10, (rpm or 10) // 10)) if rpm else 1)
        if rpm is not None:
            burst = min(burst, max(1, rpm - 1))
        return cls(requests_per_minute=rpm, burst=burst, daily_budget=values["daily_budget"],
                   max_concurrency=values["max_concurrency"])


@dataclass(frozen=True, slots=True)
class LimiterState:
    tokens_milli: int = -1                 # -1: never used (starts full)
    refilled_ms: int = 0
    hours: dict[str, int] = field(default_factory=dict)     # hour index → calls, the last DAY_SLOTS hours
    blocked_until_ms: int = 0
    leases: dict[str, int] = field(default_factory=dict)   # lease id → expiry (ms)
    version: int = 0


    @property
    def day_used(self) -> int:
        return sum(self.hours.values())


@dataclass(frozen=True, slots=True)
class Decision:
    state: LimiterState          # the state to write (granted) or the refreshed state (waiting)
    granted: bool
    wait_ms: int = 0
    why: str = ""                # minute | day | concurrency | retry_after


def decide(state: LimiterState, policy: LimitPolicy, now_ms: int, lease_id: str, cost: int = 1) -> Decision:
    """Grant ``cost`` calls plus a concurrency lease, or say how long to wait and why."""
    capacity = policy.burst * 1000
    tokens = capacity if state.tokens_milli < 0 else state.tokens_milli
    if policy.refill_per_minute is not None and now_ms > state.refilled_ms:
        tokens = min(capacity, tokens + (now_ms - state.refilled_ms) * policy.refill_per_minute // 60)
    hour = now_ms // HOUR_MS
    hours = {key: count for key, count in state.hours.items() if int(key) > hour - DAY_SLOTS}
    day_used = sum(hours.values())
    leases = {key: expiry for key, expiry in state.leases.items() if expiry > now_ms}
    fresh = replace(state, tokens_milli=tokens, refilled_ms=now_ms, hours=hours, leases=leases)
    if state.blocked_until_ms > now_ms:
        return Decision(fresh, False, state.blocked_until_ms - now_ms, "retry_after")
    if policy.daily_budget is not None and day_used + cost > policy.daily_budget:
        oldest = min(int(key) for key, count in hours.items() if count)
        return Decision(fresh, False, max(1, (oldest + DAY_SLOTS) * HOUR_MS - now_ms), "day")
    if policy.max_concurrency is not None and len(leases) >= policy.max_concurrency:
        return Decision(fresh, False, max(1, min(LEASE_POLL_MS, min(leases.values()) - now_ms)), "concurrency")
    if policy.requests_per_minute is not None and tokens < cost * 1000:
        wait = math.ceil((cost * 1000 - tokens) * 60 / policy.refill_per_minute)  # type: ignore[operator]
        return Decision(fresh, False, max(1, wait), "minute")
    granted = replace(fresh, tokens_milli=tokens - (cost * 1000 if policy.requests_per_minute is not None else 0),
                      hours={**hours, str(hour): hours.get(str(hour), 0) + cost},
                      leases={**leases, lease_id: now_ms + policy.lease_ms}, version=state.version + 1)
    return Decision(granted, True)


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


def wall_clock_ms() -> int:
    return epoch_ms()


def real_sleep(seconds: float) -> None:
    time.sleep(seconds)


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
