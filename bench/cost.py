"""Cost per million documents at AWS list prices (us-east-1, arm64; ``bench/aws_prices_us_east_1.json``), from what
the hot path is *counted* doing on a mixed workload, and the same workload through a conventional design.

The workload runs the real functions in process against moto (as ``bench.aws_calls`` does) and counts, through
botocore events, every AWS call LedgerLink's clients make: Stripe webhooks (four samples: invoices, a refund, a JPY
invoice) with Stripe invoices posted line-level and Stripe payments **summarized** (one journal per bucket at the
flush), one Expensify poll (a polled source, against the local fake Expensify API) and one camt.053 bank file (a file
source), then the flush. Counted or measured per kind of charge:

- API Gateway requests: the webhooks sent; Lambda requests: every handler invocation; Lambda billed duration: each
  invocation's CPU time in its own thread outside its AWS calls (moto's work answering them, and a handler invoked
  inline by another, are taken out), scaled by the CPU share Lambda gives the function's memory (one vCPU at
  1,769 MB: × 6.9 at 256 MB), plus, per AWS call it made, an assumed in-region round trip (``latency_ms`` in the price
  file), rounded up to the ms as Lambda bills, × the function's memory (``infra``'s sizing). The wall time in process is reported beside it and not priced:
  a dozen simulated functions sharing two cores and one interpreter spend most of it waiting for each other;
- Step Functions: Express requests (the happy-path executions) and their duration (the tasks' modelled time plus an
  assumed 25 ms per state, billed per 100 ms at 64 MB), Standard state transitions (escalations, from the histories);
- DynamoDB write/read request units as DynamoDB bills them: every written item at the larger of its size before and
  after the write (read around each request with a client of its own; 1 KB units; × 2 in a transaction; a refused
  condition at the item as it was) plus the writes of the tables' global secondary indexes (an index projecting all
  attributes is written again whenever a projected attribute changes; a keys-only one when its keys appear, change or
  go); SQS requests (the event source mapping's receive and delete included); S3 PUT/GET — the embedded book lives
  where it does on AWS, under an S3 prefix, so its postings are S3 requests too; Secrets Manager calls;
- KMS requests: one per Secrets Manager read or write (its envelope key); none per S3 object (the buckets use S3 Bucket
  Keys), SQS message (data-key reuse period) or DynamoDB item (table keys are cached) — a modelled line;
- CloudWatch Logs bytes: everything the handlers logged at INFO (the deployed level) plus the Powertools metrics (EMF
  lines are log bytes), plus Lambda's own platform records per invocation (JSON format: ``platform.start`` and
  ``platform.report``, sized from a representative record);
- X-Ray: traces recorded under the default sampling rule (5 % beyond one per second) for each entry point (webhook,
  SQS batch, Express execution, poll, bank file, flush) — modelled.

The conventional baseline is a model over the *same counted steps*: the same calls, invocations and durations, but one
Standard execution per document (the Express request becomes a Standard ``StartExecution``, free, plus one billed
transition per state the happy path entered, counted from its histories) and each task Lambda logging its input at
INFO (the Powertools ``log_event=True`` habit: the size of every task input, measured). Targets: ≤ $10 per million
documents all-in and ≤ 1/10 of the conventional design. The free tiers are left out (a million documents a month is
past them for everything but Lambda requests).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.report import REPO, table, verdict, write_section

PRICES_FILE = REPO / "bench" / "aws_prices_us_east_1.json"
TARGET_PER_MILLION = Decimal("10")
TARGET_VS_CONVENTIONAL = Decimal("0.1")
SAMPLES = ("02-invoice.paid.json", "06-invoice.paid.current-api.json", "04-charge.refunded.json",
           "07-invoice.finalized.jpy.json")
# Lambda's own records per invocation in JSON log format: platform.start and platform.report (representative
# values; their size hardly varies). platform.runtimeDone is not written to the log group.
PLATFORM_RECORDS = (
    {"time": "2026-11-30T23:59:59.123Z", "type": "platform.start",
     "record": {"requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa", "version": "$LATEST"}},
    {"time": "2026-11-30T23:59:59.223Z", "type": "platform.report",
     "record": {"requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa", "metrics": {
         "durationMs": 48.512, "billedDurationMs": 49, "memorySizeMB": 256, "maxMemoryUsedMB": 121},
         "tracing": {"spanId": "32e1c0e5a7b1d4f2", "type": "X-Amzn-Trace-Id",
                     "value": "Root=1-675a1b2c-5e6f7a8b9c0d1e2f3a4b5c6d;Parent=32e1c0e5a7b1d4f2;Sampled=0"},
         "status": "success"}},
)
XRAY_SAMPLING = Decimal("0.05")
EXPRESS_MEMORY_GB = Decimal(64) / Decimal(1024)
TASKS = ("master_data", "enrich", "validate", "post", "open_exception")
FULL_VCPU_MB = Decimal(1769)   # AWS Lambda: at 1,769 MB a function has the equivalent of one vCPU
STATE_OVERHEAD_MS = 25   # Step Functions' own time per state entered (Express duration beyond the tasks), assumed
OBSERVER_ONLY = {"ListExecutions", "GetExecutionHistory", "DescribeExecution", "Scan", "DescribeTable"}
SECRET = "whsec_bench_cost"  # noqa: S105 - benchmark fixture


def latency_ms(latencies: dict[str, Any], call: str) -> float:
    """The assumed round trip of one AWS call (``service:Operation``): the operation's own figure, else its service's,
    else the default."""
    service = call.split(":", 1)[0]
    return float(latencies.get(call, latencies.get(service, latencies["default"])))


def load_prices(path: Path = PRICES_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())


def price(prices: dict[str, Any], key: str) -> Decimal:
    return Decimal(prices["prices"][key]["usd"])


def platform_bytes_per_invocation() -> int:
    return sum(len(json.dumps(record, separators=(",", ":"))) + 1 for record in PLATFORM_RECORDS)


# ---- DynamoDB capacity units ------------------------------------------------------------------------------------

def attribute_size(value: dict[str, Any]) -> int:
    """The size DynamoDB bills for one attribute value (wire format), per its documented item-size rules."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: element}) for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + attribute_size(element) + 1 for name, element in inner.items())
    if kind == "L":
        return 3 + sum(attribute_size(element) + 1 for element in inner)
    return len(json.dumps(inner))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / 1024))


class TableShape:
    """What the meter needs of a table: its key attributes and, per global secondary index, the index's key
    attributes and projection (``None``: all attributes)."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.keys = [key["AttributeName"] for key in description["KeySchema"]]
        self.indexes: dict[str, tuple[list[str], list[str] | None]] = {}
        for index in description.get("GlobalSecondaryIndexes", []):
            projection = index.get("Projection", {})
            kind = projection.get("ProjectionType", "ALL")
            names = [key["AttributeName"] for key in index["KeySchema"]]
            projected = None if kind == "ALL" else [*names, *self.keys, *projection.get("NonKeyAttributes", [])]
            self.indexes[index["IndexName"]] = (names, projected)

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.keys}

    def index_writes(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, int]:
        """Write units the table's global secondary indexes take for one item going from ``before`` to ``after``
        (DynamoDB's rules: an item enters or leaves an index when its index keys appear or go — one write; changed
        index keys are a delete plus a put; otherwise one write when a projected attribute changed; each write sized
        by the index entry, 1 KB units)."""
        units: dict[str, int] = {}
        for index, (names, projected) in self.indexes.items():
            old = _index_entry(before, names, projected)
            new = _index_entry(after, names, projected)
            if old is None and new is None:
                continue
            if old is None or new is None:
                units[index] = write_units(item_size(new if new is not None else old or {}))
            elif any(old.get(name) != new.get(name) for name in names):
                units[index] = write_units(item_size(old)) + write_units(item_size(new))
            elif old != new:
                units[index] = write_units(item_size(new))
        return units


def _index_entry(item: dict[str, Any] | None, names: list[str], projected: list[str] | None) -> dict[str, Any] | None:
    if item is None or any(name not in item for name in names):
        return None
    return dict(item) if projected is None else {name: item[name] for name in projected if name in item}


type Write = tuple[str, dict[str, Any], int]   # (table, key, multiplier)


class DynamoMeter:
    """Request units per DynamoDB request, as DynamoDB bills them: each written item at the larger of its size before
    and after the write (1 KB units, × 2 in a transaction; a refused condition still bills the item as it was), plus
    the writes its global secondary indexes take. The items before and after are read with an uncounted client in
    the thread that makes the request (botocore's ``before-parameter-build`` and ``after-call`` events)."""

    def __init__(self, reader: Any, shapes: dict[str, TableShape]) -> None:
        self.reader = reader
        self.shapes = shapes
        self.wru = Decimal(0)
        self.rru = Decimal(0)
        self.wru_by_table: Counter[str] = Counter()
        self.index_wru_by_index: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._pending = threading.local()

    @property
    def index_wru(self) -> int:
        return sum(self.index_wru_by_index.values())

    def _read(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self.reader.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    def _writes(self, operation: str, params: dict[str, Any]) -> list[Write]:
        writes: list[Write] = []

        def add(table: str, body: dict[str, Any], multiplier: int) -> None:
            key = self.shapes[table].key_of(body["Item"]) if "Item" in body else body["Key"]
            writes.append((table, key, multiplier))

        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            add(params["TableName"], params, 1)
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (_, body), = entry.items()
                add(body["TableName"], body, 2)
        elif operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    add(table, request.get("PutRequest") or request["DeleteRequest"], 1)
        return writes

    def before(self, operation: str, params: dict[str, Any]) -> None:
        """Reads are billed from the request; writes remember each item as it is before the request."""
        if operation in ("GetItem", "Query", "BatchGetItem", "TransactGetItems"):
            units = Decimal("0.5") if operation == "GetItem" and not params.get("ConsistentRead") else Decimal(1)
            with self._lock:
                self.rru += units
            return
        self._pending.writes = [(table, key, multiplier, self._read(table, key))
                                for table, key, multiplier in self._writes(operation, params)]

    def after(self) -> None:
        """After the request (answered or refused): bill each item it wrote at the larger of before and after."""
        writes = getattr(self._pending, "writes", None) or []
        self._pending.writes = None
        for name, key, multiplier, before in writes:
            after = self._read(name, key)
            units = write_units(max(item_size(before or {}), item_size(after or {}))) * multiplier
            indexes = self.shapes[name].index_writes(before, after)
            index = sum(indexes.values())
            with self._lock:
                self.wru += units + index
                self.wru_by_table[name] += units + index
                for index_name, made in indexes.items():
                    self.index_wru_by_index[f"{name}/{index_name}"] += made


def table_shapes(dynamodb: Any, tables: list[str]) -> dict[str, TableShape]:
    return {name: TableShape(dynamodb.describe_table(TableName=name)["Table"]) for name in tables}


LARGE_LEDGER_ATTRIBUTES = ("document", "journal")   # the canonical document and, once posted, its journal (JSON,
                                                    # stored zlib-compressed)


def ledger_item_profile(items: list[dict[str, Any]]) -> dict[str, Any]:
    """How big the ledger items are as stored, how much of that is the document and journal (the store writes them
    zlib-compressed, binary), and the write units the items would take with every such attribute compressed: the same
    as they take, unless some hold the JSON text (items written before: then a measured what-if)."""
    import zlib

    actual = compressed = large = total = 0
    for item in items:
        size = item_size(item)
        smaller = size
        for name in LARGE_LEDGER_ATTRIBUTES:
            stored = item.get(name, {})
            if "S" in stored:
                raw = stored["S"].encode()
                large += len(raw)
                smaller += len(zlib.compress(raw, 6)) - len(raw)
            elif "B" in stored:
                large += attribute_size(stored)
        total += size
        actual += write_units(size)
        compressed += write_units(smaller)
    count = max(1, len(items))
    return {"items": len(items), "mean_bytes": round(total / count), "document_and_journal_share":
            round(large / total, 3) if total else 0, "write_units_per_write": round(actual / count, 2),
            "write_units_per_write_compressed": round(compressed / count, 2)}


# ---- the run ----------------------------------------------------------------------------------------------------

class CountingStream(io.TextIOBase):
    """Counts the bytes written (log lines, EMF metrics) and keeps none of them."""

    def __init__(self) -> None:
        self.bytes = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.bytes += len(text.encode())
        return len(text)

    def writable(self) -> bool:
        return True


def _stripe_bodies(events: int, tag: str = "cost") -> list[bytes]:
    templates = [json.loads((REPO / "events" / "stripe" / name).read_text()) for name in SAMPLES]
    bodies = []
    for number in range(events):
        event = json.loads(json.dumps(templates[number % len(templates)]))
        event["id"] = f"evt_{tag}_{number:07d}"
        obj = event["data"]["object"]
        obj["id"] = f"{obj['id'].split('_')[0]}_{tag}{number:07d}"
        if isinstance(obj.get("charge"), str):
            obj["charge"] = f"ch_{tag}{number:07d}"
        for refund in (obj.get("refunds") or {}).get("data", []):
            refund["id"] = f"re_{tag}{number:07d}"
        bodies.append(json.dumps(event).encode())
    return bodies


def _bench_config(config: Any) -> Any:
    """The example configuration with Stripe payments summarized (invoices stay line-level)."""
    policies = [policy.model_copy(update={"mode": "summarized"}) if (policy.source, policy.document_type) ==
                ("stripe", "payment") else policy for policy in config.posting_policies]
    return config.model_copy(update={"posting_policies": policies})


def run(events: int) -> dict[str, Any]:
    """The counted workload; the process environment is restored afterwards (``make bench`` runs the benchmarks
    one after the other in one process)."""
    saved = dict(os.environ)
    try:
        return _run(events)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _run(events: int) -> dict[str, Any]:  # noqa: PLR0915 - one scripted run
    from moto import mock_aws

    from ledgerlink import wiring
    from ledgerlink.config.loader import load_config_file
    from ledgerlink.config.sources import api_credentials
    from ledgerlink.connectors.sources.stripe.webhook import signature_header
    from ledgerlink.local.aws import (
        MOTO_CONFIG,
        apply_config,
        atomic_dynamodb,
        create_resources,
        in_process_lambdas,
        store_api_credentials,
        store_secrets,
    )
    from ledgerlink.local.fake_apis import FakeSourceApis, generate_credentials
    from ledgerlink.local.functions import FunctionHost
    from ledgerlink.local.http_front import api_gateway_event
    from ledgerlink.local.runtime import with_api_base_url
    from ledgerlink.local.sqs_poller import deliver_batch
    from ledgerlink.store import clients

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_METRICS_DISABLED": "false", "POWERTOOLS_METRICS_NAMESPACE": "LedgerLink",
                       "POWERTOOLS_LOG_LEVEL": "INFO"})
    calls: Counter[str] = Counter()
    latencies = {k: v for k, v in load_prices()["latency_ms"].items() if not k.startswith("_")}
    # Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB: below that, the same work takes
    # proportionally longer than on this machine's core
    cpu_scale = defaultdict(lambda: 1.0, {name: max(1.0, float(FULL_VCPU_MB / (gb * 1024)))
                                          for name, gb in _memory_gb().items()})
    meter: DynamoMeter | None = None
    current = threading.local()                       # the handler running in this thread (its calls' latency)
    counting = {"on": False}
    original_client = clients.client
    durations: dict[str, list[tuple[float, float, float]]] = defaultdict(list)   # (modelled, CPU, wall) ms
    task_input_bytes = Counter[str]()
    timing_lock = threading.Lock()

    def count(model: Any, **_: Any) -> None:  # must return None: a value would replace the response
        if counting["on"] and model.name not in OBSERVER_ONLY:
            name = f"{model.service_model.service_name}:{model.name}"
            calls.update([name])
            stack = getattr(current, "stack", None)
            if stack:
                stack[-1]["calls"][name] += 1

    def measure(params: Any, model: Any, **_: Any) -> None:  # the API parameters, before serialization
        stack = getattr(current, "stack", None)
        if stack:   # the thread's CPU from here to after-call is moto's (and the meter's), not the handler's
            stack[-1]["call_started"] = (time.thread_time(), stack[-1]["children_cpu"])
        if counting["on"] and meter is not None and model.service_model.service_name == "dynamodb":
            meter.before(model.name, params)

    def measured(model: Any, **_: Any) -> None:   # after-call: the request has been answered (or refused)
        if meter is not None and model.service_model.service_name == "dynamodb":
            meter.after()
        stack = getattr(current, "stack", None)
        if stack and stack[-1].get("call_started") is not None:
            started, children = stack[-1]["call_started"]
            stack[-1]["aws_cpu"] += (time.thread_time() - started) * 1000 - (stack[-1]["children_cpu"] - children)
            stack[-1]["call_started"] = None

    def counted_client(service: str) -> Any:
        client = original_client(service)
        if not getattr(client, "_bench_cost_counted", False):
            client.meta.events.register("before-call", count)
            client.meta.events.register("before-parameter-build", measure)
            client.meta.events.register("after-call", measured)
            client._bench_cost_counted = True  # noqa: SLF001
        return client

    task_ms_by_document: dict[str, float] = defaultdict(float)

    def timed(name: str, handler: Any) -> Any:
        """Each invocation's billed time, modelled: the CPU its own thread spent outside its AWS calls (moto's work
        answering them is the service's, and a handler another one invoked in the same thread is its own), scaled by
        Lambda's CPU share at the function's memory, plus for each AWS call the typical in-region round trip from the
        price file (the wall time of a dozen simulated Lambdas sharing two cores and one interpreter is mostly
        waiting for each other)."""
        def call(event: Any, context: Any) -> Any:
            stack = current.__dict__.setdefault("stack", [])
            frame = {"name": name, "calls": Counter(), "children_cpu": 0.0, "aws_cpu": 0.0, "call_started": None}
            stack.append(frame)
            current.name = name
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                return handler(event, context)
            finally:
                own_cpu = (time.thread_time() - cpu) * 1000
                wall = (time.perf_counter() - started) * 1000
                stack.pop()
                current.name = stack[-1]["name"] if stack else None
                if stack:
                    stack[-1]["children_cpu"] += own_cpu
                cpu_ms = max(0.0, own_cpu - frame["children_cpu"] - frame["aws_cpu"])
                modelled = cpu_ms * cpu_scale[name] + sum(latency_ms(latencies, call_name) * made
                                                          for call_name, made in frame["calls"].items())
                if counting["on"]:
                    with timing_lock:
                        durations[name].append((modelled, cpu_ms, wall))
                        if name in TASKS and isinstance(event, dict):
                            task_input_bytes[name] += len(json.dumps(event, default=str))
                            task_ms_by_document[str(event.get("document_id"))] += modelled
        return call

    class TimedHost(FunctionHost):
        """Times each handler call itself (a wait for a free local container is not billed on Lambda, where every
        concurrent invocation has its own environment)."""

        def module(self, name: str, *args: Any, **kwargs: Any) -> Any:
            real = super().module(name, *args, **kwargs)
            return SimpleNamespace(handler=timed(name, real.handler), logger=getattr(real, "logger", None))

    base_config = _bench_config(load_config_file(REPO / "config" / "ledgerlink.example.yaml"))
    remote = [source for source in base_config.sources if api_credentials(source) is not None]
    credentials = {source.kind: generate_credentials(source.kind) for source in remote}
    logs = CountingStream()
    bodies = _stripe_bodies(events)
    warmup = _stripe_bodies(len(SAMPLES), tag="warm")
    bank_file = (REPO / "events" / "bank" / "01-camt053.v8.demo.xml").read_bytes()
    with FakeSourceApis(REPO / "events", credentials=credentials) as vendor, mock_aws(config=MOTO_CONFIG):
        config = with_api_base_url(base_config, vendor.url)
        import ledgerlink.store.clients as module

        module.client = counted_client  # type: ignore[assignment]
        wiring.reset()
        host = TimedHost(prefix="bench", log_stream=logs)
        with in_process_lambdas(host), atomic_dynamodb():
            resources = create_resources(prefix="bench", books_dir=REPO / "build" / "bench-cost-books", host=host,
                                         legacy_dir=REPO / "build" / "bench-cost-legacy")
            # the embedded book where it lives on AWS, an S3 prefix: its files are S3 requests, counted and priced
            resources = dataclasses.replace(resources, books_uri=f"s3://{resources.archive_bucket}/books")
            import boto3

            reader = boto3.client("dynamodb", region_name="us-east-1")   # its own client: neither counted nor metered
            meter = DynamoMeter(reader, table_shapes(reader, list(resources.tables.values())))
            os.environ.update(resources.environment())
            apply_config(resources, config, applied_by="bench")
            store_secrets(config, {source.id: (SECRET,) for source in config.sources})
            store_api_credentials(config, {source.id: credentials[source.kind] for source in remote})
            sqs = original_client("sqs")
            s3 = original_client("s3")
            s3.put_object(Bucket=resources.archive_bucket, Key="bank-inbox/bank/01-camt053.v8.demo.xml", Body=bank_file)
            sfn = original_client("stepfunctions")

            def drain() -> int:
                batches = 0
                while True:  # the event source mapping: batches of 10 (its receive and delete calls count too)
                    messages = sqs.receive_message(QueueUrl=resources.inbound_queue_url,
                                                   MaxNumberOfMessages=10).get("Messages", [])
                    if not messages:
                        break
                    if counting["on"]:
                        calls.update(["sqs:ReceiveMessage", "sqs:DeleteMessageBatch"])
                    batches += 1
                    deliver_batch(sqs, resources.inbound_queue_url, resources.inbound_queue_arn,
                                  lambda batch: host.invoke("normalize", batch), messages)
                deadline, quiet = time.monotonic() + 300, 0   # idle: no happy path running, no handler for 1 s
                while time.monotonic() < deadline and quiet < 10:
                    before = host.activity
                    time.sleep(0.1)
                    running = sfn.list_executions(stateMachineArn=resources.happy_path_arn,
                                                  statusFilter="RUNNING")["executions"]
                    quiet = quiet + 1 if not running and host.activity == before and before[0] == 0 else 0
                return batches

            def deliver(payloads: list[bytes]) -> int:
                for body in payloads:
                    response = host.invoke("ingest", api_gateway_event(
                        "POST", "/webhooks/stripe", signature_header(body, SECRET, int(time.time())), body,
                        "127.0.0.1"))
                    assert response["statusCode"] == 202, response
                return len(payloads)

            with contextlib.redirect_stdout(io.StringIO()):   # warm containers: first calls are not the steady state
                deliver(warmup)
                drain()
            dynamodb = original_client("dynamodb")
            warm_documents = dynamodb.scan(TableName=resources.tables["ledger"], Select="COUNT")["Count"]
            machines = (resources.happy_path_arn, resources.state_machine_arn)
            warm_executions = {arn: {e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]}
                               for arn in machines}
            counting["on"] = True
            with contextlib.redirect_stdout(logs):
                webhooks = deliver(bodies)
                polled = host.invoke("poll", {"source": "expensify"})
                bank = host.invoke("bank_file", {"Records": [{
                    "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
                    "s3": {"bucket": {"name": resources.archive_bucket},
                           "object": {"key": "bank-inbox/bank/01-camt053.v8.demo.xml", "size": len(bank_file)}}}]})
                batches = drain()
                flushed = host.invoke("flush", {"through": "2100-12-31"})
            counting["on"] = False
            transitions, executions = _new_executions(sfn, machines, warm_executions)
            # Express duration: its tasks' measured time plus Step Functions' own per state (moto's wall times are
            # its simulation's, not the service's), billed per execution in 100 ms units
            per_state = transitions[resources.happy_path_arn] / max(1, len(executions[resources.happy_path_arn]))
            express_ms = [ms + per_state * STATE_OVERHEAD_MS for ms in task_ms_by_document.values()]
            ledger_items = dynamodb.scan(TableName=resources.tables["ledger"])["Items"]
        module.client = original_client
        wiring.reset()
    statuses = Counter(item["status"]["S"] for item in ledger_items)
    happy, standard = resources.happy_path_arn, resources.state_machine_arn
    return {"events": events, "webhooks": webhooks, "documents": len(ledger_items) - warm_documents,
            "warmup_documents": warm_documents, "ledger_statuses": dict(statuses),
            "poll": {"accepted": sum(int(p.get("accepted") or 0) for p in polled.get("polled", []))},
            "bank_file": bank,
            "flush": {k: flushed.get(k) for k in ("posted", "buckets") if k in flushed},
            "calls": dict(sorted(calls.items())), "sqs_batches": batches,
            "lambda": _lambda_durations(durations),
            "express": {"executions": len(executions[happy]), "transitions": transitions[happy],
                        **_express_billing(express_ms)},
            "standard": {"executions": len(executions[standard]), "transitions": transitions[standard]},
            "dynamodb": {"wru": str(meter.wru), "rru": str(meter.rru), "wru_by_table": dict(meter.wru_by_table),
                         "index_wru": str(meter.index_wru), "index_wru_by_index": dict(meter.index_wru_by_index),
                         "ledger_items": ledger_item_profile(ledger_items)},
            "log_bytes": {"handlers_and_metrics": logs.bytes,
                          "platform_per_invocation": platform_bytes_per_invocation()},
            "task_input_bytes": dict(task_input_bytes)}


def _new_executions(sfn: Any, machines: tuple[str, str], warm: dict[str, set[str]]
                    ) -> tuple[dict[str, int], dict[str, list[Any]]]:
    """Per machine: the states the counted run's executions entered, and those executions (the warm-up's left out;
    boto3's ListExecutions items)."""
    transitions = dict.fromkeys(machines, 0)
    executions = {arn: [e for e in sfn.list_executions(stateMachineArn=arn)["executions"]
                        if e["executionArn"] not in warm[arn]] for arn in machines}
    for arn in machines:
        for execution in executions[arn]:
            history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
            transitions[arn] += sum(1 for e in history if e["type"].endswith("StateEntered"))
    return transitions, executions


def _lambda_durations(durations: dict[str, list[tuple[float, float, float]]]) -> dict[str, dict[str, Any]]:
    """Per function: invocations, the modelled billed time (ms, each invocation rounded up as Lambda bills) and, beside
    it, the measured CPU of its own code (this machine's core, outside AWS calls) and the wall time in process (which
    the local contention inflates)."""
    return {name: {"invocations": len(values), "ms_total": round(sum(m for m, _, _ in values), 1),
                   "ms_billed": sum(math.ceil(m) for m, _, _ in values),
                   "cpu_ms": round(sum(cpu for _, cpu, _ in values), 1),
                   "wall_ms_in_process": round(sum(wall for _, _, wall in values), 1)}
            for name, values in sorted(durations.items())}


def _express_billing(express_ms: list[float]) -> dict[str, Any]:
    """Express executions are billed per execution in 100 ms units."""
    return {"billed_100ms_units": sum(max(1, math.ceil(ms / 100)) for ms in express_ms),
            "ms_total": round(sum(express_ms), 1)}


# ---- pricing ----------------------------------------------------------------------------------------------------

def _memory_gb() -> dict[str, Decimal]:
    """Each function's memory from ``infra/constructs/function.py``'s ``SIZING``, read from the source (importing the
    CDK app would start its JavaScript runtime)."""
    import ast

    tree = ast.parse((REPO / "infra" / "constructs" / "function.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "SIZING":
            assert isinstance(node.value, ast.Dict)
            return {ast.literal_eval(key): Decimal(ast.literal_eval(value.args[0])) / Decimal(1024)  # type: ignore[union-attr]
                    for key, value in zip(node.value.keys, node.value.values, strict=True)}
    raise LookupError("SIZING not found in infra/constructs/function.py")


def cost_lines(counted: dict[str, Any], prices: dict[str, Any], *, conventional: bool = False,
               memory_gb: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Dollars for the whole counted run, per line; ``conventional``: the baseline model over the same counts."""
    memory = memory_gb or _memory_gb()
    calls = Counter(counted["calls"])
    lam = counted["lambda"]
    invocations = sum(entry["invocations"] for entry in lam.values())
    gb_seconds = sum(Decimal(entry["ms_billed"]) / 1000 * memory[name] for name, entry in lam.items())
    express, standard = counted["express"], counted["standard"]
    sqs_requests = sum(made for key, made in calls.items() if key.startswith("sqs:"))
    s3_put = sum(made for key, made in calls.items() if key in ("s3:PutObject", "s3:CopyObject", "s3:ListObjectsV2",
                                                                 "s3:ListObjects", "s3:CreateMultipartUpload"))
    s3_get = sum(made for key, made in calls.items() if key.startswith("s3:")) - s3_put
    secrets = sum(made for key, made in calls.items() if key.startswith("secretsmanager:"))
    log_bytes = counted["log_bytes"]["handlers_and_metrics"] + invocations * counted["log_bytes"]["platform_per_invocation"]
    entry_points = (counted["webhooks"] + counted["sqs_batches"] + express["executions"]
                    + sum(lam.get(name, {}).get("invocations", 0) for name in ("poll", "bank_file", "flush")))
    lines = {
        "API Gateway REST requests": Decimal(counted["webhooks"]) * price(prices, "api_gateway_rest_per_million_requests") / 10**6,
        "Lambda requests": Decimal(invocations) * price(prices, "lambda_per_million_requests") / 10**6,
        "Lambda duration (arm64)": gb_seconds * price(prices, "lambda_arm64_per_gb_second"),
        "Step Functions Express requests": Decimal(express["executions"]) * price(prices, "sfn_express_per_million_requests") / 10**6,
        "Step Functions Express duration": (Decimal(express["billed_100ms_units"]) / 10 * EXPRESS_MEMORY_GB
                                            * price(prices, "sfn_express_per_gb_second")),
        "Step Functions Standard transitions": (Decimal(standard["transitions"])
                                                * price(prices, "sfn_standard_per_thousand_transitions") / 1000),
        "DynamoDB writes (WRU)": Decimal(counted["dynamodb"]["wru"]) * price(prices, "dynamodb_on_demand_per_million_wru") / 10**6,
        "DynamoDB reads (RRU)": Decimal(counted["dynamodb"]["rru"]) * price(prices, "dynamodb_on_demand_per_million_rru") / 10**6,
        "SQS requests": Decimal(sqs_requests) * price(prices, "sqs_standard_per_million_requests") / 10**6,
        "S3 requests": (Decimal(s3_put) * price(prices, "s3_put_per_thousand") / 1000
                        + Decimal(s3_get) * price(prices, "s3_get_per_thousand") / 1000),
        "KMS requests": Decimal(secrets) * price(prices, "kms_per_ten_thousand_requests") / 10**4,
        "Secrets Manager calls": Decimal(secrets) * price(prices, "secrets_manager_per_ten_thousand_calls") / 10**4,
        "CloudWatch Logs ingestion": Decimal(log_bytes) / 10**9 * price(prices, "cloudwatch_logs_ingest_per_gb"),
        "X-Ray traces (modelled)": (Decimal(entry_points) * XRAY_SAMPLING
                                    * price(prices, "xray_per_million_traces_recorded") / 10**6),
    }
    if conventional:
        # one Standard execution per document: the Express request and duration are gone, every state the happy path
        # entered is a billed transition on top of the escalations; every task Lambda logs its input at INFO
        lines["Step Functions Express requests"] = Decimal(0)
        lines["Step Functions Express duration"] = Decimal(0)
        lines["Step Functions Standard transitions"] = (Decimal(standard["transitions"] + express["transitions"])
                                                       * price(prices, "sfn_standard_per_thousand_transitions") / 1000)
        extra = sum(counted["task_input_bytes"].values())
        lines["CloudWatch Logs ingestion"] = (Decimal(log_bytes + extra) / 10**9
                                              * price(prices, "cloudwatch_logs_ingest_per_gb"))
    return lines


# The least exactly-once bookkeeping a document needs in DynamoDB: the event's claim, the document's registration, the
# post step's lease and the posted transition — one conditional write each, of an item under 1 KB, no transaction,
# no counters, no index.
FLOOR_WRU_PER_DOCUMENT = 4


def floor_lines(counted: dict[str, Any], prices: dict[str, Any], memory_gb: dict[str, Decimal] | None = None
                ) -> dict[str, Decimal]:
    """The least the project's fixed architecture can cost for the counted workload, whatever its code does: every
    request the shape itself makes, at the counted quantities — one REST API request per webhook, one archive PUT and
    one SQS message per accepted event (the raw archive and the queue hold it before the 202), the batches' receive
    and delete, one ingest invocation per webhook, one normalize invocation per batch and at least one task invocation
    per document, one Express execution per document at its minimum (one 100 ms unit at 64 MB), the Standard
    transitions of the escalations as counted, Lambda's platform log records for those invocations, X-Ray and Secrets
    Manager as counted — plus ``FLOOR_WRU_PER_DOCUMENT``; no Lambda duration, no handler logs, no reads."""
    calls = Counter(counted["calls"])
    lam = counted["lambda"]
    documents, batches = counted["documents"], counted["sqs_batches"]
    events = calls["sqs:SendMessage"]
    invocations = (counted["webhooks"] + batches + documents
                   + sum(lam.get(name, {}).get("invocations", 0) for name in ("poll", "bank_file", "flush")))
    ours = cost_lines(counted, prices, memory_gb=memory_gb)
    sqs_requests = sum(made for key, made in calls.items() if key.startswith("sqs:"))
    return {
        "API Gateway REST requests": ours["API Gateway REST requests"],
        "Lambda requests": Decimal(invocations) * price(prices, "lambda_per_million_requests") / 10**6,
        "Step Functions Express requests": ours["Step Functions Express requests"],
        "Step Functions Express duration": (Decimal(counted["express"]["executions"]) / 10 * EXPRESS_MEMORY_GB
                                            * price(prices, "sfn_express_per_gb_second")),
        "Step Functions Standard transitions": ours["Step Functions Standard transitions"],
        "DynamoDB writes (WRU)": (Decimal(FLOOR_WRU_PER_DOCUMENT * documents)
                                  * price(prices, "dynamodb_on_demand_per_million_wru") / 10**6),
        "SQS requests": Decimal(sqs_requests) * price(prices, "sqs_standard_per_million_requests") / 10**6,
        "S3 requests": Decimal(events) * price(prices, "s3_put_per_thousand") / 1000,
        "KMS requests": ours["KMS requests"],
        "Secrets Manager calls": ours["Secrets Manager calls"],
        "CloudWatch Logs ingestion": (Decimal(invocations * counted["log_bytes"]["platform_per_invocation"]) / 10**9
                                      * price(prices, "cloudwatch_logs_ingest_per_gb")),
        "X-Ray traces (modelled)": ours["X-Ray traces (modelled)"],
    }


def per_million(lines: dict[str, Decimal], documents: int) -> dict[str, Decimal]:
    return {name: (value * 10**6 / documents).quantize(Decimal("0.0001"), ROUND_HALF_UP) for name, value in lines.items()}


def summarize(counted: dict[str, Any], prices: dict[str, Any], memory_gb: dict[str, Decimal] | None = None
              ) -> dict[str, Any]:
    documents = counted["documents"]
    ours = per_million(cost_lines(counted, prices, memory_gb=memory_gb), documents)
    conventional = per_million(cost_lines(counted, prices, conventional=True, memory_gb=memory_gb), documents)
    floor = per_million(floor_lines(counted, prices, memory_gb), documents)
    total, baseline, least = sum(ours.values()), sum(conventional.values()), sum(floor.values())
    dominant = max(ours, key=lambda name: ours[name])
    ratio = (total / baseline).quantize(Decimal("0.001"), ROUND_HALF_UP) if baseline else Decimal(0)
    dynamo = counted["dynamodb"]
    wru_per_document = {name.rsplit("-", 1)[-1]: round(units / documents, 2)
                        for name, units in sorted(dynamo["wru_by_table"].items())}
    index_wru_per_document = {name.split("-", 1)[-1]: round(units / documents, 2)
                              for name, units in sorted((dynamo.get("index_wru_by_index") or {}).items())}
    profile = dynamo.get("ledger_items") or {}
    what_if = None
    if profile.get("write_units_per_write") and \
            profile["write_units_per_write_compressed"] < profile["write_units_per_write"]:   # text items left
        ledger_wru = Decimal(sum(units for name, units in dynamo["wru_by_table"].items() if name.endswith("-ledger")))
        shrink = Decimal(str(profile["write_units_per_write_compressed"])) / Decimal(str(profile["write_units_per_write"]))
        saved = (ledger_wru * (1 - shrink) * price(prices, "dynamodb_on_demand_per_million_wru") / documents)
        what_if = {"ledger_document_and_journal_compressed": {
            "saves_per_million": str(saved.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            "total_per_million": str((total - saved).quantize(Decimal("0.01"), ROUND_HALF_UP))}}
    return {"per_million_documents": {k: str(v) for k, v in ours.items()},
            "wru_per_document_by_table": wru_per_document, "index_wru_per_document": index_wru_per_document,
            "ledger_items": profile, "what_if": what_if,
            "conventional_per_million_documents": {k: str(v) for k, v in conventional.items()},
            "total_per_million": str(total.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            "conventional_total_per_million": str(baseline.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            "vs_conventional": str(ratio), "dominant_line": dominant,
            "floor_per_million_documents": {k: str(v) for k, v in floor.items()},
            "floor_total_per_million": str(least.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            "floor_vs_conventional": str((least / baseline).quantize(Decimal("0.001"), ROUND_HALF_UP)) if baseline else "0",
            "target_below_floor": least > TARGET_PER_MILLION,
            "dominant_share": str((ours[dominant] / total).quantize(Decimal("0.001"), ROUND_HALF_UP)) if total else "0",
            "target_per_million": str(TARGET_PER_MILLION), "target_vs_conventional": str(TARGET_VS_CONVENTIONAL),
            "met": {"per_million": total <= TARGET_PER_MILLION, "vs_conventional": ratio <= TARGET_VS_CONVENTIONAL},
            "prices": {"region": prices["region"], "architecture": prices["architecture"],
                       "as_of": prices["prices_as_of"], "file": str(PRICES_FILE.relative_to(REPO))}}


def format_result(result: dict[str, Any]) -> str:
    ours, conventional = result["per_million_documents"], result["conventional_per_million_documents"]
    floor = result.get("floor_per_million_documents", {})
    rows = [[name, f"${Decimal(ours[name]):,.2f}", f"${Decimal(conventional[name]):,.2f}",
             f"${Decimal(floor.get(name, '0')):,.2f}"] for name in ours]
    rows.append(["TOTAL per million documents", f"${Decimal(result['total_per_million']):,.2f}",
                 f"${Decimal(result['conventional_total_per_million']):,.2f}",
                 f"${Decimal(result.get('floor_total_per_million', '0')):,.2f}"])
    counted = result["counted"]
    title = (f"Cost per million documents, AWS list prices {result['prices']['region']} {result['prices']['architecture']} "
             f"as of {result['prices']['as_of']} ({counted['webhooks']} webhooks + 1 poll + 1 bank file + flush → "
             f"{counted['documents']} documents: {counted['ledger_statuses']})")
    return table(title, ["line", "LedgerLink", "conventional", "floor of the architecture"], rows) + (
        f"dominant line: {result['dominant_line']} ({float(result['dominant_share']):.0%} of the total); write units per "
        f"document by table (index writes included): {result['wru_per_document_by_table']}; of which index writes per "
        f"document: {result.get('index_wru_per_document', {})}; ledger items {result['ledger_items']}\n"
        + (f"what if the ledger item's document and journal were stored compressed: saves "
           f"${result['what_if']['ledger_document_and_journal_compressed']['saves_per_million']} per million (total "
           f"${result['what_if']['ledger_document_and_journal_compressed']['total_per_million']})\n"
           if result.get("what_if") else "")
        + (f"the floor — what the fixed shape itself costs (a REST request per webhook, an archive PUT and an SQS message "
           f"per event, an Express execution and a task invocation per document, {FLOOR_WRU_PER_DOCUMENT} single-item "
           f"writes per document, no duration, no handler logs) — is ${result['floor_total_per_million']} per million "
           f"({result['floor_vs_conventional']}× conventional): the ${result['target_per_million']} target is "
           + ("below it\n" if result.get("target_below_floor") else "above it\n") if "floor_total_per_million" in result else "")
        + f"target ≤ ${result['target_per_million']} per million: {verdict(result['met']['per_million'])}; "
        f"target ≤ {result['target_vs_conventional']} × conventional ({result['vs_conventional']}×): "
        f"{verdict(result['met']['vs_conventional'])}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.cost")
    parser.add_argument("--events", type=int, default=60, help="Stripe webhooks (cycling over four samples)")
    args = parser.parse_args(argv)
    counted = run(args.events)
    result = {**summarize(counted, load_prices()), "counted": counted}
    print(format_result(result))
    write_section("cost", result)
    return 0 if all(result["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
