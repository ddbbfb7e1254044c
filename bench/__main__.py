"""Run every benchmark module (``make bench``); exit non-zero if any misses its target."""

from __future__ import annotations

import sys
import time

from bench import aws_calls, cold_start, erp_calls, ingest_latency, reconcile_cost, throughput

BENCHMARKS = (cold_start.main, ingest_latency.main, throughput.main, aws_calls.main, reconcile_cost.main,
              erp_calls.main)


def main() -> int:
    started = time.monotonic()
    worst = max(benchmark([]) for benchmark in BENCHMARKS)
    print(f"make bench: {time.monotonic() - started:.0f} s; results in bench/results.json")
    return worst


if __name__ == "__main__":
    sys.exit(main())
