"""The one clock: every "now" in LedgerLink is read here, never from ``time.time()`` or ``datetime.now()``.

On AWS and in ``ledgerlink local up`` it is the system clock. ``ledgerlink demo`` installs an :class:`AsOfClock`
that starts at a fixed instant and runs at the real clock's speed, so the demo posts the same documents, releases
the same periods and reconciles the same days whatever today is. Tests pin or move it (:class:`FixedClock`,
``use``) or move the system clock itself (time-machine), which :class:`SystemClock` follows.

Durations inside one process (cache ages, sleeps, deadlines) keep ``time.monotonic()``: they measure how long
something took, not when it happened. See ``docs/decisions.md`` (D82).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The machine's clock (what AWS runs on)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class AsOfClock:
    """Starts at ``start`` and runs at the real clock's speed: leases, timeouts and signature tolerances behave as
    they do in production, but every date the run computes follows from ``start``, not from today."""

    def __init__(self, start: datetime) -> None:
        self.start = _aware(start)
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._origin)

    def __repr__(self) -> str:
        return f"AsOfClock({self.start.isoformat()})"


class FixedClock:
    """Stands still until moved (tests)."""

    def __init__(self, instant: datetime) -> None:
        self.instant = _aware(instant)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self.instant

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.instant += timedelta(seconds=seconds)

    def __repr__(self) -> str:
        return f"FixedClock({self.instant.isoformat()})"


_current: Clock = SystemClock()


def current() -> Clock:
    return _current


def install(clock: Clock) -> Clock:
    """Make ``clock`` the process's clock; returns the one it replaces."""
    global _current
    previous, _current = _current, clock
    return previous


@contextlib.contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)


def now() -> datetime:
    return _current.now()


def epoch() -> float:
    return _current.now().timestamp()


def epoch_ms() -> int:
    return int(epoch() * 1000)


def utc_day(at: float | None = None) -> str:
    """The UTC date (``YYYY-MM-DD``) of an epoch second, or of now."""
    moment = now() if at is None else datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%d")


def today_in(time_zone: str) -> date:
    """Today's date where an entity keeps its books."""
    return now().astimezone(ZoneInfo(time_zone)).date()


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant (``2026-12-15T12:00:00Z``, an offset, or a date meaning midnight UTC); ValueError
    otherwise. A naive time is read as UTC."""
    value = text.strip()
    if not value:
        raise ValueError("empty instant")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return _aware(moment)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
