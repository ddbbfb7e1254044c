"""The webhook inbox: one item per ``(source, event id)``, claimed with a conditional write.

States: ``pending`` (claimed by ingest, archived and enqueued or about to be) → ``processed`` (the
normalizer recorded its outcome). A repeat delivery of a claimed event is a duplicate. A ``pending``
claim older than the lease may be taken over, so a crash between claim and enqueue cannot lose an
event: the provider's retry (it got no 2xx) re-runs the whole ingest. Downstream dedupes by document id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.dynamo import from_item, to_item, value


@dataclass(frozen=True, slots=True)
class Claim:
    is_new: bool
    archive_key: str
    correlation_id: str
    status: str


def inbox_key(source: str, event_id: str) -> str:
    return f"{source}#{event_id}"


class DynamoInbox:
    def __init__(self, table: str, *, retention_days: int = 35, lease_seconds: int = 120,
                 client: Any = None) -> None:
        self._table = table
        self._retention = retention_days * 86_400
        self._lease = lease_seconds
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def claim(self, source: str, event_id: str, *, correlation_id: str, archive_key: str,
              event_type: str, now: float | None = None) -> Claim:
        now = time.time() if now is None else now
        item = {
            "pk": inbox_key(source, event_id), "source": source, "event_id": event_id, "event_type": event_type,
            "status": "pending", "claimed_at": int(now), "correlation_id": correlation_id,
            "archive_key": archive_key, "expires_at": int(now) + self._retention,
        }
        try:
            self.client.put_item(
                TableName=self._table, Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk) OR (#s = :pending AND claimed_at < :stale)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": value("pending"), ":stale": value(int(now) - self._lease)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = from_item(getattr(exc, "response", {}).get("Item") or {})
            return Claim(is_new=False, archive_key=old.get("archive_key", archive_key),
                         correlation_id=old.get("correlation_id", correlation_id), status=old.get("status", "?"))
        return Claim(is_new=True, archive_key=archive_key, correlation_id=correlation_id, status="pending")

    def record_outcome(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                       reasons: list[str], now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.client.update_item(
            TableName=self._table, Key={"pk": value(inbox_key(source, event_id))},
            UpdateExpression="SET #s = :processed, outcome = :outcome, document_ids = :docs, reasons = :reasons, "
                             "processed_at = :now",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":processed": value("processed"), ":outcome": value(outcome),
                                       ":docs": value(document_ids), ":reasons": value(reasons),
                                       ":now": value(int(now))},
        )

    def get(self, source: str, event_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self._table, Key={"pk": value(inbox_key(source, event_id))},
                                        ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def scan(self) -> list[dict[str, Any]]:
        """All items (local runtime / CLI summaries only — never on a hot path)."""
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items
