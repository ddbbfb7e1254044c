"""Exception cases for finance ops: reason code, message, document, correlation id, archive key,
suggested fix, status (open / retrying / resolved / ignored) and history.

Case ids are deterministic (document or event + reason), so a retried step never opens a second case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerlink.clock import epoch
from ledgerlink.clock import now as clock_now
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
        """The low-level DynamoDB client (botocore: untyped)."""
        return self._client or default_client("dynamodb")

    def open(self, *, subject: str, reason: str, message: str, correlation_id: str,
             document_id: str | None = None, archive_key: str | None = None, suggested_fix: str | None = None,
             entity_id: str | None = None, source: str | None = None, detail: Mapping[str, object] | None = None,
             task_token: str | None = None) -> tuple[str, bool]:
        """Open a case (idempotent). Returns (case id, newly opened).

        A case that already exists for the same subject and reason (a retry failed the same way) is
        reopened with the new task token and a history entry, instead of a second case."""
        exception_id = case_id(subject, reason)
        now = clock_now().isoformat(timespec="seconds")
        item: dict[str, object] = {
            "exception_id": exception_id, "status": "open", "reason": reason, "message": message[:2000],
            "document_id": document_id, "subject": subject, "correlation_id": correlation_id,
            "archive_key": archive_key, "suggested_fix": suggested_fix, "entity_id": entity_id,
            "source": source, "detail": {k: str(v) for k, v in (detail or {}).items()},
            "opened_at": now, "updated_at": now, "opened_epoch": int(epoch()),
            "history": [{"at": now, "action": "opened", "by": "ledgerlink", "reason": reason}],
            "task_token": task_token,
        }
        try:
            self.client.put_item(TableName=self._table, Item=to_item(item),
                                 ConditionExpression="attribute_not_exists(exception_id)")
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            self._reopen(exception_id, message=message, task_token=task_token, now=now)
            return exception_id, False
        return exception_id, True

    def _reopen(self, exception_id: str, *, message: str, task_token: str | None, now: str) -> None:
        sets = "SET #s = :open, message = :message, updated_at = :now, history = list_append(history, :entry)"
        values: dict[str, object] = {":open": value("open"), ":message": value(message[:2000]), ":now": value(now),
                                  ":entry": value([{"at": now, "action": "reopened", "by": "ledgerlink"}]),
                                  ":retrying": value("retrying")}
        if task_token:
            sets += ", task_token = :token"
            values[":token"] = value(task_token)
        try:
            self.client.update_item(
                TableName=self._table, Key={"exception_id": value(exception_id)}, UpdateExpression=sets,
                ConditionExpression="#s IN (:open, :retrying)", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values)
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # closed cases stay closed
                raise

    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool:
        """open → retrying (the case is being worked); False if it was not open."""
        now = clock_now().isoformat(timespec="seconds")
        try:
            self.client.update_item(
                TableName=self._table, Key={"exception_id": value(exception_id)},
                UpdateExpression="SET #s = :retrying, updated_at = :now, history = list_append(history, :entry) "
                                 "REMOVE task_token",
                ConditionExpression="#s = :open", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":retrying": value("retrying"), ":now": value(now), ":open": value("open"),
                                           ":entry": value([{"at": now, "action": "retry", "by": actor, "note": note}])})
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool:
        """Close an open (or retrying) case, appending to its history. False if it was not open."""
        now = clock_now().isoformat(timespec="seconds")
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

    # Readers answer the case as stored (the ops API shows it as is). Any: deserialized DynamoDB values.

    def get(self, exception_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self._table, Key={"exception_id": value(exception_id)},
                                        ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def for_document(self, document_id: str) -> list[dict[str, Any]]:
        """Cases of one document, oldest first (index ``by_document``)."""
        response = self.client.query(TableName=self._table, IndexName="by_document",
                                     KeyConditionExpression="document_id = :d",
                                     ExpressionAttributeValues={":d": value(document_id)})
        return [from_item(item) for item in response.get("Items", [])]

    def referencing(self, reference: str) -> list[dict[str, Any]]:
        """Cases whose document id or correlation id is ``reference``, or whose subject names it (an event's case:
        ``<source>#<event id>``), oldest first: a filtered scan (the console's search by id; no index holds the
        correlation id or the event id of a case)."""
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(
                TableName=self._table,
                FilterExpression="document_id = :r OR correlation_id = :r OR subject = :r OR contains(subject, :e)",
                ExpressionAttributeValues={":r": value(reference), ":e": value(f"#{reference}")}):
            items.extend(from_item(item) for item in page.get("Items", []))
        found = [item for item in items if reference in (item.get("document_id"), item.get("correlation_id"),
                                                         item.get("subject"))
                 or str(item.get("subject", "")).endswith(f"#{reference}")]
        return sorted(found, key=lambda item: str(item.get("opened_at", "")))

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
