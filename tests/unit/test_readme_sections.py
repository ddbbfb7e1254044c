"""The README and docs/ quote numbers from a run (``make readme``): here the test count and the sections' shape; the
demo summary is compared with a fresh demo in ``tests/acceptance`` and the calendar tier, the benchmark table with
``bench/results.json`` in ``test_bench_readme``."""

from __future__ import annotations

import pytest

from tests.conftest import WHOLE_SUITE_COUNT
from tests.readme_sections import readme_demo_summary, section, sections


def test_the_readme_quotes_how_many_tests_the_whole_suite_collects(request: pytest.FixtureRequest) -> None:
    collected = request.config.stash.get(WHOLE_SUITE_COUNT, None)
    if collected is None:
        pytest.skip("only a whole-suite run (make test) knows the count")
    assert section("test-count") == f"{collected:,}", "run `make readme` to rewrite the README's test count"


def test_every_generated_section_is_on_a_page_a_newcomer_reaches_and_says_one_thing() -> None:
    # The front page shows the demo summary and the test count; the benchmark table lives in docs/benchmarks.md
    assert [key.split("#")[0] for key in sections("demo-summary")] == ["README.md"]
    assert "README.md#1" in sections("test-count")
    assert [key.split("#")[0] for key in sections("bench-table")] == ["docs/benchmarks.md"]
    for name in ("demo-summary", "test-count", "bench-table"):
        section(name)   # every occurrence says the same


def test_the_readme_demo_summary_is_one_fenced_block_with_the_as_of_instant() -> None:
    lines = readme_demo_summary()
    assert lines[0].startswith("LedgerLink demo")
    assert any(line.strip().startswith("as of.") for line in lines)
