"""Exception cases for finance ops: reason code, message, document, correlation id, archive key,
suggested fix, status (open / retrying / resolved / ignored) and history.

Case ids are deterministic (document or event + reason), so a retried step never opens a second case.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ledgerlink.model.ids import fingerprint
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.dynamo import from_item, to_item, value


def case_id(subject: str, reason: str) -> str:
    return "exc_" + fingerprint(subject, reason)[:24]


class DynamoExceptions:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def open(self, *, subject: str, reason: str, message: str, correlation_id: str,
             document_id: str | None = None, archive_key: str | None = None, suggested_fix: str | None = None,
             entity_id: str | None = None, source: str | None = None, detail: dict[str, Any] | None = None
             ) -> tuple[str, bool]:
        """Open a case (idempotent). Returns (case id, newly opened)."""
        exception_id = case_id(subject, reason)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        item = {
            "exception_id": exception_id, "status": "open", "reason": reason, "message": message[:2000],
            "document_id": document_id, "subject": subject, "correlation_id": correlation_id,
            "archive_key": archive_key, "suggested_fix": suggested_fix, "entity_id": entity_id,
            "source": source, "detail": {k: str(v) for k, v in (detail or {}).items()},
            "opened_at": now, "updated_at": now, "opened_epoch": int(time.time()),
            "history": [{"at": now, "action": "opened", "by": "ledgerlink", "reason": reason}],
        }
        try:
            self.client.put_item(TableName=self._table, Item=to_item(item),
                                 ConditionExpression="attribute_not_exists(exception_id)")
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return exception_id, False
            raise
        return exception_id, True

    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool:
        """Close an open (or retrying) case, appending to its history. False if it was not open."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        entry = {"at": now, "action": status, "by": actor, "note": note}
        try:
            self.client.update_item(
                TableName=self._table, Key={"exception_id": value(exception_id)},
                UpdateExpression="SET #s = :status, updated_at = :now, resolved_by = :by, resolution = :note, "
                                 "history = list_append(history, :entry)",
                ConditionExpression="#s IN (:open, :retrying)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":status": value(status), ":now": value(now), ":by": value(actor),
                                           ":note": value(note), ":entry": value([entry]), ":open": value("open"),
                                           ":retrying": value("retrying")})
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, exception_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self._table, Key={"exception_id": value(exception_id)},
                                        ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def list(self, status: str | None = "open") -> list[dict[str, Any]]:
        if status:
            items: list[dict[str, Any]] = []
            paginator = self.client.get_paginator("query")
            for page in paginator.paginate(TableName=self._table, IndexName="by_status",
                                           KeyConditionExpression="#s = :s",
                                           ExpressionAttributeNames={"#s": "status"},
                                           ExpressionAttributeValues={":s": value(status)}):
                items.extend(from_item(item) for item in page.get("Items", []))
            return items
        items = []
        for page in self.client.get_paginator("scan").paginate(TableName=self._table):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items
