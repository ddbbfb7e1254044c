"""The benchmark table (docs/benchmarks.md) is rendered from bench/results.json: each figure with its target and verdict."""

from __future__ import annotations

import json

from bench.readme import render, rows

from tests.conftest import REPO
from tests.readme_sections import section


def test_each_figure_is_reported_against_its_target_with_the_verdict_the_numbers_give() -> None:
    results = {
        "aws_calls": {"billable_per_document": 11.29, "api_calls_per_document": 7.29, "transitions_per_document": 4.0,
                      "target_per_document": 6, "target_met": False, "measured_at": "2026-11-24T03:52:10+00:00",
                      "machine": "x86_64 3.12.1"},
        "reconcile_cost": {"small": {"documents": 1000, "ledgerlink_calls": 6},
                           "large": {"documents": 100000, "ledgerlink_calls": 6}, "ledgerlink_calls_ratio": 1.0,
                           "ledgerlink_seconds_ratio": 1.48, "target_ratio": 2, "target_met": True,
                           "measured_at": "2026-11-24T03:55:00+00:00", "machine": "x86_64 3.12.1"},
    }
    table = {measure: (value, target, met) for measure, value, target, met in rows(results)}
    assert table["billable AWS calls per document (moto, botocore events)"] == (
        "11.29 (7.29 API calls + 4.0 Standard state transitions; the Express happy path is billed per request)",
        "≤ 6", "**no**")
    assert table["reconciliation cost, 1,000 vs 100,000 documents on one day"][1:] == ("≤ 2", "yes")
    assert "measured 2026-11-24 03:52–2026-11-24 03:55 UTC" in render(results)


def test_the_committed_results_render_and_the_benchmarks_page_shows_them() -> None:
    rendered = render(json.loads((REPO / "bench" / "results.json").read_text()))
    assert rendered.count("\n| ") >= 8
    assert section("bench-table") == rendered, "run `make readme` (or python -m bench.readme) to rewrite the table"
