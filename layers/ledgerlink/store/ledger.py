"""The document / posting ledger: one item per canonical document id, with its posting status.

``received`` (normalized, execution started) → ``posted`` (ERP reference recorded) or ``exception``
(case opened) or ``ignored`` (posting policy says no). The item keeps the canonical document, the
source reference and the correlation id, so ``trace`` goes webhook → document → journal → ERP.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.dynamo import from_item, to_item, value

FINAL_STATUSES = frozenset({"posted", "exception", "ignored"})


@dataclass(frozen=True, slots=True)
class Registration:
    is_new: bool
    status: str


class DynamoLedger:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def register(self, record: dict[str, Any]) -> Registration:
        """Insert the document unless it exists; an existing one reports its status (no extra read)."""
        item = {**record, "registered_at": int(time.time())}
        try:
            self.client.put_item(TableName=self._table, Item=to_item(item),
                                 ConditionExpression="attribute_not_exists(document_id)",
                                 ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            old = from_item(getattr(exc, "response", {}).get("Item") or {})
            return Registration(is_new=False, status=str(old.get("status", "received")))
        return Registration(is_new=True, status=str(record.get("status", "received")))

    def update(self, document_id: str, **attributes: Any) -> None:
        present = {key: val for key, val in attributes.items() if val is not None}
        self.client.update_item(
            TableName=self._table, Key={"document_id": value(document_id)},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))),
            ExpressionAttributeNames={f"#a{i}": key for i, key in enumerate(present)},
            ExpressionAttributeValues={f":v{i}": value(val) for i, val in enumerate(present.values())},
            ConditionExpression="attribute_exists(document_id)",
        )

    def mark_summarized(self, document_id: str, **attributes: Any) -> bool:
        """Record that the document is in a summary bucket — unless the flush already posted the bucket and
        marked the document posted (the record step and the flush may race). False if it was too late."""
        present = {key: val for key, val in attributes.items() if val is not None}
        try:
            self.client.update_item(
                TableName=self._table, Key={"document_id": value(document_id)},
                UpdateExpression="SET #s = :summarized, " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))),
                ExpressionAttributeNames={"#s": "status", **{f"#a{i}": key for i, key in enumerate(present)}},
                ExpressionAttributeValues={":summarized": value("summarized"), ":received": value("received"),
                                           **{f":v{i}": value(val) for i, val in enumerate(present.values())}},
                ConditionExpression="attribute_exists(document_id) AND (#s = :received OR #s = :summarized)",
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def get(self, document_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self._table, Key={"document_id": value(document_id)},
                                        ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items
