"""Release journals and the deferred-revenue waterfall, pure.

A release for period *p* of an entity moves, per schedule line, the difference between what its schedule
says is due *through p* and what earlier releases posted: revenue (recognized through p − released so far)
and reclassifications (what credits and refunds effective by p took out − what was reclassified so far).
Working with "due through p − posted" makes every run self-correcting: a late fact or a change that reaches
into an earlier period is caught up by the next release, in its period. Months that were never released are
released one run each, in order, each dated on its own last day (the release service plans them); a closed
period is never touched: closed months are caught up by the run of the first open month after them, whose
journals name them in their memo (``caught_up``), and a run of a closed month meets the period gate, which dates
it in the first open period per the entity's policy.

Deltas are summarized per (entity, period, currency, credit account, dimensions): one journal each, with
``Cr <revenue or contra account>`` and ``Dr <deferred account>`` lines netted per account. The journal's id
is deterministic — ``ledgerlink/revenue_release/<entity|period|currency|account|dims>/<run sequence>`` — so
the ERP external id makes every release post exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
from ledgerlink.model.money import Money

# The line delta and line state types live in ``model.revenue`` (``store.revenue`` uses them too); importable here.
from ledgerlink.model.revenue import LineDelta, LineState, Reclass, ScheduleLine
from ledgerlink.pipeline.revenue import SYSTEM
from ledgerlink.pipeline.revenue_schedule import LineSchedule, period_end, period_of, periods_between

RELEASE_SOURCE = "revenue"   # the ledger / control-totals source of release journals

__all__ = ["RELEASE_SOURCE", "LineDelta", "LineState", "ReleaseJournal", "WaterfallRow", "catch_up_memo", "line_delta",
           "release_date", "release_journals", "release_key", "release_source", "waterfall"]


def line_delta(line: ScheduleLine, schedule: LineSchedule, state: LineState, period: str) -> LineDelta:
    """What a release for ``period`` must post for ``line``, given what earlier releases posted."""
    revenue = schedule.recognized_through(period) - state.released_total
    targets = {fact: (taken.change.account or "", taken.amount) for taken in schedule.taken
               if taken.reclass and period_of(taken.change.effective_date) <= period
               for fact in [taken.change.fact_id]}
    reclass: Reclass = {}
    for fact in sorted(set(targets) | set(state.reclassed)):
        account = (targets.get(fact) or state.reclassed[fact])[0]
        amount = (targets[fact][1] if fact in targets else Decimal(0)) - (
            state.reclassed[fact][1] if fact in state.reclassed else Decimal(0))
        if amount:
            reclass[fact] = (account, amount)
    last = max([*schedule.entries, *(period_of(t.change.effective_date) for t in schedule.taken)])
    return LineDelta(schedule_id=line.schedule_id, invoice_document_id=line.invoice_document_id,
                     currency=line.currency, deferred_account=line.deferred_account,
                     revenue_account=line.revenue_account, dimensions=tuple(sorted(line.dimensions.items())),
                     revenue=revenue, reclass=reclass, completes=last <= period)


# ---- release journals -----------------------------------------------------------------------------------

def release_key(currency: str, account: str, dimensions: tuple[tuple[str, str], ...]) -> str:
    return "|".join((currency, account, *(f"{k}={v}" for k, v in dimensions)))


def release_source(entity_id: str, period: str, key: str, sequence: int) -> SourceRef:
    return SourceRef(system=SYSTEM, object_type="revenue_release", object_id=f"{entity_id}|{period}|{key}",
                     version=str(sequence), source_id=RELEASE_SOURCE)


@dataclass(frozen=True, slots=True)
class ReleaseJournal:
    key: str
    journal: JournalEntry
    members: tuple[str, ...]                # schedule ids (drill-down)


def catch_up_memo(caught_up: tuple[str, ...]) -> str:
    """What a release journal says when it also carries closed months (empty when it carries none)."""
    if not caught_up:
        return ""
    span = caught_up[0] if len(caught_up) == 1 else f"{caught_up[0]} to {caught_up[-1]}"
    return f"; includes closed period(s) {span}, caught up here (never posted into a closed period)"


def release_journals(entity_id: str, period: str, sequence: int, deltas: Iterable[LineDelta], *,
                     correlation_id: str, run_id: str, config_version: int | None = None,
                     caught_up: tuple[str, ...] = ()) -> list[ReleaseJournal]:
    """One balanced journal per (currency, credit account, dimensions); deltas that net to zero post nothing.
    ``caught_up``: the closed months this run releases with its own (named in the journal's memo)."""
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    members: dict[str, set[str]] = defaultdict(set)
    meta: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {}

    def add(credit_account: str, delta: LineDelta, amount: Decimal) -> None:
        if not amount:
            return
        key = release_key(delta.currency, credit_account, delta.dimensions)
        meta[key] = (delta.currency, credit_account, delta.dimensions)
        sums[key][credit_account] -= amount
        sums[key][delta.deferred_account] += amount
        members[key].add(delta.schedule_id)

    for delta in deltas:
        add(delta.revenue_account, delta, delta.revenue)
        for account, amount in delta.reclass.values():
            add(account, delta, amount)
    when = datetime.combine(period_end(period), time(0), UTC)
    out = []
    for key in sorted(sums):
        currency, account, dimensions = meta[key]
        count = len(members[key])
        lines = [JournalLine(account=line_account, amount=Money(amount, currency), dimensions=dict(dimensions),
                             memo=f"revenue release {period}: {count} schedule line(s), run {run_id}")
                 for line_account, amount in sorted(sums[key].items()) if amount]
        if not lines:
            continue
        source = release_source(entity_id, period, key, sequence)
        journal = JournalEntry(
            document_id=source.document_id(), source=source, entity_id=entity_id, correlation_id=correlation_id,
            occurred_at=when, accounting_date=period_end(period), currency=currency, lines=tuple(lines),
            mapping_version=config_version,
            memo=f"Revenue release {period} to {account} ({count} schedule lines; run {run_id})"
                 + catch_up_memo(caught_up))
        out.append(ReleaseJournal(key=key, journal=journal, members=tuple(sorted(members[key]))))
    return out


# ---- the deferred-revenue waterfall ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WaterfallRow:
    period: str
    billed: Decimal            # deferrals booked (by the invoice's accounting period)
    recognized: Decimal        # scheduled revenue of the period
    adjusted: Decimal          # taken out by credits, refunds and voids effective in the period
    closing: Decimal           # deferred at the period end per the schedules
    released: Decimal          # what release journals posted for the period

    def to_dict(self) -> dict[str, str]:
        return {"period": self.period, "billed": str(self.billed), "recognized": str(self.recognized),
                "adjusted": str(self.adjusted), "closing_deferred": str(self.closing), "released": str(self.released)}


def waterfall(items: Iterable[tuple[ScheduleLine, LineSchedule, LineState]], *, first: str | None = None,
              last: str | None = None) -> list[WaterfallRow]:
    """Per period: deferrals booked, revenue recognized per the schedules, amounts taken out by changes, the
    closing deferred balance, and what releases actually posted. One currency per call (the caller groups)."""
    billed: dict[str, Decimal] = defaultdict(Decimal)
    recognized: dict[str, Decimal] = defaultdict(Decimal)
    adjusted: dict[str, Decimal] = defaultdict(Decimal)
    released: dict[str, Decimal] = defaultdict(Decimal)
    periods: set[str] = set()
    for line, schedule, state in items:
        billed[period_of(line.billed_on)] += line.billed
        periods.add(period_of(line.billed_on))
        for period, amount in schedule.entries.items():
            recognized[period] += amount
            periods.add(period)
        for taken in schedule.taken:
            adjusted[period_of(taken.change.effective_date)] += taken.amount
            periods.add(period_of(taken.change.effective_date))
        for period, amount in state.released.items():
            released[period] += amount
            periods.add(period)
    if not periods:
        return []
    span = periods_between(min(periods), max(periods))
    rows, closing = [], Decimal(0)
    for period in span:
        closing += billed[period] - recognized[period] - adjusted[period]
        if (first is None or period >= first) and (last is None or period <= last):
            rows.append(WaterfallRow(period, billed[period], recognized[period], adjusted[period], closing,
                                     released[period]))
    return rows


def release_date(period: str) -> date:
    return period_end(period)
