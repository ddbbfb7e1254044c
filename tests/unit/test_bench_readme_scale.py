"""The benchmark table's issue-23 rows: the retired throughput target, the cost per million documents against both
targets, and the month-end burst (local stack and AWS quotas)."""

from __future__ import annotations

from bench.readme import rows

STAMP = {"measured_at": "2026-12-07T18:00:00+00:00", "machine": "x86_64 3.12.1"}


def test_cost_burst_and_the_retired_throughput_target_render_with_their_verdicts() -> None:
    results = {
        "throughput": {"documents_per_second": 8574, "vs_parse_only": 0.149, "memory_mb_per_100k_documents": 348.6,
                       "memory_documents": 50002, "target": None, **STAMP},
        "cost": {"prices": {"region": "us-east-1", "architecture": "arm64", "as_of": "2026-12-07"},
                 "total_per_million": "35.76", "dominant_line": "DynamoDB writes (WRU)", "dominant_share": "0.546",
                 "target_per_million": "10", "vs_conventional": "0.260", "conventional_total_per_million": "137.29",
                 "target_vs_conventional": "0.1", "met": {"per_million": False, "vs_conventional": False}, **STAMP},
        "burst": {"local": {"burst_factor": 10, "burst_seconds": 30, "events": 160, "ack_ms": {"p50": 31.7, "p99": 309.4},
                            "status_5xx": 0, "lost": 0, "drain_seconds": 46.9},
                  "aws_model": {"burst_factor": 10, "steady_events_per_second": 10, "burst_minutes": 15,
                                "tightest": {"quota": "DynamoDB ledger", "utilization": 0.654},
                                "drain_summary": "summarized ≤ 2 s", "within_quotas": True}, **STAMP},
    }
    table = {measure: (value, target, met) for measure, value, target, met in rows(results)}
    assert table["pure-core throughput, one core"][1:] == ("none (retired)", "—")
    cost = table["AWS cost per million documents (list prices us-east-1 arm64, 2026-12-07; mixed workload)"]
    assert cost == ("$35.76 (largest line: DynamoDB writes (WRU), 55%)", "≤ $10", "**no**")
    assert table["AWS cost vs a conventional design (one Standard execution per document, INFO logs per step)"] == (
        "0.260× (conventional $137.29 per million)", "≤ 0.1×", "**no**")
    local = table["month-end burst on the local stack (10× for 30 s, 160 events)"]
    assert local == ("ack p50 / p99 31.7 / 309.4 ms; 0 5xx, 0 lost; drained in 46.9 s", "0 5xx, 0 lost", "yes")
    assert table["month-end burst against AWS quotas (10× 10 events/s for 15 min)"][2] == "yes"


def test_the_cost_rows_name_the_floor_and_whether_the_target_is_below_it() -> None:
    cost = {"prices": {"region": "us-east-1", "architecture": "arm64", "as_of": "2026-12-08"},
            "total_per_million": "37.31", "dominant_line": "DynamoDB writes (WRU)", "dominant_share": "0.566",
            "target_per_million": "10", "vs_conventional": "0.268", "conventional_total_per_million": "139.40",
            "target_vs_conventional": "0.1", "met": {"per_million": False, "vs_conventional": False},
            "floor_total_per_million": "12.34", "floor_vs_conventional": "0.089", "target_below_floor": True, **STAMP}
    table = {measure: (value, target, met) for measure, value, target, met in rows({"cost": cost})}
    assert table["AWS cost per million documents (list prices us-east-1 arm64, 2026-12-08; mixed workload)"] == (
        "$37.31 (largest line: DynamoDB writes (WRU), 57%; the architecture's floor $12.34)", "≤ $10",
        "**no** (the target is below the floor)")
    assert table["AWS cost vs a conventional design (one Standard execution per document, INFO logs per step)"] == (
        "0.268× (conventional $139.40 per million; the floor 0.089×)", "≤ 0.1×", "**no**")
