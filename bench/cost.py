"""Cost per million documents at AWS list prices (us-east-1, arm64; ``bench/aws_prices_us_east_1.json``), from what
the hot path is *counted* doing on a mixed workload, and the same workload through a conventional design.

The workload runs the real functions in process against moto (as ``bench.aws_calls`` does) and counts, through
botocore events, every AWS call LedgerLink's clients make: Stripe webhooks (four samples: invoices, a refund, a JPY
invoice) with Stripe invoices posted line-level and Stripe payments **summarized** (one journal per bucket at the
flush), one Expensify poll (a polled source, against the local fake Expensify API) and one camt.053 bank file (a file
source), then the flush. Counted or measured per kind of charge:

- API Gateway requests: the webhooks sent; Lambda requests: every handler invocation; Lambda billed duration: each
  invocation's wall time in process (ms, rounded up as Lambda bills) × the function's memory (``infra``'s sizing) —
  moto answers in the same thread, so its own work stands in for the network round trips;
- Step Functions: Express requests (the happy-path executions) and their duration (moto's start/stop times, billed per
  100 ms at 64 MB), Standard state transitions (escalations, from the execution histories);
- DynamoDB write/read request units from each request's items: a put's size, an update's item as it ended up
  (1 KB units; transactional × 2); SQS requests (the event source mapping's receive and delete included); S3 PUT/GET;
  Secrets Manager calls;
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
STATE_OVERHEAD_MS = 25   # Step Functions' own time per state entered (Express duration beyond the tasks), assumed
OBSERVER_ONLY = {"ListExecutions", "GetExecutionHistory", "DescribeExecution", "Scan", "DescribeTable"}
SECRET = "whsec_bench_cost"  # noqa: S105 - benchmark fixture


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


class DynamoMeter:
    """Request units per DynamoDB request, from its parameters; updates are sized after the run (final item)."""

    def __init__(self) -> None:
        self.wru = Decimal(0)
        self.rru = Decimal(0)
        self.pending_updates: list[tuple[str, str, int]] = []   # (table, key json, multiplier)
        self.items_by_table: Counter[str] = Counter()
        self.wru_by_table: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _put(self, table: str, item: dict[str, Any], multiplier: int) -> None:
        units = write_units(item_size(item)) * multiplier
        self.wru += units
        self.wru_by_table[table] += units
        self.items_by_table[table] += 1

    def _update(self, table: str, key: dict[str, Any], multiplier: int) -> None:
        self.pending_updates.append((table, json.dumps(key, sort_keys=True), multiplier))
        self.items_by_table[table] += 1

    def observe(self, operation: str, params: dict[str, Any]) -> None:
        with self._lock:
            if operation == "PutItem":
                self._put(params["TableName"], params["Item"], 1)
            elif operation in ("UpdateItem", "DeleteItem"):
                self._update(params["TableName"], params["Key"], 1)
            elif operation == "TransactWriteItems":
                for entry in params["TransactItems"]:
                    (kind, body), = entry.items()
                    if kind == "Put":
                        self._put(body["TableName"], body["Item"], 2)
                    else:
                        self._update(body["TableName"], body["Key"], 2)
            elif operation == "BatchWriteItem":
                for table, requests in params["RequestItems"].items():
                    for request in requests:
                        if "PutRequest" in request:
                            self._put(table, request["PutRequest"]["Item"], 1)
                        else:
                            self._update(table, request["DeleteRequest"]["Key"], 1)
            elif operation == "GetItem":
                self.rru += Decimal(1) if params.get("ConsistentRead") else Decimal("0.5")
            elif operation in ("Query", "BatchGetItem", "TransactGetItems"):
                self.rru += Decimal(1)

    def settle(self, final_sizes: dict[tuple[str, str], int]) -> None:
        for name, key, multiplier in self.pending_updates:
            units = write_units(final_sizes.get((name, key), 0)) * multiplier
            self.wru += units
            self.wru_by_table[name] += units
        self.pending_updates = []


def final_item_sizes(dynamodb: Any, tables: list[str]) -> dict[tuple[str, str], int]:
    sizes: dict[tuple[str, str], int] = {}
    for name in tables:
        schema = dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]
        keys = [key["AttributeName"] for key in schema]
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            for item in page["Items"]:
                sizes[(name, json.dumps({key: item[key] for key in keys}, sort_keys=True))] = item_size(item)
    return sizes


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
    meter = DynamoMeter()
    counting = {"on": False}
    original_client = clients.client
    durations: dict[str, list[float]] = defaultdict(list)
    task_input_bytes = Counter[str]()
    timing_lock = threading.Lock()

    def count(model: Any, **_: Any) -> None:  # must return None: a value would replace the response
        if counting["on"] and model.name not in OBSERVER_ONLY:
            calls.update([f"{model.service_model.service_name}:{model.name}"])

    def measure(params: Any, model: Any, **_: Any) -> None:  # the API parameters, before serialization
        if counting["on"] and model.service_model.service_name == "dynamodb":
            meter.observe(model.name, params)

    def counted_client(service: str) -> Any:
        client = original_client(service)
        if not getattr(client, "_bench_cost_counted", False):
            client.meta.events.register("before-call", count)
            client.meta.events.register("before-parameter-build", measure)
            client._bench_cost_counted = True  # noqa: SLF001
        return client

    task_ms_by_document: dict[str, float] = defaultdict(float)

    def timed(name: str, handler: Any) -> Any:
        def call(event: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                if counting["on"]:
                    with timing_lock:
                        durations[name].append(elapsed)
                        if name in TASKS and isinstance(event, dict):
                            task_input_bytes[name] += len(json.dumps(event, default=str))
                            task_ms_by_document[str(event.get("document_id"))] += elapsed
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
            meter.settle(final_item_sizes(dynamodb, list(resources.tables.values())))
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


def _lambda_durations(durations: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {name: {"invocations": len(values), "ms_total": round(sum(values), 1),
                   "ms_billed": sum(math.ceil(v) for v in values)} for name, values in sorted(durations.items())}


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


def per_million(lines: dict[str, Decimal], documents: int) -> dict[str, Decimal]:
    return {name: (value * 10**6 / documents).quantize(Decimal("0.0001"), ROUND_HALF_UP) for name, value in lines.items()}


def summarize(counted: dict[str, Any], prices: dict[str, Any], memory_gb: dict[str, Decimal] | None = None
              ) -> dict[str, Any]:
    documents = counted["documents"]
    ours = per_million(cost_lines(counted, prices, memory_gb=memory_gb), documents)
    conventional = per_million(cost_lines(counted, prices, conventional=True, memory_gb=memory_gb), documents)
    total, baseline = sum(ours.values()), sum(conventional.values())
    dominant = max(ours, key=lambda name: ours[name])
    ratio = (total / baseline).quantize(Decimal("0.001"), ROUND_HALF_UP) if baseline else Decimal(0)
    dynamo = counted["dynamodb"]
    wru_per_document = {name.rsplit("-", 1)[-1]: round(units / documents, 2)
                        for name, units in sorted(dynamo["wru_by_table"].items())}
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
            "wru_per_document_by_table": wru_per_document, "ledger_items": profile, "what_if": what_if,
            "conventional_per_million_documents": {k: str(v) for k, v in conventional.items()},
            "total_per_million": str(total.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            "conventional_total_per_million": str(baseline.quantize(Decimal("0.01"), ROUND_HALF_UP)),
            "vs_conventional": str(ratio), "dominant_line": dominant,
            "dominant_share": str((ours[dominant] / total).quantize(Decimal("0.001"), ROUND_HALF_UP)) if total else "0",
            "target_per_million": str(TARGET_PER_MILLION), "target_vs_conventional": str(TARGET_VS_CONVENTIONAL),
            "met": {"per_million": total <= TARGET_PER_MILLION, "vs_conventional": ratio <= TARGET_VS_CONVENTIONAL},
            "prices": {"region": prices["region"], "architecture": prices["architecture"],
                       "as_of": prices["prices_as_of"], "file": str(PRICES_FILE.relative_to(REPO))}}


def format_result(result: dict[str, Any]) -> str:
    ours, conventional = result["per_million_documents"], result["conventional_per_million_documents"]
    rows = [[name, f"${Decimal(ours[name]):,.2f}", f"${Decimal(conventional[name]):,.2f}"] for name in ours]
    rows.append(["TOTAL per million documents", f"${Decimal(result['total_per_million']):,.2f}",
                 f"${Decimal(result['conventional_total_per_million']):,.2f}"])
    counted = result["counted"]
    title = (f"Cost per million documents, AWS list prices {result['prices']['region']} {result['prices']['architecture']} "
             f"as of {result['prices']['as_of']} ({counted['webhooks']} webhooks + 1 poll + 1 bank file + flush → "
             f"{counted['documents']} documents: {counted['ledger_statuses']})")
    return table(title, ["line", "LedgerLink", "conventional"], rows) + (
        f"dominant line: {result['dominant_line']} ({float(result['dominant_share']):.0%} of the total); write units per "
        f"document by table: {result['wru_per_document_by_table']}; ledger items {result['ledger_items']}\n"
        + (f"what if the ledger item's document and journal were stored compressed: saves "
           f"${result['what_if']['ledger_document_and_journal_compressed']['saves_per_million']} per million (total "
           f"${result['what_if']['ledger_document_and_journal_compressed']['total_per_million']})\n"
           if result.get("what_if") else "")
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
