"""The typed contracts in ``model/`` that the bucket, revenue and limiter stores share with the pipeline: the stores
depend on ``model/`` only, the old import paths still name the same types, and stored shapes read back unchanged."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerlink.model.buckets import BucketMember, BucketScope, BucketStatus, MemberLine
from ledgerlink.model.ratelimit import LimitPolicy
from ledgerlink.model.revenue import LineDelta, release_run

LAYER = Path(__file__).resolve().parents[2] / "layers" / "ledgerlink"
FORBIDDEN = ("ledgerlink.pipeline", "ledgerlink.service", "ledgerlink.connectors")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("name", ["buckets.py", "revenue.py", "limiter.py"])
def test_the_bucket_revenue_and_limiter_stores_import_only_the_model(name: str) -> None:
    offending = sorted(module for module in _imports(LAYER / "store" / name) if module.startswith(FORBIDDEN))
    assert offending == []


@pytest.mark.parametrize("module", ["ledgerlink.store.buckets", "ledgerlink.store.limiter"])
def test_the_bucket_and_limiter_stores_load_without_pydantic(module: str) -> None:
    """Cold start: the flush's and every post step's limiter store load no pydantic, pipeline or connector code."""
    code = (f"import sys, {module}; print(sorted(m for m in ('pydantic', 'ledgerlink.pipeline', "
            "'ledgerlink.connectors') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_old_import_paths_name_the_model_types() -> None:
    from ledgerlink import model
    from ledgerlink.connectors.erps import ratelimit
    from ledgerlink.model import buckets, revenue
    from ledgerlink.model import ratelimit as model_ratelimit
    from ledgerlink.pipeline import revenue as pipeline_revenue
    from ledgerlink.pipeline import revenue_release, summarize
    from ledgerlink.store import buckets as store_buckets

    assert summarize.BucketScope is buckets.BucketScope and summarize.SummaryLine is buckets.SummaryLine
    assert summarize.Contribution is buckets.Contribution and summarize.line_key is buckets.line_key
    assert pipeline_revenue.ScheduleLine is revenue.ScheduleLine and pipeline_revenue.RevenueFact is revenue.RevenueFact
    assert pipeline_revenue.Facts is revenue.Facts and pipeline_revenue.UsageTie is revenue.UsageTie
    assert revenue_release.LineDelta is revenue.LineDelta and revenue_release.LineState is revenue.LineState
    assert ratelimit.LimitPolicy is model_ratelimit.LimitPolicy and ratelimit.decide is model_ratelimit.decide
    assert store_buckets.Bucket is buckets.Bucket and store_buckets.Membership is buckets.Membership
    assert model.BucketScope is buckets.BucketScope and model.LineDelta is revenue.LineDelta
    assert model.LimiterState is model_ratelimit.LimiterState


def test_a_bucket_id_is_unchanged_by_the_move() -> None:
    """The bucket id is the summary journal's external id: it must stay what earlier releases computed."""
    scope = BucketScope("xero-us", "us01", date(2026, 3, 31), "USD", "stripe", "invoice")
    assert scope.bucket_id(1) == scope.source(1).document_id() == "doc_c58f6727256d3a25dfab6fb5e977ddb4"
    assert scope.bucket_id(1) != scope.bucket_id(2)
    assert scope.source(1).object_id == "xero-us|us01|2026-03-31|USD|stripe|invoice"


def test_bucket_statuses_are_stored_as_their_plain_values() -> None:
    assert [str(status) for status in BucketStatus] == ["open", "sealed", "posted", "exception", "done",
                                                         "exception_traced"]
    assert BucketStatus.OPEN == "open" and f"{BucketStatus.EXCEPTION_TRACED}" == "exception_traced"
    assert BucketMember("doc_a", "doc_b", 1, lines=(MemberLine("k", "4000", Decimal(5)),)).lines[0].line == "k"


def test_a_planned_delta_reads_back_as_written() -> None:
    delta = LineDelta(schedule_id="sch", invoice_document_id="doc_i", currency="USD", deferred_account="2400",
                      revenue_account="4000", dimensions=(("dept", "ops"),), revenue=Decimal("10.00"),
                      reclass={"fact": ("4900", Decimal("-2.50"))}, completes=True)
    stored = json.dumps(delta.to_dict())
    assert json.loads(stored)["reclass"] == {"fact": {"account": "4900", "amount": "-2.50"}}
    assert LineDelta.from_dict(json.loads(stored)) == delta


def test_a_stored_release_run_reads_back_typed() -> None:
    item = {"pk": "R#us01", "sk": "RUN#2026-03#0001", "entity_id": "us01", "period": "2026-03",
            "sequence": Decimal(1), "run_id": "rel_x", "config_version": Decimal(7), "lines": 3,
            "caught_up": ["2026-01", "2026-02"], "status": "done", "created_at": 1_770_000_000,
            "finished_at": "2026-04-01T00:00:00+00:00", "journals": ["doc_j"]}
    run = release_run(item)
    assert run == {**item, "sequence": 1, "config_version": 7}
    assert isinstance(run["sequence"], int) and isinstance(run["config_version"], int)
    assert release_run({"entity_id": "us01", "period": "2026-03", "sequence": 2, "run_id": "rel_y"}) == {
        "entity_id": "us01", "period": "2026-03", "sequence": 2, "run_id": "rel_y"}


def test_a_policy_takes_the_connection_overrides() -> None:
    class Limits:
        requests_per_minute: int | None = 60
        daily_budget: int | None = 5_000
        max_concurrency: int | None = 4

    class Overrides:
        requests_per_minute = 30
        daily_budget = None     # not overridden: the connector's budget stays

    policy = LimitPolicy.from_limits(Limits(), Overrides())
    assert (policy.requests_per_minute, policy.daily_budget, policy.max_concurrency, policy.burst) == (30, 5_000, 4, 3)
