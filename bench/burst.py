"""Month-end burst absorption (issue 23): 10× the steady event rate for 15 minutes, acknowledged with no 5xx and
nothing lost, then drained within the ERP's API budget.

Two parts, one run:

1. **On the local stack** (in process, the same ``LocalRuntime`` as ``ledgerlink local up``): the local stack posts
   ~5 documents/s end to end, so the burst is scaled — a steady 0.5 events/s for ``STEADY_SECONDS``, then 10× (5 events/s)
   for ``BURST_SECONDS`` — against a book given an API budget below the burst's rate (``limits``: 120 calls a minute),
   so the ERP budget, not the stack, sets the drain; paced by a clock, each webhook (a Stripe invoice, one document, dated now) sent at its
   scheduled instant by one of ``SENDERS`` threads through the HTTP front. Measured: acknowledgement latency
   p50/p99 of the burst's webhooks, statuses (5xx), events lost (accepted by a 202 but never a document), the drain
   time (from the burst's last webhook until every document is posted), and the backlog forecast that
   ``ledgerlink status`` prints, sampled during the burst.
2. **Against AWS quotas** (arithmetic over ``bench/aws_prices_us_east_1.json``'s documented us-east-1 defaults): a
   steady ``STEADY_EVENTS_PER_SECOND`` and its 10× burst for 15 minutes, with the per-document figures the cost bench
   counted in the same ``make bench`` (documents per event, Lambda milliseconds per function, WRU per table):
   API Gateway's account rate, Lambda concurrency (rate × measured duration, the post step with an assumed ERP
   round trip), the SQS event source mapping's concurrency, Express and Standard ``StartExecution`` rates (every
   document escalates to Standard while its ERP is rate-limited), DynamoDB on-demand write units per table. Then the
   drain of the burst's documents per ERP at its documented limits (``ledgerlink.ops.forecast.drain_eta_ms``, the
   limiter's arithmetic), line-level (one call per document) and summarized (one call per entity, day and currency).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import REPO, RESULTS, table, verdict, write_section

BURST_FACTOR = 10
STEADY_EVENTS_PER_SECOND_LOCAL = 0.5
STEADY_SECONDS = 20
BURST_SECONDS = 30
SENDERS = 16
BOOK_PER_MINUTE = 120                   # the local book's rehearsed API budget (limits): below the burst's rate
BOOK_BURST = 10
DRAIN_TIMEOUT_SECONDS = 1200            # rate-limited posts wait in the Standard workflow's backoff (30 s × 1.5ⁿ, jitter)
STEADY_EVENTS_PER_SECOND = 10           # the AWS model: ≈26 million events a month at the steady rate
BURST_MINUTES = 15
ERP_ROUND_TRIP_MS = 500                 # assumed: one HTTP ERP write, on top of the post step's own measured time
SUMMARY_GROUPS = 4                      # summarized: entities × business days × currencies the burst touches
SECRET = "whsec_bench_burst"  # noqa: S105 - benchmark fixture
SAMPLE_ERPS = {
    "xero": {"kind": "xero", "tenant_id": "00000000-0000-0000-0000-000000000000"},
    "quickbooks_online": {"kind": "quickbooks_online", "realm_id": "1"},
    "business_central": {"kind": "business_central", "tenant_id": "t",
                         "company_id": "00000000-0000-0000-0000-000000000000",
                         "journal_id": "00000000-0000-0000-0000-000000000000"},
    "netsuite": {"kind": "netsuite", "account_id": "1234567"},
}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


# ---- 1. the local stack ----------------------------------------------------------------------------------------

def _body(number: int, now: int) -> bytes:
    event = json.loads((REPO / "events" / "stripe" / "01-invoice.finalized.json").read_text())

    def dated(value: Any) -> Any:   # every timestamp moved to now: month-end documents are dated today
        if isinstance(value, dict):
            return {key: dated(item) for key, item in value.items()}
        if isinstance(value, list):
            return [dated(item) for item in value]
        return now if isinstance(value, int) and not isinstance(value, bool) and 10**9 < value < 2 * 10**9 else value

    event = dated(event)
    event["id"] = f"evt_burst_{number:06d}"
    event["data"]["object"]["id"] = f"in_burst{number:06d}"
    return json.dumps(event).encode()


def _send(port: int, body: bytes) -> tuple[int, float]:
    import http.client

    from ledgerlink.connectors.sources.stripe.webhook import signature_header

    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", "/webhooks/stripe", body=body, headers={
            "Content-Type": "application/json", **signature_header(body, SECRET, int(time.time()))})
        response = connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - started) * 1000
    except OSError:
        return -1, (time.perf_counter() - started) * 1000
    finally:
        connection.close()


@dataclass
class _BurstRun:
    """What one run on the local stack observed."""

    offsets: list[float]                       # the schedule: offset (s) of each webhook from the start
    steady_events: int
    burst_events: int
    results: list[tuple[int, int, float]] = field(default_factory=list)   # (number, status, ack ms)
    forecasts: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    sent_seconds: float = 0.0
    drain_seconds: float = 0.0
    idle: bool = False


def local_burst(steady_seconds: int, burst_seconds: int) -> dict[str, Any]:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"   # EMF lines on stdout would drown the table
    steady_events = int(steady_seconds * STEADY_EVENTS_PER_SECOND_LOCAL)
    burst_rate = STEADY_EVENTS_PER_SECOND_LOCAL * BURST_FACTOR
    burst_events = int(burst_seconds * burst_rate)
    offsets = [n / STEADY_EVENTS_PER_SECOND_LOCAL for n in range(steady_events)]
    offsets += [steady_seconds + n / burst_rate for n in range(burst_events)]
    run = _BurstRun(offsets=offsets, steady_events=steady_events, burst_events=burst_events)
    with tempfile.TemporaryDirectory(prefix="ledgerlink-burst-") as tmp:
        state = Path(tmp) / "state"
        runtime = _burst_runtime(Path(tmp), state)
        quiet = contextlib.redirect_stdout(io.StringIO())   # the handlers' EMF metric lines
        quiet.__enter__()
        runtime.start()
        try:
            _drive_burst(runtime, state, run, steady_seconds, burst_seconds)
        finally:
            runtime.stop(timeout=30)
            quiet.__exit__(None, None, None)
    return _burst_result(run, steady_seconds, burst_seconds)


def _burst_runtime(tmp: Path, state: Path) -> Any:
    """A local stack on the example configuration, its book given the rehearsed API budget."""
    from ledgerlink.local.runtime import LocalOptions, LocalRuntime

    secrets = tmp / "secrets.json"
    secrets.write_text(json.dumps({"stripe": SECRET}))
    config = tmp / "ledgerlink.yaml"
    anchor = "    kind: beancount                  # the embedded ERP: a Beancount double-entry book\n"
    text = (REPO / "config" / "ledgerlink.example.yaml").read_text()
    assert anchor in text
    config.write_text(text.replace(anchor, anchor + f"    limits: {{requests_per_minute: {BOOK_PER_MINUTE}, "
                                                    f"burst: {BOOK_BURST}}}\n    backlog_deadline: "
                                                    "{within_hours: 1}\n"))
    return LocalRuntime(LocalOptions(config_path=config, state_dir=state, port=0, secrets_file=secrets,
                                     secrets_default_file=tmp / "default-secrets.json", flush_interval_seconds=0))


def _drive_burst(runtime: Any, state: Path, run: _BurstRun, steady_seconds: int, burst_seconds: int) -> None:
    """Warm up, send the schedule (a forecast sampled mid-burst), wait for the drain, read the ledger."""
    from ledgerlink.store.ledger import DynamoLedger

    port = runtime.front.port
    for status, _ in (_send(port, _body(900_000 + n, int(time.time()))) for n in range(5)):  # warm-up
        assert status == 202, status
    assert runtime.wait_idle(timeout=600)
    ledger = DynamoLedger(runtime.resources.tables["ledger"], totals_table=runtime.resources.tables["totals"])
    lock = threading.Lock()
    start = time.monotonic()

    def deliver(number: int) -> None:
        delay = start + run.offsets[number] - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        status, ms = _send(port, _body(number, int(time.time())))
        with lock:
            run.results.append((number, status, ms))

    sampler = threading.Thread(target=_sample_forecast, daemon=True,
                               args=(start + steady_seconds + burst_seconds * 0.8, start, state, run.forecasts))
    sampler.start()
    with ThreadPoolExecutor(SENDERS, thread_name_prefix="burst-sender") as pool:
        list(pool.map(deliver, range(len(run.offsets))))
    run.sent_seconds = time.monotonic() - start
    burst_ended = time.monotonic()
    sampler.join(timeout=120)
    run.idle = runtime.wait_idle(timeout=DRAIN_TIMEOUT_SECONDS, settle=0.2)
    run.drain_seconds = time.monotonic() - burst_ended
    run.documents = [d for d in ledger.scan() if str(d.get("event_id", "")).startswith("evt_burst_0")]
    if run.forecasts:   # what the forecast said was left against what it took
        forecast = run.forecasts[0]
        books = next(item for item in forecast["connections"] if item["connection_id"] == "books")
        forecast["forecast_seconds_left"] = books["eta_seconds"]
        forecast["actual_seconds_left"] = round(burst_ended + run.drain_seconds - forecast.pop("at"), 1)


def _sample_forecast(when: float, start: float, state: Path, forecasts: list[dict[str, Any]]) -> None:
    """`ledgerlink status` itself, in its own process, mid-burst (at ``when``, on the monotonic clock)."""
    time.sleep(max(0.0, when - time.monotonic()))
    command = [str(Path(sys.executable).parent / "ledgerlink"), "status", "--state-dir", str(state)]
    at = time.monotonic()
    text = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout
    answer = subprocess.run([*command, "--json"], capture_output=True, text=True, timeout=120, check=False)
    backlog = json.loads(answer.stdout)["backlog"] if answer.returncode == 0 else []
    forecasts.append({"at_seconds": round(at - start, 1), "at": at, "connections": backlog,
                      "lines": [line.strip() for line in text.splitlines()
                                if any(line.strip().startswith(f"{item['connection_id']}:") for item in backlog)]})


def _ack_ms(acks: list[float]) -> dict[str, float | None]:
    if not acks:
        return {"p50": None, "p99": None, "max": None}
    return {"p50": round(statistics.median(acks), 1), "p99": round(percentile(acks, 0.99), 1),
            "max": round(max(acks), 1)}


def _burst_result(run: _BurstRun, steady_seconds: int, burst_seconds: int) -> dict[str, Any]:
    results = run.results
    statuses = Counter(d["status"] for d in run.documents)
    accepted = {number for number, status, _ in results if status == 202}
    burst_acks = [ms for number, status, ms in results if number >= run.steady_events and status == 202]
    codes = Counter(str(status) for _, status, _ in results)
    documented = {int(str(d["event_id"]).rsplit("_", 1)[1]) for d in run.documents}
    return {"steady_events_per_second": STEADY_EVENTS_PER_SECOND_LOCAL, "burst_factor": BURST_FACTOR,
            "book_budget_per_minute": BOOK_PER_MINUTE, "steady_seconds": steady_seconds, "burst_seconds": burst_seconds, "events": len(run.offsets),
            "burst_events": run.burst_events, "senders": SENDERS, "send_seconds": round(run.sent_seconds, 1),
            "statuses": dict(codes), "status_5xx": sum(n for code, n in codes.items() if code.startswith("5")),
            "refused_or_reset": codes.get("-1", 0),
            "ack_ms": _ack_ms(burst_acks),
            "lost": len(accepted - documented), "ledger_statuses": dict(statuses),
            "posted": statuses.get("posted", 0), "idle": run.idle, "drain_seconds": round(run.drain_seconds, 1),
            "forecast_during_burst": run.forecasts[0] if run.forecasts else None}


# ---- 2. the AWS-quota model ------------------------------------------------------------------------------------

def _counted() -> dict[str, Any]:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "cost" not in results:
        from bench import cost

        return cost.run(40)
    return results["cost"]["counted"]


def aws_model(counted: dict[str, Any], quotas: dict[str, Any]) -> dict[str, Any]:
    from ledgerlink.config.erps import (
        BusinessCentralConnection,
        NetSuiteConnection,
        QuickBooksConnection,
        XeroConnection,
    )
    from ledgerlink.connectors.erps.ratelimit import LimiterState
    from ledgerlink.ops.forecast import connection_policy, drain_eta_ms

    q = {name: entry["value"] for name, entry in quotas.items()}
    documents_per_event = counted["documents"] / counted["webhooks"]
    burst_events_per_second = STEADY_EVENTS_PER_SECOND * BURST_FACTOR
    documents_per_second = burst_events_per_second * documents_per_event
    lam = counted["lambda"]

    def mean_ms(name: str) -> float:
        entry = lam.get(name) or {"invocations": 0}
        return entry["ms_total"] / entry["invocations"] if entry["invocations"] else 0.0

    batches_per_second = documents_per_second / documents_per_event / 10 if documents_per_event else 0
    concurrency = {
        "ingest": burst_events_per_second * mean_ms("ingest") / 1000,
        "normalize": batches_per_second * mean_ms("normalize") / 1000,
        **{name: documents_per_second * mean_ms(name) / 1000 for name in ("master_data", "enrich", "validate")},
        "post": documents_per_second * (mean_ms("post") + ERP_ROUND_TRIP_MS) / 1000,
    }
    wru_per_second = {table.rsplit("-", 1)[-1]: documents_per_second * units / counted["documents"]
                      for table, units in counted["dynamodb"]["wru_by_table"].items()}
    checks = [
        ("API Gateway account requests/s", burst_events_per_second, q["api_gateway_account_rps"]),
        ("Lambda concurrent executions (all functions)", sum(concurrency.values()), q["lambda_concurrency"]),
        ("SQS event source mapping concurrency (normalize)", concurrency["normalize"],
         q["lambda_sqs_esm_max_concurrency"]),
        ("Step Functions Express StartExecution/s", documents_per_second, q["sfn_express_start_execution_per_second"]),
        ("Step Functions Standard StartExecution/s (every document escalated while its ERP is rate-limited)",
         documents_per_second, q["sfn_standard_start_execution_per_second"]),
        *[(f"DynamoDB on-demand WRU/s, {table} table", rate, q["dynamodb_on_demand_table_wru_per_second"])
          for table, rate in sorted(wru_per_second.items())],
    ]
    rows = [{"quota": name, "load": round(load, 1), "limit": limit, "utilization": round(load / limit, 4)}
            for name, load, limit in checks]
    tightest = max(rows, key=lambda row: row["utilization"])
    burst_documents = round(burst_events_per_second * BURST_MINUTES * 60 * documents_per_event)
    samples = {"xero": XeroConnection, "quickbooks_online": QuickBooksConnection,
               "business_central": BusinessCentralConnection, "netsuite": NetSuiteConnection}
    drains = []
    for kind, model in samples.items():
        connection = model(id=f"sample-{kind.replace('_', '-')}", credentials={"secret_id": "bench/erp"},
                           **{k: v for k, v in SAMPLE_ERPS[kind].items()})
        policy = connection_policy(connection)
        line_level = drain_eta_ms(LimiterState(), policy, 0, burst_documents)
        summarized = drain_eta_ms(LimiterState(), policy, 0, SUMMARY_GROUPS)
        if policy.max_concurrency is not None:
            # a concurrency cap bounds too: at most max_concurrency calls per ERP round trip
            per_ms = policy.max_concurrency / ERP_ROUND_TRIP_MS
            line_level = None if line_level is None else max(line_level, burst_documents / per_ms)
            summarized = None if summarized is None else max(summarized, SUMMARY_GROUPS / per_ms)
        drains.append({"erp": kind, "requests_per_minute": policy.requests_per_minute,
                       "daily_budget": policy.daily_budget, "max_concurrency": policy.max_concurrency,
                       "line_level_hours": None if line_level is None else round(line_level / 3_600_000, 2),
                       "summarized_seconds": None if summarized is None else round(summarized / 1000, 1)})
    worst = max(drains, key=lambda d: d["line_level_hours"] or math.inf)
    return {"steady_events_per_second": STEADY_EVENTS_PER_SECOND, "burst_factor": BURST_FACTOR,
            "burst_minutes": BURST_MINUTES, "documents_per_event": round(documents_per_event, 3),
            "burst_documents": burst_documents, "erp_round_trip_ms_assumed": ERP_ROUND_TRIP_MS,
            "lambda_concurrency_by_function": {k: round(v, 1) for k, v in concurrency.items()},
            "quotas": rows, "tightest": tightest, "within_quotas": all(row["utilization"] < 1 for row in rows),
            "erp_drain": drains,
            "drain_summary": (f"summarized ≤ {max(d['summarized_seconds'] for d in drains)} s on every ERP; line-level "
                              f"{min(d['line_level_hours'] for d in drains)}–{worst['line_level_hours']} h "
                              f"({worst['erp']} the slowest)")}


def format_result(result: dict[str, Any]) -> str:
    local, model = result["local"], result["aws_model"]
    out = table(f"Month-end burst on the local stack: {local['steady_events_per_second']} events/s for "
                f"{local['steady_seconds']} s, then {local['burst_factor']}× for {local['burst_seconds']} s "
                f"({local['events']} webhooks, {local['senders']} senders, the book limited to "
                f"{local['book_budget_per_minute']} calls/min; scaled: the local stack posts ~5/s)",
                ["measure", "value"],
                [["ack latency during the burst, p50 / p99 / max (ms)",
                  f"{local['ack_ms']['p50']} / {local['ack_ms']['p99']} / {local['ack_ms']['max']}"],
                 ["statuses", local["statuses"]], ["5xx", local["status_5xx"]],
                 ["lost (202 without a document)", local["lost"]], ["documents", local["ledger_statuses"]],
                 ["drain after the burst's last webhook (s)", local["drain_seconds"]],
                 [f"drained within the bench's cap ({DRAIN_TIMEOUT_SECONDS} s)", "yes" if local["idle"] else "no"]])
    forecast = local.get("forecast_during_burst")
    if forecast:
        out += (f"`ledgerlink status` at {forecast['at_seconds']} s (the book's backlog forecast "
                f"{forecast.get('forecast_seconds_left')} s at its budget; posted {forecast.get('actual_seconds_left')} s "
                "later: retries of rate-limited posts wait longer than the budget):\n") + "".join(
            f"  {line}\n" for line in forecast["lines"])
    out += "\n" + table(f"Month-end burst against AWS quotas (us-east-1 defaults): {model['steady_events_per_second']} "
                        f"events/s, {model['burst_factor']}× for {model['burst_minutes']} min "
                        f"({model['burst_documents']:,} documents)", ["quota", "load", "limit", "utilization"],
                        [[row["quota"], row["load"], row["limit"], f"{row['utilization']:.1%}"] for row in model["quotas"]])
    out += table("Draining the burst's documents at each ERP's documented API budget",
                 ["ERP", "per minute", "per day", "concurrency", "line-level (h)", "summarized (s)"],
                 [[d["erp"], d["requests_per_minute"] or "-", d["daily_budget"] or "-", d["max_concurrency"] or "-",
                   d["line_level_hours"], d["summarized_seconds"]] for d in model["erp_drain"]])
    out += (f"local stack: 0 5xx and 0 lost: {verdict(local['status_5xx'] == 0 and local['lost'] == 0)}; "
            f"AWS quotas all below 100 % (tightest {model['tightest']['quota']} at "
            f"{model['tightest']['utilization']:.0%}): {verdict(model['within_quotas'])}\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.burst")
    parser.add_argument("--steady-seconds", type=int, default=STEADY_SECONDS)
    parser.add_argument("--burst-seconds", type=int, default=BURST_SECONDS)
    args = parser.parse_args(argv)
    from bench.cost import load_prices

    model = aws_model(_counted(), load_prices()["quotas"])
    local = local_burst(args.steady_seconds, args.burst_seconds)
    result = {"local": local, "aws_model": model,
              "met": {"local": local["status_5xx"] == 0 and local["lost"] == 0, "aws_quotas": model["within_quotas"]}}
    print(format_result(result))
    write_section("burst", result)
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
