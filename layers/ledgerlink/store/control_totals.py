"""Control totals: sharded DynamoDB counters kept *in the same transaction* as the state change they
count, so they are exact under retries, redelivery and replays, and reconciliation reads O(shards)
items per day instead of scanning transactions.

Two families (table ``totals``):

- events ``pk = events#<UTC date>``, ``sk = <source>#<shard>``: received (inbox claims), processed,
  ignored, exception (normalizer outcomes). received - processed = events accepted but never normalized.
- documents ``pk = docs#<entity>#<business date>``, ``sk = <source>#<currency>#<shard>``: counts and
  amounts received / posted / exception (open) / ignored. In flight = received - posted - exception -
  ignored.

A counter item takes ~1,000 writes/s; ``SHARDS`` spreads a hot source/day over several items.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ledgerlink.model.counters import CounterKey
from ledgerlink.model.status import DocumentStatus
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.dynamo import from_item, value

SHARDS = 4
DOCUMENT_STATES = (DocumentStatus.RECEIVED.value, DocumentStatus.POSTED.value, DocumentStatus.EXCEPTION.value,
                   DocumentStatus.IGNORED.value)
EVENT_COUNTERS = ("received", "processed", "ignored", "exception")


def events_pk(utc_date: str) -> str:
    return f"events#{utc_date}"


def documents_pk(entity_id: str, business_date: str) -> str:
    return f"docs#{entity_id}#{business_date}"


def shard() -> int:
    return random.randrange(SHARDS)  # noqa: S311 - load spreading, not security


def event_counter_update(table: str, utc_date: str, source: str, **deltas: int) -> dict[str, object]:
    """A TransactWriteItems ``Update`` adding ``deltas`` to an event counter."""
    return _add(table, events_pk(utc_date), f"{source}#{shard()}", {name: Decimal(v) for name, v in deltas.items()})


def document_counter_update(table: str, *, entity_id: str, business_date: str, source: str, currency: str,
                            amount: Decimal, moves: Mapping[str, int]) -> dict[str, object]:
    """``moves`` = state → +1/-1 (e.g. ``{"posted": 1, "exception": -1}``): count and amount move together."""
    deltas: dict[str, Decimal] = {}
    for state, step in moves.items():
        deltas[f"{state}_count"] = Decimal(step)
        deltas[f"{state}_amount"] = amount * step
    return _add(table, documents_pk(entity_id, business_date), f"{source}#{currency}#{shard()}", deltas)


def merged_document_counter_updates(table: str, moves: Iterable[tuple[CounterKey, Mapping[str, int]]]
                                    ) -> list[dict[str, object]]:
    """One ``Update`` per counter item for several documents' ``(CounterKey, moves)``: DynamoDB refuses two
    operations on the same item in one transaction, so documents counted under the same (entity, business date,
    source, currency) share one shard and their deltas are summed."""
    merged: dict[tuple[str, str, str, str], dict[str, Decimal]] = {}
    for key, states in moves:
        deltas = merged.setdefault(key.partition, {})
        for state, step in states.items():
            deltas[f"{state}_count"] = deltas.get(f"{state}_count", Decimal(0)) + Decimal(step)
            deltas[f"{state}_amount"] = deltas.get(f"{state}_amount", Decimal(0)) + key.amount * step
    return [_add(table, documents_pk(entity_id, business_date), f"{source}#{currency}#{shard()}", deltas)
            for (entity_id, business_date, source, currency), deltas in merged.items()]


def _add(table: str, pk: str, sk: str, deltas: Mapping[str, Decimal]) -> dict[str, object]:
    """A ``TransactWriteItems`` ``Update`` action (the request as botocore takes it)."""
    names = {f"#c{i}": name for i, name in enumerate(deltas)}
    values = {f":c{i}": value(delta) for i, delta in enumerate(deltas.values())}
    return {"Update": {
        "TableName": table, "Key": {"pk": value(pk), "sk": value(sk)},
        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(deltas))),
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
    }}


class DynamoControlTotals:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self.table = table
        self._client = client

    @property
    def client(self) -> Any:
        """The low-level DynamoDB client (botocore: untyped)."""
        return self._client or default_client("dynamodb")

    def _query(self, pk: str) -> list[dict[str, Any]]:
        """The items of one partition (Any: deserialized DynamoDB values, read by the callers field by field)."""
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("query").paginate(
                TableName=self.table, KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": value(pk)}, ConsistentRead=True):
            items.extend(from_item(item) for item in page.get("Items", []))
        return items

    def events(self, utc_date: str) -> dict[str, dict[str, int]]:
        """source → counter → total, shards summed."""
        totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(EVENT_COUNTERS, 0))
        for item in self._query(events_pk(utc_date)):
            source = item["sk"].rsplit("#", 1)[0]
            for name in EVENT_COUNTERS:
                totals[source][name] += int(item.get(name, 0))
        return dict(totals)

    def documents(self, entity_id: str, business_date: str) -> dict[tuple[str, str], dict[str, Decimal]]:
        """(source, currency) → {state_count, state_amount, ...}, shards summed."""
        totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for item in self._query(documents_pk(entity_id, business_date)):
            source, currency, _ = item["sk"].rsplit("#", 2)
            for state in DOCUMENT_STATES:
                totals[(source, currency)][f"{state}_count"] += Decimal(str(item.get(f"{state}_count", 0)))
                totals[(source, currency)][f"{state}_amount"] += Decimal(str(item.get(f"{state}_amount", 0)))
        return {key: dict(values) for key, values in totals.items()}

    def put_summary(self, record: Mapping[str, object]) -> None:
        from ledgerlink.store.dynamo import to_item

        self.client.put_item(TableName=self.table, Item=to_item(record))

    def latest_summaries(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest reconciliation runs' summaries as stored (Any: deserialized DynamoDB values)."""
        response = self.client.query(TableName=self.table, KeyConditionExpression="pk = :pk",
                                     ExpressionAttributeValues={":pk": value("recon#runs")},
                                     ScanIndexForward=False, Limit=limit)
        return [from_item(item) for item in response.get("Items", [])]
