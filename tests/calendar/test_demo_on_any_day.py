"""``make demo`` means the same on every day: with the machine's clock moved to each calendar instant, the demo
prints the summary the README quotes, posts the same documents and releases the same months."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledgerlink import clock
from ledgerlink.local.demo import DEMO_AS_OF, demo_ok, format_report, run_demo, summary_lines

from tests.conftest import EVENTS, EXAMPLE_CONFIG
from tests.readme_sections import readme_demo_summary

pytestmark = pytest.mark.slow


def test_the_demo_prints_the_readme_summary_whatever_the_machines_date(moved_clock, tmp_path):
    # Given the machine's clock at a calendar instant far from the demo's as-of instant
    assert abs(datetime.now(UTC) - moved_clock).total_seconds() < 60
    # When the demo runs
    report = run_demo(EXAMPLE_CONFIG, EVENTS, state_dir=tmp_path / "demo", port=0)
    # Then it behaved, and its summary is the README's, line for line
    assert demo_ok(report) == [], format_report(report)
    assert summary_lines(report, state_label=".ledgerlink/demo") == readme_demo_summary()
    # and the releases covered the months ended before the as-of instant, not before the machine's date
    released = {entity["period"] for entity in report.releases[0]["entities"]}
    assert released == {"2026-11"}
    # and the process's clock is the system clock again afterwards
    assert isinstance(clock.current(), clock.SystemClock)
    assert report.as_of == DEMO_AS_OF
