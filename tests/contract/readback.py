"""Shared pieces of the read-back contract tests (issue 19): a configuration whose entity ``us01`` posts to the
connection under test, ledger items as the post step records them, and a Reconciler over them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml

from ledgerlink.config.loader import parse_config_text
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.model.documents import JournalEntry
from ledgerlink.service.reconcile import EntityReport, Reconciler

from tests.conftest import EXAMPLE_CONFIG

ENTITY = "us01"


def config_for(connection: dict[str, Any], accounts: dict[str, str]) -> LedgerLinkConfig:
    """The example configuration with ``us01`` on ``connection`` and mapped to ``accounts`` (the accounts
    LedgerLink owns in that ERP)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["erp_connections"].append(connection)
    data["entities"][0]["erp_connection"] = connection["id"]
    data["account_mappings"] = [{"entity": ENTITY, "source": "stripe", "accounts": accounts}] + [
        mapping for mapping in data["account_mappings"] if mapping["entity"] != ENTITY]
    data.pop("revenue_recognition", None)
    return parse_config_text(yaml.safe_dump(data), origin="readback-contract")


def posted_item(journal: JournalEntry, erp_ref: str, connection_id: str) -> dict[str, Any]:
    """The ledger item of a posted journal, with what ``record_posting`` keeps of it."""
    return {"document_id": journal.document_id, "status": "posted", "erp_connection": connection_id,
            "erp_ref": erp_ref, "journal": journal.model_dump_json(), "source_id": "stripe",
            "posted_accounting_date": journal.accounting_date.isoformat(), "correlation_id": journal.correlation_id,
            "day_key": f"{journal.entity_id}#{journal.accounting_date.isoformat()}"}


class Totals:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def events(self, day: str) -> dict[str, Any]:
        return {}

    def documents(self, entity_id: str, day: str) -> dict[tuple[str, str], dict[str, Decimal]]:
        count = Decimal(len(self.items))
        return {("stripe", "USD"): {"received_count": count, "posted_count": count}} if self.items else {}

    def put_summary(self, record: dict[str, Any]) -> None:
        return None


class Ledger:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def on_day(self, entity_id: str, day: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["day_key"] == f"{entity_id}#{day}"]

    def get(self, document_id: str) -> dict[str, Any] | None:
        return next((item for item in self.items if item["document_id"] == document_id), None)


class Reports:
    def __init__(self) -> None:
        self.put_keys: list[str] = []

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.put_keys.append(key)


class Events:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.published.append((detail_type, detail))


def reconcile(config: LedgerLinkConfig, connector: Any, items: list[dict[str, Any]], day: str,
              events: Events | None = None) -> EntityReport:
    reconciler = Reconciler(config=lambda: (1, config), totals=Totals(items), inbox=None, ledger=Ledger(items),
                            connectors=lambda cfg, connection_id, version: connector, reports=Reports(),
                            events=events or Events())
    return reconciler.run(day, [ENTITY]).entities[0]


def kinds(report: EntityReport) -> list[tuple[str, str | None]]:
    return sorted((d.kind, d.detail.get("reason")) for d in report.differences)
