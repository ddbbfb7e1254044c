"""In-memory stores for the console's services (search, timeline, replay dry run), holding items as the DynamoDB
stores return them, with a log of the calls so a test can say what was read and how."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from ledgerlink.model.documents import Document, Invoice, InvoiceLine, Party, SourceRef
from ledgerlink.model.money import Money
from ledgerlink.service.normalize import ledger_record
from ledgerlink.store.tables import LEDGER_LOOKUPS


def invoice(object_id: str, total: str, *, currency: str = "USD", on: date = date(2024, 3, 15),
            party: Party | None = None, event_id: str | None = None, entity_id: str = "us01") -> Invoice:
    source = SourceRef(system="stripe", object_type="invoice", object_id=object_id, version="finalized",
                       event_id=event_id or f"evt_{object_id}", source_id="stripe",
                       archive_key=f"raw/stripe/2024/03/15/{event_id or 'evt_' + object_id}.json")
    return Invoice(document_id=source.document_id(), source=source, entity_id=entity_id,
                   correlation_id=f"corr-{object_id}", occurred_at=datetime(on.year, on.month, on.day, 12, tzinfo=UTC),
                   accounting_date=on, currency=currency,
                   party=party or Party(role="customer", source_id=f"cus_{object_id}"),
                   lines=(InvoiceLine(line_id="il_1", amount=Money.of(total, currency)),),
                   total=Money.of(total, currency))


def item(document: Document, *, status: str = "received", config_version: int = 1, **stored: object
         ) -> dict[str, Any]:
    """The ledger item normalize registers for ``document`` (with the external id the store adds), plus ``stored``."""
    record = {key: value for key, value in ledger_record(document, status=status, config_version=config_version).items()
              if value is not None}
    return {**record, "external_id": document.source.object_id, "registered_at": 1_710_500_000, **stored}


class FakeLedger:
    def __init__(self, items: Sequence[Mapping[str, Any]] = ()) -> None:
        self.items = {str(entry["document_id"]): dict(entry) for entry in items}
        self.calls: list[str] = []

    def get(self, document_id: str) -> dict[str, Any] | None:
        self.calls.append("get")
        return self.items.get(document_id)

    def find(self, kind: str, reference: str) -> list[str]:
        self.calls.append(f"find:{kind}")
        attribute = LEDGER_LOOKUPS[kind]
        return sorted(key for key, stored in self.items.items() if stored.get(attribute) == reference)

    def scan_projected(self, attributes: Sequence[str]) -> Iterator[dict[str, Any]]:
        self.calls.append("scan")
        for stored in self.items.values():
            yield {name: stored[name] for name in attributes if name in stored}


class FakeInbox:
    def __init__(self, claims: Sequence[Mapping[str, object]] = ()) -> None:
        self.claims = {f"{claim['source']}#{claim['event_id']}": dict(claim) for claim in claims}
        self.calls: list[str] = []

    def get(self, source: str, event_id: str) -> dict[str, object] | None:
        self.calls.append(f"{source}#{event_id}")
        return self.claims.get(f"{source}#{event_id}")


class FakeCases:
    def __init__(self, cases: Sequence[Mapping[str, Any]] = ()) -> None:
        self.cases = [dict(case) for case in cases]
        self.calls: list[str] = []

    def for_document(self, document_id: str) -> list[dict[str, Any]]:
        self.calls.append("for_document")
        return [case for case in self.cases if case.get("document_id") == document_id]

    def referencing(self, reference: str) -> list[dict[str, Any]]:
        self.calls.append("referencing")
        return [case for case in self.cases if reference in (case.get("document_id"), case.get("correlation_id"))
                or str(case.get("subject", "")).endswith(f"#{reference}")]


class FakeWorkflow:
    def __init__(self, executions: Mapping[str, Mapping[str, Any]] | None = None,
                 histories: Mapping[str, list[dict[str, Any]]] | None = None) -> None:
        self.executions = dict(executions or {})
        self.histories = dict(histories or {})

    def describe(self, name: str) -> Mapping[str, Any] | None:
        return self.executions.get(name)

    def history(self, name: str) -> list[dict[str, Any]]:
        return self.histories.get(name, [])
