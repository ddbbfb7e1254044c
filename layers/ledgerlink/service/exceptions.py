"""Finance ops work the exceptions queue: list, look at, retry, resolve or ignore a case.

A case opened by the posting state machine holds the execution's task token: the execution *waits*.
``retry`` resumes it on the active configuration (after a mapping fix); ``resolve`` (fixed elsewhere,
e.g. posted by hand) and ``ignore`` (not to be posted) require a reason, close the case, move the
document out of the open exceptions in the control totals and end the execution. A case without an
execution (a payload that could not be normalized) is retried by replaying its event from the archive.
Every action is audited with the caller's identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ledgerlink.errors import OpsError
from ledgerlink.model.counters import CounterKey
from ledgerlink.model.ledger import LedgerItem
from ledgerlink.model.status import DocumentStatus

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.ops.replay import ReplayPlan

CLOSING = {"resolve": "resolved", "ignore": "ignored"}
HIDDEN = ("task_token",)
CLOSABLE_CASES = ("open", "retrying")


class CasesPort(Protocol):
    """The exception cases (Any: a case as stored, deserialized DynamoDB values the API shows as they are)."""

    def get(self, exception_id: str) -> dict[str, Any] | None: ...
    def list(self, status: str | None = "open") -> list[dict[str, Any]]: ...
    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool: ...
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool: ...


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


def public(case: Mapping[str, Any]) -> dict[str, Any]:
    """A case as the API shows it: never the task token (it can steer an execution). Any: the case's stored values,
    shown as they are (the CLI and the ops API read them field by field)."""
    shown = {k: v for k, v in case.items() if k not in HIDDEN}
    shown["waiting_execution"] = bool(case.get("task_token"))
    return shown


class ExceptionsService:
    def __init__(self, *, cases: CasesPort, ledger: CaseLedger, workflow: WaitingExecutions, audit: AuditTrail,
                 config: Callable[[], tuple[int, LedgerLinkConfig]], replayer: EventReplayer | None = None) -> None:
        self._cases = cases
        self._ledger = ledger
        self._workflow = workflow
        self._audit = audit
        self._config = config          # () -> (version, LedgerLinkConfig)
        self._replayer = replayer      # Replayer, for cases without a waiting execution

    def _item(self, document_id: str) -> LedgerItem | None:
        stored = self._ledger.get(document_id)
        return LedgerItem.parse(stored) if stored is not None else None

    def list(self, *, status: str | None = "open", entity: str | None = None, reason: str | None = None
             ) -> list[dict[str, object]]:
        cases = self._cases.list(status)
        return [public(c) for c in sorted(cases, key=lambda c: c.get("opened_at", ""))
                if (entity is None or c.get("entity_id") == entity) and (reason is None or c.get("reason") == reason)]

    def get(self, exception_id: str) -> dict[str, Any]:
        """The case as stored (Any: its deserialized attributes)."""
        case = self._cases.get(exception_id)
        if case is None:
            raise OpsError(f"no exception case {exception_id}", status=404, reason="not_found")
        return case

    def retry(self, exception_id: str, *, actor: str, note: str = "") -> dict[str, object]:
        case = self.get(exception_id)
        if case["status"] != "open":
            raise OpsError(f"case {exception_id} is {case['status']}, only open cases can be retried",
                           status=409, reason="not_open")
        version, _ = self._config()
        if case.get("task_token"):
            how = self._resume(exception_id, case, version, actor)
        elif self._replayer is not None and case.get("archive_key") and case.get("source"):
            event_id = str(case.get("subject", "")).split("#", 1)[-1]
            plan = self._replayer.plan_event(case["source"], case["archive_key"], event_id,
                                             resolves_exception=exception_id)
            self._replayer.execute(plan)
            how = f"replayed {len(plan.messages)} event(s) from the archive"
        else:
            raise OpsError(f"case {exception_id} has no waiting execution and no archived event to replay",
                           status=409, reason="not_retryable")
        self._cases.mark_retrying(exception_id, actor=actor, note=note or how)
        self._audit.record("exception_retry", actor=actor, subject=exception_id,
                           detail={"note": note, "how": how, "config_version": version},
                           correlation_id=case.get("correlation_id"))
        return {**public(self.get(exception_id)), "action": how}

    def _resume(self, exception_id: str, case: Mapping[str, Any], version: int, actor: str) -> str:
        """Resume the execution waiting on the case, with the document as the ledger holds it."""
        item = self._item(str(case["document_id"])) if case.get("document_id") else None
        if item is None:
            raise OpsError(f"case {exception_id} waits but its document is not in the ledger", status=409,
                           reason="not_retryable")
        self._workflow.send_task_success(case["task_token"], {"action": "retry", "config_version": version,
                                                              "by": actor, "exception_id": exception_id,
                                                              "document": item.document_json()})
        return "resumed the waiting execution"

    def close(self, exception_id: str, action: str, *, actor: str, reason: str) -> dict[str, object]:
        if action not in CLOSING:
            raise OpsError(f"unknown action {action!r}", status=400, reason="unknown_action")
        if not reason or not reason.strip():
            raise OpsError(f"{action} requires a reason", status=400, reason="reason_required")
        case = self.get(exception_id)
        if case["status"] not in CLOSABLE_CASES:
            raise OpsError(f"case {exception_id} is already {case['status']}", status=409, reason="not_open")
        document_id = case.get("document_id")
        item = self._item(str(document_id)) if document_id else None
        if item is not None and item.status == DocumentStatus.EXCEPTION:
            self._ledger.transition(str(document_id), to=DocumentStatus.IGNORED,
                                    expected=(DocumentStatus.EXCEPTION,), key=item.counter_key,
                                    ignored_reason=f"{CLOSING[action]} by {actor}: {reason}"[:500])
        self._cases.resolve(exception_id, status=CLOSING[action], actor=actor, note=reason)
        if case.get("task_token"):  # end the waiting execution: nothing will be posted by it
            self._workflow.send_task_success(case["task_token"], {"action": action, "by": actor,
                                                                  "exception_id": exception_id})
        self._audit.record(f"exception_{action}", actor=actor, subject=exception_id, detail={"reason": reason},
                           correlation_id=case.get("correlation_id"))
        return public(self.get(exception_id))
