"""Month-end backlog (issue 23): `ledgerlink status` on the local stack shows, per ERP connection, the documents
waiting, the API budget left, the rate achieved and when the backlog will be posted at the current budget — late
against the connection's deadline when the budget cannot post it in time.

The embedded book gets a tight API budget (``limits``: 2 calls a minute, 6 a day), so three dozen Stripe invoices
queue behind it, and a deadline one hour ahead (``backlog_deadline``)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest

from ledgerlink import cli
from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.demo import post
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.store.ledger import DynamoLedger

from tests.conftest import EVENTS, EXAMPLE_CONFIG

pytestmark = pytest.mark.slow

EVENTS_SENT = 36
DAILY_BUDGET = 6


def _config(path):
    text = EXAMPLE_CONFIG.read_text()
    anchor = "    kind: beancount                  # the embedded ERP: a Beancount double-entry book\n"
    assert anchor in text
    path.write_text(text.replace(anchor, anchor + f"    limits: {{requests_per_minute: 2, burst: 1, "
                                                  f"daily_budget: {DAILY_BUDGET}}}\n"
                                                  "    backlog_deadline: {within_hours: 1}\n"))
    return path


def _dated_now(value, now: int):
    """Every Unix timestamp in the sample moved to now: month-end documents are dated today (the forecast counts
    the documents of the last business days)."""
    if isinstance(value, dict):
        return {key: _dated_now(item, now) for key, item in value.items()}
    if isinstance(value, list):
        return [_dated_now(item, now) for item in value]
    return now if isinstance(value, int) and not isinstance(value, bool) and 10**9 < value < 2 * 10**9 else value


def _finalized(number: int) -> bytes:
    event = _dated_now(json.loads((EVENTS / "stripe" / "01-invoice.finalized.json").read_text()), int(time.time()))
    event["id"] = f"evt_backlog_{number:04d}"
    event["data"]["object"]["id"] = f"in_backlog{number:04d}"
    return json.dumps(event).encode()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("backlog")
    runtime = LocalRuntime(LocalOptions(config_path=_config(base / "ledgerlink.yaml"), state_dir=base / "state",
                                        port=0, secrets_default_file=base / "secrets.json", flush_interval_seconds=0))
    runtime.start()
    try:
        url, secret = runtime.webhook_url("stripe"), runtime.secrets["stripe"].values[0]
        for number in range(EVENTS_SENT):
            body = _finalized(number)
            status, answer = post(url, body, signature_header(body, secret, int(time.time())))
            assert status == 202, answer
        tables = runtime.resources.tables
        ledger = DynamoLedger(tables["ledger"], totals_table=tables["totals"])
        deadline = time.monotonic() + 180     # every event normalized into a document (then they queue)
        while time.monotonic() < deadline and len(ledger.scan()) < EVENTS_SENT:
            time.sleep(0.5)
        yield {"runtime": runtime, "ledger": ledger, "state": ["--state-dir", str(base / "state")]}
    finally:
        runtime.stop(timeout=10)


def test_status_shows_the_backlog_forecast_late_for_the_deadline(stack, capsys):
    documents = stack["ledger"].scan()
    assert len(documents) == EVENTS_SENT
    waiting = sum(1 for document in documents if document["status"] == "received")
    posted = sum(1 for document in documents if document["status"] == "posted")
    assert posted <= DAILY_BUDGET and waiting >= EVENTS_SENT - DAILY_BUDGET   # the budget holds the rest back

    assert cli.main(["status", *stack["state"], "--json"]) == 0
    books = next(item for item in json.loads(capsys.readouterr().out)["backlog"] if item["connection_id"] == "books")
    # documents move while we look (a post may land in between): the forecast counts what the ledger says is waiting
    current = sum(1 for document in stack["ledger"].scan() if document["status"] == "received")
    assert current <= books["waiting_documents"] <= waiting
    assert (books["requests_per_minute"], books["daily_budget"]) == (2, DAILY_BUDGET)
    # the day's budget is partly spent (each post and party took a call) and far smaller than the backlog: what does
    # not fit goes out only once the first call's hour leaves the 25-hour window, > 23 hours away, past the deadline
    assert 0 <= books["day_left"] <= DAILY_BUDGET - posted < books["waiting_documents"]
    assert books["eta_seconds"] > 23 * 3600 and books["late"] is True

    assert cli.main(["status", *stack["state"]]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.strip().startswith("books:"))
    assert re.search(r"books: \d+ documents \+ 0 summaries waiting \(\d+ calls\); budget left [01] now, \d today "
                     r"\(2/min, 6/day\); achieved [0-9.]+ calls/min \(this clock hour and the last\); posted by \S+ \(in \d+ d", line), line
    assert "LATE for the deadline" in line
    assert "legacy-gl: 0 documents" in out


def test_the_local_front_serves_the_backlog_route_of_the_ops_api(stack):
    # the same forecast the ops API's GET /backlog answers on AWS, served by `local up` as the local user
    runtime = stack["runtime"]
    with urllib.request.urlopen(f"{runtime.front.url}/backlog?lookback_days=7", timeout=30) as response:
        assert response.status == 200
        answer = json.loads(response.read())
    assert answer["lookback_days"] == 7
    books = next(item for item in answer["connections"] if item["connection_id"] == "books")
    assert (books["requests_per_minute"], books["daily_budget"]) == (2, DAILY_BUDGET)
    assert books["late"] is True and "books" in answer["late"]
    try:
        urllib.request.urlopen(f"{runtime.front.url}/backlog?lookback_days=99", timeout=30)
    except urllib.error.HTTPError as refused:
        assert refused.code == 400 and json.loads(refused.read())["reason"] == "bad_lookback_days"
    else:
        raise AssertionError("lookback_days=99 was accepted")
