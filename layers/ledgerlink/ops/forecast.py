"""Backlog forecast per ERP connection (issue 23): documents waiting, the API budget left this minute and today,
the rate being achieved, and when the backlog will be posted at the current budget — against a deadline.

The arithmetic is the limiter's own (``connectors.erps.ratelimit``): a token bucket of ``burst`` calls refilled at
``requests_per_minute - burst`` per minute, and a daily budget counted per clock hour over the last 25 hours (a slot
leaves the window 25 hours after its hour began). :func:`drain_eta_ms` walks that forward hour by hour from the
shared state: the time at which the limiter would have granted the backlog's last call if every call went out as
soon as it was allowed. It ignores concurrency caps and the ERP's own latency, so it is the *earliest* the backlog can
be posted; the achieved rate (calls granted over the current and previous clock hour) says how close the pipeline
gets to it. Every value is integer milliseconds, as in the limiter; every "now" comes from ``ledgerlink.clock``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from ledgerlink.model.ratelimit import DAY_SLOTS, HOUR_MS, LimiterState, LimitPolicy
from ledgerlink.model.status import DocumentStatus

HORIZON_MS = 400 * 24 * HOUR_MS      # a forecast further out than this is reported as "beyond the horizon"
CALLS_PER_DOCUMENT = 1               # the post step's one write per line-level document (lookups come on top)


def _tokens_at(state: LimiterState, policy: LimitPolicy, now_ms: int) -> int:
    capacity = policy.burst * 1000
    tokens = capacity if state.tokens_milli < 0 else state.tokens_milli
    if policy.refill_per_minute is not None and now_ms > state.refilled_ms:
        tokens = min(capacity, tokens + (now_ms - state.refilled_ms) * policy.refill_per_minute // 60)
    return tokens


def _window(state: LimiterState, now_ms: int) -> dict[int, int]:
    hour = now_ms // HOUR_MS
    return {int(key): count for key, count in state.hours.items() if int(key) > hour - DAY_SLOTS and count}


def budget_now(state: LimiterState, policy: LimitPolicy, now_ms: int) -> dict[str, int | None]:
    """Calls that may go out at once (``minute_left``: the bucket's whole tokens) and in the rolling day."""
    minute_left = None if policy.requests_per_minute is None else _tokens_at(state, policy, now_ms) // 1000
    day_left = None if policy.daily_budget is None else max(0, policy.daily_budget - sum(_window(state, now_ms).values()))
    if state.blocked_until_ms > now_ms:
        minute_left = 0
    return {"minute_left": minute_left, "day_left": day_left,
            "blocked_seconds": max(0, state.blocked_until_ms - now_ms) // 1000}


def achieved_calls_per_minute(state: LimiterState, now_ms: int) -> float:
    """Calls granted in the current and the previous clock hour, per minute since the previous hour began."""
    hour = now_ms // HOUR_MS
    calls = state.hours.get(str(hour), 0) + state.hours.get(str(hour - 1), 0)
    minutes = (now_ms - (hour - 1) * HOUR_MS) / 60_000
    return round(calls / minutes, 3) if minutes > 0 else 0.0


def drain_eta_ms(state: LimiterState, policy: LimitPolicy, now_ms: int, calls: int) -> int | None:
    """Milliseconds from ``now_ms`` until the limiter would have granted ``calls`` more calls; None past the horizon."""
    if calls <= 0:
        return 0
    t = max(now_ms, state.blocked_until_ms)
    tokens = _tokens_at(state, policy, t)
    capacity = policy.burst * 1000
    refill = policy.refill_per_minute
    hours = _window(state, t)
    remaining = calls
    while t - now_ms <= HORIZON_MS:
        hour = t // HOUR_MS
        hours = {slot: count for slot, count in hours.items() if slot > hour - DAY_SLOTS}
        next_hour = (hour + 1) * HOUR_MS
        day_room = math.inf if policy.daily_budget is None else policy.daily_budget - sum(hours.values())
        if day_room <= 0:   # wait for the oldest slot to leave the rolling day
            until = max(next_hour, (min(hours) + DAY_SLOTS) * HOUR_MS)
            if refill is not None:
                tokens = min(capacity, tokens + (until - t) * refill // 60)
            t = until
            continue
        wanted = int(min(remaining, day_room))
        if refill is None:   # no per-minute limit: everything the day allows goes out at once
            if wanted == remaining:
                return t - now_ms
            granted = wanted
        else:
            # the whole tokens now plus what refills before the next hour
            possible = (tokens + (next_hour - t) * refill // 60) // 1000
            if wanted == remaining and wanted <= possible:
                needed = wanted * 1000
                return t + (0 if tokens >= needed else math.ceil((needed - tokens) * 60 / refill)) - now_ms
            granted = min(wanted, possible)
            tokens = min(capacity, tokens + (next_hour - t) * refill // 60 - granted * 1000)
        hours[hour] = hours.get(hour, 0) + granted
        remaining -= granted
        t = next_hour
    return None


class ForecastJson(TypedDict):
    """One connection's forecast as ``ledgerlink status`` and ``GET /backlog`` show it."""

    connection_id: str
    waiting_documents: int
    waiting_summaries: int
    calls_needed: int
    requests_per_minute: int | None
    daily_budget: int | None
    minute_left: int | None
    day_left: int | None
    blocked_seconds: int
    achieved_calls_per_minute: float
    eta_seconds: int | None
    posted_by: str | None
    deadline: str | None
    late: bool


class MetricDimension(TypedDict):
    Name: str
    Value: str


class MetricEntry(TypedDict):
    """A CloudWatch ``PutMetricData`` entry (the API's own field names)."""

    MetricName: str
    Dimensions: list[MetricDimension]
    Value: float
    Unit: str


@dataclass(frozen=True)
class ConnectionForecast:
    connection_id: str
    waiting_documents: int          # line-level documents received and not yet posted (nor exception / ignored)
    waiting_summaries: int          # summary journals the flush still has to post (one per open bucket group)
    calls_needed: int
    requests_per_minute: int | None
    daily_budget: int | None
    minute_left: int | None
    day_left: int | None
    blocked_seconds: int
    achieved_calls_per_minute: float
    eta_seconds: int | None         # at the current budget; None: beyond the horizon
    posted_by: str | None           # ISO instant the backlog is posted by at the current budget
    deadline: str | None
    late: bool                      # the forecast passes the deadline (or the horizon)

    def to_dict(self) -> ForecastJson:
        return {"connection_id": self.connection_id, "waiting_documents": self.waiting_documents,
                "waiting_summaries": self.waiting_summaries, "calls_needed": self.calls_needed,
                "requests_per_minute": self.requests_per_minute, "daily_budget": self.daily_budget,
                "minute_left": self.minute_left, "day_left": self.day_left, "blocked_seconds": self.blocked_seconds,
                "achieved_calls_per_minute": self.achieved_calls_per_minute, "eta_seconds": self.eta_seconds,
                "posted_by": self.posted_by, "deadline": self.deadline, "late": self.late}


def deadline_at(deadline: Any, now: datetime) -> datetime | None:
    """The instant a connection's ``backlog_deadline`` (config) falls on, from ``now``: ``within_hours`` after now,
    or the end of the next ``close_day`` of a month (in its time zone) not yet over."""
    if deadline is None:
        return None
    if deadline.within_hours is not None:
        return now + timedelta(hours=deadline.within_hours)
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(deadline.time_zone))
    year, month = local.year, local.month
    if local.day > deadline.close_day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    end = datetime(year, month, deadline.close_day, tzinfo=ZoneInfo(deadline.time_zone)) + timedelta(days=1)
    return end.astimezone(UTC)


def forecast_connection(connection_id: str, *, waiting_documents: int, waiting_summaries: int, state: LimiterState,
                        policy: LimitPolicy, now: datetime, deadline: Any = None) -> ConnectionForecast:
    now_ms = int(now.timestamp() * 1000)
    calls = waiting_documents * CALLS_PER_DOCUMENT + waiting_summaries
    eta = drain_eta_ms(state, policy, now_ms, calls)
    eta_seconds = None if eta is None else math.ceil(eta / 1000)
    posted_by = None if eta_seconds is None else now + timedelta(seconds=eta_seconds)
    due = deadline_at(deadline, now)
    budget = budget_now(state, policy, now_ms)
    return ConnectionForecast(
        connection_id=connection_id, waiting_documents=waiting_documents, waiting_summaries=waiting_summaries,
        calls_needed=calls, requests_per_minute=policy.requests_per_minute, daily_budget=policy.daily_budget,
        minute_left=budget["minute_left"], day_left=budget["day_left"], blocked_seconds=int(budget["blocked_seconds"] or 0),
        achieved_calls_per_minute=achieved_calls_per_minute(state, now_ms),
        eta_seconds=eta_seconds,
        posted_by=None if posted_by is None else posted_by.isoformat(timespec="seconds"),
        deadline=None if due is None else due.isoformat(timespec="seconds"),
        late=due is not None and (posted_by is None or posted_by > due))


# ---- reading the stack -------------------------------------------------------------------------------------------

LOOKBACK_DAYS = 7
# the control-total partitions (counter attributes ``<status>_count``)
COUNTED = (DocumentStatus.RECEIVED, DocumentStatus.POSTED, DocumentStatus.EXCEPTION, DocumentStatus.IGNORED, DocumentStatus.SUMMARIZED)


def waiting_by_entity(totals: Any, config: Any, today: datetime, lookback_days: int) -> dict[str, tuple[int, int]]:
    """entity → (line-level documents in flight, summary groups waiting for the flush), from the control totals
    of the last ``lookback_days`` business days (the entity's time zone)."""
    from zoneinfo import ZoneInfo

    from ledgerlink.store.control_totals import documents_pk

    out: dict[str, tuple[int, int]] = {}
    for entity in config.entities:
        local_today = today.astimezone(ZoneInfo(entity.time_zone)).date()
        documents = summaries = 0
        for back in range(lookback_days + 1):
            day = (local_today - timedelta(days=back)).isoformat()
            groups: dict[str, int] = {}
            for item in totals._query(documents_pk(entity.id, day)):  # noqa: SLF001 - the counters' one reader
                counts = {state: int(item.get(f"{state}_count", 0)) for state in COUNTED}
                received, posted, exception, ignored, summarized = (counts[state] for state in COUNTED)
                documents += received - posted - exception - ignored - summarized
                currency = item["sk"].rsplit("#", 2)[1]
                groups[currency] = groups.get(currency, 0) + summarized
            summaries += sum(1 for waiting in groups.values() if waiting > 0)
        out[entity.id] = (max(0, documents), summaries)
    return out


def connection_policy(connection: Any) -> LimitPolicy:
    """The limiter policy the connection's post step uses: the connector's documented limits with the configuration's
    overrides (``limits``); none known (an embedded book without ``limits``, a file): no limit."""
    from ledgerlink.connectors.erps.base import ConnectionLimits

    defaults = ConnectionLimits(requests_per_minute=None, daily_budget=None, max_concurrency=None, bulk_size=1)
    if connection.kind not in ("beancount", "legacy_file"):
        from ledgerlink.connectors.erps import BUILDERS, ConnectorContext

        defaults = BUILDERS[connection.kind](connection, ConnectorContext()).limits()
    return LimitPolicy.from_limits(defaults, getattr(connection, "limits", None))


def backlog_forecast(*, config: Any, totals: Any, limiter_state: Any, now: datetime, lookback_days: int = 7
                     ) -> list[ConnectionForecast]:
    """One forecast per ERP connection. ``limiter_state(connection_id, policy) -> LimiterState``."""
    by_entity = waiting_by_entity(totals, config, now, lookback_days)
    forecasts = []
    for connection in config.erp_connections:
        entities = [entity.id for entity in config.entities if entity.erp_connection == connection.id]
        documents = sum(by_entity.get(entity, (0, 0))[0] for entity in entities)
        summaries = sum(by_entity.get(entity, (0, 0))[1] for entity in entities)
        policy = connection_policy(connection)
        forecasts.append(forecast_connection(
            connection.id, waiting_documents=documents, waiting_summaries=summaries,
            state=limiter_state(connection.id, policy), policy=policy, now=now,
            deadline=getattr(connection, "backlog_deadline", None)))
    return forecasts


def read_backlog(*, config: Any, totals_table: str, limiter_table: str | None, lookback_days: int = 7
                 ) -> list[ConnectionForecast]:
    """The forecast from the stack's tables: control totals and the limiters' shared state (none known: a
    connection that has not called its ERP yet, whose bucket is full)."""
    from ledgerlink.clock import now
    from ledgerlink.store.control_totals import DynamoControlTotals
    from ledgerlink.store.limiter import DynamoLimiter

    def state(connection_id: str, policy: LimitPolicy) -> LimiterState:
        if not limiter_table:
            return LimiterState()
        return DynamoLimiter(limiter_table, connection_id, policy).state()

    return backlog_forecast(config=config, totals=DynamoControlTotals(totals_table), limiter_state=state, now=now(),
                            lookback_days=lookback_days)


METRIC_LATE = "BacklogForecastLate"
METRIC_ETA = "BacklogForecastSeconds"


def metric_data(forecasts: list[ConnectionForecast]) -> list[MetricEntry]:
    """CloudWatch ``PutMetricData`` entries (namespace LedgerLink, dimension ErpConnection): 1 when the forecast
    passes the deadline, and the forecast in seconds (the horizon when beyond it)."""
    entries: list[MetricEntry] = []
    for forecast in forecasts:
        dimensions: list[MetricDimension] = [{"Name": "ErpConnection", "Value": forecast.connection_id}]
        entries.append({"MetricName": METRIC_LATE, "Dimensions": dimensions, "Value": 1.0 if forecast.late else 0.0,
                        "Unit": "Count"})
        eta = forecast.eta_seconds if forecast.eta_seconds is not None else HORIZON_MS // 1000
        entries.append({"MetricName": METRIC_ETA, "Dimensions": dimensions, "Value": float(eta), "Unit": "Seconds"})
    return entries


def publish(forecasts: list[ConnectionForecast], namespace: str = "LedgerLink") -> None:
    """The forecast as CloudWatch metrics in embedded metric format (a log line, no API call): per connection
    (dimension ErpConnection) ``BacklogForecastLate`` 1/0 — the ``BacklogForecastLate`` alarm — and
    ``BacklogForecastSeconds``."""
    import os

    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    # single_metric prints whatever POWERTOOLS_METRICS_DISABLED says (the handlers' Metrics honour it): the local
    # stack disables metrics, and its console must not fill with EMF lines
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() in ("1", "true"):
        return
    for entry in metric_data(forecasts):
        unit = MetricUnit.Count if entry["Unit"] == "Count" else MetricUnit.Seconds
        with single_metric(name=entry["MetricName"], unit=unit, value=entry["Value"], namespace=namespace) as metric:
            metric.add_dimension(name="ErpConnection", value=entry["Dimensions"][0]["Value"])


def target_backlog(target: Any, lookback_days: int = LOOKBACK_DAYS) -> list[ForecastJson]:
    """The forecast for an operator target (the local stack or a deployed stack: ``ledgerlink status``)."""
    from ledgerlink import settings
    from ledgerlink.store.config_store import DynamoConfigStore

    target.activate()
    _, config = DynamoConfigStore(target.get(settings.CONFIG_TABLE), cache_seconds=0).active()
    forecasts = read_backlog(config=config, totals_table=target.get(settings.TOTALS_TABLE),
                             limiter_table=target.environment.get(settings.LIMITER_TABLE), lookback_days=lookback_days)
    return [forecast.to_dict() for forecast in forecasts]


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)
    return " ".join(parts) or f"{seconds} s"


def format_line(forecast: ForecastJson) -> str:
    """One connection's forecast for ``ledgerlink status``."""
    rpm, daily = forecast["requests_per_minute"], forecast["daily_budget"]
    if rpm is None and daily is None:
        budget = "budget unlimited"
    else:
        left = [f"{forecast['minute_left']} now" if rpm is not None else None,
                f"{forecast['day_left']:,} today" if daily is not None else None]
        limits = [f"{rpm}/min" if rpm is not None else None, f"{daily:,}/day" if daily is not None else None]
        budget = (f"budget left {', '.join(x for x in left if x)} ({', '.join(x for x in limits if x)})"
                  + (f", blocked {forecast['blocked_seconds']} s" if forecast["blocked_seconds"] else ""))
    eta = forecast["eta_seconds"]
    when = ("posted now" if eta == 0 else "beyond the horizon" if eta is None
            else f"posted by {forecast['posted_by']} (in {_duration(eta)})")
    deadline = "" if forecast["deadline"] is None else (
        f"; LATE for the deadline {forecast['deadline']}" if forecast["late"] else f"; deadline {forecast['deadline']}")
    return (f"{forecast['connection_id']}: {forecast['waiting_documents']:,} documents + {forecast['waiting_summaries']} "
            f"summaries waiting ({forecast['calls_needed']:,} calls); {budget}; achieved "
            f"{forecast['achieved_calls_per_minute']} calls/min (this clock hour and the last); {when}{deadline}")


def publish_from_settings() -> list[str]:
    """The scheduled flush's hook: read the forecast with the flush's settings, publish it; the late connections."""
    from ledgerlink import settings
    from ledgerlink.store.config_store import DynamoConfigStore

    s = settings.read_settings(settings.FlushSettings)
    _, config = DynamoConfigStore(s.config_table, cache_seconds=s.config_cache_seconds).active()
    forecasts = read_backlog(config=config, totals_table=s.totals_table, limiter_table=s.limiter_table)
    publish(forecasts)
    return [forecast.connection_id for forecast in forecasts if forecast.late]
