"""Where a document is counted in the control totals (pure: used by services and the ledger adapter)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class CounterKey:
    """Where a document is counted: its entity, business date (entity time zone), source, currency, amount."""

    entity_id: str
    business_date: str
    source: str
    currency: str
    amount: Decimal

    @classmethod
    def of(cls, record: dict[str, Any]) -> CounterKey:
        return cls(entity_id=str(record["entity_id"]), business_date=str(record["accounting_date"]),
                   source=str(record.get("source_id") or "unknown"), currency=str(record["currency"]),
                   amount=Decimal(str(record.get("amount") or "0")))
