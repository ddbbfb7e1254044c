"""The document / posting ledger: one item per canonical document id, with its posting status.

``received`` (normalized, execution started) → ``posted`` (ERP reference recorded) or ``exception``
(case opened) or ``ignored`` (posting policy says no). The item keeps the canonical document, the
source reference and the correlation id, so ``trace`` goes webhook → document → journal → ERP.

Every status change writes the document control totals in the same transaction, conditioned on the
expected previous status: a retried or replayed step finds the status already changed and counts
nothing. ``day_key`` (``<entity>#<business date>``, index ``by_day``) lets reconciliation name a
day's documents when the totals disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.control_totals import document_counter_update
from ledgerlink.store.dynamo import from_item, to_item, value
from ledgerlink.totals import CounterKey

FINAL_STATUSES = frozenset({"posted", "exception", "ignored"})
COUNTED_PARTITIONS = frozenset({"posted", "exception", "ignored", "summarized"})  # "received" is cumulative
# ("summarized": in a summary bucket, waiting for the flush; still in flight for reconciliation)


@dataclass(frozen=True, slots=True)
class Registration:
    is_new: bool
    status: str
    exception_id: str | None = None


class DocumentStateError(RuntimeError):
    """A transition from a status the caller did not expect (e.g. posting an ignored document)."""


class DynamoLedger:
    def __init__(self, table: str, *, totals_table: str, client: Any = None) -> None:
        self._table = table
        self._totals = totals_table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def _counter(self, key: CounterKey, moves: dict[str, int]) -> dict[str, Any]:
        return document_counter_update(self._totals, entity_id=key.entity_id, business_date=key.business_date,
                                       source=key.source, currency=key.currency, amount=key.amount, moves=moves)

    def register(self, record: dict[str, Any]) -> Registration:
        """Insert the document unless it exists, counting it; an existing one reports its status."""
        key = CounterKey.of(record)
        status = str(record.get("status", "received"))
        item = {**record, "registered_at": int(time.time()), "day_key": f"{key.entity_id}#{key.business_date}"}
        moves = {"received": 1, **({status: 1} if status in COUNTED_PARTITIONS else {})}
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(item),
                         "ConditionExpression": "attribute_not_exists(document_id)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                self._counter(key, moves),
            ])
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []  # type: ignore[attr-defined]
            if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
                raise
            old = from_item(reasons[0].get("Item") or {})
            return Registration(is_new=False, status=str(old.get("status", "received")),
                                exception_id=old.get("exception_id"))
        return Registration(is_new=True, status=status)

    def transition(self, document_id: str, *, to: str, expected: tuple[str, ...], key: CounterKey,
                   **attributes: Any) -> bool:
        """Move the document to ``to`` from one of ``expected`` and count it, atomically.

        Returns False when the document already is in ``to`` (a retried step: nothing counted twice).
        """
        current = expected[0]
        for _ in range(len(expected) + 1):
            present = {k: v for k, v in {"status": to, **attributes}.items() if v is not None}
            moves = {to: 1, **({current: -1} if current in COUNTED_PARTITIONS else {})}
            try:
                self.client.transact_write_items(TransactItems=[
                    {"Update": {
                        "TableName": self._table, "Key": {"document_id": value(document_id)},
                        "UpdateExpression": "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))),
                        "ConditionExpression": "#a0 = :from",
                        "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(present)},
                        "ExpressionAttributeValues": {**{f":v{i}": value(v) for i, v in enumerate(present.values())},
                                                      ":from": value(current)},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }},
                    self._counter(key, moves),
                ])
                return True
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []  # type: ignore[attr-defined]
                if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
                    raise
                actual = from_item(reasons[0].get("Item") or {}).get("status")
                if actual == to:
                    return False
                if actual not in expected:
                    raise DocumentStateError(
                        f"{document_id}: cannot move to {to} from {actual} (expected {expected})") from None
                current = actual
        raise DocumentStateError(f"{document_id}: status kept changing while moving to {to}")

    def update(self, document_id: str, **attributes: Any) -> None:
        """Attributes that are not a status change (no counters move)."""
        present = {key: val for key, val in attributes.items() if val is not None}
        if "status" in present:
            raise ValueError("status changes go through transition() so control totals stay exact")
        self.client.update_item(
            TableName=self._table, Key={"document_id": value(document_id)},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))),
            ExpressionAttributeNames={f"#a{i}": key for i, key in enumerate(present)},
            ExpressionAttributeValues={f":v{i}": value(val) for i, val in enumerate(present.values())},
            ConditionExpression="attribute_exists(document_id)",
        )

    def get(self, document_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self._table, Key={"document_id": value(document_id)},
                                        ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def on_day(self, entity_id: str, business_date: str) -> list[dict[str, Any]]:
        """The day's documents (index ``by_day``): queried only when a reconciliation needs names."""
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("query").paginate(
                TableName=self._table, IndexName="by_day", KeyConditionExpression="day_key = :d",
                ExpressionAttributeValues={":d": value(f"{entity_id}#{business_date}")}):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items

    def scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items
