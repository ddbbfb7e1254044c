"""The README quotes numbers from a run (``make readme``): here the test count; the demo summary is compared with
a fresh demo in ``tests/acceptance`` and the calendar tier."""

from __future__ import annotations

import pytest

from tests.conftest import WHOLE_SUITE_COUNT
from tests.readme_sections import readme_demo_summary, section


def test_the_readme_quotes_how_many_tests_the_whole_suite_collects(request: pytest.FixtureRequest) -> None:
    collected = request.config.stash.get(WHOLE_SUITE_COUNT, None)
    if collected is None:
        pytest.skip("only a whole-suite run (make test) knows the count")
    assert section("test-count") == f"{collected:,}", "run `make readme` to rewrite the README's test count"


def test_the_readme_demo_summary_is_one_fenced_block_with_the_as_of_instant() -> None:
    lines = readme_demo_summary()
    assert lines[0].startswith("LedgerLink demo")
    assert any(line.strip().startswith("as of.") for line in lines)
