"""Run every benchmark module (``make bench``); exit non-zero if any misses its target."""

from __future__ import annotations

import sys

from bench import erp_calls

BENCHMARKS = (erp_calls.main,)


def main() -> int:
    return max(benchmark([]) for benchmark in BENCHMARKS)


if __name__ == "__main__":
    sys.exit(main())
