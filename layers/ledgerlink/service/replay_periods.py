"""A replay's dry run with periods: for each document a replay plan would (re)process, the accounting date and the
period it would post in today — for the finance-ops console, before anyone replays.

A replay normalizes the archived events again (``ops/replay.py``); normalize re-runs a document only while it waits
to be posted (``received``, or in ``exception``): a posted, summarized or ignored document is left as it is, so a
replay never posts twice. For each document that would run, the answer is what ``validate`` does with its date —
the same function (:func:`ledgerlink.pipeline.periods.open_period_date`) on the entity's configured period control:

- ``own_period``: its period is open, it posts on its own accounting date;
- ``next_open_period``: its period is closed and the entity's policy moves it to the first open day (the memo says
  why, the original date is kept);
- ``refused``: its period is closed and the policy is ``reject`` (a ``period_closed`` case), or its entity is not
  configured (``unknown_entity``).

An event that has no document yet (never normalized: it failed, or is still in flight) is ``unknown``: what it
becomes, and its date, are known once it is normalized. The plan's skipped documents come back ``skipped`` with the
plan's reason. Periods are calendar months of local dates (``pipeline/revenue_schedule.period_of``).

The answer is the configuration's: right before posting, the post step also asks the ERP for its own period
status (``apply_erp_period``), and someone may have closed a period there since — posting can still move or refuse
a document this dry run says posts in its own period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict

from ledgerlink.model.status import DocumentStatus
from ledgerlink.pipeline.periods import open_period_date
from ledgerlink.pipeline.revenue_schedule import period_of

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.ops.replay import ReplayPlan

type Outcome = Literal["own_period", "next_open_period", "refused", "skipped", "unknown"]

# a status a replay does not post again → why
SETTLED: dict[str, str] = {DocumentStatus.POSTED: "already posted: a replay never posts twice",
           DocumentStatus.SUMMARIZED: "already summarized: its summary journal posts it, a replay does not",
           DocumentStatus.IGNORED: "ignored: a replay does not post it"}
UNKNOWN = "unknown until normalized: the event has no document yet"


class ReplayLedger(Protocol):
    """The posting ledger as the dry run reads it (Any: items as stored, read field by field)."""

    def get(self, document_id: str) -> Mapping[str, Any] | None: ...
    def find(self, kind: str, reference: str) -> list[str]: ...


class ReplayInbox(Protocol):
    def get(self, source: str, event_id: str) -> Mapping[str, object] | None: ...


class ReplayLandingJson(TypedDict):
    source: str | None
    event_id: str | None
    document_id: str | None
    document_type: str | None
    entity_id: str | None
    status: str | None
    accounting_date: str | None
    outcome: str
    posting_date: str | None
    period: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class ReplayLanding:
    source: str | None
    event_id: str | None
    document_id: str | None         # None: the event has no document yet
    document_type: str | None
    entity_id: str | None
    status: str | None              # the document's ledger status today
    accounting_date: str | None     # the document's own (ISO date)
    outcome: Outcome
    posting_date: str | None        # the date it would post on (own_period / next_open_period)
    period: str | None              # the period of posting_date (YYYY-MM)
    reason: str                     # one line for the page

    def to_dict(self) -> ReplayLandingJson:
        return {"source": self.source, "event_id": self.event_id, "document_id": self.document_id,
                "document_type": self.document_type, "entity_id": self.entity_id, "status": self.status,
                "accounting_date": self.accounting_date, "outcome": self.outcome, "posting_date": self.posting_date,
                "period": self.period, "reason": self.reason}


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def replay_periods(plan: ReplayPlan, *, ledger: ReplayLedger, config: LedgerLinkConfig,
                   inbox: ReplayInbox | None = None) -> list[ReplayLanding]:
    """Where each document of ``plan`` would land (see the module's docstring), in the plan's order: its messages'
    documents (each once), then its skipped ones. ``config``: the configuration the replay runs on (the active
    one, or the version the plan pins). ``inbox``: when given, an event's documents are also read from its claim
    (normalize records them there), which finds a document first registered by another delivery."""
    landings: list[ReplayLanding] = []
    seen: set[str] = set()
    for message in plan.messages:
        source, event_id = _text(message.get("source")), _text(message.get("event_id"))
        document_ids = _documents(source, event_id, ledger, inbox)
        if not document_ids:
            landings.append(ReplayLanding(source, event_id, None, None, None, None, None, "unknown", None, None,
                                          UNKNOWN))
        for document_id in document_ids:
            if document_id not in seen:
                seen.add(document_id)
                landings.append(_landing(source, event_id, document_id, ledger.get(document_id), config))
    for skipped in plan.skipped:
        document_id = str(skipped.get("document_id") or "")
        if document_id in seen:
            continue
        seen.add(document_id)
        landings.append(_skipped(document_id, ledger.get(document_id) if document_id else None,
                                 str(skipped.get("reason") or "skipped by the plan")))
    return landings


def _documents(source: str | None, event_id: str | None, ledger: ReplayLedger, inbox: ReplayInbox | None
               ) -> list[str]:
    """The documents of one event: those its inbox claim names (when read), then those the ledger's event-id index
    holds for it (of that source)."""
    if not event_id:
        return []
    named: list[str] = []
    claim = inbox.get(source, event_id) if inbox is not None and source else None
    documents = (claim or {}).get("document_ids")
    if isinstance(documents, list):
        named += [str(document_id) for document_id in documents]
    for document_id in ledger.find("event", event_id):
        if document_id not in named and _of_source(ledger.get(document_id), source):
            named.append(document_id)
    return named


def _of_source(item: Mapping[str, Any] | None, source: str | None) -> bool:
    return item is not None and (source is None or item.get("source_id") in (None, source))


def _landing(source: str | None, event_id: str | None, document_id: str, item: Mapping[str, Any] | None,
             config: LedgerLinkConfig) -> ReplayLanding:
    if item is None:
        return ReplayLanding(source, event_id, document_id, None, None, None, None, "unknown", None, None,
                             f"{UNKNOWN} in the ledger")
    status = _text(item.get("status"))
    base = {"source": source, "event_id": event_id, "document_id": document_id,
            "document_type": _text(item.get("document_type")), "entity_id": _text(item.get("entity_id")),
            "status": status, "accounting_date": _text(item.get("accounting_date"))}
    settled = SETTLED.get(status) if status is not None else None
    if settled is not None:
        return ReplayLanding(**base, outcome="skipped", posting_date=None, period=None, reason=settled)
    outcome, posting_date, reason = where_it_posts(base["entity_id"], base["accounting_date"], config)
    return ReplayLanding(**base, outcome=outcome, posting_date=posting_date.isoformat() if posting_date else None,
                         period=period_of(posting_date) if posting_date else None, reason=reason)


def where_it_posts(entity_id: str | None, accounting_date: str | None, config: LedgerLinkConfig
                   ) -> tuple[Outcome, date | None, str]:
    """(outcome, the date it would post on, why) for a document of ``entity_id`` dated ``accounting_date``, under
    ``config``'s period control — :func:`open_period_date`, as ``validate`` applies it."""
    try:
        day = date.fromisoformat(accounting_date or "")
    except ValueError:
        return "unknown", None, "the document has no accounting date in the ledger"
    entity = next((entity for entity in config.entities if entity.id == entity_id), None)
    if entity is None:
        return "refused", None, f"entity {entity_id} is not configured: validate refuses it (unknown_entity)"
    posting_date = open_period_date(entity, day)
    if posting_date is None:
        return ("refused", None, f"refused: period closed — {period_of(day)} is closed (entity {entity.id} closed "
                                 f"through {entity.closed_through}) and the entity's policy is reject "
                                 "(a period_closed case)")
    if posting_date == day:
        return "own_period", posting_date, f"posts in its own period {period_of(day)} (open)"
    return ("next_open_period", posting_date,
            f"its period {period_of(day)} is closed (entity {entity.id} closed through {entity.closed_through}): "
            f"posts on {posting_date}, the first open day, in {period_of(posting_date)}")


def _skipped(document_id: str, item: Mapping[str, Any] | None, reason: str) -> ReplayLanding:
    stored: Mapping[str, Any] = item or {}
    return ReplayLanding(source=_text(stored.get("source_id")), event_id=_text(stored.get("event_id")),
                         document_id=document_id or None, document_type=_text(stored.get("document_type")),
                         entity_id=_text(stored.get("entity_id")), status=_text(stored.get("status")),
                         accounting_date=_text(stored.get("accounting_date")), outcome="skipped", posting_date=None,
                         period=None, reason=reason)
