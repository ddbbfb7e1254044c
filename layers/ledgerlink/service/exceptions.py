"""Finance ops work the exceptions queue: list, look at, retry, resolve or ignore a case.

A case opened by the posting state machine holds the execution's task token: the execution *waits*.
``retry`` resumes it on the active configuration (after a mapping fix); ``resolve`` (fixed elsewhere,
e.g. posted by hand) and ``ignore`` (not to be posted) require a reason, close the case, move the
document out of the open exceptions in the control totals and end the execution. A case without an
execution (a payload that could not be normalized) is retried by replaying its event from the archive.
Every action is audited with the caller's identity.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ledgerlink.errors import OpsError
from ledgerlink.totals import CounterKey

CLOSING = {"resolve": "resolved", "ignore": "ignored"}
HIDDEN = ("task_token",)


class CasesPort(Protocol):
    def get(self, exception_id: str) -> dict[str, Any] | None: ...
    def list(self, status: str | None = "open") -> list[dict[str, Any]]: ...
    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool: ...
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool: ...


def public(case: dict[str, Any]) -> dict[str, Any]:
    """A case as the API shows it: never the task token (it can steer an execution)."""
    shown = {k: v for k, v in case.items() if k not in HIDDEN}
    shown["waiting_execution"] = bool(case.get("task_token"))
    return shown


class ExceptionsService:
    def __init__(self, *, cases: CasesPort, ledger: Any, workflow: Any, audit: Any, config: Any,
                 replayer: Any = None) -> None:
        self._cases = cases
        self._ledger = ledger
        self._workflow = workflow
        self._audit = audit
        self._config = config          # () -> (version, LedgerLinkConfig)
        self._replayer = replayer      # Replayer, for cases without a waiting execution

    def list(self, *, status: str | None = "open", entity: str | None = None, reason: str | None = None
             ) -> list[dict[str, Any]]:
        cases = self._cases.list(status)
        return [public(c) for c in sorted(cases, key=lambda c: c.get("opened_at", ""))
                if (entity is None or c.get("entity_id") == entity) and (reason is None or c.get("reason") == reason)]

    def get(self, exception_id: str) -> dict[str, Any]:
        case = self._cases.get(exception_id)
        if case is None:
            raise OpsError(f"no exception case {exception_id}", status=404, reason="not_found")
        return case

    def retry(self, exception_id: str, *, actor: str, note: str = "") -> dict[str, Any]:
        case = self.get(exception_id)
        if case["status"] != "open":
            raise OpsError(f"case {exception_id} is {case['status']}, only open cases can be retried",
                           status=409, reason="not_open")
        version, _ = self._config()
        if case.get("task_token"):
            item = self._ledger.get(case["document_id"]) if case.get("document_id") else None
            if item is None:
                raise OpsError(f"case {exception_id} waits but its document is not in the ledger", status=409,
                               reason="not_retryable")
            document = json.loads(item["document"]) if isinstance(item["document"], str) else item["document"]
            self._workflow.send_task_success(case["task_token"], {"action": "retry", "config_version": version,
                                                                  "by": actor, "exception_id": exception_id,
                                                                  "document": document})
            how = "resumed the waiting execution"
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

    def close(self, exception_id: str, action: str, *, actor: str, reason: str) -> dict[str, Any]:
        if action not in CLOSING:
            raise OpsError(f"unknown action {action!r}", status=400, reason="unknown_action")
        if not reason or not reason.strip():
            raise OpsError(f"{action} requires a reason", status=400, reason="reason_required")
        case = self.get(exception_id)
        if case["status"] not in ("open", "retrying"):
            raise OpsError(f"case {exception_id} is already {case['status']}", status=409, reason="not_open")
        document_id = case.get("document_id")
        if document_id:
            item = self._ledger.get(document_id)
            if item is not None and item.get("status") == "exception":
                self._ledger.transition(document_id, to="ignored", expected=("exception",), key=CounterKey.of(item),
                                        ignored_reason=f"{CLOSING[action]} by {actor}: {reason}"[:500])
        self._cases.resolve(exception_id, status=CLOSING[action], actor=actor, note=reason)
        if case.get("task_token"):  # end the waiting execution: nothing will be posted by it
            self._workflow.send_task_success(case["task_token"], {"action": action, "by": actor,
                                                                  "exception_id": exception_id})
        self._audit.record(f"exception_{action}", actor=actor, subject=exception_id, detail={"reason": reason},
                           correlation_id=case.get("correlation_id"))
        return public(self.get(exception_id))
