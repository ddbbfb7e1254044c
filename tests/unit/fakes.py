"""In-memory stand-ins for the master-data step's ports (the parties table, an ERP connector, the config store)."""

from __future__ import annotations

from typing import Any

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.model.documents import Party


class FakeParties:
    """The parties table: cross-references per connection, announcements from CRM events."""

    def __init__(self) -> None:
        self.erp: dict[tuple[str, str, str, str], str] = {}
        self.announcements: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.claims: dict[tuple[str, str, str, str], str] = {}

    def announced(self, role: str, system: str, source_id: str) -> dict[str, Any] | None:
        return self.announcements.get((role, system, source_id))

    def erp_id(self, role: str, system: str, source_id: str, connection_id: str) -> str | None:
        return self.erp.get((role, system, source_id, connection_id))

    def record_erp_id(self, role: str, system: str, source_id: str, connection_id: str, erp_id: str, *,
                      entity_id: str) -> str:
        return self.erp.setdefault((role, system, source_id, connection_id), erp_id)

    def claim_creation(self, role: str, system: str, source_id: str, connection_id: str, *, owner: str) -> bool:
        return self.claims.setdefault((role, system, source_id, connection_id), owner) == owner


class FakeErp:
    def __init__(self) -> None:
        self.created: list[Party] = []

    def as_party_keeper(self) -> FakeErp:
        return self

    def ensure_party(self, party: Party) -> str:
        self.created.append(party)
        return f"V-{len(self.created)}"


class Configs:
    def __init__(self, config: LedgerLinkConfig) -> None:
        self.config = config

    def get(self, version: int) -> LedgerLinkConfig:
        return self.config
