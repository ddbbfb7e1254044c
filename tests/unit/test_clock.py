"""The one clock (D82): what it returns, how a run is pinned, and that nothing else reads the time of day."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from ledgerlink import clock

from tests.conftest import REPO

START = datetime(2027, 8, 31, 23, 30, tzinfo=UTC)


def test_the_system_clock_follows_the_machines_clock() -> None:
    with time_machine.travel(START, tick=False):
        assert clock.now() == START
        assert clock.epoch() == START.timestamp()
        assert clock.epoch_ms() == int(START.timestamp()) * 1000
        assert clock.utc_day() == "2027-08-31"
        # 23:30 UTC is 19:30 in New York and already the next day in Tokyo
        assert clock.today_in("America/New_York") == date(2027, 8, 31)
        assert clock.today_in("Asia/Tokyo") == date(2027, 9, 1)


def test_an_as_of_clock_starts_at_its_instant_and_runs_at_real_speed_whatever_the_machines_date() -> None:
    with time_machine.travel(datetime(2031, 1, 1, tzinfo=UTC), tick=True), clock.use(clock.AsOfClock(START)):
        first = clock.now()
        time.sleep(0.05)
        second = clock.now()
    assert timedelta(0) <= first - START < timedelta(seconds=1)
    assert timedelta(seconds=0.04) <= second - first < timedelta(seconds=1)
    assert isinstance(clock.current(), clock.SystemClock)   # restored on exit


def test_a_fixed_clock_stands_still_until_moved() -> None:
    pinned = clock.FixedClock(START)
    with clock.use(pinned):
        assert clock.now() == clock.now() == START
        pinned.advance(90)
        assert clock.epoch() == START.timestamp() + 90
    assert clock.current() is not pinned


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-15T12:00:00Z", datetime(2026, 12, 15, 12, tzinfo=UTC)),
    ("2027-01-31T23:30:00-05:00", datetime(2027, 2, 1, 4, 30, tzinfo=UTC)),
    ("2028-02-29", datetime(2028, 2, 29, tzinfo=UTC)),
])
def test_instants_are_read_as_iso_8601_and_kept_in_utc(text: str, expected: datetime) -> None:
    parsed = clock.parse_instant(text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "banana", "2026-13-45", "yesterday", "2026-02-30T00:00:00Z"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        clock.parse_instant(text)


WALL_CLOCK = re.compile(r"time\.time\(\)|datetime\.now\(|datetime\.utcnow\(|date\.today\(\)|time\.gmtime\(\)"
                        r"|time\.localtime\(\)|= time\.time\b")


def test_nothing_but_the_clock_module_reads_the_time_of_day() -> None:
    offenders = []
    for folder in ("layers/ledgerlink", "functions", "infra"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == REPO / "layers/ledgerlink/clock.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if WALL_CLOCK.search(line.split("#")[0]):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "read the time through ledgerlink.clock (D82):\n" + "\n".join(offenders)
