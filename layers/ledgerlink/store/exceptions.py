"""Exception cases for finance ops: reason code, message, document, correlation id, archive key,
suggested fix, status (open / retrying / resolved / ignored / rejected), assignee and history.

Case ids are deterministic (document or event + reason), so a retried step never opens a second case. Every
change is one conditional update that appends its history entry: a case is claimed (open → retrying) by exactly
one of two people acting on it at once, and only the claim's holder resumes the waiting execution.
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

SYSTEM_ACTOR = "ledgerlink"         # who LedgerLink's own closings are by (posted, superseded)
SUPERSEDED = "superseded by "       # the note of a case a later case of the same document superseded


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
        """Reopen an open or retrying case, or one LedgerLink closed as superseded by a later case of the document
        (the document failed the same way again: the case is its live problem, and the execution waits on it).
        Cases finance ops closed stay closed. The approval of an earlier round is dropped (history keeps it)."""
        sets = ("SET #s = :open, message = :message, updated_at = :now, history = list_append(history, :entry)")
        values: dict[str, object] = {":open": value("open"), ":message": value(message[:2000]), ":now": value(now),
                                     ":entry": value([{"at": now, "action": "reopened", "by": "ledgerlink"}]),
                                     ":retrying": value("retrying"), ":resolved": value("resolved"),
                                     ":ledgerlink": value(SYSTEM_ACTOR), ":superseded": value(SUPERSEDED)}
        if task_token:
            sets += ", task_token = :token"
            values[":token"] = value(task_token)
        try:
            self.client.update_item(
                TableName=self._table, Key={"exception_id": value(exception_id)},
                UpdateExpression=sets + " REMOVE approval, resolved_by, resolution",
                ConditionExpression="#s IN (:open, :retrying) OR (#s = :resolved AND resolved_by = :ledgerlink "
                                    "AND begins_with(resolution, :superseded))",
                ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # closed cases stay closed
                raise

    def _update(self, exception_id: str, **request: object) -> bool:
        """One conditional update of the case; False when its condition did not hold."""
        try:
            self.client.update_item(TableName=self._table, Key={"exception_id": value(exception_id)}, **request)
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool:
        """open → retrying (the case is being worked); False if it was not open."""
        return self.claim(exception_id, actor=actor, action="retry", note=note)

    def claim(self, exception_id: str, *, actor: str, action: str, note: str, task_token: str | None = None,
              approval: Mapping[str, object] | None = None) -> bool:
        """open → retrying, taking the case's task token away (whoever claimed it resumes the execution, once).
        With ``task_token``, only while the case still waits on that token (not reopened since it was read).
        ``approval`` is kept on the case (an approved ``approval_required`` case). False: not claimed."""
        now = clock_now().isoformat(timespec="seconds")
        entry: dict[str, object] = {"at": now, "action": action, "by": actor, "note": note}
        values: dict[str, object] = {":retrying": value("retrying"), ":now": value(now), ":open": value("open")}
        condition = "#s = :open"
        sets = "SET #s = :retrying, updated_at = :now, history = list_append(history, :entry)"
        if task_token is not None:
            condition += " AND task_token = :token"
            values[":token"] = value(task_token)
        if approval is not None:
            sets += ", approval = :approval"
            values[":approval"] = value(dict(approval))
            entry["amounts"] = approval.get("amounts")
        values[":entry"] = value([entry])
        return self._update(exception_id, UpdateExpression=sets + " REMOVE task_token", ConditionExpression=condition,
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)

    def release(self, exception_id: str, *, task_token: str | None, actor: str, note: str) -> bool:
        """Undo a claim whose resume failed (retrying → open, its task token back): the case waits again."""
        now = clock_now().isoformat(timespec="seconds")
        sets = "SET #s = :open, updated_at = :now, history = list_append(history, :entry)"
        values: dict[str, object] = {":retrying": value("retrying"), ":now": value(now), ":open": value("open"),
                                     ":entry": value([{"at": now, "action": "released", "by": actor, "note": note}])}
        if task_token is not None:
            sets += ", task_token = :token"
            values[":token"] = value(task_token)
        return self._update(exception_id, UpdateExpression=sets + " REMOVE approval", ConditionExpression="#s = :retrying",
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)

    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str,
                expected: tuple[str, ...] = ("open", "retrying")) -> bool:
        """Close a case that is in one of ``expected`` (open or retrying), appending to its history. False if it
        was not."""
        now = clock_now().isoformat(timespec="seconds")
        entry = {"at": now, "action": status, "by": actor, "note": note}
        names = {f":from{i}": value(state) for i, state in enumerate(expected)}
        return self._update(
            exception_id,
            UpdateExpression="SET #s = :status, updated_at = :now, resolved_by = :by, resolution = :note, "
                             "history = list_append(history, :entry)",
            ConditionExpression=f"#s IN ({', '.join(names)})", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":status": value(status), ":now": value(now), ":by": value(actor),
                                       ":note": value(note), ":entry": value([entry]), **names})

    def assign(self, exception_id: str, *, actor: str, assignee: str,
               expected: tuple[str, ...] = ("open", "retrying")) -> bool:
        """Set the case's ``assignee`` ("" removes it), while it is in one of ``expected``. False otherwise."""
        now = clock_now().isoformat(timespec="seconds")
        entry = {"at": now, "action": "assign" if assignee else "unassign", "by": actor, "assignee": assignee}
        names = {f":from{i}": value(state) for i, state in enumerate(expected)}
        values: dict[str, object] = {":now": value(now), ":entry": value([entry]), **names}
        sets = "SET updated_at = :now, history = list_append(history, :entry)"
        if assignee:
            sets += ", assignee = :assignee"
            values[":assignee"] = value(assignee)
        else:
            sets += " REMOVE assignee"
        return self._update(exception_id, UpdateExpression=sets, ConditionExpression=f"#s IN ({', '.join(names)})",
                            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues=values)

    def add_note(self, exception_id: str, *, actor: str, note: str) -> bool:
        """Append a note to the case's history (any status). False when there is no such case."""
        now = clock_now().isoformat(timespec="seconds")
        return self._update(
            exception_id, UpdateExpression="SET updated_at = :now, history = list_append(history, :entry)",
            ConditionExpression="attribute_exists(exception_id)",
            ExpressionAttributeValues={":now": value(now),
                                       ":entry": value([{"at": now, "action": "note", "by": actor, "note": note}])})

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
