"""The limiter's arithmetic: token bucket that can never exceed a per-minute limit, daily budget, concurrency
cap, Retry-After blocks — on a fake clock, no waiting."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledgerlink.connectors.erps.base import ConnectionLimits
from ledgerlink.connectors.erps.ratelimit import LimiterState, LimitPolicy, MemoryLimiter, decide
from ledgerlink.errors import RateLimited


class Clock:
    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:
        self.now = start_ms

    def ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1000 + 0.999)


def max_in_window(times: list[int], window_ms: int) -> int:
    best, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window_ms:
            start += 1
        best = max(best, end - start + 1)
    return best


@settings(max_examples=60, deadline=None)
@given(rpm=st.integers(min_value=2, max_value=600), burst_share=st.integers(min_value=1, max_value=50),
       gaps=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=400))
@example(rpm=60, burst_share=10, gaps=[0] * 200)
@example(rpm=500, burst_share=1, gaps=[40] * 400)
def test_no_sixty_second_window_ever_exceeds_requests_per_minute(rpm: int, burst_share: int, gaps: list[int]):
    # Given any limit, any burst below it and any arrival pattern of callers
    policy = LimitPolicy(requests_per_minute=rpm, burst=max(1, min(rpm - 1, rpm * burst_share // 100)))
    clock = Clock()
    limiter = MemoryLimiter(policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=10**9)
    granted: list[int] = []
    for gap in gaps:
        clock.now += gap
        limiter.release(limiter.acquire())
        granted.append(clock.now)
    # Then no 60-second window holds more than the limit (what the ERP counts)
    assert max_in_window(granted, 60_000) <= rpm


def test_the_burst_is_available_at_once_then_calls_are_spaced():
    policy = LimitPolicy(requests_per_minute=60, burst=5)
    clock = Clock()
    limiter = MemoryLimiter(policy, clock=clock.ms, sleeper=clock.sleep)
    start = clock.now
    for _ in range(5):
        limiter.acquire()
    assert clock.now == start                      # the burst
    limiter.acquire()
    assert clock.now - start >= 60_000 // 55 - 1   # then one per 60/55 s


@settings(max_examples=40, deadline=None)
@given(budget=st.integers(min_value=1, max_value=40),
       gaps=st.lists(st.integers(min_value=0, max_value=4 * 3_600_000), min_size=1, max_size=300))
@example(budget=10, gaps=[23 * 3_600_000] + [0] * 30)
def test_no_rolling_24_hours_ever_exceed_the_daily_budget(budget: int, gaps: list[int]):
    # a UTC-day counter would let 2x the budget through around midnight; the ERP counts a rolling day
    clock = Clock()
    limiter = MemoryLimiter(LimitPolicy(daily_budget=budget), clock=clock.ms, sleeper=clock.sleep,
                            max_wait_ms=10**12)
    granted: list[int] = []
    for gap in gaps:
        clock.now += gap
        limiter.acquire()
        granted.append(clock.now)
    assert max_in_window(granted, 86_400_000) <= budget


def test_the_daily_budget_refuses_with_the_wait_until_its_oldest_hour_expires():
    policy = LimitPolicy(requests_per_minute=1000, burst=10, daily_budget=3)
    clock = Clock()
    limiter = MemoryLimiter(policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=5_000)
    for _ in range(3):
        limiter.acquire()
    with pytest.raises(RateLimited) as raised:
        limiter.acquire()
    assert raised.value.detail["limit"] == "day" and raised.value.retry_after > 3600


def test_the_concurrency_cap_counts_live_leases_and_expired_ones_free_themselves():
    policy = LimitPolicy(max_concurrency=2, lease_ms=10_000)
    state = LimiterState()
    now = 1_000_000
    first = decide(state, policy, now, "a")
    second = decide(first.state, policy, now, "b")
    third = decide(second.state, policy, now, "c")
    assert first.granted and second.granted and not third.granted and third.why == "concurrency"
    later = decide(second.state, policy, now + 10_001, "c")   # the holders crashed: their leases expired
    assert later.granted


def test_retry_after_blocks_every_caller_until_it_has_passed():
    policy = LimitPolicy(requests_per_minute=60, burst=5)
    clock = Clock()
    limiter = MemoryLimiter(policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=120_000)
    limiter.penalize(30)
    start = clock.now
    limiter.acquire()
    assert clock.now - start >= 30_000


def test_a_wait_longer_than_the_limiter_may_sleep_is_a_rate_limited_error_with_its_retry_after():
    limiter = MemoryLimiter(LimitPolicy(requests_per_minute=60, burst=1), clock=Clock().ms, sleeper=lambda s: None,
                            max_wait_ms=100)
    limiter.acquire()
    with pytest.raises(RateLimited) as raised:
        limiter.acquire()
    assert 0 < raised.value.retry_after <= 60 / 59 + 0.01


def test_policies_come_from_the_connector_with_config_overrides():
    from ledgerlink.config.erps import ConnectionLimitsConfig

    xero = ConnectionLimits(requests_per_minute=60, daily_budget=5000, max_concurrency=5, bulk_size=50, burst=5)
    assert LimitPolicy.from_limits(xero) == LimitPolicy(requests_per_minute=60, burst=5, daily_budget=5000,
                                                         max_concurrency=5)
    share = LimitPolicy.from_limits(xero, ConnectionLimitsConfig(daily_budget=2000, max_concurrency=2))
    assert (share.daily_budget, share.max_concurrency) == (2000, 2)


def test_a_server_side_sliding_window_never_refuses_the_limiters_calls():
    # The same property as the contract servers check, spelled out for one busy minute.
    policy = LimitPolicy(requests_per_minute=60, burst=5)
    clock = Clock()
    limiter = MemoryLimiter(policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=10**9)
    window: deque[int] = deque()
    for _ in range(500):
        limiter.acquire()
        while window and window[0] <= clock.now - 60_000:
            window.popleft()
        window.append(clock.now)
        assert len(window) <= 60
