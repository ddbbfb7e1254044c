"""The backlog forecast on the ops API (GET /backlog, issue 23), through the real ops handler on moto: documents
received and not yet posted are counted against their entity's ERP connection; a bad lookback is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink import clock
from ledgerlink.local.http_front import ops_event
from ledgerlink.store import clients
from ledgerlink.store.control_totals import document_counter_update

from tests.functional.test_governance import ALICE


def ops(stack: Any, query: str) -> tuple[int, dict[str, Any]]:
    """GET /backlog as API Gateway proxies it (the local front's route table is another module's: the event of a
    known read route, re-aimed at /backlog)."""
    event = ops_event("GET", f"/close-check?{query}", {"content-type": "application/json"}, b"", ALICE)
    assert event is not None
    event.update(resource="/backlog", path="/backlog")
    event["requestContext"].update(path="/backlog", resourcePath="/backlog")
    response = stack.host.invoke("ops", event)
    return response["statusCode"], json.loads(response["body"])


def test_the_backlog_counts_what_the_control_totals_say_is_received_and_not_posted(stack):
    # one invoice posted (dated 2022-03-26 in us01's time zone), then three more us01 documents received that day
    # and not posted yet (their counters moved as normalize moves them)
    assert stack.send_event("01-invoice.finalized.json").status == 202
    stack.drain()
    clients.client("dynamodb").transact_write_items(TransactItems=[document_counter_update(
        stack.resources.tables["totals"], entity_id="us01", business_date="2022-03-26", source="stripe",
        currency="USD", amount=Decimal("30.00"), moves={"received": 3})])
    with clock.use(clock.FixedClock(datetime(2022, 3, 28, 15, 0, tzinfo=UTC))):
        status, answer = ops(stack, "lookback_days=7")
        _, too_short = ops(stack, "lookback_days=1")
    assert status == 200, answer
    connections = {item["connection_id"]: item for item in answer["connections"]}
    assert set(connections) == {connection.id for connection in stack.config.erp_connections}
    books = connections["books"]
    # the posted invoice is not waiting; the three are, on us01's connection; the book has no API budget
    assert (books["waiting_documents"], books["calls_needed"], books["eta_seconds"], books["late"]) == (3, 3, 0, False)
    assert (books["requests_per_minute"], books["daily_budget"], books["minute_left"]) == (None, None, None)
    assert connections["legacy-gl"]["waiting_documents"] == 0
    assert answer["late"] == [] and answer["lookback_days"] == 7
    # 2022-03-26 is two business days before the 28th: a one-day lookback does not reach it
    assert {item["connection_id"]: item["waiting_documents"] for item in too_short["connections"]}["books"] == 0


@pytest.mark.parametrize("value", ["-1", "63", "seven", "1.5"])
def test_a_lookback_out_of_range_is_refused_with_a_reason(stack, value):
    status, answer = ops(stack, f"lookback_days={value}")
    assert (status, answer["reason"]) == (400, "bad_lookback_days")


def test_the_hourly_flush_publishes_the_forecast_and_names_late_connections(stack, capsys, monkeypatch):
    from ledgerlink.ops.forecast import publish_from_settings

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    # nothing waits: no connection is late, and each connection's two metrics are written as EMF
    assert publish_from_settings() == []
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    published = {(line["ErpConnection"], name) for line in lines for name in ("BacklogForecastLate",
                                                                              "BacklogForecastSeconds") if name in line}
    assert published == {(connection.id, name) for connection in stack.config.erp_connections
                         for name in ("BacklogForecastLate", "BacklogForecastSeconds")}
    result = stack.host.invoke("flush", {})
    assert "posted" in result   # the flush itself is unchanged by the hook
