"""The reconciliation calendar and its drill-downs (the finance-ops console's reconciliation pages).

Reads what the daily reconciliation wrote (``service.reconcile``): one JSON report per business date and scope under
``reports/reconciliation/<YYYY-MM-DD>/<scope>.json`` in the reports bucket, the scope being an entity id (a run for
one entity) or ``all`` (a run for every entity: its ``entities`` list holds a section per entity). Nothing here
recomputes a reconciliation; nothing is written.

- :func:`calendar`: a cell per day of a month for one entity — ``balanced``, ``difference`` (how many, of which
  kinds, and what is at stake per currency), ``not_checked`` (no report, or a report whose ERP side was not checked,
  with why) or ``future`` (a day after today without a report). One listing of the month's keys, then one GET per
  report that exists (two on a day reconciled both for the entity and for all entities: the newer one counts).
- :func:`day`: one entity-day — every difference as a named item (kind, the documents / events / ERP references it
  names, the amount at stake, a sentence), the control totals per source and currency, the events per source and
  the ERP check.
- :func:`close_drilldown`: the documents behind one tie-out of a month-end close check (``service.close_check``).

Event-level differences (an event accepted but never processed, counters of a source that disagree) belong to no
entity — the event never became a document — so they count on every entity's day: the lost event may be theirs.
"""

from __future__ import annotations

import json
from calendar import monthrange
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Protocol, TypedDict

from ledgerlink.errors import OpsError
from ledgerlink.model.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.service.close_check import CloseCheckJson, CloseCheckReport, DrillItemJson

REPORT_PREFIX = "reports/reconciliation/"
ALL_SCOPE = "all"
STATUSES = ("balanced", "difference", "not_checked", "future")


class ReportReader(Protocol):
    """The reports bucket (``store.reports.S3Reports``): list keys under a prefix, read one object."""

    def keys(self, prefix: str) -> list[str]: ...
    def get(self, key: str) -> bytes: ...


# ---- reading a stored report ----------------------------------------------------------------------------------

def _object(value: JsonValue) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _objects(value: JsonValue) -> list[JsonObject]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: JsonValue) -> str | None:
    return None if value is None or value == "" else str(value)


def _decimal(value: JsonValue) -> Decimal | None:
    try:
        numeric = isinstance(value, (str, int, float, Decimal)) and not isinstance(value, bool)
        return Decimal(str(value)) if numeric else None
    except InvalidOperation:
        return None


def _shown(amount: Decimal, currency: str) -> str:
    """Printed with the currency's decimals."""
    from ledgerlink.model.money import Money

    try:
        return Money.of(amount, currency).canonical()
    except ValueError:   # not an ISO currency (should not happen): as it is
        return f"{amount:f}"


@dataclass(frozen=True, slots=True)
class _Found:
    """A report that covers the entity: its key, scope, the whole report and the entity's section."""

    key: str
    scope: str
    report: JsonObject
    section: JsonObject

    @property
    def generated_at(self) -> str:
        return str(self.report.get("generated_at") or "")

    @property
    def differences(self) -> list[tuple[str, JsonObject]]:
        """(``entity`` | ``events``, difference) — the entity's own first."""
        return ([("entity", d) for d in _objects(self.section.get("differences"))]
                + [("events", d) for d in _objects(self.report.get("event_differences"))])

    @property
    def erp(self) -> JsonObject:
        return _object(self.section.get("erp"))

    @property
    def not_checked_reason(self) -> str | None:
        """Why the ERP side was not checked (budget share reached, ERP unreachable …), or None when it was."""
        if self.erp.get("checked", True) is not False:
            return None
        return _text(self.erp.get("reason")) or "the ERP side was not checked"


def _scopes(keys: list[str], entity: str) -> dict[str, dict[str, str]]:
    """business date → scope → key, for the JSON reports of the entity's own runs and of the all-entities runs."""
    found: dict[str, dict[str, str]] = {}
    for key in keys:
        rest = key.removeprefix(REPORT_PREFIX)
        day_text, _, name = rest.partition("/")
        scope = name.removesuffix(".json")
        if name.endswith(".json") and scope in (entity, ALL_SCOPE):
            found.setdefault(day_text, {})[scope] = key
    return found


def _read(reports: ReportReader, key: str, scope: str, entity: str) -> _Found | None:
    """The report at ``key`` if it has a section for ``entity``; None for a report that cannot be read (it is then
    as good as absent: the day shows as not checked) or that does not cover the entity."""
    try:
        report = json.loads(reports.get(key))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(report, dict):
        return None
    section = next((s for s in _objects(report.get("entities")) if s.get("entity_id") == entity), None)
    return _Found(key, scope, report, section) if section is not None else None


def _latest(reports: ReportReader, scopes: Mapping[str, str], entity: str) -> tuple[_Found | None, int]:
    """The newest report of the day covering ``entity``, and how many reports were read. Two runs of the same second
    (``generated_at`` has seconds): the one with more differences, so a tie never hides one."""
    found = [each for scope in (entity, ALL_SCOPE) if scope in scopes
             if (each := _read(reports, scopes[scope], scope, entity)) is not None]
    reads = sum(1 for scope in (entity, ALL_SCOPE) if scope in scopes)
    if not found:
        return None, reads
    return max(found, key=lambda each: (each.generated_at, len(each.differences), each.scope == entity)), reads


# ---- what a difference puts at stake --------------------------------------------------------------------------

def _changed_stake(detail: JsonObject) -> tuple[str, Decimal] | None:
    """A changed ERP document: the size of the change (the debits moved, = the credits moved)."""
    currency = _text(detail.get("difference_currency"))
    deltas = [value for raw in _object(detail.get("difference")).values() if (value := _decimal(raw)) is not None]
    if currency is None or not deltas:
        return None
    up = sum((value for value in deltas if value > 0), Decimal(0))
    down = -sum((value for value in deltas if value < 0), Decimal(0))
    return currency, max(up, down)


def at_stake(kind: str, detail: JsonObject) -> tuple[str, Decimal] | None:
    """(currency, absolute amount) a difference puts at stake, when the report gives one: a changed document's
    change, a duplicate's extra copies, else the document's amount. None for a difference without an amount (an
    event never processed, inconsistent counters, an ERP document the ledger does not know)."""
    if kind == "changed_in_erp":
        return _changed_stake(detail)
    currency, amount = _text(detail.get("currency")), _decimal(detail.get("amount"))
    if currency is None or amount is None:
        return None
    if kind == "unexpected_in_erp" and detail.get("reason") == "duplicate":
        copies = _decimal(detail.get("count")) or Decimal(2)
        return currency, abs(amount) * max(copies - 1, Decimal(1))
    return currency, abs(amount)


def _totals(differences: list[tuple[str, JsonObject]]) -> tuple[dict[str, str], int]:
    """(currency → total at stake, how many differences have no amount)."""
    sums: dict[str, Decimal] = {}
    unpriced = 0
    for _, difference in differences:
        stake = at_stake(str(difference.get("kind") or ""), _object(difference.get("detail")))
        if stake is None:
            unpriced += 1
            continue
        sums[stake[0]] = sums.get(stake[0], Decimal(0)) + stake[1]
    return {currency: _shown(total, currency) for currency, total in sorted(sums.items())}, unpriced


# ---- the calendar -----------------------------------------------------------------------------------------------

class CellJson(TypedDict):
    date: str
    status: str
    difference_count: int
    event_difference_count: int
    kinds: dict[str, int]
    amounts: dict[str, str]
    unpriced_count: int
    reason: str | None
    report_key: str | None
    scope: str | None
    generated_at: str | None


@dataclass(frozen=True, slots=True)
class ReconCell:
    """One day of the calendar. ``difference_count`` counts every difference of the day for the entity, event-level
    ones included (``event_difference_count`` of them); ``amounts`` is currency → the absolute amount at stake,
    ``unpriced_count`` the differences without one."""

    date: str
    status: str
    difference_count: int = 0
    event_difference_count: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, str] = field(default_factory=dict)
    unpriced_count: int = 0
    reason: str | None = None          # why not checked
    report_key: str | None = None      # without ``.json`` / ``.csv``, as the report names itself
    scope: str | None = None           # the entity id or ``all``
    generated_at: str | None = None

    def to_dict(self) -> CellJson:
        return {"date": self.date, "status": self.status, "difference_count": self.difference_count,
                "event_difference_count": self.event_difference_count, "kinds": dict(self.kinds),
                "amounts": dict(self.amounts), "unpriced_count": self.unpriced_count, "reason": self.reason,
                "report_key": self.report_key, "scope": self.scope, "generated_at": self.generated_at}


class CalendarJson(TypedDict):
    entity: str
    month: str
    today: str
    counts: dict[str, int]
    reports_read: int
    days: list[CellJson]


@dataclass(frozen=True, slots=True)
class ReconCalendar:
    entity: str
    month: str
    today: date
    days: list[ReconCell]
    reports_read: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """Days per status (every status present, zero included)."""
        return {status: sum(1 for cell in self.days if cell.status == status) for status in STATUSES}

    def to_dict(self) -> CalendarJson:
        return {"entity": self.entity, "month": self.month, "today": self.today.isoformat(), "counts": self.counts,
                "reports_read": self.reports_read, "days": [cell.to_dict() for cell in self.days]}


def _month(month: str) -> tuple[int, int]:
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except (TypeError, ValueError):
        first = None
    if first is None or len(month) != 7:
        raise OpsError(f"month {str(month)[:20]!r} is not YYYY-MM", status=400, reason="invalid_month")
    return first.year, first.month


def _business_date(business_date: str) -> date:
    try:
        parsed = date.fromisoformat(business_date) if len(business_date) == 10 else None
    except (TypeError, ValueError):
        parsed = None
    if parsed is None:
        raise OpsError(f"date {str(business_date)[:20]!r} is not YYYY-MM-DD", status=400, reason="invalid_date")
    return parsed


def _report_key(found: _Found) -> str:
    return str(found.report.get("report_key") or found.key.removesuffix(".json"))


def _cell(day_text: str, found: _Found | None, *, future: bool) -> ReconCell:
    if found is None:
        return ReconCell(day_text, "future" if future else "not_checked",
                         reason=None if future else "no reconciliation report for this day")
    differences = found.differences
    kinds: dict[str, int] = {}
    for _, difference in differences:
        kind = str(difference.get("kind") or "unknown")
        kinds[kind] = kinds.get(kind, 0) + 1
    amounts, unpriced = _totals(differences)
    reason = found.not_checked_reason
    status = "difference" if differences else ("not_checked" if reason else "balanced")
    return ReconCell(day_text, status, difference_count=len(differences),
                     event_difference_count=sum(1 for where, _ in differences if where == "events"),
                     kinds=dict(sorted(kinds.items())), amounts=amounts, unpriced_count=unpriced, reason=reason,
                     report_key=_report_key(found), scope=found.scope, generated_at=found.generated_at or None)


def calendar(reports: ReportReader, *, entity: str, month: str, today: date) -> ReconCalendar:
    """A cell per day of ``month`` (``YYYY-MM``) for ``entity``: one listing of the month's report keys, then the
    reports that exist. Raises :class:`OpsError` (``invalid_month``) for a malformed month."""
    year, number = _month(month)
    scopes = _scopes(reports.keys(f"{REPORT_PREFIX}{month}-"), entity)
    cells: list[ReconCell] = []
    reads = 0
    for day_number in range(1, monthrange(year, number)[1] + 1):
        on = date(year, number, day_number)
        found, read = _latest(reports, scopes.get(on.isoformat(), {}), entity)
        reads += read
        cells.append(_cell(on.isoformat(), found, future=on > today))
    return ReconCalendar(entity=entity, month=month, today=today, days=cells, reports_read=reads)


# ---- one day ----------------------------------------------------------------------------------------------------

class ItemJson(TypedDict):
    kind: str
    scope: str
    sentence: str
    document_ids: list[str]
    event_ids: list[str]
    erp_refs: list[str]
    amount: str | None
    currency: str | None
    exception_id: str | None
    detail: JsonObject


@dataclass(frozen=True, slots=True)
class ReconItem:
    """One difference, named: what it is about (documents, events, ERP references), what is at stake, a sentence for
    a person, and the report's own detail."""

    kind: str
    scope: str                         # ``entity`` (the entity's section) | ``events`` (event-level)
    sentence: str
    document_ids: list[str] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    erp_refs: list[str] = field(default_factory=list)
    amount: str | None = None          # at stake, absolute, in ``currency``
    currency: str | None = None
    exception_id: str | None = None    # the case reconciliation opened for it (a posting missing in the ERP)
    detail: JsonObject = field(default_factory=dict)

    def to_dict(self) -> ItemJson:
        return {"kind": self.kind, "scope": self.scope, "sentence": self.sentence,
                "document_ids": list(self.document_ids), "event_ids": list(self.event_ids),
                "erp_refs": list(self.erp_refs), "amount": self.amount, "currency": self.currency,
                "exception_id": self.exception_id, "detail": self.detail}


class SourceJson(TypedDict):
    source: str
    currency: str
    received_count: int
    received_amount: str
    posted_count: int
    posted_amount: str
    exception_count: int
    exception_amount: str
    ignored_count: int
    ignored_amount: str
    in_flight_count: int
    in_flight_amount: str


PARTITIONS = ("received", "posted", "exception", "ignored", "in_flight")


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """The control totals of one source and currency for the entity-day (what reconciliation compared)."""

    source: str
    currency: str
    counts: dict[str, int]             # partition → documents (PARTITIONS)
    amounts: dict[str, str]            # partition → amount

    def to_dict(self) -> SourceJson:
        c, a = self.counts, self.amounts
        return {"source": self.source, "currency": self.currency,
                "received_count": c["received"], "received_amount": a["received"],
                "posted_count": c["posted"], "posted_amount": a["posted"],
                "exception_count": c["exception"], "exception_amount": a["exception"],
                "ignored_count": c["ignored"], "ignored_amount": a["ignored"],
                "in_flight_count": c["in_flight"], "in_flight_amount": a["in_flight"]}


class DayJson(TypedDict):
    entity: str
    business_date: str
    status: str
    reason: str | None
    report_key: str | None
    scope: str | None
    generated_at: str | None
    amounts: dict[str, str]
    items: list[ItemJson]
    sources: list[SourceJson]
    events: dict[str, dict[str, int]]
    erp: JsonObject


@dataclass(frozen=True, slots=True)
class ReconDay:
    entity: str
    business_date: str
    status: str                        # as the calendar's cell (``future``: a day after today without a report)
    reason: str | None = None
    report_key: str | None = None
    scope: str | None = None
    generated_at: str | None = None
    amounts: dict[str, str] = field(default_factory=dict)
    items: list[ReconItem] = field(default_factory=list)
    sources: list[SourceCounts] = field(default_factory=list)
    events: dict[str, dict[str, int]] = field(default_factory=dict)   # source → received / processed / …
    erp: JsonObject = field(default_factory=dict)

    def to_dict(self) -> DayJson:
        return {"entity": self.entity, "business_date": self.business_date, "status": self.status,
                "reason": self.reason, "report_key": self.report_key, "scope": self.scope,
                "generated_at": self.generated_at, "amounts": dict(self.amounts),
                "items": [item.to_dict() for item in self.items], "sources": [s.to_dict() for s in self.sources],
                "events": {source: dict(counts) for source, counts in self.events.items()}, "erp": self.erp}


def _texts(*values: JsonValue) -> list[str]:
    """The non-empty values as text, in order, each once (lists spread)."""
    out: list[str] = []
    for value in values:
        for each in value if isinstance(value, list) else [value]:
            text = _text(each)
            if text is not None and not isinstance(each, (dict, list)) and text not in out:
                out.append(text)
    return out


def _when(epoch: JsonValue) -> str:
    """A stored epoch (seconds; written as a number or as its text) as an ISO UTC instant."""
    seconds = _decimal(epoch)
    if seconds is None:
        return "an unknown time"
    return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _money(detail: JsonObject) -> str:
    amount, currency = _text(detail.get("amount")), _text(detail.get("currency"))
    return f" ({amount} {currency})" if amount and currency else ""


def _event_not_processed(d: JsonObject) -> str:
    return (f"{d.get('source')} event {d.get('event_id')} ({d.get('event_type') or 'of unknown type'}) was accepted "
            f"at {_when(d.get('claimed_at'))} but never processed: lost in the queue, parked in the DLQ or failing "
            f"every time. Its payload is archived at {d.get('archive_key')}; replaying it processes it once.")


def _counters_inconsistent(d: JsonObject) -> str:
    what = " ".join(_texts(d.get("source"), d.get("currency")))
    return (f"The control totals of {what} do not add up (a partition exceeds what was received): this should "
            "never happen — investigate before trusting the day's figures.")


def _document_stuck(d: JsonObject) -> str:
    return (f"Document {d.get('document_id')} ({d.get('document_type') or 'document'} from {d.get('source')})"
            f"{_money(d)} was registered at {_when(d.get('registered_at'))} and is neither posted, nor an "
            "exception, nor ignored: its posting never ran or never finished; replay the document.")


def _missing_in_erp(d: JsonObject) -> str:
    where = d.get("connection") or "the ERP"
    how = "was reversed in" if d.get("reason") == "reversed" else "is not in"
    case = f"; case {d.get('exception_id')} was opened to post it again" if d.get("exception_id") else ""
    return f"Document {d.get('document_id')}{_money(d)}, posted as {d.get('erp_ref')}, {how} {where}{case}."


def _unexpected_in_erp(d: JsonObject) -> str:
    reason = d.get("reason")
    if reason == "duplicate":
        refs = ", ".join(_texts(d.get("erp_refs")))
        return f"The ERP holds document {d.get('document_id')}{_money(d)} {d.get('count')} times ({refs})."
    if reason == "not_in_ledger":
        refs = ", ".join(_texts(d.get("erp_refs")))
        return (f"The ERP holds {d.get('erp_key')} ({refs}) for this day, which the ledger did not post for it "
                "(made by LedgerLink, but not for this entity-day's documents).")
    if reason == "not_made_by_ledgerlink":
        accounts = ", ".join(_texts(d.get("accounts")))
        return (f"ERP document {d.get('erp_ref')} was not made by LedgerLink but posts to accounts LedgerLink owns "
                f"({accounts}).")
    return f"The ERP holds a posting for {d.get('document_id')}, which the ledger did not post for this day."


def _changed_in_erp(d: JsonObject) -> str:
    currency = _text(d.get("difference_currency"))
    changes = ", ".join(f"{account} {value}{' ' + currency if currency else ''}"
                        for account, value in _object(d.get("difference")).items())
    return (f"ERP document {d.get('erp_ref')} (document {d.get('document_id')}) no longer holds what was posted: "
            f"{changes} (ERP − ledger).")


SENTENCES: dict[str, Callable[[JsonObject], str]] = {
    "event_not_processed": _event_not_processed, "counters_inconsistent": _counters_inconsistent,
    "document_stuck": _document_stuck, "missing_in_erp": _missing_in_erp, "unexpected_in_erp": _unexpected_in_erp,
    "changed_in_erp": _changed_in_erp,
}


def named(kind: str, detail: JsonObject, scope: str = "entity") -> ReconItem:
    """A difference of a report (kind and detail as reconciliation wrote them) as a named item."""
    says = SENTENCES.get(kind)
    sentence = says(detail) if says is not None else f"{kind}: {json.dumps(detail, sort_keys=True, default=str)[:300]}"
    stake = at_stake(kind, detail)
    return ReconItem(
        kind=kind, scope=scope, sentence=sentence,
        document_ids=_texts(detail.get("document_id"), detail.get("document_ids")),
        event_ids=_texts(detail.get("event_id")),
        erp_refs=_texts(detail.get("erp_ref"), detail.get("erp_refs"), detail.get("erp_key")),
        amount=_shown(stake[1], stake[0]) if stake is not None else None,
        currency=stake[0] if stake is not None else None,
        exception_id=_text(detail.get("exception_id")), detail=detail)


def _source_counts(row: JsonObject) -> SourceCounts:
    counts: dict[str, int] = {}
    amounts: dict[str, str] = {}
    for partition in PARTITIONS:
        count = _decimal(row.get(f"{partition}_count"))
        counts[partition] = int(count) if count is not None else 0
        amounts[partition] = str(row.get(f"{partition}_amount") or "0")
    return SourceCounts(source=str(row.get("source") or ""), currency=str(row.get("currency") or ""),
                        counts=counts, amounts=amounts)


def _events(report: JsonObject) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for source, counts in _object(report.get("events")).items():
        out[source] = {name: int(value) for name, raw in _object(counts).items()
                       if (value := _decimal(raw)) is not None}
    return out


def day(reports: ReportReader, *, entity: str, business_date: str, today: date | None = None) -> ReconDay:
    """The entity-day in detail, from the newest report covering it (one listing of the day's keys). Without a
    report: ``not_checked`` (``future`` when ``today`` is given and the day is after it). Raises :class:`OpsError`
    (``invalid_date``) for a malformed date."""
    on = _business_date(business_date)
    scopes = _scopes(reports.keys(f"{REPORT_PREFIX}{business_date}/"), entity)
    found, _ = _latest(reports, scopes.get(business_date, {}), entity)
    cell = _cell(business_date, found, future=today is not None and on > today)
    if found is None:
        return ReconDay(entity=entity, business_date=business_date, status=cell.status, reason=cell.reason)
    return ReconDay(
        entity=entity, business_date=business_date, status=cell.status, reason=cell.reason,
        report_key=cell.report_key, scope=cell.scope, generated_at=cell.generated_at, amounts=cell.amounts,
        items=[named(str(d.get("kind") or "unknown"), _object(d.get("detail")), where)
               for where, d in found.differences],
        sources=[_source_counts(row) for row in _objects(found.section.get("documents"))],
        events=_events(found.report), erp=found.erp)


# ---- the close check's drill-down -------------------------------------------------------------------------------

class DrilldownJson(TypedDict):
    name: str
    check: str
    account: str
    currency: str
    expected: str
    booked: str
    difference: str
    status: str
    items: list[DrillItemJson]
    count: int
    truncated: bool
    document_ids: list[str]


@dataclass(frozen=True, slots=True)
class CloseDrilldown:
    """The documents behind one tie-out: ``items`` (each document's expected and booked part, those that differ
    first, at most ``close_check.DRILLDOWN_LIMIT``), ``count`` of them in all, and their ids."""

    name: str
    check: str
    account: str
    currency: str
    expected: str
    booked: str
    difference: str
    status: str
    items: list[DrillItemJson]
    count: int

    @property
    def document_ids(self) -> list[str]:
        return [item["document_id"] for item in self.items]

    @property
    def truncated(self) -> bool:
        return self.count > len(self.items)

    def to_dict(self) -> DrilldownJson:
        return {"name": self.name, "check": self.check, "account": self.account, "currency": self.currency,
                "expected": self.expected, "booked": self.booked, "difference": self.difference,
                "status": self.status, "items": list(self.items), "count": self.count, "truncated": self.truncated,
                "document_ids": self.document_ids}


def close_drilldown(close_report: CloseCheckReport | CloseCheckJson, tie_out_name: str) -> CloseDrilldown:
    """The drill-down of the tie-out named ``tie_out_name`` (``check/account/currency``, as each tie-out's ``name``
    says; a bare check name when only one tie-out has that check) of a close check report or its JSON. Raises
    :class:`OpsError` (404, ``unknown_tie_out``, with the names there are) for any other name."""
    from ledgerlink.service.close_check import CloseCheckReport

    data = close_report.to_dict() if isinstance(close_report, CloseCheckReport) else close_report
    tieouts = data["tieouts"]
    matches = [t for t in tieouts if t["name"] == tie_out_name] or [t for t in tieouts if t["check"] == tie_out_name]
    if len(matches) != 1:
        raise OpsError(f"no single tie-out {tie_out_name[:120]!r} in the close check of {data['entity']} "
                       f"{data['period']}", status=404, reason="unknown_tie_out",
                       names=[t["name"] for t in tieouts])
    (tieout,) = matches
    return CloseDrilldown(name=tieout["name"], check=tieout["check"], account=tieout["account"],
                          currency=tieout["currency"], expected=tieout["expected"], booked=tieout["booked"],
                          difference=tieout["difference"], status=tieout["status"], items=list(tieout["drilldown"]),
                          count=tieout["drilldown_count"])
