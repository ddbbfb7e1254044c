"""Master data cross-references: a party as a source knows it ↔ its id in each ERP connection.

``pk = <role>#<system>#<source id>``; ``sk = announced`` when a CRM/HR event introduced the party (quote-to-
cash), ``sk = erp#<connection id>`` once it exists in that ERP (the ERP's id), ``sk = claim#<connection id>``
while one execution creates it there (a lease). Written with conditional puts: a party is created in an ERP
once, whichever execution gets there first — two bills of one new vendor in the same batch do not both create
it, because only the claim's holder calls the ERP.
"""

from __future__ import annotations

from typing import Any

from ledgerlink.clock import epoch
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.dynamo import from_item, to_item, value


def party_key(role: str, system: str, source_id: str) -> str:
    return f"{role}#{system}#{source_id}"


class DynamoParties:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def _get(self, pk: str, sk: str) -> dict[str, object] | None:
        response = self.client.get_item(TableName=self._table, Key={"pk": value(pk), "sk": value(sk)},
                                        ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def announce(self, role: str, system: str, source_id: str, *, name: str | None, announced_by: str,
                 details: dict[str, str] | None = None) -> None:
        """Record that a master-data event introduced this party (latest announcement wins)."""
        self.client.put_item(TableName=self._table, Item=to_item({
            "pk": party_key(role, system, source_id), "sk": "announced", "name": name,
            "announced_by": announced_by, "announced_at": int(epoch()),
            "details": {k: str(v) for k, v in (details or {}).items()}}))

    def announced(self, role: str, system: str, source_id: str) -> dict[str, object] | None:
        return self._get(party_key(role, system, source_id), "announced")

    def erp_id(self, role: str, system: str, source_id: str, connection_id: str) -> str | None:
        item = self._get(party_key(role, system, source_id), f"erp#{connection_id}")
        return str(item["erp_id"]) if item else None

    def claim_creation(self, role: str, system: str, source_id: str, connection_id: str, *, owner: str,
                       lease_seconds: int = 120) -> bool:
        """True when ``owner`` may create the party in the ERP now: nobody holds the claim, it is ``owner``'s own
        (a retry of the same execution), or the holder's lease ran out (it crashed mid-way)."""
        now = int(epoch())
        try:
            self.client.put_item(
                TableName=self._table, Item=to_item({
                    "pk": party_key(role, system, source_id), "sk": f"claim#{connection_id}", "owner": owner,
                    "expires_at": now + lease_seconds}),
                ConditionExpression="attribute_not_exists(sk) OR #owner = :owner OR expires_at < :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": value(owner), ":now": value(now)})
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def record_erp_id(self, role: str, system: str, source_id: str, connection_id: str, erp_id: str,
                      *, entity_id: str) -> str:
        """Keep the first ERP id recorded for the party (a concurrent execution may have won the race)."""
        try:
            self.client.put_item(TableName=self._table, Item=to_item({
                "pk": party_key(role, system, source_id), "sk": f"erp#{connection_id}", "erp_id": erp_id,
                "entity_id": entity_id, "synced_at": int(epoch())}),
                ConditionExpression="attribute_not_exists(sk)")
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return self.erp_id(role, system, source_id, connection_id) or erp_id
        return erp_id
