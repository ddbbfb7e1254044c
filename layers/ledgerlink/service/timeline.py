"""A document's timeline for the finance-ops console: what happened to it, in order, from the webhook to the ERP
reference — read from a trace (``service/trace.py``, gathered ``with_steps=True``), nothing else.

Entries, each with its instant (``at``, ISO 8601 UTC), its ``step``, a ``detail`` line, and ``who`` when a person
acted (an exception case's retry, resolve or ignore):

``received`` (the inbox claim: source, event id and type) → ``archived`` (the raw request's key) →
``normalize_failed`` (attempts that failed before it was normalized) → ``normalized`` (document, type, configuration
version) → the Standard execution's steps (``master_data``, ``enrich``, ``validate``, ``post``: entered, failed,
timed out, retried) → exception cases (``exception_opened``, ``_reopened``, ``_retried``, ``_resolved``,
``_ignored``) → ``summarized`` / ``posted`` (ERP reference, connection, accounting date, configuration version) or
``ignored`` → ``execution_<how it ended>``.

Order. The stores keep whole seconds (the inbox claim, the registration, case history, ``posted_at``); the
execution history keeps milliseconds. Entries are ordered by their second, then — within one second, where the
clocks cannot tell — by the order the pipeline does things in (:data:`RANK`), then by the milliseconds the
execution history has. A case's opening is placed right after the ``OpenException`` step of that second that opened
it, and a decision on a case (a retry, or a person's resolve / ignore) right before the ``Decision`` the execution
resumed with, when the history has one in that second or the one before (the case is written after the step
began); such an entry keeps the time its case history gives. A document the Express happy path posted has no step
entries: Express executions keep no history (D76); its task logs carry the correlation id. A replay or a re-run
under another execution name is not in the history of the execution named by the document: its case history
(``retry by replay``) and the posting still are.

The configuration version: the ledger keeps the last one a step used — normalize's until the document is posted,
the posting's after (a retry runs on the active configuration). It is on the ``normalized`` entry while the document
is not posted, and on the ``posted`` entry once it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from ledgerlink.model.status import DocumentStatus

if TYPE_CHECKING:
    from ledgerlink.service.trace import Step, Trace

SYSTEM_ACTORS = frozenset({"ledgerlink", "replay"})   # case history entries no person made
# step names of the post-document state machine's task states (others: their name in snake case)
STEP_NAMES = {"EnsureMasterData": "master_data", "Enrich": "enrich", "Validate": "validate", "Post": "post"}
# the post-document state machine's states a case's history answers to: the task that opens (or reopens) the case,
# and the Choice the waiting execution resumes into when finance ops decide (retry, resolve, ignore)
OPENING_STATE = "OpenException"
DECISION_STATE = "Decision"

# Within one second, the order the pipeline does things in.
RANK = {"received": 0, "archived": 1, "normalize_failed": 2, "normalized": 3, "ignored": 4, "person": 5, "step": 6,
        "case_opened": 7, "summarized": 8, "posted": 8, "case_closed": 9, "execution": 10}


class TimelineJson(TypedDict):
    at: str
    step: str
    detail: str
    who: str | None
    config_version: int | None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: str                          # ISO 8601 UTC
    step: str
    detail: str
    who: str | None = None           # the person who acted (an exception case's retry / resolve / ignore)
    config_version: int | None = None  # the configuration (mapping) version the step used

    def to_dict(self) -> TimelineJson:
        return {"at": self.at, "step": self.step, "detail": self.detail, "who": self.who,
                "config_version": self.config_version}


ANCHOR_SECONDS = 5   # how far a case entry may be from the step it answers to (writes lag under load)


@dataclass(frozen=True, slots=True)
class _Dated:
    second: datetime
    rank: int
    instant: datetime
    entry: TimelineEntry
    case: tuple[str, int] | None = None      # (exception id, place in its history): a case entry


def instant(stored: object) -> datetime | None:
    """A stored time as an aware UTC instant: epoch seconds (a DynamoDB number), or ISO 8601 text (naive: UTC)."""
    if isinstance(stored, bool) or stored is None or stored == "":
        return None
    if isinstance(stored, int | float | Decimal):
        return datetime.fromtimestamp(float(stored), UTC)
    if isinstance(stored, datetime):
        moment = stored
    else:
        try:
            moment = datetime.fromisoformat(str(stored))
        except ValueError:
            return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _version(value: object) -> int | None:
    return int(value) if isinstance(value, int | Decimal) and not isinstance(value, bool) else None


class _Timeline:
    def __init__(self, steps: list[Step]) -> None:
        self.entries: list[_Dated] = []
        # the instants of the steps a case's history answers to, each used once
        self.anchors: dict[str, list[datetime]] = {
            state: [moment for step in steps if step["state"] == state and step["event"] in ("entered", "passed")
                    and (moment := instant(step["at"])) is not None]
            for state in (OPENING_STATE, DECISION_STATE)}

    def add(self, stored_at: object, rank: str, step: str, detail: str, *, who: str | None = None,
            config_version: int | None = None, precise: bool = False, anchor: str | None = None,
            case: tuple[str, int] | None = None) -> None:
        moment = instant(stored_at)
        if moment is None:
            return
        second, exact, rank_number = moment.replace(microsecond=0), moment, RANK[rank]
        anchored = self._anchor(anchor, second) if anchor else None
        if anchored is not None:   # placed among the steps, next to the one it answers to
            second, exact, rank_number = anchored.replace(microsecond=0), anchored, RANK["step"]
        shown = moment.isoformat(timespec="milliseconds" if precise else "seconds")
        self.entries.append(_Dated(second, rank_number, exact, TimelineEntry(shown, step, detail, who,
                                                                             config_version), case))

    def _anchor(self, state: str, second: datetime) -> datetime | None:
        """The unused instant of ``state`` nearest to ``second`` within :data:`ANCHOR_SECONDS` (the open-exception
        task writes the case after its step began; a retry is written just before the execution resumes, or after
        it under load): just after it (an opening), just before it (a decision the execution resumed with)."""
        window = timedelta(seconds=ANCHOR_SECONDS)
        near = [(abs(moment.replace(microsecond=0) - second), number) for number, moment in
                enumerate(self.anchors[state]) if abs(moment.replace(microsecond=0) - second) <= window]
        if not near:
            return None
        moment = self.anchors[state].pop(min(near)[1])
        nudge = timedelta(microseconds=1)
        return moment + nudge if state == OPENING_STATE else moment - nudge

    def ordered(self) -> list[TimelineEntry]:
        """Sorted by second, pipeline order, instant; then each case's entries put back in its history's order
        in the places they took (a case's history is the truth about its own order, whatever the clocks say)."""
        ranked = sorted(self.entries, key=lambda dated: (dated.second, dated.rank, dated.instant))
        by_case: dict[str, list[int]] = {}
        for place, dated in enumerate(ranked):
            if dated.case is not None:
                by_case.setdefault(dated.case[0], []).append(place)
        for places in by_case.values():
            in_history = sorted((ranked[place] for place in places), key=lambda dated: dated.case or ("", 0))
            for place, dated in zip(places, in_history, strict=True):
                ranked[place] = dated
        return [dated.entry for dated in ranked]


def _field(data: object, name: str) -> object:
    return data.get(name) if isinstance(data, Mapping) else None


def _webhook(line: _Timeline, trace: Trace) -> None:
    webhook = trace["webhook"]
    kind = f" ({webhook['event_type']})" if webhook["event_type"] else ""
    line.add(webhook["received_at"], "received", "received",
             f"{webhook['source']} event {webhook['event_id']}{kind}, correlation id {webhook['correlation_id']}")
    if webhook["archive_key"]:
        line.add(webhook["received_at"], "archived", "archived", f"raw request stored as {webhook['archive_key']}")
    if webhook["last_error"]:
        line.add(webhook["last_error_at"], "normalize_failed", "normalize_failed",
                 f"{webhook['failed_attempts']} failed attempt(s) to normalize, the last: {webhook['last_error']}")


def _normalized(line: _Timeline, trace: Trace) -> None:
    document = trace["document"]
    posted = trace["status"] in (DocumentStatus.POSTED, DocumentStatus.SUMMARIZED)
    version = _version(trace["mapping"].get("config_version"))
    shown = "" if posted or version is None else f", configuration version {version}"
    line.add(trace["normalized_at"] or trace["webhook"]["processed_at"], "normalized", "normalized",
             f"document {trace['document_id']} ({_field(document, 'document_type') or 'unknown type'}), entity "
             f"{_field(document, 'entity_id')}, accounting date {_field(document, 'accounting_date')}{shown}",
             config_version=None if posted else version)
    if trace["status"] == DocumentStatus.IGNORED and not _closed_by_case(trace):
        line.add(trace["normalized_at"], "ignored", "ignored", f"not posted: {trace['ignored_reason'] or 'ignored'}")


def _closed_by_case(trace: Trace) -> bool:
    return any(_field(entry, "action") in ("ignored", "resolved")
               for case in trace["exceptions"] for entry in _entries(case.get("history")))


def _entries(value: object) -> list[Mapping[str, object]]:
    return [entry for entry in value if isinstance(entry, Mapping)] if isinstance(value, list) else []


def _step_name(state: str | None) -> str:
    if state is None:
        return "execution"
    return STEP_NAMES.get(state) or "".join(f"_{c.lower()}" if c.isupper() else c for c in state).lstrip("_")


def _step(line: _Timeline, step: Step) -> None:
    state, event = step["state"], step["event"]
    if state == OPENING_STATE or event == "passed":   # the case's own entries say it; a Choice or Pass runs nothing
        return
    name = _step_name(state)
    if state is None:
        detail = f"the post-document execution {event}" + (f": {step['error']}" if step["error"] else "")
        line.add(step["at"], "execution", f"execution_{event}", detail, precise=True)
        return
    detail = {"entered": f"{name} started", "retried": f"{name} retried after the failure above"}.get(
        event, f"{name} {event.replace('_', ' ')}" + (f": {step['error']}" if step["error"] else ""))
    line.add(step["at"], "step", name if event == "entered" else f"{name}_{event}", detail, precise=True)


_CASE_STEPS = {"opened": "exception_opened", "reopened": "exception_reopened", "retry": "exception_retried",
               "resolved": "exception_resolved", "ignored": "exception_ignored"}


def _case_entries(trace: Trace) -> list[tuple[Mapping[str, object], Mapping[str, object], int]]:
    """(case, history entry, its place in the history) of every case of the document, in time order (each case's
    history in its own)."""
    entries = [(case, entry, place) for case in trace["exceptions"]
               for place, entry in enumerate(_entries(case.get("history")))]
    return sorted(entries, key=lambda found: (instant(found[1].get("at")) or datetime.min.replace(tzinfo=UTC),
                                              found[2]))


def _case(line: _Timeline, case: Mapping[str, object], entry: Mapping[str, object], place: int) -> None:
    action = str(entry.get("action") or "")
    actor = str(entry.get("by") or "ledgerlink")
    person = None if actor in SYSTEM_ACTORS else actor
    note = f": {entry['note']}" if entry.get("note") else ""
    step = _CASE_STEPS.get(action, f"exception_{action}")
    if action in ("opened", "reopened"):
        line.add(entry.get("at"), "case_opened", step,
                 f"case {case.get('exception_id')} {action}, reason {case.get('reason')}", anchor=OPENING_STATE,
                 case=(str(case.get("exception_id")), place))
        return
    detail = f"case {case.get('exception_id')} {action} by {actor}{note}"
    decided = action == "retry" or person is not None   # what a waiting execution resumes with
    line.add(entry.get("at"), "person" if decided else "case_closed", step, detail, who=person,
             anchor=DECISION_STATE if decided else None, case=(str(case.get("exception_id")), place))


def _posted(line: _Timeline, trace: Trace) -> None:
    erp, status = trace["erp"], trace["status"]
    summary = erp.get("summary_id")
    if status == DocumentStatus.SUMMARIZED:
        line.add(erp.get("posted_at"), "summarized", "summarized",
                 f"added to summary bucket {summary}; the flush posts the bucket as one journal")
        return
    if status != DocumentStatus.POSTED:
        return
    version = _version(trace["mapping"].get("config_version"))
    moved = " (moved into the next open period: its own was closed)" if erp.get("period_adjusted") else ""
    via = f" (added to summary {summary} then; the summary journal posted)" if summary else ""
    how = " by the Express happy path (it keeps no step history)" if (trace["execution"] or {}).get(
        "workflow") == "happy_path" else ""
    line.add(erp.get("posted_at"), "posted", "posted",
             f"ERP reference {erp.get('reference')} on {erp.get('connection')}{via}, accounting date "
             f"{erp.get('accounting_date')}{moved}{how}" + (f", configuration version {version}" if version else ""),
             config_version=version)


def timeline(trace: Trace) -> list[TimelineEntry]:
    """The document's timeline, oldest first (see the module's docstring for the entries and their order)."""
    line = _Timeline(trace["steps"])
    _webhook(line, trace)
    _normalized(line, trace)
    for step in trace["steps"]:
        _step(line, step)
    for case, entry, place in _case_entries(trace):
        _case(line, case, entry, place)
    _posted(line, trace)
    return line.ordered()
