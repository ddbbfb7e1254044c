"""The full trace of a document: webhook → canonical document → mapping version → journal → ERP reference,
with its exception cases and executions — what ``GET /documents/{id}`` and ``ledgerlink trace`` show."""

from __future__ import annotations

import json
from typing import Any

from ledgerlink.errors import OpsError
from ledgerlink.service.exceptions import public


def trace(document_id: str, *, ledger: Any, inbox: Any, cases: Any, workflow: Any) -> dict[str, Any]:
    item = ledger.get(document_id)
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
    }


def _execution(document_id: str, item: dict[str, Any], execution: dict[str, Any] | None) -> dict[str, Any] | None:
    """The Standard execution when the document has one (it left the happy path, or was replayed); otherwise the
    Express happy path ran it, which keeps no execution history to describe (D76): its task logs carry the
    document's correlation id."""
    if execution:
        return {"name": document_id, "workflow": "standard", "status": execution["status"]}
    if item["status"] == "ignored":
        return None
    return {"name": document_id, "workflow": "happy_path", "status": None,
            "logs": f"Express executions keep no history; search the task logs for correlation id "
                    f"{item.get('correlation_id')}"}
