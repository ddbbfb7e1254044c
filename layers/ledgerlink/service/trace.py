"""The full trace of a document: webhook → canonical document → mapping version → journal → ERP reference,
with its exception cases and executions — what ``GET /documents/{id}`` and ``ledgerlink trace`` show.

:func:`resolve` finds the documents behind any id an operator holds: a document id, the event id or correlation
id of the 202 a provider got, the provider's object id (external id: ``in_...``, a pspReference) or the ERP's
reference of the posting — each through the ledger's keys-only index of that attribute (``by_event_id``,
``by_correlation_id``, ``by_external_id``, ``by_erp_ref``), never a scan."""

from __future__ import annotations

import json
from collections.abc import Mapping
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


class Execution(TypedDict, total=False):
    name: str
    workflow: str                   # standard | happy_path
    status: str | None
    logs: str


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


def trace(document_id: str, *, ledger: Any, inbox: Any, cases: Any, workflow: Any) -> Trace:
    item: Mapping[str, Any] | None = ledger.get(document_id)   # Any: the item as DynamoDB returns it, shown as is
    if item is None:
        raise OpsError(f"no document {document_id}", status=404, reason="not_found")
    document = json.loads(item["document"]) if isinstance(item.get("document"), str) else item.get("document")
    journal = json.loads(item["journal"]) if isinstance(item.get("journal"), str) else None
    claim = inbox.get(item["source_id"], item["event_id"]) if item.get("event_id") and item.get("source_id") else None
    execution = workflow.describe(document_id)
    return {
        "document_id": document_id,
        "status": item["status"],
        "webhook": {"source": item.get("source_id"), "event_id": item.get("event_id"),
                    "correlation_id": item.get("correlation_id"), "archive_key": item.get("archive_key"),
                    "received_at": (claim or {}).get("claimed_at"), "inbox": (claim or {}).get("outcome")},
        "document": document,
        "mapping": {"config_version": item.get("config_version")},
        "journal": journal,
        "erp": {"connection": item.get("erp_connection"), "reference": item.get("erp_ref"),
                "posted_at": item.get("posted_at"), "accounting_date": item.get("posted_accounting_date"),
                "period_adjusted": item.get("period_adjusted")},
        "exceptions": [public(case) for case in cases.for_document(document_id)],
        "execution": _execution(document_id, item, execution),
        "ignored_reason": item.get("ignored_reason"),
        "approval": item.get("approval"),
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
