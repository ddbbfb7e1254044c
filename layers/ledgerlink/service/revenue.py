"""Revenue operations: record what postings contribute to revenue schedules, release deferred revenue at
period end, and answer "what is this line's schedule" and "what does the waterfall look like".

- :class:`RevenueRecorder` (post step): the facts the enrich step computed travel in the execution state
  (``state["revenue"]``) and are stored once the journal is posted — a document that ends in an exception
  contributes nothing. Metered lines are tied to the usage aggregated for their period.
- :class:`RevenueObserver` (normalize step): documents that are recorded, never posted — a subscription that
  ended (cancellation) and usage batches (aggregated per customer and hour, each meter event once).
- :class:`ReleaseService` (the scheduled ``revenue_release`` Lambda): per entity, the release of the period
  that just ended — and of every earlier month not released yet, one run per month, each dated on its own last
  day; months that are closed (``closed_through`` or the ERP's period control) are not released on their own but
  caught up by the run of the first open month after them, whose journals say so. A run is planned (line deltas stored), claimed (conditional put of
  ``(entity, period, sequence)``), posted journal by journal (registered in the posting ledger first, then
  looked up in the ERP by external id before any write), and only then applied to the lines — so a crash at
  any point resumes the same run and nothing posts or counts twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, TypedDict
from zoneinfo import ZoneInfo

from ledgerlink.clock import now as clock_now
from ledgerlink.config.model import Entity, LedgerLinkConfig
from ledgerlink.errors import DocumentRejected, LedgerLinkError, RateLimited, TransientError
from ledgerlink.model.documents import Document, JournalEntry, SubscriptionEvent, UsageBatch, UsageRecord
from ledgerlink.model.ids import fingerprint
from ledgerlink.model.revenue import (
    Facts,
    LineDelta,
    LineState,
    ReleaseRun,
    RevenueFact,
    ScheduleLine,
    TieOut,
    UsageTie,
)
from ledgerlink.model.status import POSTABLE_STATUSES, DocumentStatus
from ledgerlink.pipeline.revenue import line_schedule, schedule_document
from ledgerlink.pipeline.revenue import subscription_facts as cancellation_facts
from ledgerlink.pipeline.revenue_release import RELEASE_SOURCE, line_delta, release_journals, waterfall
from ledgerlink.pipeline.revenue_schedule import (
    LineSchedule,
    next_period,
    period_end,
    period_of,
    periods_between,
    previous_period,
)
from ledgerlink.totals import CounterKey


class RevenueStore(Protocol):
    def add_line(self, line: ScheduleLine) -> bool: ...
    def add_fact(self, fact: RevenueFact) -> bool: ...
    def invoice(self, invoice_document_id: str) -> tuple[list[tuple[ScheduleLine, LineState]], list[RevenueFact]]: ...
    def subscription_facts(self, subscription_id: str) -> list[RevenueFact]: ...
    def entity_lines(self, entity_id: str, *, open_only: bool = False) -> list[tuple[ScheduleLine, LineState]]: ...
    def runs(self, entity_id: str) -> list[ReleaseRun]: ...
    def claim_run(self, run: ReleaseRun, deltas: Iterable[LineDelta]) -> bool: ...
    def planned(self, run_id: str) -> list[LineDelta]: ...
    def update_run(self, run: ReleaseRun, **attributes: str | int | list[str]) -> None: ...
    def apply(self, invoice_document_id: str, delta: LineDelta, *, run_id: str, period: str,
              close: bool = False) -> bool: ...
    def close_line(self, line: ScheduleLine) -> None: ...
    def add_usage(self, entity_id: str, event_name: str, records: Iterable[UsageRecord], *,
                  document_id: str) -> tuple[int, int]: ...
    def usage_between(self, entity_id: str, event_name: str, customer: str, start: datetime,
                      end: datetime) -> tuple[Decimal, int]: ...
    def put_tie_out(self, invoice_document_id: str, line_id: str, tie: TieOut) -> None: ...
    def untied(self, entity_id: str) -> list[Mapping[str, object]]: ...


class ReportingStore(RevenueStore, Protocol):
    """The reads behind ``revenue schedule``: which invoice a document belongs to, its stored tie-outs."""

    def invoice_of(self, document_id: str) -> str | None: ...
    def tie_outs(self, invoice_document_id: str) -> list[Mapping[str, object]]: ...


class MissingRevenueStore(RuntimeError):
    """Revenue facts to record but no revenue table configured: never drop them silently."""


# ---- post step / normalize step -------------------------------------------------------------------------

def tie_out(store: RevenueStore, tie: UsageTie) -> TieOut:
    metered, records = store.usage_between(tie.entity_id, tie.event_name, tie.customer, tie.period_start,
                                           tie.period_end)
    status: Literal["tied", "difference"] = "tied" if metered == tie.billed_quantity else "difference"
    dumped = tie.model_dump(mode="json")   # the stored form: datetimes and decimals as JSON strings
    result: TieOut = {
        "invoice_document_id": tie.invoice_document_id, "line_id": tie.line_id, "entity_id": tie.entity_id,
        "event_name": tie.event_name, "customer": tie.customer, "period_start": dumped["period_start"],
        "period_end": dumped["period_end"], "billed_quantity": dumped["billed_quantity"], "meter_id": tie.meter_id,
        "metered_quantity": str(metered), "records": records, "difference": str(tie.billed_quantity - metered),
        "status": status}
    store.put_tie_out(tie.invoice_document_id, tie.line_id, result)
    return result


class RevenueRecorder:
    def __init__(self, store: RevenueStore | None) -> None:
        self._store = store

    def record(self, state: Mapping[str, object]) -> dict[str, int]:
        """Store the facts of a posted document (idempotent: each is a conditional put)."""
        raw = state.get("revenue")
        if not raw:
            return {}
        if self._store is None:
            raise MissingRevenueStore(f"{state.get('document_id')} has revenue facts but no revenue table is "
                                      "configured (LEDGERLINK_REVENUE_TABLE)")
        facts = Facts.model_validate(raw)
        lines = sum(self._store.add_line(line) for line in facts.lines)
        changes = sum(self._store.add_fact(fact) for fact in facts.changes)
        ties = [tie_out(self._store, tie) for tie in facts.usage]
        return {"lines": lines, "changes": changes, "usage_ties": len(ties),
                "usage_differences": sum(1 for tie in ties if tie["status"] != "tied")}


class RevenueObserver:
    """Recorded documents that matter to revenue: subscription cancellations and usage batches."""

    def __init__(self, store: RevenueStore | None) -> None:
        self._store = store

    @staticmethod
    def wants(document: Document) -> bool:
        return isinstance(document, UsageBatch) or (
            isinstance(document, SubscriptionEvent) and document.action == "cancelled")

    def observe(self, document: Document) -> dict[str, int]:
        if not self.wants(document):
            return {}
        if self._store is None:
            raise MissingRevenueStore(f"{document.document_id} concerns revenue schedules but no revenue table is "
                                      "configured (LEDGERLINK_REVENUE_TABLE)")
        if isinstance(document, UsageBatch):
            added, duplicates = self._store.add_usage(document.entity_id, document.event_name, document.records,
                                                      document_id=document.document_id)
            return {"usage_added": added, "usage_duplicates": duplicates}
        assert isinstance(document, SubscriptionEvent)
        return {"changes": sum(self._store.add_fact(fact) for fact in cancellation_facts(document).changes)}


# ---- reading: a schedule, the waterfall -----------------------------------------------------------------

class _Invoices:
    """Reads each invoice's schedule lines and facts (and each subscription's facts) once per report or run."""

    def __init__(self, store: RevenueStore) -> None:
        self._store = store
        self._invoices: dict[str, tuple[list[ScheduleLine], list[RevenueFact]]] = {}
        self._subscriptions: dict[str, list[RevenueFact]] = {}
        self._schedules: dict[str, LineSchedule] = {}

    def _invoice(self, invoice_id: str) -> tuple[list[ScheduleLine], list[RevenueFact]]:
        if invoice_id not in self._invoices:
            lines, facts = self._store.invoice(invoice_id)
            self._invoices[invoice_id] = ([line for line, _ in lines], facts)
        return self._invoices[invoice_id]

    def schedule(self, line: ScheduleLine) -> LineSchedule:
        """The line's schedule from every fact that may concern it; credits and refunds are allocated over all
        the schedule lines of its invoice (open or finished) so the shares add up exactly."""
        if line.schedule_id in self._schedules:
            return self._schedules[line.schedule_id]
        siblings, facts = self._invoice(line.invoice_document_id)
        found = list(facts)
        if line.subscription_id:
            if line.subscription_id not in self._subscriptions:
                self._subscriptions[line.subscription_id] = self._store.subscription_facts(line.subscription_id)
            found += self._subscriptions[line.subscription_id]
        self._schedules[line.schedule_id] = line_schedule(line, found, siblings)
        return self._schedules[line.schedule_id]


def schedules(store: RevenueStore, lines: list[tuple[ScheduleLine, LineState]], *,
              invoices: _Invoices | None = None) -> list[tuple[ScheduleLine, LineSchedule, LineState]]:
    reader = invoices or _Invoices(store)
    return [(line, reader.schedule(line), state) for line, state in lines]


def deferred_now(line: ScheduleLine, schedule: LineSchedule, state: LineState) -> Decimal:
    """What a schedule line still holds in deferred revenue: billed − released − reclassified, and nothing once it
    was voided — the void's own reversal took its whole billed amount back out of deferred revenue (D89; the close
    check expects the same)."""
    if any(taken.change.kind == "void" for taken in schedule.taken):
        return -state.released_total - state.reclassed_total
    return line.billed - state.released_total - state.reclassed_total


class EntryJson(TypedDict):
    period: str
    amount: str
    released: str


class AdjustmentJson(TypedDict):
    fact_id: str
    kind: str
    effective_date: str
    amount: str
    account: str | None
    reclassified: str


class ScheduleJson(TypedDict):
    """One schedule line in ``revenue schedule --json`` (and the ops API)."""

    schedule_id: str
    invoice_document_id: str
    line_id: str
    description: str | None
    product_id: str | None
    currency: str
    billed: str
    service_start: str
    service_end: str
    deferred_account: str
    revenue_account: str
    entries: list[EntryJson]
    adjustments: list[AdjustmentJson]
    recognized: str
    released_total: str
    reclassified_total: str
    deferred_now: str


class ScheduleReport(TypedDict):
    document_id: str
    invoice_document_id: str
    schedules: list[ScheduleJson]
    usage: list[dict[str, object]]       # the stored tie-outs (``TieOut``) without the item's bookkeeping


class CurrencyWaterfall(TypedDict):
    rows: list[dict[str, str]]
    lines: int
    deferred_now: str
    by_revenue_account: dict[str, str]


class WaterfallReport(TypedDict):
    entity_id: str
    currencies: dict[str, CurrencyWaterfall]


def schedule_report(store: ReportingStore, document_id: str) -> ScheduleReport:
    """The schedules of an invoice (or of the invoice a schedule, credit note or refund belongs to)."""
    invoice_id = store.invoice_of(document_id) or document_id
    lines, _ = store.invoice(invoice_id)
    out: list[ScheduleJson] = []
    for line, schedule, state in schedules(store, lines):
        document = schedule_document(line, schedule, correlation_id=line.schedule_id)
        out.append({
            "schedule_id": line.schedule_id, "invoice_document_id": line.invoice_document_id, "line_id": line.line_id,
            "description": line.description, "product_id": line.product_id, "currency": line.currency,
            "billed": str(line.billed), "service_start": line.service_start.isoformat(),
            "service_end": line.service_end.isoformat(), "deferred_account": line.deferred_account,
            "revenue_account": line.revenue_account,
            "entries": [{"period": entry.period, "amount": entry.amount.canonical(),
                         "released": str(state.released.get(entry.period, Decimal(0)))} for entry in document.entries],
            "adjustments": [{"fact_id": a.fact_id, "kind": a.kind, "effective_date": a.effective_date.isoformat(),
                             "amount": a.amount.canonical(), "account": a.account,
                             "reclassified": str(state.reclassed.get(a.fact_id, ("", Decimal(0)))[1])}
                            for a in document.adjustments],
            "recognized": str(schedule.total), "released_total": str(state.released_total),
            "reclassified_total": str(state.reclassed_total),
            "deferred_now": str(deferred_now(line, schedule, state))})
    return {"document_id": document_id, "invoice_document_id": invoice_id, "schedules": out,
            "usage": [{k: v for k, v in tie.items() if k not in ("pk", "sk", "kind", "open_entity_usage")}
                      for tie in store.tie_outs(invoice_id)]}


def waterfall_report(store: RevenueStore, entity_id: str, *, first: str | None = None, last: str | None = None
                     ) -> WaterfallReport:
    """The deferred-revenue waterfall of an entity, per currency: schedules vs what releases posted."""
    by_currency: dict[str, list[tuple[ScheduleLine, LineSchedule, LineState]]] = defaultdict(list)
    for item in schedules(store, store.entity_lines(entity_id)):
        by_currency[item[0].currency].append(item)
    currencies: dict[str, CurrencyWaterfall] = {}
    for currency, items in sorted(by_currency.items()):
        currencies[currency] = {
            "rows": [row.to_dict() for row in waterfall(items, first=first, last=last)],
            "lines": len(items),
            "deferred_now": str(sum((deferred_now(line, schedule, state) for line, schedule, state in items),
                                    Decimal(0))),
            "by_revenue_account": {account: str(amount) for account, amount in sorted(_by_account(items).items())}}
    return {"entity_id": entity_id, "currencies": currencies}


def _by_account(items: list[tuple[ScheduleLine, LineSchedule, LineState]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line, schedule, _ in items:
        totals[line.revenue_account] += schedule.total
    return totals


# ---- the release job ------------------------------------------------------------------------------------

class ActiveConfig(Protocol):
    def active(self) -> tuple[int, LedgerLinkConfig]: ...


@dataclass
class EntityRelease:
    entity_id: str
    period: str | None = None
    status: str = "nothing_to_do"        # released | nothing_to_release | skipped | refused | blocked | deferred
    detail: str = ""
    periods_released: list[str] = field(default_factory=list)   # one run each, in order
    runs: list[str] = field(default_factory=list)
    journals_posted: list[str] = field(default_factory=list)
    lines_released: int = 0
    lines_closed: int = 0
    usage_differences: int = 0

    def to_dict(self) -> dict[str, str | int | list[str] | None]:
        return {"entity_id": self.entity_id, "period": self.period, "status": self.status, "detail": self.detail,
                "periods_released": self.periods_released, "runs": self.runs, "journals_posted": self.journals_posted, "lines_released": self.lines_released,
                "lines_closed": self.lines_closed, "usage_differences": self.usage_differences}


@dataclass
class ReleaseReport:
    entities: list[EntityRelease] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:   # Any: the local CLI adds its FX revaluation report to it
        return {"entities": [entity.to_dict() for entity in self.entities],
                "journals_posted": sum(len(entity.journals_posted) for entity in self.entities),
                "usage_differences": sum(entity.usage_differences for entity in self.entities)}


class ReleaseService:
    def __init__(self, *, config: ActiveConfig, store: RevenueStore, ledger: Any, connectors: Callable[..., Any],
                 exceptions: Any, clock: Callable[[], datetime] = clock_now) -> None:
        self._config = config
        self._store = store
        self._ledger = ledger
        self._connectors = connectors
        self._exceptions = exceptions
        self._clock = clock

    def run(self, *, entity_id: str | None = None, period: str | None = None) -> ReleaseReport:
        """Release the latest ended period of each entity (or ``period``, which must be over)."""
        version, config = self._config.active()
        if entity_id is not None and entity_id not in {entity.id for entity in config.entities}:
            raise InvalidReleaseRequest(f"no entity {entity_id[:40]!r} in configuration version {version}",
                                        field="entity")
        report = ReleaseReport()
        for entity in config.entities:
            if entity_id is None or entity.id == entity_id:
                report.entities.append(self._entity(config, version, entity.id, period))
        return report

    # ---- one entity -------------------------------------------------------------------------------------

    def _entity(self, config: LedgerLinkConfig, version: int, entity_id: str, requested: str | None) -> EntityRelease:
        entity = config.entity(entity_id)
        today = self._clock().astimezone(ZoneInfo(entity.time_zone)).date()
        latest = previous_period(period_of(today))
        result = EntityRelease(entity_id, requested or latest)
        try:
            for run in self._store.runs(entity_id):   # finish what a crashed or blocked run left
                if run["status"] == "planned" and not self._finish(config, version, run, result):
                    result.status = result.status if result.status in ("blocked", "deferred") else "blocked"
                    return result
            period = result.period
            assert period is not None
            if period > latest:
                result.status, result.detail = "refused", f"{period} is not over in {entity.time_zone} ({today})"
                return result
            done = [run for run in self._store.runs(entity_id) if run["status"] == "done"]
            released_through = max((run["period"] for run in done), default=None)
            if released_through is not None and period < released_through:
                result.status, result.detail = "refused", (f"{released_through} is already released; later "
                                                           "changes are caught up in the next period's release")
                return result
            if requested is None and any(run["period"] == period for run in done) and self._closed(
                    config, version, entity, period):
                result.status, result.detail = "skipped", (f"{period} is closed; later changes are caught up in the "
                                                           "next period's release")
                return result
            invoices = _Invoices(self._store)
            for month, caught_up in self._months(config, version, entity, period, released_through, invoices):
                self._plan_and_post(config, version, entity_id, month, caught_up, invoices, result)
                if result.status in ("blocked", "deferred"):
                    break
            result.usage_differences = self._usage(entity_id)
        except (RateLimited, TransientError) as exc:
            result.status, result.detail = "deferred", f"{type(exc).__name__}: {exc}; the next run resumes"
        return result

    def _months(self, config: LedgerLinkConfig, version: int, entity: Entity, period: str,
                released_through: str | None, invoices: _Invoices) -> list[tuple[str, tuple[str, ...]]]:
        """The runs to make, in order: (month, closed months it catches up). Every month after the last released
        one through ``period`` (on a first release: from the first month any open line has something due) is
        released in its own run, except closed months, which the next open month's run takes with it; closed
        months at the end go into one run of the last of them, which the period gate dates in the first open
        period."""
        if released_through is not None:
            first = next_period(released_through) if released_through < period else period
        else:
            due = [key for line, _ in self._store.entity_lines(entity.id, open_only=True)
                   for schedule in [invoices.schedule(line)]
                   for key in [*(p for p, amount in schedule.entries.items() if amount),
                               *(period_of(taken.change.effective_date) for taken in schedule.taken if taken.amount)]]
            first = min([period, *due])
        runs: list[tuple[str, tuple[str, ...]]] = []
        closed: list[str] = []
        for month in periods_between(first, period):
            if self._closed(config, version, entity, month):
                closed.append(month)
            else:
                runs.append((month, tuple(closed)))
                closed = []
        if closed:
            runs.append((closed[-1], tuple(closed[:-1])))
        return runs

    def _closed(self, config: LedgerLinkConfig, version: int, entity: Entity, month: str) -> bool:
        """Closed in the configuration (``closed_through``) or in the ERP's own period control."""
        last_day = period_end(month)
        if entity.closed_through is not None and entity.closed_through >= last_day:
            return True
        from ledgerlink.pipeline.route import route

        connector = self._connectors(config, route(config, entity.id, last_day).connection_id, version)
        return not getattr(connector.period_status(entity, last_day), "open", True)

    def _plan_and_post(self, config: LedgerLinkConfig, version: int, entity_id: str, period: str,
                       caught_up: tuple[str, ...], invoices: _Invoices, result: EntityRelease) -> None:
        deltas: list[LineDelta] = []
        lines = self._store.entity_lines(entity_id, open_only=True)
        for line, schedule, state in schedules(self._store, lines, invoices=invoices):
            delta = line_delta(line, schedule, state, period)
            if not delta.is_zero():
                deltas.append(delta)
            elif delta.completes:
                self._store.close_line(line)
                result.lines_closed += 1
        if not deltas:
            result.status = "nothing_to_release" if result.status != "released" else result.status
            result.detail = result.detail or "every schedule line is released through the period"
            return
        sequence = 1 + max((int(run["sequence"]) for run in self._store.runs(entity_id) if run["period"] == period),
                           default=0)
        run_id = "rel_" + fingerprint(entity_id, period, str(sequence))[:20]
        run: ReleaseRun = {"entity_id": entity_id, "period": period, "sequence": sequence, "run_id": run_id,
                           "config_version": version, "lines": len(deltas), "caught_up": list(caught_up)}
        if not self._store.claim_run(run, deltas):
            result.status, result.detail = "deferred", f"run {run_id} was claimed by another invocation"
            return
        claimed = next(item for item in self._store.runs(entity_id) if item["run_id"] == run_id)
        self._finish(config, version, claimed, result)

    def _finish(self, config: LedgerLinkConfig, version: int, run: ReleaseRun, result: EntityRelease) -> bool:
        """Post every journal of a planned run, then count its deltas on the lines. False: blocked."""
        deltas = self._store.planned(run["run_id"])
        journals = release_journals(run["entity_id"], run["period"], int(run["sequence"]), deltas,
                                    correlation_id=run["run_id"], run_id=run["run_id"],
                                    config_version=int(run.get("config_version") or version),
                                    caught_up=tuple(run.get("caught_up") or ()))
        result.runs.append(run["run_id"])
        blocked = False
        for release in journals:
            outcome = self._post(config, version, release.journal)
            if outcome is None:
                blocked = True
            else:
                result.journals_posted.append(outcome)
        if blocked:
            result.status, result.detail = "blocked", (f"run {run['run_id']} has a release journal in an exception "
                                                       "case; fix it and the next run retries")
            return False
        for delta in deltas:
            self._store.apply(delta.invoice_document_id, delta, run_id=run["run_id"], period=run["period"],
                              close=delta.completes)
            result.lines_released += 1
            result.lines_closed += int(delta.completes)
        self._store.update_run(run, status="done", finished_at=self._clock().isoformat(timespec="seconds"),
                               journals=[release.journal.document_id for release in journals])
        result.status = "released"
        result.periods_released.append(run["period"])
        return True

    def _post(self, config: LedgerLinkConfig, version: int, journal: JournalEntry) -> str | None:
        """Register, gate, look up, post, record. Returns the document id once posted; None if rejected."""
        return post_period_journal(
            journal, config=config, version=version, ledger=self._ledger, connectors=self._connectors,
            exceptions=self._exceptions, clock=self._clock, source=RELEASE_SOURCE,
            retry_hint="fix the cause (mapping, period); the next release run posts this journal again")

    def _usage(self, entity_id: str) -> int:
        """Tie-outs still different: counted again (late meter events may have arrived) and raised as cases."""
        untied = 0
        for item in self._store.untied(entity_id):
            tie = UsageTie.model_validate({key: item[key] for key in UsageTie.model_fields if key in item})
            again = tie_out(self._store, tie)
            if again["status"] != "tied":
                untied += 1
                subject = f"{tie.invoice_document_id}:{tie.line_id}"
                self._exceptions.open(
                    subject=subject, reason="usage_not_tied", correlation_id=subject, entity_id=entity_id,
                    document_id=tie.invoice_document_id, source=RELEASE_SOURCE,
                    message=f"invoice line {tie.line_id} bills {tie.billed_quantity} {tie.event_name} for "
                            f"{tie.customer}; meter events of the period add up to {again['metered_quantity']}",
                    suggested_fix="find the missing or extra meter events (or the billing correction) and send "
                                  "them; the next release run ties the line again",
                    detail={"period_start": tie.period_start.isoformat(), "period_end": tie.period_end.isoformat()})
        return untied


def post_period_journal(journal: JournalEntry, *, config: LedgerLinkConfig, version: int, ledger: Any,
                        connectors: Callable[..., Any], exceptions: Any, clock: Callable[[], datetime], source: str,
                        retry_hint: str) -> str | None:
    """A scheduled period-end journal (a release, an FX revaluation), exactly once: registered in the posting
    ledger, validated, through the period gates, looked up in the ERP by external id before any write, posted and
    recorded. Returns the document id once posted; None when rejected (a case is opened, the next run retries)."""
    from ledgerlink.connectors.erps.base import find_existing
    from ledgerlink.pipeline.periods import apply_erp_period
    from ledgerlink.pipeline.route import route
    from ledgerlink.pipeline.validate import validate
    from ledgerlink.service.normalize import ledger_record

    record = ledger_record(journal, status=DocumentStatus.RECEIVED, config_version=version)
    registration = ledger.register(record)
    if not registration.is_new and registration.status == DocumentStatus.POSTED:
        return journal.document_id
    key = CounterKey.of(ledger_record(journal, status=DocumentStatus.RECEIVED, config_version=version))
    try:
        checked = validate(journal, config)
        entity = config.entity(journal.entity_id)
        connection_id = route(config, entity.id, checked.accounting_date).connection_id
        connector = connectors(config, connection_id, version)
        gated = apply_erp_period(checked, entity, connector.period_status(entity, checked.accounting_date))
        if gated.accounting_date != checked.accounting_date:
            rerouted = route(config, entity.id, gated.accounting_date).connection_id
            if rerouted != connection_id:
                connection_id, connector = rerouted, connectors(config, rerouted, version)
        found = find_existing(connector, gated.document_id, "journal")
        posted = found or connector.post_journal(gated)
    except DocumentRejected as exc:
        exception_id, _ = exceptions.open(
            subject=journal.document_id, reason=exc.reason, message=exc.message,
            correlation_id=journal.correlation_id, document_id=journal.document_id, entity_id=journal.entity_id,
            source=source, suggested_fix=exc.detail.get("suggested_fix") or retry_hint,
            detail={"period": journal.accounting_date.isoformat()})
        ledger.transition(journal.document_id, to=DocumentStatus.EXCEPTION, expected=(DocumentStatus.RECEIVED,),
                          key=key,
                          exception_id=exception_id, exception_reason=exc.reason)
        return None
    previous = ledger.get(journal.document_id) or {}
    ledger.transition(
        journal.document_id, to=DocumentStatus.POSTED, expected=POSTABLE_STATUSES, key=key,
        erp_connection=connection_id, erp_ref=posted.erp_ref,
        posted_at=clock().isoformat(timespec="seconds"), posted_accounting_date=gated.accounting_date.isoformat(),
        config_version=version, journal_lines=len(gated.lines),
        period_adjusted=gated.accounting_date != journal.accounting_date,
        journal=json.dumps(gated.model_dump(mode="json"), separators=(",", ":"), default=str))
    if previous.get("status") == DocumentStatus.EXCEPTION and previous.get("exception_id"):
        exceptions.resolve(previous["exception_id"], actor="ledgerlink",
                           note=f"posted by a later {source} run as {posted.erp_ref}")
    return journal.document_id


class InvalidReleaseRequest(LedgerLinkError):
    """A manual release invocation that names no ended month or no configured entity."""

    reason = "invalid_release_request"


def release_request(event: object) -> tuple[str | None, str | None]:
    """Scheduler payload → (entity, period): ``{}``, ``{"entity": "us01"}``, ``{"entity": "us01", "period": "2026-10"}``."""
    if event is None or event == {}:
        return None, None
    if not isinstance(event, dict) or set(event) - {"entity", "period"}:
        raise InvalidReleaseRequest("the release takes {\"entity\": ID, \"period\": \"YYYY-MM\"} (both optional)")
    entity, period = event.get("entity"), event.get("period")
    for name, value in (("entity", entity), ("period", period)):
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidReleaseRequest(f"{name} must be a non-empty string", field=name)
    if period is not None:
        try:
            if len(period) != 7:
                raise ValueError(period)
            date.fromisoformat(period + "-01")
        except ValueError:
            raise InvalidReleaseRequest(f"period must be YYYY-MM, got {period[:20]!r}", field="period") from None
    return entity, period
