"""Finance ops work the exceptions queue: list, look at, retry, resolve or ignore a case; assign it, note on it,
act on many at once; approve or reject a document held for approval.

A case opened by the posting state machine holds the execution's task token: the execution *waits*.
``retry`` resumes it on the active configuration (after a mapping fix); ``resolve`` (fixed elsewhere,
e.g. posted by hand) and ``ignore`` (not to be posted) require a reason, close the case, move the
document out of the open exceptions in the control totals and end the execution. A case without an
execution (a payload that could not be normalized) is retried by replaying its event from the archive.
Every action is audited with the caller's identity.

Whoever resumes an execution claims its case first (one conditional write, open → retrying): of two people
clicking at once, or a bulk request sent twice, one resumes it and the other is told the case is no longer open.
Step Functions accepts a task token once besides.

An ``approval_required`` case (a document above its entity's ``controls.approval_thresholds``) is approved or
rejected. ``approve`` resumes the same execution with the approval: who, when, and the document's journal totals
per currency (recomputed on the configuration the retry uses, and refused when they no longer match the amount the
case showed); validate lets the document past the thresholds that approval covers, and the post step records it on
the ledger item. Separation of duties: whoever applied the configuration version that last set or changed the
entity's approval thresholds may not approve under them. ``reject`` ends the execution and ignores the document.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

from ledgerlink.clock import now as clock_now
from ledgerlink.clock import parse_instant
from ledgerlink.errors import DocumentRejected, OpsError, TransientError
from ledgerlink.model.counters import CounterKey
from ledgerlink.model.ledger import LedgerItem
from ledgerlink.model.posting import Approval
from ledgerlink.model.status import DocumentStatus

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.model.json import JsonObject
    from ledgerlink.ops.replay import ReplayPlan

CLOSING = {"resolve": "resolved", "ignore": "ignored"}
HIDDEN = ("task_token",)
CLOSABLE_CASES = ("open", "retrying")
APPROVAL_REASON = "approval_required"
BULK_ACTIONS = ("retry", "resolve", "ignore")
MAX_BULK = 200
MAX_ASSIGNEE = 200
MAX_NOTE = 2000
SORTS = ("opened_at", "-opened_at", "amount", "-amount", "reason", "entity")

type BulkResults = list[dict[str, object]]   # named here: inside the class, ``list`` is ExceptionsService.list


class CasesPort(Protocol):
    """The exception cases (Any: a case as stored, deserialized DynamoDB values the API shows as they are)."""

    def get(self, exception_id: str) -> dict[str, Any] | None: ...
    def list(self, status: str | None = "open") -> list[dict[str, Any]]: ...
    def claim(self, exception_id: str, *, actor: str, action: str, note: str, task_token: str | None = None,
              approval: Mapping[str, object] | None = None) -> bool: ...
    def release(self, exception_id: str, *, task_token: str | None, actor: str, note: str) -> bool: ...
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str,
                expected: tuple[str, ...] = ("open", "retrying")) -> bool: ...
    def assign(self, exception_id: str, *, actor: str, assignee: str,
               expected: tuple[str, ...] = ("open", "retrying")) -> bool: ...
    def add_note(self, exception_id: str, *, actor: str, note: str) -> bool: ...


class CaseLedger(Protocol):
    """The posting ledger as finance ops' actions use it: the case's document, and its move to ``ignored``."""

    def get(self, document_id: str) -> Mapping[str, object] | None: ...
    def transition(self, document_id: str, *, to: DocumentStatus, expected: tuple[DocumentStatus, ...],
                   key: CounterKey, remove: tuple[str, ...] = (), **attributes: object) -> bool: ...


class WaitingExecutions(Protocol):
    def send_task_success(self, task_token: str, output: Mapping[str, object]) -> None: ...


class AuditTrail(Protocol):
    def record(self, action: str, *, actor: str, subject: str, detail: dict[str, object] | None = None,
               correlation_id: str | None = None) -> object: ...


class EventReplayer(Protocol):
    def plan_event(self, source_id: str, archive_key: str, event_id: str, *, resolves_exception: str | None = None,
                   config_version: int | None = None) -> ReplayPlan: ...
    def execute(self, plan: ReplayPlan) -> object: ...


class ConfigVersions(Protocol):
    """The applied configuration versions (``store.config_store.DynamoConfigStore``): who applied each, and its
    body."""

    def history(self) -> list[dict[str, object]]: ...
    def version_raw(self, version: int) -> JsonObject: ...


def public(case: Mapping[str, Any]) -> dict[str, Any]:
    """A case as the API shows it: never the task token (it can steer an execution). Any: the case's stored values,
    shown as they are (the CLI and the ops API read them field by field)."""
    shown = {k: v for k, v in case.items() if k not in HIDDEN}
    shown["waiting_execution"] = bool(case.get("task_token"))
    return shown


def case_amount(case: Mapping[str, Any]) -> Decimal | None:
    """The amount a case carries in its detail (``approval_required``, ``amount_implausible``...: ``"1234.56"``, or
    ``"1234.56 USD"``), None when it has none (most reasons)."""
    detail = case.get("detail")
    raw = detail.get("amount") if isinstance(detail, Mapping) else None
    if raw is None or not str(raw).split():
        return None
    try:
        amount = Decimal(str(raw).split()[0].replace(",", ""))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _opened(case: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_instant(str(case.get("opened_at") or ""))
    except ValueError:
        return None


def entity_thresholds(body: Mapping[str, object], entity_id: str | None) -> list[str]:
    """The entity's approval thresholds in a stored configuration body, as comparable text (order-free)."""
    controls = body.get("controls")
    for control in controls if isinstance(controls, list) else []:
        if isinstance(control, dict) and control.get("entity") == entity_id:
            thresholds = control.get("approval_thresholds")
            return sorted(json.dumps(t, sort_keys=True) for t in thresholds) if isinstance(thresholds, list) else []
    return []


def threshold_setter(versions: ConfigVersions, entity_id: str | None, through: int) -> str | None:
    """Who applied the configuration version that last set or changed the entity's approval thresholds, among the
    versions up to ``through`` (newest → oldest: the newest version whose thresholds differ from its predecessor's,
    else the oldest). None when no version is recorded."""
    records = sorted(((int(str(r["version"])), r) for r in versions.history() if int(str(r["version"])) <= through),
                     key=lambda pair: pair[0], reverse=True)
    if not records:
        return None
    cache: dict[int, list[str]] = {}

    def thresholds(version: int) -> list[str]:
        if version not in cache:
            cache[version] = entity_thresholds(versions.version_raw(version), entity_id)
        return cache[version]

    for (newer, record), (older, _) in pairwise(records):
        if thresholds(newer) != thresholds(older):
            return str(record.get("applied_by") or "")
    return str(records[-1][1].get("applied_by") or "")


def _text_of(amount: Decimal) -> str:
    return f"{amount:f}"


class ExceptionsService:
    def __init__(self, *, cases: CasesPort, ledger: CaseLedger, workflow: WaitingExecutions, audit: AuditTrail,
                 config: Callable[[], tuple[int, LedgerLinkConfig]], replayer: EventReplayer | None = None,
                 versions: ConfigVersions | None = None) -> None:
        self._cases = cases
        self._ledger = ledger
        self._workflow = workflow
        self._audit = audit
        self._config = config          # () -> (version, LedgerLinkConfig)
        self._replayer = replayer      # Replayer, for cases without a waiting execution
        self._versions = versions      # the configuration's versions: who set the approval thresholds

    def _item(self, document_id: str) -> LedgerItem | None:
        stored = self._ledger.get(document_id)
        return LedgerItem.parse(stored) if stored is not None else None

    # ---- reading ----------------------------------------------------------------------------------------------

    def list(self, *, status: str | Sequence[str] | None = "open", entity: str | None = None, reason: str | None = None,
             source: str | None = None, min_age_days: float | None = None, min_amount: Decimal | None = None,
             max_amount: Decimal | None = None, assignee: str | None = None, sort: str = "opened_at"
             ) -> list[dict[str, object]]:
        """The cases in ``status`` (several: any of them; None: every status) that match every filter given, in ``sort`` order (one of
        :data:`SORTS`; ``-`` descending). ``min_age_days``: opened at least that long ago (``ledgerlink.clock``);
        ``min_amount`` / ``max_amount``: the case's amount (:func:`case_amount`, any currency) within the bounds —
        cases without one are left out only when a bound is given; ``assignee``: assigned to that user ("" : to
        nobody). Amount order puts cases without an amount last."""
        if sort not in SORTS:
            raise OpsError(f"unknown sort {sort!r} (one of {', '.join(SORTS)})", status=400, reason="bad_sort")
        if min_age_days is not None and min_age_days < 0:
            raise OpsError("min_age_days is not negative", status=400, reason="bad_request")
        cutoff = clock_now() - timedelta(days=min_age_days) if min_age_days is not None else None
        wanted = {"entity_id": entity, "reason": reason, "source": source}

        def matches(case: Mapping[str, Any]) -> bool:
            if any(want is not None and case.get(key) != want for key, want in wanted.items()):
                return False
            if assignee is not None and (case.get("assignee") or "") != assignee:
                return False
            if cutoff is not None and ((opened := _opened(case)) is None or opened > cutoff):
                return False
            return self._within(case_amount(case), min_amount, max_amount)

        statuses = [status] if status is None or isinstance(status, str) else list(status)
        found = [case for one in statuses for case in self._cases.list(one)]
        return [public(case) for case in _sorted(filter(matches, found), sort)]

    @staticmethod
    def _within(amount: Decimal | None, low: Decimal | None, high: Decimal | None) -> bool:
        if low is None and high is None:
            return True
        return amount is not None and (low is None or amount >= low) and (high is None or amount <= high)

    def counts_by_reason(self, status: str | None = "open") -> dict[str, int]:
        """How many cases in ``status`` (None: all) there are per reason code."""
        counted = Counter(str(case.get("reason") or "") for case in self._cases.list(status))
        return dict(sorted(counted.items()))

    def get(self, exception_id: str) -> dict[str, Any]:
        """The case as stored (Any: its deserialized attributes)."""
        case = self._cases.get(exception_id)
        if case is None:
            raise OpsError(f"no exception case {exception_id}", status=404, reason="not_found")
        return case

    # ---- retry, resolve, ignore ---------------------------------------------------------------------------------

    def retry(self, exception_id: str, *, actor: str, note: str = "") -> dict[str, object]:
        case = self._open_case(exception_id, "retried")
        version, _ = self._config()
        token = case.get("task_token")
        if token:
            item = self._waiting_document(exception_id, case)
            how = "resumed the waiting execution"
            self._claim_and_resume(exception_id, str(token), {
                "action": "retry", "config_version": version, "by": actor, "exception_id": exception_id,
                "document": item.document_json(), "approval": None}, actor=actor, action="retry", note=note or how)
        elif self._replayer is not None and case.get("archive_key") and case.get("source"):
            how = self._replay(exception_id, case, actor=actor, note=note)
        else:
            raise OpsError(f"case {exception_id} has no waiting execution and no archived event to replay",
                           status=409, reason="not_retryable")
        self._audit.record("exception_retry", actor=actor, subject=exception_id,
                           detail={"note": note, "how": how, "config_version": version},
                           correlation_id=case.get("correlation_id"))
        return {**public(self.get(exception_id)), "action": how}

    def _open_case(self, exception_id: str, done: str) -> dict[str, Any]:
        case = self.get(exception_id)
        if case["status"] != "open":
            raise OpsError(f"case {exception_id} is {case['status']}, only open cases can be {done}",
                           status=409, reason="not_open")
        return case

    def _waiting_document(self, exception_id: str, case: Mapping[str, Any]) -> LedgerItem:
        """The document the case's execution waits with, as the ledger holds it."""
        item = self._item(str(case["document_id"])) if case.get("document_id") else None
        if item is None:
            raise OpsError(f"case {exception_id} waits but its document is not in the ledger", status=409,
                           reason="not_retryable")
        return item

    def _claim_and_resume(self, exception_id: str, token: str, decision: Mapping[str, object], *, actor: str,
                          action: str, note: str, approval: Mapping[str, object] | None = None) -> None:
        """Claim the case (open → retrying, only while it waits on ``token``), then resume its execution; a resume
        that fails gives the case back (open, with its token) and raises."""
        if not self._cases.claim(exception_id, actor=actor, action=action, note=note, task_token=token,
                                 approval=approval):
            raise OpsError(f"case {exception_id} is no longer open: someone acted on it first", status=409,
                           reason="not_open")
        try:
            self._workflow.send_task_success(token, decision)
        except Exception:
            self._cases.release(exception_id, task_token=token, actor=actor, note=f"{action}: the resume failed")
            raise

    def _replay(self, exception_id: str, case: Mapping[str, Any], *, actor: str, note: str) -> str:
        """Replay the case's event from the archive (no execution waits on it), the case claimed first."""
        assert self._replayer is not None
        if not self._cases.claim(exception_id, actor=actor, action="retry", note=note or "replay from the archive"):
            raise OpsError(f"case {exception_id} is no longer open: someone acted on it first", status=409,
                           reason="not_open")
        try:
            event_id = str(case.get("subject", "")).split("#", 1)[-1]
            plan = self._replayer.plan_event(case["source"], case["archive_key"], event_id,
                                             resolves_exception=exception_id)
            self._replayer.execute(plan)
        except Exception:
            self._cases.release(exception_id, task_token=None, actor=actor, note="retry: the replay failed")
            raise
        return f"replayed {len(plan.messages)} event(s) from the archive"

    def close(self, exception_id: str, action: str, *, actor: str, reason: str) -> dict[str, object]:
        if action not in CLOSING:
            raise OpsError(f"unknown action {action!r}", status=400, reason="unknown_action")
        if not reason or not reason.strip():
            raise OpsError(f"{action} requires a reason", status=400, reason="reason_required")
        case = self.get(exception_id)
        if case["status"] not in CLOSABLE_CASES:
            raise OpsError(f"case {exception_id} is already {case['status']}", status=409, reason="not_open")
        # the case first (conditional): of two closing it at once, one ignores the document and ends the execution
        if not self._cases.resolve(exception_id, status=CLOSING[action], actor=actor, note=reason):
            raise OpsError(f"case {exception_id} was closed meanwhile", status=409, reason="not_open")
        self._ignore_document(case, f"{CLOSING[action]} by {actor}: {reason}")
        if case.get("task_token"):  # end the waiting execution: nothing will be posted by it
            self._workflow.send_task_success(case["task_token"], {"action": action, "by": actor,
                                                                  "exception_id": exception_id})
        self._audit.record(f"exception_{action}", actor=actor, subject=exception_id, detail={"reason": reason},
                           correlation_id=case.get("correlation_id"))
        return public(self.get(exception_id))

    def _ignore_document(self, case: Mapping[str, Any], why: str) -> None:
        """The case's document out of the open exceptions (exception → ignored, counted), if it is in one."""
        document_id = case.get("document_id")
        item = self._item(str(document_id)) if document_id else None
        if item is not None and item.status == DocumentStatus.EXCEPTION:
            self._ledger.transition(str(document_id), to=DocumentStatus.IGNORED,
                                    expected=(DocumentStatus.EXCEPTION,), key=item.counter_key,
                                    ignored_reason=why[:500])

    # ---- approval -----------------------------------------------------------------------------------------------

    def approve(self, exception_id: str, *, actor: str, note: str = "") -> dict[str, object]:
        """Approve the document an open ``approval_required`` case holds: the same execution resumes with the
        approval and posts it (once). 403 ``approver_configured_threshold`` for whoever last set the entity's
        thresholds; 409 when the case is not open, not an approval case, does not wait, or its document's totals
        no longer match what the case showed (``amount_changed``: retry it to refresh the case)."""
        if not actor or not actor.strip():
            raise OpsError("an approval names its approver", status=400, reason="actor_required")
        case = self._approval_case(exception_id)
        token = case.get("task_token")
        if not token:
            raise OpsError(f"case {exception_id} has no waiting execution to approve", status=409,
                           reason="not_waiting")
        item = self._waiting_document(exception_id, case)
        version, config = self._config()
        entity_id = case.get("entity_id") or _entity_of(item)
        setter = self._threshold_setter(entity_id, version)
        if setter is not None and setter == actor:
            raise OpsError(f"{actor} applied the configuration that set entity {entity_id}'s approval thresholds "
                           "and may not approve under them", status=403, reason="approver_configured_threshold")
        amounts = self._approved_amounts(exception_id, case, item, config, version)
        approval = Approval(by=actor, at=clock_now().isoformat(timespec="seconds"), exception_id=exception_id,
                            amounts=amounts).to_json()
        self._claim_and_resume(exception_id, str(token), {
            "action": "retry", "config_version": version, "by": actor, "exception_id": exception_id,
            "document": item.document_json(), "approval": approval},
            actor=actor, action="approve", note=note or "approved", approval=approval)
        self._audit.record("exception_approve", actor=actor, subject=exception_id, correlation_id=case.get(
            "correlation_id"), detail={"note": note, "amounts": json.dumps(approval["amounts"], sort_keys=True),
                                       "config_version": version, "thresholds_set_by": setter or ""})
        return {**public(self.get(exception_id)), "action": "approved; resumed the waiting execution"}

    def reject(self, exception_id: str, *, actor: str, reason: str) -> dict[str, object]:
        """Reject the document an open ``approval_required`` case holds: the case is ``rejected``, the document
        ignored (``rejected by <actor>: <reason>``) and its execution ended without posting."""
        if not reason or not reason.strip():
            raise OpsError("reject requires a reason", status=400, reason="reason_required")
        case = self._approval_case(exception_id)
        if not self._cases.resolve(exception_id, status="rejected", actor=actor, note=reason, expected=("open",)):
            raise OpsError(f"case {exception_id} is no longer open: someone acted on it first", status=409,
                           reason="not_open")
        self._ignore_document(case, f"rejected by {actor}: {reason}")
        if case.get("task_token"):  # the Decision's default: the execution ends, nothing posted
            self._workflow.send_task_success(case["task_token"], {"action": "reject", "by": actor,
                                                                  "exception_id": exception_id, "approval": None})
        self._audit.record("exception_reject", actor=actor, subject=exception_id, detail={"reason": reason},
                           correlation_id=case.get("correlation_id"))
        return public(self.get(exception_id))

    def _approval_case(self, exception_id: str) -> dict[str, Any]:
        case = self.get(exception_id)
        if case.get("reason") != APPROVAL_REASON:
            raise OpsError(f"case {exception_id} is {case.get('reason')}, not {APPROVAL_REASON}", status=409,
                           reason="not_approval")
        return self._open_case(exception_id, "approved or rejected")

    def _threshold_setter(self, entity_id: str | None, version: int) -> str | None:
        if self._versions is None:
            raise OpsError("approvals need the configuration's version history (separation of duties)",
                           status=503, reason="not_configured")
        return threshold_setter(self._versions, entity_id, version)

    def _approved_amounts(self, exception_id: str, case: Mapping[str, Any], item: LedgerItem,
                          config: LedgerLinkConfig, version: int) -> dict[str, Decimal]:
        """The document's journal totals per currency, as the retry will compute them (the same configuration
        version and posting rules); refused when the amount the case showed is not among them any more."""
        from ledgerlink.model.documents import DocumentAdapter
        from ledgerlink.pipeline.engine import enriched

        try:
            document = DocumentAdapter.validate_python(item.document_json())
            journal = enriched(document, config, config_version=version, originals=self._ledger).journal
        except (DocumentRejected, TransientError, ValueError) as exc:
            raise OpsError(f"case {exception_id}: the document's journal cannot be computed now ({exc}); retry "
                           "the case instead", status=409, reason="not_approvable") from None
        totals = {currency: money.amount for currency, money in journal.totals_by_currency().items()}
        shown, currency = case_amount(case), _detail(case, "currency")
        candidates = [totals.get(currency)] if currency else list(totals.values())
        if shown is not None and shown not in candidates:
            now = ", ".join(f"{_text_of(amount)} {code}" for code, amount in sorted(totals.items()))
            raise OpsError(f"case {exception_id} showed {shown} {currency or ''}".rstrip() + f" but the document's "
                           f"journal now totals {now}: retry the case to refresh it, then approve",
                           status=409, reason="amount_changed")
        return totals

    # ---- case work ----------------------------------------------------------------------------------------------

    def assign(self, exception_id: str, *, actor: str, assignee: str) -> dict[str, object]:
        """Assign an open (or retrying) case to ``assignee`` (a username, at most 200 characters), or unassign it
        (``""``)."""
        if assignee != assignee.strip() or len(assignee) > MAX_ASSIGNEE or not assignee.isprintable():
            raise OpsError(f"an assignee is a username of at most {MAX_ASSIGNEE} characters, or empty to unassign",
                           status=400, reason="bad_assignee")
        case = self.get(exception_id)
        if not self._cases.assign(exception_id, actor=actor, assignee=assignee):
            raise OpsError(f"case {exception_id} is {self.get(exception_id)['status']}: only open cases are "
                           "assigned", status=409, reason="not_open")
        self._audit.record("exception_assign", actor=actor, subject=exception_id, detail={"assignee": assignee},
                           correlation_id=case.get("correlation_id"))
        return public(self.get(exception_id))

    def add_note(self, exception_id: str, *, actor: str, note: str) -> dict[str, object]:
        """Add a note to the case's history (any status; at most 2000 characters)."""
        if not note or not note.strip():
            raise OpsError("a note has text", status=400, reason="note_required")
        if len(note) > MAX_NOTE:
            raise OpsError(f"a note is at most {MAX_NOTE} characters", status=400, reason="note_too_long")
        case = self.get(exception_id)
        if not self._cases.add_note(exception_id, actor=actor, note=note):
            raise OpsError(f"no exception case {exception_id}", status=404, reason="not_found")
        self._audit.record("exception_note", actor=actor, subject=exception_id, detail={"note": note},
                           correlation_id=case.get("correlation_id"))
        return public(self.get(exception_id))

    def bulk(self, action: str, exception_ids: Sequence[str], *, actor: str, text: str = "") -> BulkResults:
        """``retry`` (``text``: the note), ``resolve`` or ``ignore`` (``text``: the reason, required) each case, on
        its own: one that fails is reported and the others go on. At most 200 ids; a repeated id is acted on once.
        Each result: ``{exception_id, ok, reason (a reason code when not ok, else None), message}``."""
        if action not in BULK_ACTIONS:
            raise OpsError(f"unknown action {action!r} ({', '.join(BULK_ACTIONS)})", status=400,
                           reason="unknown_action")
        if isinstance(exception_ids, str) or not all(isinstance(i, str) and i for i in exception_ids):
            raise OpsError("exception_ids is a list of case ids", status=400, reason="bad_request")
        if len(exception_ids) > MAX_BULK:
            raise OpsError(f"at most {MAX_BULK} cases at once ({len(exception_ids)} given)", status=400,
                           reason="too_many")
        if action in CLOSING and not text.strip():
            raise OpsError(f"{action} requires a reason", status=400, reason="reason_required")
        results = [self._bulk_one(action, exception_id, actor=actor, text=text)
                   for exception_id in dict.fromkeys(exception_ids)]
        self._audit.record("exception_bulk", actor=actor, subject=action, detail={
            "cases": len(results), "ok": sum(1 for r in results if r["ok"]), "text": text})
        return results

    def _bulk_one(self, action: str, exception_id: str, *, actor: str, text: str) -> dict[str, object]:
        try:
            if action == "retry":
                done = self.retry(exception_id, actor=actor, note=text)
                message = str(done.get("action") or "retried")
            else:
                self.close(exception_id, action, actor=actor, reason=text)
                message = CLOSING[action]
        except OpsError as error:
            return {"exception_id": exception_id, "ok": False, "reason": error.reason, "message": error.message}
        except Exception as error:   # one case's failure (a throttled write, a refused resume) stops no other
            return {"exception_id": exception_id, "ok": False, "reason": "failed",
                    "message": f"{action} failed: {type(error).__name__}"}
        return {"exception_id": exception_id, "ok": True, "reason": None, "message": message}


def _detail(case: Mapping[str, Any], key: str) -> str | None:
    detail = case.get("detail")
    found = detail.get(key) if isinstance(detail, Mapping) else None
    return str(found) if found else None


def _entity_of(item: LedgerItem) -> str | None:
    document = item.document_json()
    entity = document.get("entity_id") if isinstance(document, dict) else None
    return str(entity) if entity else None


def _sorted(cases: Iterable[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """Oldest first, then by ``sort`` (stable: ties stay oldest first)."""
    ordered = sorted(cases, key=lambda c: str(c.get("opened_at") or ""), reverse=sort == "-opened_at")
    if sort in ("amount", "-amount"):
        present = [c for c in ordered if case_amount(c) is not None]
        present.sort(key=lambda c: case_amount(c) or Decimal(0), reverse=sort == "-amount")
        return present + [c for c in ordered if case_amount(c) is None]
    if sort in ("reason", "entity"):
        key = "reason" if sort == "reason" else "entity_id"
        ordered.sort(key=lambda c: str(c.get(key) or ""))
    return ordered
