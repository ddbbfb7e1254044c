"""NormalizeService through the methods its ports declare: the registration transaction that carries the inbox mark,
and a replay that resumes the execution waiting on an exception case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.service.normalize import NormalizeService
from ledgerlink.store.ledger import BatchRegistration, Registration

from tests.unit.test_normalize_service import (
    FakeArchive,
    FakeConfig,
    FakeExceptions,
    FakeInbox,
    FakeLedger,
    FakeWorkflow,
    message,
)

MARK = {"Update": {"TableName": "inbox"}}


@dataclass
class TransactionalInbox(FakeInbox):
    def outcome_items(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                      reasons: list[str], day: str, now: float | None = None) -> list[dict[str, Any]]:
        return [MARK]


@dataclass
class TransactionalLedger(FakeLedger):
    transactions: list[tuple[list[str], list[dict[str, Any]]]] = field(default_factory=list)

    def register_batch(self, records: list[dict[str, Any]], *, also: Any = ()) -> BatchRegistration:
        if any(record["document_id"] in self.items for record in records):
            return BatchRegistration(complete=False)
        self.transactions.append(([record["document_id"] for record in records], list(also)))
        for record in records:
            self.items[record["document_id"]] = dict(record)
        return BatchRegistration(registered={record["document_id"]: Registration(True, record["status"])
                                             for record in records})


@dataclass
class WaitingCase(FakeExceptions):
    retried: list[str] = field(default_factory=list)

    def get(self, exception_id: str) -> dict[str, Any] | None:
        return {"exception_id": exception_id, "status": "open", "task_token": "token-1"}

    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool:
        self.retried.append(exception_id)
        return True


def test_the_documents_and_the_inbox_mark_commit_in_one_transaction(example_config: LedgerLinkConfig) -> None:
    inbox, ledger, workflow = TransactionalInbox(), TransactionalLedger(), FakeWorkflow()
    service = NormalizeService(config=FakeConfig(4, example_config), archive=FakeArchive(), inbox=inbox,
                               ledger=ledger, exceptions=FakeExceptions(), workflow=workflow)
    outcome = service.process(message("02-invoice.paid.json"))
    ((registered, also),) = ledger.transactions
    assert sorted(registered) == sorted(outcome.document_ids) and also == [MARK]
    assert inbox.outcomes == {}          # marked in the transaction: not recorded a second time
    assert sorted(workflow.executions) == sorted(outcome.document_ids)
    # a redelivery: the transaction is refused (the documents exist), so the outcome is recorded on its own
    again = service.process(message("02-invoice.paid.json"))
    assert len(ledger.transactions) == 1 and again.started == []
    assert inbox.outcomes[("stripe", message("02-invoice.paid.json")["event_id"])]["outcome"] == "normalized"


def test_a_replay_resumes_the_execution_waiting_on_its_case(example_config: LedgerLinkConfig) -> None:
    ledger, workflow, cases = FakeLedger(), FakeWorkflow(), WaitingCase()
    service = NormalizeService(config=FakeConfig(4, example_config), archive=FakeArchive(), inbox=FakeInbox(),
                               ledger=ledger, exceptions=cases, workflow=workflow)
    first = service.process(message("01-invoice.finalized.json"))
    (document_id,) = first.document_ids
    ledger.items[document_id]["status"] = "exception"
    ledger.register = lambda record: Registration(False, "exception", "exc-9")  # type: ignore[method-assign]
    replayed = service.process(message("01-invoice.finalized.json", replay=True))
    assert replayed.started == [f"{document_id} (resumed)"]
    assert workflow.executions["token-1"]["action"] == "retry" and cases.retried == ["exc-9"]
