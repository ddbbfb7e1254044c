"""The calendar tier: the date-sensitive behaviour with the machine's clock moved (time-machine, in-process).

time-machine rather than libfaketime: it moves ``time.time``/``datetime.now`` for every thread of this process
(moto's server and Step Functions threads included) and leaves ``time.monotonic`` alone, so waits, leases and
sleeps keep working; libfaketime moves the whole process and has crashed pytest-xdist workers here (D82).
Each instant is chosen to break a different wrong assumption about "today".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.functional.conftest import aws_env, stack, stack_config  # noqa: F401 - fixtures reused here

NEW_YORK = ZoneInfo("America/New_York")

INSTANTS = {
    # late at night on a month's last day in New York (us01's zone): UTC is already in September
    "month-end-late-new-york": datetime(2027, 8, 31, 23, 30, tzinfo=NEW_YORK),
    # a leap day, noon UTC
    "leap-day": datetime(2028, 2, 29, 12, 0, tzinfo=ZoneInfo("UTC")),
    # thirty seconds before New York springs forward (02:00 EST → 03:00 EDT); the clock ticks across it
    "dst-spring-forward-new-york": datetime(2027, 3, 14, 1, 59, 30, tzinfo=NEW_YORK),
    # more than a year ahead, the last evening of the year in New York (UTC is already in the next year)
    "year-end-two-years-ahead": datetime(2028, 12, 31, 22, 45, tzinfo=NEW_YORK),
}


@pytest.fixture(params=list(INSTANTS), ids=list(INSTANTS))
def moved_clock(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """The machine's clock at one of INSTANTS, ticking from there, for the whole test."""
    instant = INSTANTS[request.param]
    with time_machine.travel(instant, tick=True):
        yield instant
