"""NormalizeService with small typed fakes: ledger registration, one execution per new document, exceptions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.model.documents import DocumentAdapter
from ledgerlink.service.normalize import InvalidMessage, NormalizeService, parse_message
from ledgerlink.store.ledger import FINAL_STATUSES, BatchRegistration, Registration

from tests.conftest import EVENTS, contract_json

ARCHIVE_KEY = "raw/stripe/2022/03/26/evt.json"


# ---- fakes ------------------------------------------------------------------------------------------

@dataclass
class FakeConfig:
    version: int
    config: LedgerLinkConfig

    def active(self) -> tuple[int, LedgerLinkConfig]:
        return self.version, self.config


@dataclass
class FakeArchive:
    objects: dict[str, bytes] = field(default_factory=dict)

    def get(self, key: str) -> bytes:
        return self.objects[key]


@dataclass
class FakeInbox:
    outcomes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def record_outcome(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                       reasons: list[str], day: str, now: float | None = None) -> bool:
        self.outcomes[(source, event_id)] = {"outcome": outcome, "document_ids": document_ids, "reasons": reasons,
                                             "day": day}
        return True

    def outcome_items(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                      reasons: list[str], day: str, now: float | None = None) -> list[dict[str, Any]]:
        return []   # no transaction to join: the outcome is recorded on its own (record_outcome)

    def note_failure(self, source: str, event_id: str, *, error_type: str, at: str, when: float) -> bool:
        return False


@dataclass
class FakeLedger:
    """Conditional insert by document id, like DynamoLedger.register."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def register(self, record: dict[str, Any]) -> Registration:
        existing = self.items.get(record["document_id"])
        if existing:
            return Registration(is_new=False, status=existing["status"])
        self.items[record["document_id"]] = dict(record)
        return Registration(is_new=True, status=record["status"])

    def register_batch(self, records: list[dict[str, Any]], *, also: Any = ()) -> BatchRegistration:
        return BatchRegistration(complete=False)   # no transactions: each document is registered on its own

    def get(self, document_id: str) -> dict[str, Any] | None:
        return self.items.get(document_id)

    def claim_receivable(self, invoice_id: str, claimant_id: str, amount: Any, *,
                         cap_to_open: bool = False) -> Any:
        return None   # no receivables subledger: nothing is claimed

    def mark(self, status: str) -> None:
        for item in self.items.values():
            item["status"] = status


@dataclass
class FakeExceptions:
    opened: list[dict[str, Any]] = field(default_factory=list)

    def open(self, **kwargs: Any) -> tuple[str, bool]:
        self.opened.append(kwargs)
        return f"exc-{len(self.opened)}", True

    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool:
        return True

    def get(self, exception_id: str) -> dict[str, Any] | None:
        return None

    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool:
        return False


@dataclass
class FakeWorkflow:
    """Executions are named; starting an existing name is a no-op (ExecutionAlreadyExists)."""

    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempts: int = 0

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        self.attempts += 1
        if name in self.executions:
            return False
        self.executions[name] = payload
        return True

    def start_document(self, document_id: str, payload: dict[str, Any]) -> bool:
        return self.start(document_id, payload)

    def send_task_success(self, task_token: str, output: dict[str, Any]) -> None:
        self.executions[task_token] = output


class ExplodingLedger(FakeLedger):
    def register(self, record: dict[str, Any]) -> Registration:
        raise ConnectionError("DynamoDB throttled")


@dataclass
class Harness:
    service: NormalizeService
    archive: FakeArchive
    inbox: FakeInbox
    ledger: FakeLedger
    exceptions: FakeExceptions
    workflow: FakeWorkflow


def build(config: LedgerLinkConfig, version: int = 4, ledger: Any = None) -> Harness:
    archive, inbox, exceptions, workflow = FakeArchive(), FakeInbox(), FakeExceptions(), FakeWorkflow()
    ledger = ledger or FakeLedger()
    service = NormalizeService(config=FakeConfig(version, config), archive=archive, inbox=inbox, ledger=ledger,
                               exceptions=exceptions, workflow=workflow)
    return Harness(service, archive, inbox, ledger, exceptions, workflow)


@pytest.fixture
def harness(example_config: LedgerLinkConfig) -> Harness:
    return build(example_config)


def message(name: str, *, body: bytes | None = None, inline: bool = True, **extra: Any) -> dict[str, Any]:
    raw = body if body is not None else (EVENTS / "stripe" / name).read_bytes()
    event = json.loads(raw) if body is None else {"id": "evt_broken", "type": "invoice.paid"}
    msg: dict[str, Any] = {"v": 1, "source": "stripe", "kind": "stripe", "event_id": event["id"],
                           "event_type": event["type"], "correlation_id": f"corr-{name[:2]}",
                           "archive_key": ARCHIVE_KEY, "received_at": 1648320015, **extra}
    if inline:
        msg["body"] = raw.decode("utf-8")
    return msg


def with_change(config: LedgerLinkConfig, key: str, value: Any) -> LedgerLinkConfig:
    data = config.model_dump(mode="json")
    data[key] = value
    return LedgerLinkConfig.model_validate(data)


# ---- new documents -----------------------------------------------------------------------------------

def test_each_new_document_is_registered_and_started_once(harness: Harness) -> None:
    # Given invoice.paid (an invoice and its payment)
    msg = message("02-invoice.paid.json")
    # When the message is processed
    outcome = harness.service.process(msg)
    # Then both documents are in the ledger as received, each with one execution named by its id
    assert outcome.outcome == "normalized"
    assert len(outcome.document_ids) == 2
    assert sorted(outcome.started) == sorted(outcome.document_ids)
    assert sorted(harness.workflow.executions) == sorted(outcome.document_ids)
    for document_id in outcome.document_ids:
        item = harness.ledger.items[document_id]
        assert item["status"] == "received"
        assert item["config_version"] == 4
        assert item["archive_key"] == ARCHIVE_KEY
        assert item["correlation_id"] == msg["correlation_id"]
        payload = harness.workflow.executions[document_id]
        assert payload["config_version"] == 4
        assert DocumentAdapter.validate_python(payload["document"]).document_id == document_id
    assert harness.inbox.outcomes[("stripe", msg["event_id"])]["outcome"] == "normalized"
    assert harness.exceptions.opened == []


def test_ledger_record_carries_the_amount_in_canonical_form(harness: Harness) -> None:
    outcome = harness.service.process(message("07-invoice.finalized.jpy.json"))
    (item,) = (harness.ledger.items[d] for d in outcome.document_ids)
    assert (item["amount"], item["currency"], item["document_type"]) == ("5000", "JPY", "invoice")


def test_body_is_read_from_the_archive_when_not_inline(harness: Harness) -> None:
    harness.archive.objects[ARCHIVE_KEY] = (EVENTS / "stripe" / "01-invoice.finalized.json").read_bytes()
    outcome = harness.service.process(message("01-invoice.finalized.json", inline=False))
    assert outcome.outcome == "normalized"
    assert len(outcome.started) == 1


# ---- repeats -----------------------------------------------------------------------------------------------

def test_second_delivery_starts_nothing_when_the_ledger_says_posted(harness: Harness) -> None:
    # Given invoice.paid processed and its documents posted
    first = harness.service.process(message("02-invoice.paid.json"))
    harness.ledger.mark("posted")
    attempts = harness.workflow.attempts
    # When invoice.payment_succeeded describes the same invoice and payment
    second = harness.service.process(message("03-invoice.payment_succeeded.json"))
    # Then the same documents are recognised and no execution is even attempted
    assert second.document_ids == first.document_ids
    assert second.started == []
    assert harness.workflow.attempts == attempts
    assert len(harness.workflow.executions) == 2


def test_redelivery_before_posting_retries_the_start_but_creates_no_new_execution(harness: Harness) -> None:
    harness.service.process(message("01-invoice.finalized.json"))
    again = harness.service.process(message("01-invoice.finalized.json"))
    # still "received": the start is retried (a crash may have prevented it), the name makes it once
    assert again.started == []
    assert len(harness.workflow.executions) == 1


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
def test_no_start_for_any_final_status(harness: Harness, status: str) -> None:
    harness.service.process(message("01-invoice.finalized.json"))
    harness.ledger.mark(status)
    attempts = harness.workflow.attempts
    assert harness.service.process(message("01-invoice.finalized.json")).started == []
    assert harness.workflow.attempts == attempts


# ---- ignored ------------------------------------------------------------------------------------------------

def test_unsupported_event_is_recorded_as_ignored_and_starts_nothing(harness: Harness) -> None:
    event = contract_json("stripe/events/balance.available.json")
    event["id"] = "evt_balance_available_1"
    msg = {**message("01-invoice.finalized.json"), "event_id": event["id"], "event_type": event["type"],
           "body": json.dumps(event)}
    outcome = harness.service.process(msg)
    assert outcome.outcome == "ignored"
    assert harness.ledger.items == {}
    assert harness.workflow.executions == {}
    recorded = harness.inbox.outcomes[("stripe", msg["event_id"])]
    assert recorded["outcome"] == "ignored"
    assert any(reason.startswith("unsupported_event_type") for reason in recorded["reasons"])


def test_disabled_posting_policy_records_ignored_and_starts_nothing(example_config: LedgerLinkConfig) -> None:
    # Given a policy that turns invoice posting off for Stripe
    config = with_change(example_config, "posting_policies",
                         [{"source": "stripe", "document_type": "invoice", "enabled": False}])
    harness = build(config)
    # When an invoice arrives
    outcome = harness.service.process(message("01-invoice.finalized.json"))
    # Then it is in the ledger as ignored, with the reason, and no execution starts
    (document_id,) = outcome.document_ids
    assert harness.ledger.items[document_id]["status"] == "ignored"
    assert harness.ledger.items[document_id]["ignored_reason"] == "policy_disabled"
    assert outcome.started == []
    assert harness.workflow.attempts == 0


# ---- exceptions -----------------------------------------------------------------------------------------------

def broken_invoice_body() -> bytes:
    event = json.loads((EVENTS / "stripe" / "01-invoice.finalized.json").read_bytes())
    event["data"]["object"]["total"] = "2000"  # a string where Stripe sends an integer
    return json.dumps(event).encode()


def test_normalization_error_opens_an_exception_naming_the_archived_payload(harness: Harness) -> None:
    msg = message("01-invoice.finalized.json", body=broken_invoice_body())
    outcome = harness.service.process(msg)
    assert outcome.outcome == "exception"
    (case,) = harness.exceptions.opened
    assert case["archive_key"] == ARCHIVE_KEY
    assert case["reason"] == "missing_field"
    assert case["correlation_id"] == msg["correlation_id"]
    assert case["detail"]["field"] == "invoice.total"
    assert outcome.exception_id == "exc-1"
    assert harness.inbox.outcomes[("stripe", msg["event_id"])] == {
        "outcome": "exception", "document_ids": [], "reasons": ["missing_field"],
        "day": harness.inbox.outcomes[("stripe", msg["event_id"])]["day"]}
    assert harness.workflow.executions == {} and harness.ledger.items == {}


def test_a_connector_defect_on_a_payload_opens_a_case_instead_of_failing_the_message(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    # make fuzz found Stripe payloads with fields of other types than Stripe documents that raised AttributeError,
    # TypeError or OverflowError in the connector: SQS would retry such a message into the DLQ with no case opened
    from ledgerlink.connectors.sources.stripe import normalize as stripe_normalize

    def defective(event: dict, ctx: object) -> None:
        return event["data"]["object"]["customer_email"]["domain"]   # customer_email is null: TypeError

    monkeypatch.setattr(stripe_normalize, "normalize", defective)
    outcome = harness.service.process(message("02-invoice.paid.json"))
    assert outcome.outcome == "exception" and outcome.reasons == ["normalization_failed"]
    (case,) = harness.exceptions.opened
    assert case["detail"]["error_type"] == "TypeError"
    assert case["detail"]["at"].endswith("test_normalize_service.py:" + str(defective.__code__.co_firstlineno + 1))
    assert "NoneType" not in case["message"]   # the type and the place only, never the error's text
    assert harness.workflow.executions == {} and harness.ledger.items == {}


def test_body_that_is_not_json_opens_a_malformed_payload_exception(harness: Harness) -> None:
    outcome = harness.service.process(message("01-invoice.finalized.json", body=b"{truncated"))
    assert outcome.outcome == "exception"
    assert harness.exceptions.opened[0]["reason"] == "malformed_payload"


def test_source_removed_from_config_opens_an_exception(harness: Harness) -> None:
    outcome = harness.service.process(message("01-invoice.finalized.json", source="retired"))
    assert outcome.outcome == "exception"
    assert harness.exceptions.opened[0]["reason"] == "unknown_source"


def test_infrastructure_error_propagates_for_sqs_to_retry(example_config: LedgerLinkConfig) -> None:
    harness = build(example_config, ledger=ExplodingLedger())
    with pytest.raises(ConnectionError):
        harness.service.process(message("01-invoice.finalized.json"))
    assert harness.exceptions.opened == []
    assert harness.inbox.outcomes == {}


# ---- the queue message itself --------------------------------------------------------------------------------

def test_parse_message_accepts_what_ingest_sends() -> None:
    msg = message("01-invoice.finalized.json")
    assert parse_message(json.dumps(msg)) == msg


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"source": "stripe"}),
                                  json.dumps({"source": "stripe", "kind": "stripe", "event_id": 1,
                                              "correlation_id": "c", "archive_key": "k"})])
def test_parse_message_refuses_foreign_messages(body: str) -> None:
    with pytest.raises(InvalidMessage):
        parse_message(body)
