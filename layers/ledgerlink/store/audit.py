"""The audit trail: append-only (conditional puts, never updates or deletes), one item per action.

``pk = audit#<UTC date>``, ``sk = <ISO timestamp>#<uuid>``; who (IAM principal or local user), what
action, on what, with which parameters, and the correlation id when there is one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from ledgerlink.clock import now as clock_now
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.dynamo import from_item, to_item, value


class DynamoAudit:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def record(self, action: str, *, actor: str, subject: str, detail: Mapping[str, object] | None = None,
               correlation_id: str | None = None) -> dict[str, object]:
        now = clock_now()
        item: dict[str, object] = {"pk": f"audit#{now.date().isoformat()}", "sk": f"{now.isoformat(timespec='microseconds')}#{uuid.uuid4()}",
                "action": action, "actor": actor, "subject": subject, "at": now.isoformat(timespec="seconds"),
                "detail": {k: str(v) for k, v in (detail or {}).items()}, "correlation_id": correlation_id}
        self.client.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="attribute_not_exists(sk)")
        return item

    def on(self, day: str) -> list[dict[str, object]]:
        response = self.client.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                     ExpressionAttributeValues={":pk": value(f"audit#{day}")})
        return [from_item(item) for item in response.get("Items", [])]
