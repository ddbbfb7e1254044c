"""Where a document is counted in the control totals: one key, built from either shape a document comes in.

The ledger item stores the document's counter fields flat (``entity_id``, ``accounting_date``, ``source_id``,
``currency``, ``amount`` as a canonical string); the Step Functions state carries the canonical document as JSON
(``total`` or ``amount`` a money object, ``source.source_id``) beside the execution's ``source_id``. Both go
through :meth:`CounterKey.of`, so a document is counted under the same key wherever its status changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True, slots=True)
class CounterKey:
    """Where a document is counted: its entity, business date (entity time zone), source, currency, amount."""

    entity_id: str
    business_date: str
    source: str
    currency: str
    amount: Decimal

    @classmethod
    def of(cls, record: Mapping[str, object]) -> CounterKey:
        """The key of a ledger record (flat: what normalize registers and the ledger item holds)."""
        return cls(entity_id=str(record["entity_id"]), business_date=str(record["accounting_date"]),
                   source=str(record.get("source_id") or UNKNOWN_SOURCE), currency=str(record["currency"]),
                   amount=Decimal(str(record.get("amount") or "0")))

    @classmethod
    def of_document(cls, document: Mapping[str, object], source_id: str | None = None) -> CounterKey:
        """The key of a canonical document as JSON (the workflow state's ``document``), counted under the
        execution's ``source_id`` when it has one."""
        return cls.of(counter_record(document, source_id))

    @property
    def partition(self) -> tuple[str, str, str, str]:
        """The counter item the key's deltas go to (without the shard)."""
        return (self.entity_id, self.business_date, self.source, self.currency)


def counter_record(document: Mapping[str, object], source_id: str | None = None) -> dict[str, object]:
    """The flat counter fields of a canonical document in JSON (``total`` for invoices and bills, ``amount`` for
    payments and the other single-amount documents)."""
    money = document.get("total") or document.get("amount")
    source = document.get("source")
    own_source = source.get("source_id") if isinstance(source, Mapping) else None
    return {"entity_id": document["entity_id"], "accounting_date": document["accounting_date"],
            "source_id": source_id or own_source, "currency": document["currency"],
            "amount": money.get("amount") if isinstance(money, Mapping) else None}
