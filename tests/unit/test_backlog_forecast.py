"""The backlog forecast per ERP connection (issue 23): when the waiting documents will have been posted at the current
API budget, checked against hand arithmetic and against the limiter's own ``decide`` stepped forward in time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from ledgerlink import clock
from ledgerlink.config.erps import BacklogDeadlineConfig, BeancountConnection
from ledgerlink.connectors.erps.ratelimit import HOUR_MS, LimiterState, LimitPolicy, decide
from ledgerlink.ops.forecast import (
    achieved_calls_per_minute,
    budget_now,
    deadline_at,
    drain_eta_ms,
    forecast_connection,
    metric_data,
    publish,
    waiting_by_entity,
)

XERO = LimitPolicy(requests_per_minute=60, burst=5, daily_budget=5_000)   # refills 55 per minute
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)                          # on an hour boundary
NOW_MS = int(NOW.timestamp() * 1000)


def test_a_backlog_within_the_bucket_goes_at_once_and_the_rest_at_the_refill_rate() -> None:
    assert drain_eta_ms(LimiterState(), XERO, NOW_MS, 5) == 0
    # 5 tokens at once, then 55 more calls at 55 a minute: exactly one minute
    assert drain_eta_ms(LimiterState(), XERO, NOW_MS, 60) == 60_000


def test_a_spent_daily_budget_waits_for_its_oldest_hour_to_leave_the_rolling_day() -> None:
    policy = LimitPolicy(daily_budget=100)
    now_ms = NOW_MS + 30 * 60_000                        # 10:30
    state = LimiterState(hours={str(NOW_MS // HOUR_MS - 1): 100})  # all 100 spent between 09:00 and 10:00
    # the 09:00 slot leaves the 25-slot window at 09:00 + 25 h = tomorrow 10:00, 23 h 30 min from now
    assert drain_eta_ms(state, policy, now_ms, 10) == (23 * 60 + 30) * 60_000


def test_a_month_end_backlog_past_the_daily_budget_spills_into_the_next_day() -> None:
    # 5,100 calls from a fresh Xero connection at 10:00: 10:00-11:00 grants 5 + 60 x 55 = 3,305, 11:00-12:00 the
    # remaining 1,695 of the day's 5,000; the 10:00 slot leaves the window at 10:00 + 25 h; then 5 at once and 95 at
    # 55 a minute (95 x 60 / 55 s = 103.636... s)
    assert drain_eta_ms(LimiterState(), XERO, NOW_MS, 5_100) == 25 * HOUR_MS + 103_637


@pytest.mark.parametrize(("policy", "calls", "state"), [
    (LimitPolicy(requests_per_minute=10, burst=2, daily_budget=30), 45, LimiterState()),
    (LimitPolicy(requests_per_minute=10, burst=3), 27, LimiterState(tokens_milli=500, refilled_ms=NOW_MS)),
    (LimitPolicy(requests_per_minute=20, burst=4, daily_budget=50), 70,
     LimiterState(tokens_milli=0, refilled_ms=NOW_MS, hours={str(NOW_MS // HOUR_MS - 3): 20})),
    (LimitPolicy(daily_budget=12), 30, LimiterState(hours={str(NOW_MS // HOUR_MS - 24): 12})),
])
def test_the_forecast_is_when_the_limiter_itself_would_grant_the_last_call(policy, calls, state) -> None:
    t, granted, current = NOW_MS, 0, state
    while granted < calls:            # the real limiter, every call sent the moment it is allowed
        decision = decide(current, policy, t, f"lease{granted}")
        current = decision.state
        if decision.granted:
            granted += 1
            last = t
        else:
            t += decision.wait_ms
    # to the second: the limiter floors its milli-tokens at every decision, the forecast refills continuously
    assert abs(drain_eta_ms(state, policy, NOW_MS, calls) - (last - NOW_MS)) < 1_000


def test_budget_left_this_minute_and_today_and_the_rate_achieved() -> None:
    hour = NOW_MS // HOUR_MS
    state = LimiterState(tokens_milli=2_500, refilled_ms=NOW_MS - 1_000, hours={str(hour): 30, str(hour - 1): 90,
                                                                                 str(hour - 30): 999})
    budget = budget_now(state, XERO, NOW_MS)
    # 2.5 tokens + 1 s of refill at 55/min (0.916 token) = 3.416: 3 whole calls; the 30-hour-old slot is out of the day
    assert budget == {"minute_left": 3, "day_left": 5_000 - 120, "blocked_seconds": 0}
    assert budget_now(LimiterState(blocked_until_ms=NOW_MS + 42_000), XERO, NOW_MS)["minute_left"] == 0
    # 120 calls since 09:00, 60 minutes ago
    assert achieved_calls_per_minute(state, NOW_MS) == 2.0


def test_the_close_day_deadline_is_the_end_of_the_next_close_day_in_its_time_zone() -> None:
    close = BacklogDeadlineConfig(close_day=3, time_zone="America/New_York")
    # 30 November: the 3 December ends at midnight New York time (UTC-5 in December)
    assert deadline_at(close, NOW) == datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    # on the 3rd itself the deadline is still that day's end; on the 4th it is January's
    assert deadline_at(close, datetime(2026, 12, 3, 20, 0, tzinfo=UTC)) == datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
    assert deadline_at(close, datetime(2026, 12, 4, 6, 0, tzinfo=UTC)) == datetime(2027, 1, 4, 5, 0, tzinfo=UTC)
    assert deadline_at(BacklogDeadlineConfig(within_hours=36), NOW) == datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def test_the_deadline_setting_is_validated() -> None:
    for bad in ({}, {"close_day": 3, "within_hours": 5}, {"close_day": 29}, {"within_hours": 0},
                {"close_day": 3, "time_zone": "Mars/Olympus"}):
        with pytest.raises(ValidationError):
            BacklogDeadlineConfig(**bad)
    connection = BeancountConnection(id="books", kind="beancount", backlog_deadline={"within_hours": 12})
    assert connection.backlog_deadline.within_hours == 12


def test_a_forecast_past_the_deadline_is_late_and_says_so_in_its_metric() -> None:
    with clock.use(clock.FixedClock(NOW)):
        now = clock.now()
    on_time = forecast_connection("xero-us", waiting_documents=60, waiting_summaries=0, state=LimiterState(),
                                  policy=XERO, now=now, deadline=BacklogDeadlineConfig(within_hours=1))
    assert (on_time.eta_seconds, on_time.posted_by, on_time.late) == (60, "2026-11-30T10:01:00+00:00", False)
    late = forecast_connection("xero-us", waiting_documents=5_098, waiting_summaries=2, state=LimiterState(),
                               policy=XERO, now=now, deadline=BacklogDeadlineConfig(within_hours=14))
    assert late.calls_needed == 5_100 and late.deadline == "2026-12-01T00:00:00+00:00"
    assert late.posted_by == "2026-12-01T11:01:44+00:00" and late.late
    assert metric_data([late])[0] == {"MetricName": "BacklogForecastLate", "Value": 1.0, "Unit": "Count",
                                      "Dimensions": [{"Name": "ErpConnection", "Value": "xero-us"}]}
    unlimited = forecast_connection("books", waiting_documents=40, waiting_summaries=1, state=LimiterState(),
                                    policy=LimitPolicy(), now=now)
    assert (unlimited.eta_seconds, unlimited.minute_left, unlimited.day_left, unlimited.late) == (0, None, None, False)



def test_the_metrics_are_printed_as_emf_unless_metrics_are_disabled(monkeypatch, capsys) -> None:
    with clock.use(clock.FixedClock(NOW)):
        now = clock.now()
    late = forecast_connection("xero-us", waiting_documents=5_098, waiting_summaries=2, state=LimiterState(),
                               policy=XERO, now=now, deadline=BacklogDeadlineConfig(within_hours=14))
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    publish([late])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(line["ErpConnection"], tuple(m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]))
            for line in lines} == {("xero-us", ("BacklogForecastLate",)), ("xero-us", ("BacklogForecastSeconds",))}
    # the local stack disables metrics: its console (and `make demo`'s output) carries no EMF line
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    publish([late])
    assert capsys.readouterr().out == ""

class _Counters:
    """The control totals' query, answered from a dict (pk → counter items)."""

    def __init__(self, items: dict[str, list[dict]]) -> None:
        self.items = items

    def _query(self, pk: str) -> list[dict]:
        return self.items.get(pk, [])


def test_waiting_documents_come_from_the_control_totals_of_the_recent_business_days() -> None:
    from ledgerlink.config.loader import load_config_file

    from tests.conftest import EXAMPLE_CONFIG

    config = load_config_file(EXAMPLE_CONFIG)
    counters = _Counters({
        "docs#us01#2026-11-30": [
            {"sk": "stripe#USD#0", "received_count": 40, "posted_count": 10, "exception_count": 2, "ignored_count": 1},
            {"sk": "stripe#USD#1", "received_count": 7, "posted_count": 0, "summarized_count": 5},
            {"sk": "stripe#EUR#2", "received_count": 3, "summarized_count": 3},
        ],
        "docs#us01#2026-11-20": [{"sk": "stripe#USD#0", "received_count": 9}],   # 10 days back: outside 7
    })
    waiting = waiting_by_entity(counters, config, NOW, lookback_days=7)
    # (40 - 10 - 2 - 1) + (7 - 5) + (3 - 3) = 29 line-level; summarized groups waiting: USD and EUR
    assert waiting["us01"] == (29, 2)
    assert waiting_by_entity(counters, config, NOW, lookback_days=10)["us01"] == (38, 2)
