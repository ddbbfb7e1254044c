"""ERP calls per 10,000 source events, line-level vs summarized posting, for each ERP connector — and a
rate-limited connection that never exceeds its limit.

Everything real except the ERPs: Stripe ``invoice.paid`` events (the sample in events/stripe, with fresh ids,
spread over seven days) go through the Stripe normalizer, the posting rules and the period gate; the
connectors talk HTTP to the contract-test servers (tests/contract), which enforce each ERP's documented
limits and count every request. Time is a fake clock (the limiter "waits" instantly), so the bench takes
seconds, and the minute and day counts are what the ERP would have seen.

- **line-level**: the post step for each document — look up by external id, then post — through the
  connector. Every document costs the same calls, so it is measured on a sample and scaled to 10,000 events
  (``--line-level-events``; the scale factor is printed).
- **summarized**: every document of all 10,000 events goes into its bucket (entity, day, currency, source,
  document type), then the flush posts one journal per bucket in bulk. The bucket store here is an in-memory
  twin of ``store.buckets.DynamoBuckets`` (same exactly-once membership; moto's DynamoDB transactions copy the
  whole table per call and would take hours at this size) — it makes no ERP call either way.
- **rate limit**: line-level posting to Xero (60 calls/minute, 5,000/day per tenant) by two "post Lambdas"
  sharing one limiter whose state is in DynamoDB (moto); Xero's own counters say whether any minute was over.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.base import find_existing
from ledgerlink.connectors.erps.ratelimit import LimitPolicy, MemoryLimiter
from ledgerlink.connectors.sources import normalize_module
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.model.buckets import BucketMember, MemberLine
from ledgerlink.model.documents import JournalEntry
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.summarize import BucketScope, Contribution, SummaryLine
from ledgerlink.pipeline.validate import validate
from ledgerlink.service.flush import FlushService
from ledgerlink.service.posting import summarize_into
from ledgerlink.store.buckets import Bucket, Membership

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.json"   # written through bench.report.write_section (key "erp")
TEMPLATE = REPO / "events" / "stripe" / "02-invoice.paid.json"
SOURCE_EVENTS = 10_000
DAYS = 7
TARGET_RATIO = Decimal("0.01")
START = datetime(2026, 3, 2, 15, tzinfo=UTC)      # Monday, 10:00 in New York

ACCOUNTS = {"receivable": "1100", "revenue": "4000", "discounts": "4090", "tax": "2200", "cash_clearing": "1050",
            "cash_out_of_band": "1060", "fees.processing": "6100", "refunds": "4010"}
IDS = {"tenant": "2b9f1b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "company": "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1",
       "journal": "dd1b6a90-44e3-ea11-bb43-000d3a2feca1", "realm": "9130357012345678", "account": "1234567"}


# ---- the fake clock and the pieces a connector needs --------------------------------------------------------

class FakeClock:
    def __init__(self, start: datetime) -> None:
        self._now = start.timestamp()

    def now(self) -> float:
        return self._now

    def ms(self) -> int:
        return int(self._now * 1000)

    def sleep(self, seconds: float) -> None:
        self._now += seconds

    def advance(self, seconds: float) -> None:
        self._now += seconds


class MemoryLimiters:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.built: dict[str, MemoryLimiter] = {}

    def for_connection(self, connection_id: str, policy: LimitPolicy) -> MemoryLimiter:
        if connection_id not in self.built:
            self.built[connection_id] = MemoryLimiter(policy, clock=self.clock.ms, sleeper=self.clock.sleep,
                                                      max_wait_ms=10**12, connection_id=connection_id)
        return self.built[connection_id]


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)

    def get_raw(self, secret_id: str, *, fresh: bool = False) -> str:
        return self.values[secret_id]

    def put_raw(self, secret_id: str, text: str) -> None:
        self.values[secret_id] = text


class MemoryBuckets:
    """``DynamoBuckets``'s behaviour in memory: a document joins exactly one bucket; sealing moves the sequence."""

    def __init__(self) -> None:
        self.heads: dict[str, int] = {}
        self.meta: dict[str, dict[str, Any]] = {}
        self.lines_of: dict[str, dict[str, SummaryLine]] = defaultdict(dict)
        self.members_of: dict[str, list[BucketMember]] = defaultdict(list)
        self.member: dict[str, str] = {}

    def add(self, document_id: str, scope: BucketScope, contributions: list[Contribution], *,
            correlation_id: str) -> Membership:
        if document_id in self.member:
            bucket_id = self.member[document_id]
            return Membership(bucket_id, self.meta[bucket_id]["seq"], added=False)
        sequence = self.heads.setdefault(scope.key(), 1)
        bucket_id = scope.bucket_id(sequence)
        meta = self.meta.setdefault(bucket_id, {"status": "open", "scope": scope, "seq": sequence, "documents": 0,
                                                "correlation_id": correlation_id})
        meta["documents"] += 1
        for item in contributions:
            line = self.lines_of[bucket_id].get(item.line_key)
            amount = item.amount + (line.amount if line else Decimal(0))
            documents = 1 + (line.documents if line else 0)
            self.lines_of[bucket_id][item.line_key] = SummaryLine(item.line_key, item.account, dict(item.dimensions),
                                                                  amount, documents)
        self.member[document_id] = bucket_id
        self.members_of[bucket_id].append(BucketMember(
            document_id, bucket_id, sequence, lines=tuple(MemberLine(c.line_key, c.account, c.amount) for c in contributions)))
        return Membership(bucket_id, sequence, added=True)

    def _bucket(self, bucket_id: str) -> Bucket:
        meta = self.meta[bucket_id]
        return Bucket(bucket_id, meta["status"], meta["scope"], meta["seq"], meta["documents"], meta.get("erp_ref"),
                      meta["correlation_id"], meta.get("exception_id"))

    def bucket(self, bucket_id: str) -> Bucket | None:
        return self._bucket(bucket_id) if bucket_id in self.meta else None

    def by_status(self, status: str) -> list[Bucket]:
        return sorted((self._bucket(b) for b, meta in self.meta.items() if meta["status"] == status),
                      key=lambda b: (b.scope.accounting_date, b.bucket_id))

    def lines(self, bucket_id: str) -> list[SummaryLine]:
        return list(self.lines_of[bucket_id].values())

    def members(self, bucket_id: str) -> list[BucketMember]:
        return self.members_of[bucket_id]

    def seal(self, bucket: Bucket) -> bool:
        meta = self.meta[bucket.bucket_id]
        if meta["status"] != "open":
            return False
        meta["status"] = "sealed"
        self.heads[bucket.scope.key()] = bucket.sequence + 1
        return True

    def mark(self, bucket_id: str, status: str, *, expected: str, **attributes: Any) -> bool:
        meta = self.meta[bucket_id]
        if meta["status"] != expected:
            return False
        meta.update(status=status, **attributes)
        return True


class Nowhere:
    """Ledger and exceptions store stand-ins: the bench counts ERP calls, not DynamoDB writes."""

    def __init__(self) -> None:
        self.calls = 0

    def get(self, document_id: str) -> None:
        return None   # no ledger here: the flush traces nothing

    def open(self, **kwargs: Any) -> tuple[str, bool]:
        raise AssertionError(f"unexpected exception case: {kwargs.get('reason')}: {kwargs.get('message')}")


# ---- source events → journals ------------------------------------------------------------------------------

def config_for(connection: dict[str, Any]) -> LedgerLinkConfig:
    return LedgerLinkConfig.model_validate({
        "entities": [{"id": "us01", "name": "Bench Inc.", "base_currency": "USD", "time_zone": "America/New_York",
                      "erp_connection": connection["id"]}],
        "erp_connections": [connection],
        "sources": [{"id": "stripe", "kind": "stripe", "signing_secret": {"secret_id": "bench"},
                     "default_entity": "us01"}],
        "account_mappings": [{"entity": "us01", "accounts": ACCOUNTS}],
        "posting_policies": [{"source": "stripe", "document_type": "invoice"},
                             {"source": "stripe", "document_type": "payment"}],
    })


def source_events(count: int) -> list[dict[str, Any]]:
    """``invoice.paid`` events with fresh ids, one every few minutes over ``DAYS`` days."""
    template = json.loads(TEMPLATE.read_text())
    spacing = DAYS * 86_400 // count
    events = []
    for n in range(count):
        event = copy.deepcopy(template)
        text = json.dumps(event)
        for old in ("in_000000000000000000000000", "ch_000000000000000000000000", "pi_000000000000000000000000"):
            text = text.replace(old, f"{old[:3]}bench{n:08d}{old[16:]}")
        event = json.loads(text)
        event["id"] = f"evt_bench_{n:08d}"
        moment = int(START.timestamp()) + n * spacing
        event["created"] = moment
        event["data"]["object"]["created"] = moment
        transitions = event["data"]["object"].get("status_transitions") or {}
        for key in ("finalized_at", "paid_at"):
            if key in transitions:
                transitions[key] = moment
        events.append(event)
    return events


def journals_for(events: list[dict[str, Any]], config: LedgerLinkConfig) -> list[tuple[str, JournalEntry]]:
    normalizer = normalize_module("stripe")
    out = []
    for event in events:
        context = NormalizeContext(config=config, source_id="stripe", correlation_id=str(uuid.uuid4()),
                                   archive_key=f"raw/{event['id']}")
        for document in normalizer.normalize(event, context).documents:
            journal = validate(enrich(document, config, config_version=1), config)
            out.append((document.document_type, journal))
    return out


# ---- the ERPs ---------------------------------------------------------------------------------------------

@dataclass
class Erp:
    name: str
    connection: dict[str, Any]
    app: Any
    secret: dict[str, str]
    bulk: str
    secrets: Secrets = field(default_factory=Secrets)   # shared by the runs: Xero and QBO rotate refresh tokens

    def __post_init__(self) -> None:
        self.secrets.values[self.connection["credentials"]["secret_id"]] = json.dumps(self.secret)


def erps(clock: FakeClock, server_url: Callable[[Any], str]) -> list[Erp]:
    from tests.contract.business_central_server import BusinessCentralApp
    from tests.contract.netsuite_server import NetSuiteApp
    from tests.contract.quickbooks_server import QuickBooksApp
    from tests.contract.xero_server import XeroApp, XeroSpec

    accounts = set(ACCOUNTS.values())
    built = []
    xero = XeroApp(clock, XeroSpec(), tenant_id=IDS["tenant"], client_id="bench", client_secret="bench",
                   refresh_token="bench-0", accounts=accounts)
    url = server_url(xero)
    built.append(Erp("Xero", {"id": "xero", "kind": "xero", "tenant_id": IDS["tenant"],
                              "credentials": {"secret_id": "xero"}, "base_url": f"{url}/api.xro/2.0",
                              "token_url": f"{url}/connect/token"}, xero,
                     {"client_id": "bench", "client_secret": "bench", "refresh_token": "bench-0"},
                     "ManualJournals PUT, 50 per request, summarizeErrors=false"))
    qbo = QuickBooksApp(clock, realm_id=IDS["realm"], client_id="bench", client_secret="bench",
                        refresh_token="bench-r", accounts=accounts)
    url = server_url(qbo)
    built.append(Erp("QuickBooks Online", {"id": "qbo", "kind": "quickbooks_online", "realm_id": IDS["realm"],
                                           "credentials": {"secret_id": "qbo"}, "base_url": url,
                                           "token_url": f"{url}/oauth2/v1/tokens/bearer"}, qbo,
                     {"client_id": "bench", "client_secret": "bench", "refresh_token": "bench-r"},
                     "POST /batch, 30 items per request"))
    netsuite = NetSuiteApp(clock, account=IDS["account"], consumer=("ck", "cs"), token=("tk", "ts"),
                           accounts=accounts)
    url = server_url(netsuite)
    built.append(Erp("NetSuite", {"id": "netsuite", "kind": "netsuite", "account_id": IDS["account"],
                                  "credentials": {"secret_id": "netsuite"}, "base_url": f"{url}/services/rest"},
                     netsuite, {"consumer_key": "ck", "consumer_secret": "cs", "token_id": "tk", "token_secret": "ts"},
                     "none in the REST record API (one record per request)"))
    bc = BusinessCentralApp(clock, tenant="bench.onmicrosoft.com", environment="production",
                            company_id=IDS["company"], journal_id=IDS["journal"], client_id="bench",
                            client_secret="bench", accounts=accounts)
    url = server_url(bc)
    built.append(Erp("Business Central", {
        "id": "bc", "kind": "business_central", "tenant_id": "bench.onmicrosoft.com", "company_id": IDS["company"],
        "journal_id": IDS["journal"], "credentials": {"secret_id": "bc"},
        "base_url": f"{url}/v2.0/bench.onmicrosoft.com/production/api/v2.0",
        "token_url": f"{url}/bench.onmicrosoft.com/oauth2/v2.0/token"}, bc,
        {"client_id": "bench", "client_secret": "bench"}, "OData $batch, 100 operations, transactional"))
    return built


def connector_for(erp: Erp, clock: FakeClock, limiters: Any) -> Any:
    config = config_for(erp.connection)
    context = ConnectorContext(secrets=erp.secrets, limiters=limiters, clock_ms=clock.ms, sleeper=clock.sleep)
    return BUILDERS[erp.connection["kind"]](config.connection(erp.connection["id"]), context), config


def line_level(erp: Erp, journals: list[tuple[str, JournalEntry]], clock: FakeClock) -> int:
    """The post step's ERP calls for each document: period status (cached), lookup, post."""
    connector, config = connector_for(erp, clock, MemoryLimiters(clock))
    entity = config.entity("us01")
    for _, journal in journals:
        connector.period_status(entity, journal.accounting_date)
        if find_existing(connector, journal.document_id, "journal") is None:
            connector.post_journal(journal)
    return connector.session.calls


def summarized(erp: Erp, journals: list[tuple[str, JournalEntry]], clock: FakeClock) -> tuple[int, int]:
    """(ERP calls, buckets): every document into its bucket, then one flush."""
    connector, config = connector_for(erp, clock, MemoryLimiters(clock))
    buckets = MemoryBuckets()
    for document_type, journal in journals:
        summarize_into(buckets, journal, erp.connection["id"], "stripe", document_type)

    class Active:
        def active(self) -> tuple[int, LedgerLinkConfig]:
            return 1, config

    service = FlushService(config=Active(), buckets=buckets, connectors=lambda c, i, v: connector, ledger=Nowhere(),
                           exceptions=Nowhere(), clock=lambda: datetime.fromtimestamp(clock.now(), UTC))
    clock.advance(DAYS * 86_400 + 86_400)   # the days are over
    report = service.run()
    assert report.deferred == [] and report.exceptions == [], report
    return connector.session.calls, len(report.posted)


# ---- the rate-limited connection -----------------------------------------------------------------------------

def rate_limited_xero(journals: list[tuple[str, JournalEntry]], *, limiter: str) -> dict[str, Any]:
    """Two post Lambdas (two connectors) share one Xero tenant. ``limiter``: ``dynamodb`` (the deployed one,
    state in DynamoDB on moto), ``memory`` (the same arithmetic in process: fast enough for a whole day of
    calls), or ``none``."""
    from moto import mock_aws

    from ledgerlink.store import clients
    from ledgerlink.store.limiter import DynamoLimiters
    from ledgerlink.store.tables import TABLES

    from tests.contract.server import ContractServer
    from tests.contract.xero_server import XeroApp, XeroSpec

    clock = FakeClock(START)
    app = XeroApp(clock, XeroSpec(), tenant_id=IDS["tenant"], client_id="bench", client_secret="bench",
                  refresh_token="bench-0", accounts=set(ACCOUNTS.values()))
    server = ContractServer(app).start()
    erp = Erp("Xero", {"id": "xero", "kind": "xero", "tenant_id": IDS["tenant"], "credentials": {"secret_id": "xero"},
                       "base_url": f"{server.url}/api.xro/2.0", "token_url": f"{server.url}/connect/token"}, app,
              {"client_id": "bench", "client_secret": "bench", "refresh_token": "bench-0"}, "")
    refused = 0
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        with mock_aws():
            clients.reset()
            spec = TABLES["limiter"]
            clients.client("dynamodb").create_table(
                TableName="bench-limiter", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": spec.partition_key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": spec.partition_key, "AttributeType": "S"}])
            limiters: Any = None
            if limiter == "dynamodb":
                limiters = DynamoLimiters("bench-limiter", clock=clock.ms, sleeper=clock.sleep, max_wait_ms=10**12)
            elif limiter == "memory":
                limiters = MemoryLimiters(clock)
            config = config_for(erp.connection)
            lambdas = [BUILDERS["xero"](config.connection("xero"), ConnectorContext(
                secrets=erp.secrets, limiters=limiters, clock_ms=clock.ms, sleeper=clock.sleep)) for _ in range(2)]
            for position, (_, journal) in enumerate(journals):
                connector = lambdas[position % 2]
                try:
                    if find_existing(connector, journal.document_id, "journal") is None:
                        connector.post_journal(journal)
                except Exception as exc:  # noqa: BLE001 - without a limiter Xero refuses; count and move on
                    if type(exc).__name__ != "RateLimited":
                        raise
                    refused += 1
                    clock.advance(1)   # a caller without a shared limiter retries a moment later
            clients.reset()
    finally:
        server.stop()
    calls = sorted(app.minute.all_hits)
    return {"documents": len(journals), "calls_sent": len(app.log), "calls_admitted": len(calls),
            "refused_429": app.rate_limited, "max_calls_in_any_minute": app.minute.max_in_any_window(),
            "max_calls_in_any_day": app.day.max_in_any_window(), "minute_limit": 60, "day_limit": 5000,
            "elapsed_minutes": round((calls[-1] - calls[0]) / 60, 1) if calls else 0, "limiter": limiter,
            "errors_seen_by_callers": refused}


# ---- report -----------------------------------------------------------------------------------------------

def run(*, events: int = SOURCE_EVENTS, line_level_events: int = 1_000, rate_events: int = 300,
        day_events: int = 1_400) -> dict[str, Any]:
    from tests.contract.server import ContractServer

    started = time.monotonic()
    sample = source_events(events)
    servers: list[ContractServer] = []
    clock = FakeClock(START)

    def serve(app: Any) -> str:
        server = ContractServer(app).start()
        servers.append(server)
        return server.url

    rows = []
    try:
        for erp in erps(clock, serve):
            config = config_for(erp.connection)
            documents = journals_for(sample, config)
            line_sample = documents[: 2 * line_level_events]   # two documents per invoice.paid event
            line_calls = line_level(erp, line_sample, clock)
            per_events = Decimal(SOURCE_EVENTS) / Decimal(line_level_events)
            line_per_10k = int((Decimal(line_calls) * per_events).to_integral_value())
            summary_calls, buckets = summarized(erp, documents, clock)
            summary_per_10k = int((Decimal(summary_calls) * Decimal(SOURCE_EVENTS) / Decimal(events))
                                  .to_integral_value())
            rows.append({"erp": erp.name, "documents_per_10k_events": 2 * SOURCE_EVENTS,
                         "line_level_calls": line_per_10k, "line_level_measured_on_events": line_level_events,
                         "summarized_calls": summary_per_10k, "summary_journals": buckets,
                         "ratio": float(Decimal(summary_per_10k) / Decimal(line_per_10k)) if line_per_10k else None,
                         "bulk": erp.bulk})
    finally:
        for server in servers:
            server.stop()
    rate_config = config_for({"id": "xero", "kind": "xero", "tenant_id": IDS["tenant"],
                              "credentials": {"secret_id": "xero"}})
    rate_documents = journals_for(sample[:max(rate_events, day_events)], rate_config)
    limited = rate_limited_xero(rate_documents[: 2 * rate_events], limiter="dynamodb")
    a_day = rate_limited_xero(rate_documents[: 2 * day_events], limiter="memory")
    unlimited = rate_limited_xero(rate_documents[:300], limiter="none")
    return {"source_events": SOURCE_EVENTS, "days": DAYS, "target_ratio": float(TARGET_RATIO), "rows": rows,
            "target_met": all(row["ratio"] is not None and Decimal(str(row["ratio"])) <= TARGET_RATIO for row in rows),
            "rate_limited_connection": {"with_shared_limiter": limited, "over_a_day": a_day,
                                        "without_limiter": unlimited},
            "seconds": round(time.monotonic() - started, 1)}


def format_table(result: dict[str, Any]) -> str:
    lines = ["", f"ERP calls per {result['source_events']:,} source events (Stripe invoice.paid → invoice + payment, "
                 f"{result['days']} days, one entity and currency)", ""]
    header = f"  {'ERP':<19} {'line-level':>11} {'summarized':>11} {'ratio':>8}  {'summaries':>9}  bulk endpoint"
    lines += [header, "  " + "-" * (len(header) + 20)]
    for row in result["rows"]:
        lines.append(f"  {row['erp']:<19} {row['line_level_calls']:>11,} {row['summarized_calls']:>11,} "
                     f"{row['ratio']:>8.3%}  {row['summary_journals']:>9}  {row['bulk']}")
    measured = result["rows"][0]["line_level_measured_on_events"]
    lines += ["", f"  line-level measured on {measured:,} events and scaled (every document costs the same calls); "
                  "summarized measured on all of them.",
              f"  target: summarized ≤ {result['target_ratio']:.0%} of line-level — "
              f"{'met' if result['target_met'] else 'NOT MET'}", ""]
    runs = result["rate_limited_connection"]
    limited, a_day, unlimited = runs["with_shared_limiter"], runs["over_a_day"], runs["without_limiter"]
    lines += ["Rate-limited connection: one Xero tenant (60 calls/minute, 5,000 calls per rolling day), line-level",
              "posting by two post Lambdas sharing one limiter; the counts are Xero's own (fake clock):", "",
              f"  {'':<34} {'limiter in DynamoDB':>20} {'a whole day (same':>20} {'no limiter':>12}",
              f"  {'':<34} {'(moto), 2 Lambdas':>20} {'arithmetic, memory)':>20} {'':>12}"]
    for label, key, limit in (("documents posted", "documents", None), ("calls Xero admitted", "calls_admitted", None),
                              ("most calls in any 60 seconds", "max_calls_in_any_minute", 60),
                              ("most calls in any 24 hours", "max_calls_in_any_day", 5000),
                              ("429 answers from Xero", "refused_429", None),
                              ("elapsed (minutes)", "elapsed_minutes", None)):
        suffix = f"  (limit {limit:,})" if limit else ""
        lines.append(f"  {label:<34} {limited[key]:>20,} {a_day[key]:>20,} {unlimited[key]:>12,}{suffix}")
    lines.append("")
    return "\n".join(lines)


def write_results(result: dict[str, Any]) -> None:
    """Section "erp" of bench/results.json (``bench.report.write_section``: other benchmarks keep theirs)."""
    from bench.report import write_section

    write_section("erp", result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.erp_calls", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=SOURCE_EVENTS, help="source events for summarized posting")
    parser.add_argument("--line-level-events", type=int, default=1_000, help="events measured line-level")
    parser.add_argument("--rate-events", type=int, default=300, help="events posted through the DynamoDB limiter")
    parser.add_argument("--day-events", type=int, default=1_400, help="events posted over more than a day")
    args = parser.parse_args(argv)
    result = run(events=args.events, line_level_events=args.line_level_events, rate_events=args.rate_events,
                 day_events=args.day_events)
    print(format_table(result))
    write_results(result)
    held = [result["rate_limited_connection"][key] for key in ("with_shared_limiter", "over_a_day")]
    ok = result["target_met"] and all(run["refused_429"] == 0 and run["max_calls_in_any_minute"] <= 60
                                      and run["max_calls_in_any_day"] <= 5000 for run in held)
    print(f"results: {RESULTS.relative_to(REPO)} (key \"erp\"), {result['seconds']} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
