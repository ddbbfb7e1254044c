"""High-water marks of polled sources: one item per source (table ``cursors``).

``position`` is an ISO string (an approval date), so string order is time order. :meth:`advance` only moves it
forward, with a conditional write, so two overlapping poll runs (a scheduler retry and the next schedule) can
never move it back; the poll service calls it only after everything the new position covers is claimed in the
inbox and enqueued.
"""

from __future__ import annotations

from typing import Any

from ledgerlink.clock import epoch
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import conditional
from ledgerlink.store.dynamo import from_item, to_item, value


class DynamoCursors:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def get(self, source: str) -> str | None:
        response = self.client.get_item(TableName=self._table, Key={"source": value(source)}, ConsistentRead=True)
        item = from_item(response["Item"]) if "Item" in response else {}
        position = item.get("position")
        return str(position) if position else None

    def advance(self, source: str, position: str, *, correlation_id: str, now: float | None = None) -> bool:
        """Move the mark to ``position`` unless it is already there or beyond. True when it moved."""
        item = {"source": source, "position": position, "updated_at": int(epoch() if now is None else now),
                "correlation_id": correlation_id}
        return conditional(self.client.put_item, TableName=self._table, Item=to_item(item),
                           ConditionExpression="attribute_not_exists(#p) OR #p < :position",
                           ExpressionAttributeNames={"#p": "position"},
                           ExpressionAttributeValues={":position": value(position)})
