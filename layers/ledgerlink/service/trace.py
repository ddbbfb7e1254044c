"""The full trace of a document: webhook → canonical document → mapping version → journal → ERP reference,
with its exception cases and executions — what ``GET /documents/{id}`` and ``ledgerlink trace`` show.

:func:`resolve` finds the documents behind any id an operator holds: a document id, the event id or correlation
id of the 202 a provider got, the provider's object id (external id: ``in_...``, a pspReference) or the ERP's
reference of the posting — each through the ledger's keys-only index of that attribute (``by_event_id``,
``by_correlation_id``, ``by_external_id``, ``by_erp_ref``), never a scan.

``trace(..., with_steps=True)`` adds the Standard execution's steps (entered, failed, retried) from its history:
what ``service/timeline.py`` orders into the document's timeline. Off by default: it costs a
``GetExecutionHistory`` call (and that permission) the ops API's trace route and ``ledgerlink trace`` do not need."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypedDict

from ledgerlink.errors import OpsError
from ledgerlink.model.json import JsonValue
from ledgerlink.model.status import DocumentStatus
from ledgerlink.service.exceptions import public

# the order ids are tried in; the first kind that finds documents names the match
LOOKUP_ORDER = ("event", "correlation", "external", "erp")


class Webhook(TypedDict):
    source: str | None
    event_id: str | None
    correlation_id: str | None
    archive_key: str | None
    received_at: object             # the inbox claim's epoch seconds, as stored
    inbox: str | None
    event_type: str | None
    processed_at: object            # when normalize recorded the event's outcome (epoch seconds, as stored)
    failed_attempts: object         # attempts to normalize it that failed (the last one's error type and place)
    last_error: str | None
    last_error_at: object


class Execution(TypedDict, total=False):
    name: str
    workflow: str                   # standard | happy_path
    status: str | None
    logs: str


class Step(TypedDict):
    """One event of the Standard execution's history that says what a step did."""

    at: str                         # ISO 8601 UTC, milliseconds
    state: str | None               # the state machine's state (None: the execution itself)
    event: str                      # a task state: entered | failed | timed_out | retried; another state: passed;
    #                                 the execution (state None): succeeded | failed | timed_out | aborted
    error: str | None               # the error name of a failure (never its cause: it may quote the document)


class Trace(TypedDict):
    """``GET /documents/{id}`` and ``ledgerlink trace``: the document's way from webhook to ERP reference. The ledger
    item's attributes are shown as stored (``document`` and ``journal`` as the JSON they hold)."""

    document_id: str
    status: str
    webhook: Webhook
    document: JsonValue
    mapping: dict[str, object]
    journal: JsonValue
    erp: dict[str, object]
    exceptions: list[dict[str, object]]
    execution: Execution | None
    ignored_reason: str | None
    approval: object                # who approved the document and what (an approval_required case), as stored
    normalized_at: object           # when normalize registered the document (epoch seconds, as stored)
    steps: list[Step]               # the Standard execution's steps (``with_steps``; else empty)


def trace(document_id: str, *, ledger: Any, inbox: Any, cases: Any, workflow: Any, with_steps: bool = False
          ) -> Trace:
    item: Mapping[str, Any] | None = ledger.get(document_id)   # Any: the item as DynamoDB returns it, shown as is
    if item is None:
        raise OpsError(f"no document {document_id}", status=404, reason="not_found")
    document = json.loads(item["document"]) if isinstance(item.get("document"), str) else item.get("document")
    journal = json.loads(item["journal"]) if isinstance(item.get("journal"), str) else None
    claim = inbox.get(item["source_id"], item["event_id"]) if item.get("event_id") and item.get("source_id") else None
    execution = workflow.describe(document_id)
    claim = claim or {}
    return {
        "document_id": document_id,
        "status": item["status"],
        "webhook": {"source": item.get("source_id"), "event_id": item.get("event_id"),
                    "correlation_id": item.get("correlation_id"), "archive_key": item.get("archive_key"),
                    "received_at": claim.get("claimed_at"), "inbox": claim.get("outcome"),
                    "event_type": claim.get("event_type"), "processed_at": claim.get("processed_at"),
                    "failed_attempts": claim.get("failed_attempts"), "last_error": claim.get("last_error"),
                    "last_error_at": claim.get("last_error_at")},
        "document": document,
        "mapping": {"config_version": item.get("config_version")},
        "journal": journal,
        "erp": {"connection": item.get("erp_connection"), "reference": item.get("erp_ref"),
                "posted_at": item.get("posted_at"), "accounting_date": item.get("posted_accounting_date"),
                "period_adjusted": item.get("period_adjusted"), "summary_id": item.get("summary_id"),
                "lease_until": item.get("lease_until")},
        "exceptions": [public(case) for case in cases.for_document(document_id)],
        "execution": _execution(document_id, item, execution),
        "ignored_reason": item.get("ignored_reason"),
        "approval": item.get("approval"),
        "normalized_at": item.get("registered_at"),
        "steps": steps(workflow.history(document_id)) if with_steps and execution else [],
    }


def resolve(reference: str, *, ledger: Any, missing_index: Any = None) -> tuple[str, list[str]]:
    """(kind of id, the ids of its documents): ``document`` when ``reference`` is a document id in the ledger, else
    the first of ``LOOKUP_ORDER`` whose index holds it. None found: ``OpsError`` not_found. ``missing_index(error)``
    says whether a query failed because the table lacks that index (a stack that got the indexes staged): such a
    kind is skipped and named in the error's ``missing`` detail."""
    if reference.startswith("doc_") and ledger.get(reference) is not None:
        return "document", [reference]
    missing: list[str] = []
    for kind in LOOKUP_ORDER:
        try:
            found = ledger.find(kind, reference)
        except Exception as error:
            if missing_index is None or not missing_index(error):
                raise
            missing.append(kind)
            continue
        if found:
            return kind, found
    unsearched = f"; not searched, the ledger has no index for them yet: {', '.join(missing)} ids" if missing else ""
    raise OpsError(f"no document has the id {reference!r} (tried: document id, event id, correlation id, external "
                   f"id, ERP reference{unsearched})", status=404, reason="not_found", missing=missing)


def _execution(document_id: str, item: Mapping[str, object], execution: Mapping[str, object] | None
               ) -> Execution | None:
    """The Standard execution when the document has one (it left the happy path, or was replayed); otherwise the
    Express happy path ran it, which keeps no execution history to describe (D76): its task logs carry the
    document's correlation id."""
    if execution:
        return {"name": document_id, "workflow": "standard", "status": str(execution["status"])}
    if item["status"] == DocumentStatus.IGNORED:
        return None
    return {"name": document_id, "workflow": "happy_path", "status": None,
            "logs": f"Express executions keep no history; search the task logs for correlation id "
                    f"{item.get('correlation_id')}"}


# history event type → what the step did; the Lambda task events (a function ARN as Resource) and the service
# integration ones (``lambda:invoke.waitForTaskToken``) say the same
_FAILURES = {"LambdaFunctionFailed": "failed", "TaskFailed": "failed", "LambdaFunctionTimedOut": "timed_out",
             "TaskTimedOut": "timed_out", "LambdaFunctionScheduleFailed": "failed", "LambdaFunctionStartFailed": "failed",
             "TaskStartFailed": "failed", "TaskSubmitFailed": "failed"}
_SCHEDULED = ("LambdaFunctionScheduled", "TaskScheduled")
_ENDS = {"ExecutionSucceeded": "succeeded", "ExecutionFailed": "failed", "ExecutionTimedOut": "timed_out",
         "ExecutionAborted": "aborted"}
_DETAILS = re.compile(r"^[a-z]+(?:[A-Z][a-z]+)*EventDetails$")


def _at(event: Mapping[str, Any]) -> str:
    stamp = event.get("timestamp")
    instant = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).isoformat(timespec="milliseconds")


def _error(event: Mapping[str, Any]) -> str | None:
    for key, details in event.items():
        if _DETAILS.match(key) and isinstance(details, Mapping) and details.get("error"):
            return str(details["error"])[:200]
    return None


def steps(history: Sequence[Mapping[str, Any]]) -> list[Step]:
    """The events of a Standard execution's history (``GetExecutionHistory``, oldest first; Any: botocore's
    untyped events) that say what its steps did: a task state entered, a task attempt that failed or timed out, the
    retry that followed it (the task scheduled again in the same state), another state passed through (a Choice
    such as the exception's ``Decision``), and how the execution ended."""
    found: list[Step] = []
    state: str | None = None
    failed = False
    for event in history:
        kind = str(event.get("type", ""))
        if kind == "TaskStateEntered":
            state, failed = str(event["stateEnteredEventDetails"]["name"]), False
            found.append({"at": _at(event), "state": state, "event": "entered", "error": None})
        elif kind in _FAILURES:
            failed = True
            found.append({"at": _at(event), "state": state, "event": _FAILURES[kind], "error": _error(event)})
        elif kind in _SCHEDULED and failed:
            failed = False
            found.append({"at": _at(event), "state": state, "event": "retried", "error": None})
        elif kind in _ENDS:
            found.append({"at": _at(event), "state": None, "event": _ENDS[kind], "error": _error(event)})
        elif kind.endswith("StateEntered"):   # a Choice / Pass / Succeed state: no task runs in it
            state, failed = str(event["stateEnteredEventDetails"]["name"]), False
            found.append({"at": _at(event), "state": state, "event": "passed", "error": None})
    return found
