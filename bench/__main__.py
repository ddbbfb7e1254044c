"""Run every benchmark module (``make bench``): print each table, write ``bench/results.json``, list the targets
missed. A benchmark measures, it does not judge: the exit status is 0 once everything was measured, even with
targets missed (``python -m bench --strict`` exits 1 on a miss, for a pipeline that wants to gate on them)."""

from __future__ import annotations

import sys
import time

from bench import (
    aws_calls,
    burst,
    cold_start,
    cost,
    erp_calls,
    erp_readback,
    ingest_latency,
    local_stack,
    reconcile_cost,
    stripe_cash,
    throughput,
)

BENCHMARKS = (cold_start.main, ingest_latency.main, throughput.main, aws_calls.main, cost.main, burst.main,
              reconcile_cost.main,
              erp_calls.main, erp_readback.main, stripe_cash.main, local_stack.main)


def main(argv: list[str]) -> int:
    started = time.monotonic()
    missed = [benchmark.__module__.rsplit(".", 1)[-1] for benchmark in BENCHMARKS if benchmark([])]
    print(f"make bench: {time.monotonic() - started:.0f} s; results in bench/results.json; "
          f"targets missed in: {', '.join(missed) if missed else 'none'}")
    return 1 if missed and "--strict" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
