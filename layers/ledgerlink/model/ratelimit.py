"""Rate-limit contracts shared by the connectors and the store: the policy of one ERP connection, the limiter's
shared state, and the pure decision (grant or wait) on that state.

``ledgerlink.connectors.erps.ratelimit`` explains the arithmetic (token bucket + rolling daily budget +
concurrency cap + Retry-After blocks) and holds the limiters connectors use; ``ledgerlink.store.limiter``
keeps the state in DynamoDB. Both run ``decide`` from here, so the store depends on ``model/`` only.
Everything is integer milliseconds and milli-tokens: no float drift, and DynamoDB refuses floats.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Protocol

from ledgerlink.clock import epoch_ms

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_SLOTS = 25
LEASE_POLL_MS = 250


class ConnectionLimitsLike(Protocol):
    """What a policy is built from: a connector's published limits (``ConnectionLimits``)."""

    @property
    def requests_per_minute(self) -> int | None: ...
    @property
    def daily_budget(self) -> int | None: ...
    @property
    def max_concurrency(self) -> int | None: ...


def _limit(source: object, name: str) -> int | None:
    found = getattr(source, name, None)
    return found if isinstance(found, int) else None


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
    def from_limits(cls, limits: ConnectionLimitsLike, overrides: object = None) -> LimitPolicy:
        """From a connector's ``ConnectionLimits`` and the connection config's ``limits`` overrides."""
        values: dict[str, int | None] = {
            "requests_per_minute": limits.requests_per_minute,
            "daily_budget": limits.daily_budget,
            "max_concurrency": limits.max_concurrency,
            "burst": _limit(limits, "burst"),
        }
        if overrides is not None:
            for key in values:
                override = _limit(overrides, key)
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
    refill = policy.refill_per_minute
    if refill is not None and tokens < cost * 1000:
        wait = math.ceil((cost * 1000 - tokens) * 60 / refill)
        return Decision(fresh, False, max(1, wait), "minute")
    granted = replace(fresh, tokens_milli=tokens - (cost * 1000 if policy.requests_per_minute is not None else 0),
                      hours={**hours, str(hour): hours.get(str(hour), 0) + cost},
                      leases={**leases, lease_id: now_ms + policy.lease_ms}, version=state.version + 1)
    return Decision(granted, True)


def wall_clock_ms() -> int:
    return epoch_ms()


def real_sleep(seconds: float) -> None:
    time.sleep(seconds)
