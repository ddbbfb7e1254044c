"""Throughput of the pure core on one core: parse → normalize → enrich → validate → journal, in
documents per second, and memory per 100,000 documents (journals kept). Baseline in the same run:
``json.loads`` of the same payloads (the cost of merely reading them); the figure that travels is the ratio to it.

No target (issue 23 retired the 20,000 documents/s one): at ~0.1–0.25 ms of CPU per document, compute is a rounding
error next to what a document costs in AWS requests (``bench.cost``) and what a month-end burst meets in an ERP's API
budget (``bench.burst``)."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import tracemalloc
from typing import Any

from bench.report import REPO, table, write_section
from ledgerlink.config.loader import load_config_file
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.validate import validate

SAMPLES = ("02-invoice.paid.json", "06-invoice.paid.current-api.json", "04-charge.refunded.json",
           "07-invoice.finalized.jpy.json")


def _payloads(events: int) -> list[bytes]:
    templates = [json.loads((REPO / "events" / "stripe" / name).read_text()) for name in SAMPLES]
    payloads = []
    for number in range(events):
        event = json.loads(json.dumps(templates[number % len(templates)]))
        event["id"] = f"evt_bench_{number:09d}"
        obj = event["data"]["object"]
        obj["id"] = f"{obj['id'].split('_')[0]}_bench{number:09d}"
        for refund in (obj.get("refunds") or {}).get("data", []):
            refund["id"] = f"re_bench{number:09d}"
        payloads.append(json.dumps(event).encode())
    return payloads


def _pipeline(payloads: list[bytes], context: NormalizeContext, config: Any, keep: list[Any] | None) -> int:
    documents = 0
    for raw in payloads:
        event = json.loads(raw)
        for document in normalize(event, context).documents:
            journal = validate(enrich(document, config, config_version=1), config)
            documents += 1
            if keep is not None:
                keep.append(journal)
    return documents


def run(events: int, memory_documents: int) -> dict[str, Any]:
    config = load_config_file(REPO / "config" / "ledgerlink.example.yaml")
    context = NormalizeContext(config=config, source_id="stripe", correlation_id="bench", archive_key="raw/bench")
    payloads = _payloads(events)
    _pipeline(payloads[:500], context, config, None)  # warm up
    start = time.perf_counter()
    for raw in payloads:
        json.loads(raw)
    parse_seconds = time.perf_counter() - start
    start = time.perf_counter()
    documents = _pipeline(payloads, context, config, None)
    seconds = time.perf_counter() - start
    # memory: the journals of `memory_documents` documents held at once
    per_event = documents / len(payloads)
    memory_payloads = _payloads(int(memory_documents / per_event) + 1)
    gc.collect()
    tracemalloc.start()
    kept: list[Any] = []
    _pipeline(memory_payloads, context, config, kept)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rate = documents / seconds
    return {"events": len(payloads), "documents": documents, "seconds": round(seconds, 3),
            "documents_per_second": round(rate), "parse_only_events_per_second": round(len(payloads) / parse_seconds),
            "vs_parse_only": round((len(payloads) / seconds) / (len(payloads) / parse_seconds), 3),
            "memory_documents": len(kept), "memory_mb_kept": round(current / 1e6, 1),
            "memory_mb_per_100k_documents": round(current / len(kept) * 100_000 / 1e6, 1),
            "memory_mb_peak": round(peak / 1e6, 1), "cpu_ms_per_document": round(seconds * 1000 / documents, 3),
            "target": None}


def format_result(result: dict[str, Any]) -> str:
    rows = [["parse → normalize → enrich → validate → journal", result["documents_per_second"]],
            ["baseline: json.loads only (events/s)", result["parse_only_events_per_second"]]]
    return table(f"Pipeline throughput, pure core, one core ({result['events']} events → {result['documents']} documents)",
                 ["path", "per second"], rows) + (
        f"memory for {result['memory_documents']} journals held: {result['memory_mb_kept']} MB "
        f"(peak {result['memory_mb_peak']} MB; {result['memory_mb_per_100k_documents']} MB per 100,000 documents); "
        f"{result['vs_parse_only']}× the rate of json.loads alone; {result['cpu_ms_per_document']} ms per document; "
        "no target (retired: see bench.cost and bench.burst)\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.throughput")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--memory-documents", type=int, default=50_000,
                        help="journals held while tracing memory (reported per 100,000: memory per journal is flat)")
    args = parser.parse_args(argv)
    result = run(args.events, args.memory_documents)
    print(format_result(result))
    write_section("throughput", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
