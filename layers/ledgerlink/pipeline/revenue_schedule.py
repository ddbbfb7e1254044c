"""Revenue schedules, the arithmetic: ratable by day, per accounting period, exact to the minor unit.

A schedule line (one deferred billed line) starts as one **block**: its billed amount spread evenly over the
days of its service period ``[start, end)`` (the end is exclusive, like Stripe's ``period.end``). Changes are
applied in a canonical order — effective date, then kind, then fact id — never in arrival order, so the same
set of facts always gives the same schedule, whichever order they arrived in and however often:

- **credit note / refund** (prospective adjustment): its share of the line, capped at what is still scheduled
  on and after its effective date, is taken out of the remaining days *proportionally* (every remaining day
  keeps the same share of what is left). The capped amount is reclassified from deferred revenue to where the
  credit or refund was booked; anything above the cap (revenue already recognized) stays there, i.e. it
  reverses recognized revenue at once;
- **cancellation** without refund: everything scheduled on or after the cancellation day is recognized on
  that day (the obligation ended; nothing is owed back);
- **void** (a cancelled CRM contract whose memorandum booking was mirrored): nothing is recognized any more
  and what was recognized before is reversed on that day.

All intermediate amounts are exact fractions. Per period, the schedule is the *rounded cumulative* amount
through that period minus the rounded cumulative through the previous one (half-even,
``model.allocation.allocate_in_sequence``), so every entry is within one minor unit of the exact ratable amount
and the entries sum to the total exactly — the remainder lands deterministically where the cumulative rounding
puts it. A credit or refund arrives here already allocated to the line (``Change.share``, by largest remainder
over the invoice's lines in ``pipeline.revenue``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from ledgerlink.model.allocation import allocate_in_sequence
from ledgerlink.model.money import currency_exponent

type ChangeKind = Literal["credit_note", "refund", "cancellation", "void"]

KIND_ORDER: dict[ChangeKind, int] = {"cancellation": 0, "void": 1, "credit_note": 2, "refund": 3}
ONE_DAY = timedelta(days=1)


# ---- the entity's calendar: accounting periods are calendar months of local dates ------------------------

def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def period_start(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, 1)


def period_end(period: str) -> date:
    """The last day of the period."""
    return next_period_start(period) - ONE_DAY


def next_period_start(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    return date(year + month // 12, month % 12 + 1, 1)


def next_period(period: str) -> str:
    return period_of(next_period_start(period))


def previous_period(period: str) -> str:
    return period_of(period_start(period) - ONE_DAY)


def periods_between(first: str, last: str) -> list[str]:
    periods, current = [], first
    while current <= last:
        periods.append(current)
        current = next_period(current)
    return periods


# ---- blocks ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Block:
    """``amount`` spread evenly over the days ``[start, end)``."""

    amount: Fraction
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def on(self, first: date, stop: date) -> Fraction:
        """The amount on the days ``[first, stop)``."""
        overlap = (min(stop, self.end) - max(first, self.start)).days
        return self.amount * overlap / self.days if overlap > 0 else Fraction(0)

    def split(self, day: date) -> tuple[Block | None, Block | None]:
        """(days before ``day``, days from ``day`` on)."""
        if day <= self.start:
            return None, self
        if day >= self.end:
            return self, None
        before = self.on(self.start, day)
        return Block(before, self.start, day), Block(self.amount - before, day, self.end)


def _remaining(blocks: Iterable[Block], day: date) -> Fraction:
    return sum((block.on(day, max(block.end, day)) for block in blocks), Fraction(0))


def _deferred_cap(value: Fraction, currency: str) -> Decimal:
    """What is still scheduled, truncated toward zero to the minor unit: a credit or refund is capped by it, so
    it never takes out more than the exact amount left (a cap, not a split: nothing is left over)."""
    scaled = value * 10 ** currency_exponent(currency)
    whole = abs(scaled.numerator) // scaled.denominator
    return Decimal(-whole if scaled < 0 else whole).scaleb(-currency_exponent(currency))


# ---- the schedule of one line ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Change:
    """One fact that changes a line, already allocated to it: ``share`` is this line's part of a credit or
    refund (positive, minor units); zero for cancellations and voids."""

    fact_id: str
    kind: ChangeKind
    effective_date: date
    share: Decimal = Decimal(0)
    account: str | None = None         # where the credit / refund was booked (reclass target)
    document_id: str | None = None


@dataclass(frozen=True, slots=True)
class Taken:
    """What a change took out of the schedule (reclassified, never recognized as revenue)."""

    change: Change
    amount: Decimal                    # ≥ 0 for a billed (positive) line
    reclass: bool                      # False for a void: its own booking already reversed the deferral


@dataclass(frozen=True, slots=True)
class LineSchedule:
    """``entries`` (recognized per period, every period of the span) + ``taken`` = ``billed``, exactly."""

    currency: str
    billed: Decimal
    start: date
    end: date
    entries: dict[str, Decimal]
    taken: tuple[Taken, ...] = ()
    blocks: tuple[Block, ...] = field(default=(), repr=False)

    @property
    def total(self) -> Decimal:
        return sum(self.entries.values(), Decimal(0))

    def recognized_through(self, period: str) -> Decimal:
        return sum((amount for p, amount in self.entries.items() if p <= period), Decimal(0))

    def reclass_through(self, period: str) -> dict[str, Decimal]:
        """fact id → amount to reclassify out of deferred revenue, for changes effective by ``period``."""
        return {taken.change.fact_id: taken.amount for taken in self.taken
                if taken.reclass and period_of(taken.change.effective_date) <= period}


def _before(blocks: list[Block], day: date) -> list[Block]:
    return [before for block in blocks for before in [block.split(day)[0]] if before is not None]


def compute(billed: Decimal, start: date, end: date, currency: str, changes: Iterable[Change] = ()) -> LineSchedule:
    """The schedule of a line billed ``billed`` for the service days ``[start, end)``."""
    if end <= start:
        raise ValueError(f"a service period needs at least one day: [{start}, {end})")
    blocks: list[Block] = [Block(Fraction(billed), start, end)]
    taken: list[Taken] = []
    for change in sorted(changes, key=lambda c: (c.effective_date, KIND_ORDER[c.kind], c.fact_id)):
        day = change.effective_date
        remaining = _remaining(blocks, day)
        if change.kind == "cancellation":
            blocks = _before(blocks, day) + ([Block(remaining, day, day + ONE_DAY)] if remaining else [])
        elif change.kind == "void":
            kept = _before(blocks, day)
            recognized = sum((block.amount for block in kept), Fraction(0))
            blocks = kept + ([Block(-recognized, day, day + ONE_DAY)] if recognized else [])
            taken.append(Taken(change, Decimal(0), reclass=False))   # amount fixed once entries are rounded
        else:
            available = _deferred_cap(remaining, currency) if remaining > 0 else Decimal(0)
            cap = max(Decimal(0), min(change.share, available))
            if cap:
                factor = (remaining - Fraction(cap)) / remaining
                scaled: list[Block] = []
                for block in blocks:
                    before, after = block.split(day)
                    if before is not None:
                        scaled.append(before)
                    if after is not None and after.amount * factor != 0:
                        scaled.append(Block(after.amount * factor, after.start, after.end))
                blocks = scaled
            taken.append(Taken(change, cap, reclass=True))
    return _entries(billed, start, end, currency, blocks, taken)


def _entries(billed: Decimal, start: date, end: date, currency: str, blocks: list[Block],
             taken: list[Taken]) -> LineSchedule:
    first = min([start, *(block.start for block in blocks)])
    last = max([end - ONE_DAY, *(block.end - ONE_DAY for block in blocks)])
    periods = periods_between(period_of(first), period_of(last))
    exact = [sum((block.on(period_start(period), next_period_start(period)) for block in blocks), Fraction(0))
             for period in periods]
    entries = dict(zip(periods, allocate_in_sequence(exact, currency), strict=True))
    rounded_before = sum(entries.values(), Decimal(0))
    # a void takes whatever is neither recognized nor taken by another change (exact by construction)
    others = sum((t.amount for t in taken if t.change.kind != "void"), Decimal(0))
    voided = billed - rounded_before - others
    first_void = next((t for t in taken if t.change.kind == "void"), None)
    fixed = tuple(Taken(t.change, voided if t is first_void else Decimal(0), reclass=False)
                  if t.change.kind == "void" else t for t in taken)
    return LineSchedule(currency=currency, billed=billed, start=start, end=end, entries=entries, taken=fixed,
                        blocks=tuple(blocks))
