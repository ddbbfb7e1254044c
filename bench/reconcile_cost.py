"""Reconciliation cost for one business day with 1,000 vs 100,000 documents (target ratio ≤ 2).

LedgerLink's side — reading the control totals and, only when they disagree, listing — is measured in
AWS calls and seconds (the median of three runs of the reconciler per size, after a garbage collection; the
first run of a process pays one-off imports). The ERP side (does the ERP hold what the ledger says it posted?) is reported
separately: it is whatever the connector's listing costs (the embedded Beancount book reads its
posting files; a real ERP answers a count query).

Seeding: 1,000 documents go through the real ledger path (register + transition in DynamoDB
transactions, as normalize and post do). moto copies a table on every transaction, so 100,000 that
way would take hours; they are seeded by writing the counter items the real path produces — the run
checks, at 1,000, that direct seeding yields exactly the items the real path did.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.report import REPO, table, verdict, write_section

DAY = "2026-11-20"
AMOUNT = Decimal("10.00")


def _environment() -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"})


def _seed_real(ledger: Any, count: int) -> None:
    from ledgerlink.totals import CounterKey

    for number in range(count):
        record = {"document_id": f"doc_bench{number:09d}", "status": "received", "entity_id": "us01",
                  "accounting_date": DAY, "source_id": "stripe", "currency": "USD", "amount": str(AMOUNT)}
        ledger.register(record)
        ledger.transition(record["document_id"], to="posted", expected=("received",), key=CounterKey.of(record))


def _seed_direct(dynamodb: Any, table: str, count: int) -> None:
    """The counter items ``count`` registered-and-posted documents leave, spread over the shards."""
    from ledgerlink.store.control_totals import SHARDS, documents_pk
    from ledgerlink.store.dynamo import to_item

    for shard in range(SHARDS):
        share = count // SHARDS + (1 if shard < count % SHARDS else 0)
        if share:
            dynamodb.put_item(TableName=table, Item=to_item({
                "pk": documents_pk("us01", DAY), "sk": f"stripe#USD#{shard}",
                "received_count": Decimal(share), "received_amount": AMOUNT * share,
                "posted_count": Decimal(share), "posted_amount": AMOUNT * share}))


def _book(root: Path, count: int) -> None:
    postings = root / "main" / "postings"
    postings.mkdir(parents=True)
    for number in range(count):
        document_id = f"doc_bench{number:09d}"
        (postings / f"{document_id}.beancount").write_text(
            f'{DAY} * "stripe" "bench"\n  document_id: "{document_id}"\n  entity: "us01"\n'
            f'  business_date: "{DAY}"\n  Assets:US01:Clearing:Stripe  10.00 USD\n'
            f'  Income:US01:Revenue:Subscriptions  -10.00 USD\n')


def _measure(count: int, *, direct: bool, repeats: int = 3) -> dict[str, Any]:
    from moto import mock_aws

    from ledgerlink.config.loader import load_config_file
    from ledgerlink.local.aws import create_resources
    from ledgerlink.local.functions import FunctionHost
    from ledgerlink.service.posting import beancount_connectors
    from ledgerlink.service.reconcile import Reconciler
    from ledgerlink.store import clients
    from ledgerlink.store.control_totals import DynamoControlTotals
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.reports import S3Reports

    _environment()
    config = load_config_file(REPO / "config" / "ledgerlink.example.yaml")
    books = Path(tempfile.mkdtemp(prefix="bench-books-"))
    with mock_aws():
        clients.reset()
        resources = create_resources(prefix="recon", books_dir=books, host=FunctionHost(log_stream=io.StringIO()))
        totals_table, dynamodb = resources.tables["totals"], clients.client("dynamodb")
        ledger = DynamoLedger(resources.tables["ledger"], totals_table=totals_table)
        if direct:
            _seed_direct(dynamodb, totals_table, count)
        else:
            _seed_real(ledger, count)
        seeded = sorted(
            (item["sk"]["S"], item["received_count"]["N"], item["posted_count"]["N"])
            for item in dynamodb.query(TableName=totals_table, KeyConditionExpression="pk = :p",
                                       ExpressionAttributeValues={":p": {"S": f"docs#us01#{DAY}"}})["Items"])
        _book(books, count)
        calls: Counter[str] = Counter()

        def count_call(model: Any, **_: Any) -> None:
            calls.update([f"{model.service_model.service_name}:{model.name}"])

        for service in ("dynamodb", "s3", "events"):
            clients.client(service).meta.events.register("before-call", count_call)
        erp_seconds = {"value": 0.0}
        factory = beancount_connectors(books.resolve().as_uri())

        def timed_connectors(cfg: Any, connection_id: str, version: int) -> Any:
            connector = factory(cfg, connection_id, version)
            listing = {"posted_on": connector.posted_on, "posted_count": connector.posted_count}

            def timed(name: str) -> Any:
                def call(entity: str, day: str) -> Any:
                    start = time.perf_counter()
                    try:
                        return listing[name](entity, day)
                    finally:
                        erp_seconds["value"] += time.perf_counter() - start
                return call

            class Timed:   # the ERP side of the check, timed apart from LedgerLink's
                posted_on = staticmethod(timed("posted_on"))
                posted_count = staticmethod(timed("posted_count"))

            return Timed()

        clients.client("s3").create_bucket(Bucket="bench-reports")
        reconciler = Reconciler(config=lambda: (1, config), totals=DynamoControlTotals(totals_table),
                                inbox=DynamoInbox(resources.tables["inbox"], totals_table=totals_table),
                                ledger=ledger, connectors=timed_connectors, reports=S3Reports("bench-reports"))
        ledgerlink_runs, erp_runs = [], []
        for _ in range(repeats):  # the median of a few runs: the first pays one-off imports and moto warm-up
            gc.collect()
            calls.clear()
            erp_seconds["value"] = 0.0
            start = time.perf_counter()
            report = reconciler.run(DAY, ["us01"])
            ledgerlink_runs.append(time.perf_counter() - start - erp_seconds["value"])
            erp_runs.append(erp_seconds["value"])
        clients.reset()
    row = report.entities[0].documents[0]
    return {"documents": count, "seeding": "direct counter items" if direct else "real ledger path",
            "status": report.status, "received": row.received_count, "posted": row.posted_count,
            "erp_holds": report.entities[0].erp.get("erp_posted"),
            "ledgerlink_calls": sum(calls.values()), "calls": dict(calls), "runs": repeats,
            "ledgerlink_seconds": round(statistics.median(ledgerlink_runs), 4),
            "erp_listing_seconds": round(statistics.median(erp_runs), 4), "counter_items": seeded}


def run(small: int, large: int) -> dict[str, Any]:
    real = _measure(small, direct=False)
    direct_small = _measure(small, direct=True)
    # the direct seeding must leave the same counter totals the real path left (shards may differ)
    same = ({sum(int(c[1]) for c in real["counter_items"])} == {sum(int(c[1]) for c in direct_small["counter_items"])}
            and real["ledgerlink_calls"] == direct_small["ledgerlink_calls"])
    big = _measure(large, direct=True)
    for result in (real, direct_small, big):
        result.pop("counter_items")
    ratio_calls = big["ledgerlink_calls"] / real["ledgerlink_calls"]
    ratio_seconds = big["ledgerlink_seconds"] / real["ledgerlink_seconds"]
    return {"small": real, "small_direct": direct_small, "large": big, "direct_seeding_matches_real_path": same,
            "ledgerlink_calls_ratio": round(ratio_calls, 2), "ledgerlink_seconds_ratio": round(ratio_seconds, 2),
            "erp_listing_ratio": round(big["erp_listing_seconds"] / max(real["erp_listing_seconds"], 1e-6), 1),
            "target_ratio": 2, "target_met": ratio_calls <= 2 and ratio_seconds <= 2 and same
            and real["status"] == big["status"] == "balanced"}


def format_result(result: dict[str, Any]) -> str:
    rows = [[f"{r['documents']:,} ({r['seeding']})", r["status"], r["ledgerlink_calls"], r["ledgerlink_seconds"],
             r["erp_listing_seconds"]] for r in (result["small"], result["small_direct"], result["large"])]
    return table("Reconciliation cost for one business day", ["documents", "status", "AWS calls", "LedgerLink s",
                                                              "ERP listing s"], rows) + (
        f"100k/1k ratio — LedgerLink: {result['ledgerlink_calls_ratio']}x calls, {result['ledgerlink_seconds_ratio']}x "
        f"time; the Beancount book's own listing: {result['erp_listing_ratio']}x; target ≤ 2: "
        f"{verdict(result['target_met'])}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.reconcile_cost")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args(argv)
    result = run(args.small, args.large)
    print(format_result(result))
    write_section("reconcile_cost", result)
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
