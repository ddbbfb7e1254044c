"""Journals and ERP documents for contract tests (built through the canonical model, so they are valid)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from ledgerlink.connectors.erps.base import ErpDocument, ErpLine
from ledgerlink.model.documents import JournalEntry, JournalLine, Party, SourceRef
from ledgerlink.model.money import Money

CUSTOMER = Party(role="customer", source_id="cus_contract_1", name="Contract Customer GmbH", country="DE")
VENDOR = Party(role="vendor", source_id="ven_contract_1", name="Paper Supplies Ltd")


def journal(key: str, lines: list[tuple[str, str]], *, currency: str = "USD", on: date = date(2026, 1, 15),
            memo: str | None = None, dimensions: dict[str, str] | None = None) -> JournalEntry:
    source = SourceRef(system="contract", object_type="journal", object_id=key, version="1", event_id=f"evt_{key}")
    return JournalEntry(
        document_id=source.document_id(), source=source, entity_id="us01", correlation_id=f"corr-{key}",
        occurred_at=datetime(on.year, on.month, on.day, 12, tzinfo=UTC), accounting_date=on, currency=currency,
        memo=memo or f"contract journal {key}",
        lines=tuple(JournalLine(account=account, amount=Money.of(amount, currency), memo=f"line {i}",
                                dimensions=dimensions or {}) for i, (account, amount) in enumerate(lines)))


def document_id(key: str) -> str:
    return SourceRef(system="contract", object_type="document", object_id=key, version="1").document_id()


def erp_document(kind: str, key: str, lines: list[tuple[str, str]], *, party: Party = CUSTOMER,
                 currency: str = "USD", on: date = date(2026, 1, 15), applies_to: str | None = None,
                 account: str | None = None, total: str | None = None) -> ErpDocument:
    erp_lines = tuple(ErpLine(account=a, amount=Money.of(v, currency), description=f"line {a}") for a, v in lines)
    amount = Money.of(total, currency) if total is not None else Money.of(
        sum((Decimal(v) for _, v in lines), Decimal(0)), currency)
    return ErpDocument(kind=kind, external_id=document_id(key), entity_id="us01", party=party, date=on,  # type: ignore[arg-type]
                       currency=currency, total=amount, lines=erp_lines, number=f"INV-{key}", due_date=on,
                       memo=f"{kind} {key}", account=account, applies_to=applies_to)
