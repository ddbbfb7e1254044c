"""The post-document task steps with fakes. State travels as JSON between steps, as in Step Functions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.erps.base import ConnectionLimits, PeriodStatus, PostResult
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.errors import DocumentRejected, NormalizationError, PostingInProgress
from ledgerlink.model.documents import Document, JournalEntry
from ledgerlink.service.posting import (
    beancount_connectors,
    enrich_step,
    open_exception_step,
    post_document_step,
    post_step,
    record_posting,
    validate_step,
)

from tests.conftest import event_json

VERSION = 4


# ---- fakes ------------------------------------------------------------------------------------------

@dataclass
class FakeConfigStore:
    versions: dict[int, LedgerLinkConfig]

    def get(self, version: int) -> LedgerLinkConfig:
        return self.versions[version]


@dataclass
class FakeErp:
    connection_id: str = "books"
    posted: dict[str, JournalEntry] = field(default_factory=dict)
    post_calls: int = 0

    def post_journal(self, journal: JournalEntry) -> PostResult:
        self.post_calls += 1
        created = journal.document_id not in self.posted
        self.posted.setdefault(journal.document_id, journal)
        return PostResult(erp_ref=f"erp://{journal.document_id}", created=created)

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        return PostResult(erp_ref=f"erp://{external_id}", created=False) if external_id in self.posted else None

    def period_status(self, entity: Any, on: Any) -> PeriodStatus:
        return PeriodStatus(open=True, closed_through=None, source="fake")

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=None, daily_budget=None, max_concurrency=None, bulk_size=1)


@dataclass
class FakeLedger:
    """Records status transitions like DynamoLedger.transition (which also moves the control totals)."""

    updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    counted: list[tuple[str, tuple[str, ...], Any]] = field(default_factory=list)
    removed: list[tuple[str, ...]] = field(default_factory=list)

    def transition(self, document_id: str, *, to: str, expected: tuple[str, ...], key: Any,
                   remove: tuple[str, ...] = (), **attributes: Any) -> bool:
        self.updates.append((document_id, {"status": to, **attributes}))
        self.counted.append((to, expected, key))
        self.removed.append(remove)
        return True


@dataclass
class LeasingLedger(FakeLedger):
    """FakeLedger plus the item and the lease of DynamoLedger.take_lease / release_lease."""

    item: dict[str, Any] = field(default_factory=lambda: {"status": "received"})
    released: list[str] = field(default_factory=list)

    def take_lease(self, document_id: str, *, holder: str, seconds: int, now: float | None = None) -> Any:
        from ledgerlink.store.ledger import Lease

        live = self.item.get("lease_until", 0) >= (now or 0)
        if self.item["status"] not in ("received", "exception") or live:
            return Lease(taken=False, item=dict(self.item))
        self.item.update(lease_until=(now or 0) + seconds, lease_holder=holder)
        return Lease(taken=True)

    def release_lease(self, document_id: str, *, holder: str) -> bool:
        self.released.append(holder)
        return True


@dataclass
class FakeExceptions:
    opened: list[dict[str, Any]] = field(default_factory=list)

    def open(self, **kwargs: Any) -> tuple[str, bool]:
        self.opened.append(kwargs)
        return f"exc-{len(self.opened)}", True


def through_json(state: dict[str, Any]) -> dict[str, Any]:
    """Step Functions hands each step the previous step's output as JSON."""
    return json.loads(json.dumps(state))


def document(name: str, config: LedgerLinkConfig, position: int = 0) -> Document:
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="corr-post-1",
                           archive_key=f"raw/stripe/{name}")
    return normalize(event_json(f"stripe/{name}"), ctx).documents[position]


def initial_state(doc: Document) -> dict[str, Any]:
    """What NormalizeService starts the execution with."""
    return through_json({"document_id": doc.document_id, "correlation_id": doc.correlation_id, "source_id": "stripe",
                         "archive_key": doc.source.archive_key, "config_version": VERSION,
                         "document": doc.model_dump(mode="json")})


def without_role(config: LedgerLinkConfig, role: str) -> LedgerLinkConfig:
    data = config.model_dump(mode="json")
    for mapping in data["account_mappings"]:
        mapping["accounts"].pop(role, None)
    return LedgerLinkConfig.model_validate(data)


def lambda_cause(exc: BaseException) -> str:
    """The Cause string Step Functions records for a Lambda task that raised ``exc``."""
    return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                       "requestId": "8d2e7c2a-0000-4000-8000-000000000000",
                       "stackTrace": ['  File "/var/task/handler.py", line 1, in handler\n']})


@pytest.fixture
def store(example_config: LedgerLinkConfig) -> FakeConfigStore:
    return FakeConfigStore({VERSION: example_config})


# ---- the happy path ------------------------------------------------------------------------------------

def test_enrich_adds_a_balanced_journal_and_keeps_the_state(store: FakeConfigStore,
                                                            example_config: LedgerLinkConfig) -> None:
    state = initial_state(document("06-invoice.paid.current-api.json", example_config))
    out = enrich_step(state, store)
    assert {key: out[key] for key in state} == state
    journal = JournalEntry.model_validate(out["journal"])
    assert journal.document_id == state["document_id"]
    assert journal.mapping_version == VERSION


def test_validate_moves_a_closed_period_journal_and_flags_it(store: FakeConfigStore,
                                                             example_config: LedgerLinkConfig) -> None:
    state = enrich_step(initial_state(document("09-invoice.finalized.closed-period.json", example_config)), store)
    out = validate_step(through_json(state), store)
    assert out["period_adjusted"] is True
    assert out["journal"]["accounting_date"] == "2022-01-01"
    assert out["journal"]["original_accounting_date"] == "2021-12-20"


def test_validate_in_an_open_period_is_not_flagged(store: FakeConfigStore, example_config: LedgerLinkConfig) -> None:
    state = enrich_step(initial_state(document("01-invoice.finalized.json", example_config)), store)
    assert validate_step(through_json(state), store)["period_adjusted"] is False


def test_post_then_record_marks_the_document_posted(store: FakeConfigStore, example_config: LedgerLinkConfig) -> None:
    # Given a journal through enrich and validate
    erp, ledger = FakeErp(), FakeLedger()
    state = initial_state(document("01-invoice.finalized.json", example_config))
    state = through_json(validate_step(through_json(enrich_step(state, store)), store))
    # When it is posted and recorded
    posted = through_json(post_step(state, store, lambda config, connection_id, version: erp))
    result = record_posting(posted, ledger)
    # Then the ERP holds it once and the ledger says posted with the ERP reference
    assert list(erp.posted) == [state["document_id"]]
    assert posted["posting"]["created"] is True
    assert posted["posting"]["connection_id"] == "books"
    assert result == {"document_id": state["document_id"], "status": "posted",
                      "erp_ref": f"erp://{state['document_id']}", "created": True,
                      "correlation_id": state["correlation_id"], "posting_latency_seconds": None}
    ((document_id, attributes),) = ledger.updates
    # and it is counted once, under the document's entity, business date, source and currency
    ((to, expected, key),) = ledger.counted
    assert (to, expected) == ("posted", ("received", "exception"))
    assert (key.entity_id, key.source, key.currency) == ("us01", "stripe", "USD")
    assert document_id == state["document_id"]
    assert attributes["status"] == "posted"
    assert attributes["erp_ref"] == posted["posting"]["erp_ref"]
    assert attributes["journal_lines"] == len(state["journal"]["lines"])
    assert attributes["config_version"] == VERSION
    assert ledger.removed == [("lease_until", "lease_holder")]   # the posted write drops the post step's lease


def test_post_looks_up_by_external_id_first_and_does_not_post_again(store: FakeConfigStore,
                                                                   example_config: LedgerLinkConfig) -> None:
    # Given an ERP that already holds the journal (the previous attempt posted, then timed out)
    erp = FakeErp()
    state = through_json(enrich_step(initial_state(document("01-invoice.finalized.json", example_config)), store))
    erp.posted[state["document_id"]] = JournalEntry.model_validate(state["journal"])
    # When the post step runs again
    out = post_step(state, store, lambda config, connection_id, version: erp)
    # Then it finds the posting and never calls post
    assert erp.post_calls == 0
    assert out["posting"]["created"] is False
    assert out["posting"]["erp_ref"] == f"erp://{state['document_id']}"


def test_post_step_with_the_beancount_book_writes_one_file_across_retries(
        tmp_path: Path, store: FakeConfigStore, example_config: LedgerLinkConfig) -> None:
    connectors = beancount_connectors(f"file://{tmp_path}")
    state = through_json(enrich_step(initial_state(document("01-invoice.finalized.json", example_config)), store))
    first = post_step(state, store, connectors)
    second = post_step(state, store, connectors)
    assert (first["posting"]["created"], second["posting"]["created"]) == (True, False)
    assert len(list((tmp_path / "main" / "postings").glob("*.beancount"))) == 1


# ---- rejections travel to the exception step --------------------------------------------------------------

def test_enrich_rejection_reaches_the_exception_step_with_its_reason(example_config: LedgerLinkConfig) -> None:
    # Given a configuration without a tax account and an invoice with tax
    store = FakeConfigStore({VERSION: without_role(example_config, "tax")})
    state = initial_state(document("06-invoice.paid.current-api.json", example_config))
    # When enrich raises in Lambda and Step Functions catches it into $.error
    with pytest.raises(DocumentRejected) as caught:
        enrich_step(state, store)
    failed = through_json({**state, "error": {"Error": "DocumentRejected", "Cause": lambda_cause(caught.value)}})
    ledger, exceptions = FakeLedger(), FakeExceptions()
    result = open_exception_step(failed, ledger, exceptions)
    # Then the exception case carries the machine-readable reason, the role and the fix
    assert result["reason"] == "mapping_missing"
    assert result["status"] == "exception"
    (case,) = exceptions.opened
    assert case["reason"] == "mapping_missing"
    assert case["detail"]["role"] == "tax"
    assert "accounts.tax" in case["suggested_fix"]
    assert case["document_id"] == state["document_id"]
    assert case["archive_key"] == state["archive_key"]
    assert case["entity_id"] == "us01"
    assert ledger.updates == [(state["document_id"], {"status": "exception", "exception_id": "exc-1",
                                                      "exception_reason": "mapping_missing"})]


def test_period_closed_rejection_is_recovered(example_config: LedgerLinkConfig) -> None:
    data = example_config.model_dump(mode="json")
    data["entities"][0]["closed_period_policy"] = "reject"
    store = FakeConfigStore({VERSION: LedgerLinkConfig.model_validate(data)})
    state = enrich_step(initial_state(document("09-invoice.finalized.closed-period.json", example_config)), store)
    with pytest.raises(DocumentRejected) as caught:
        validate_step(through_json(state), store)
    failed = {**state, "error": {"Error": "DocumentRejected", "Cause": lambda_cause(caught.value)}}
    assert open_exception_step(failed, FakeLedger(), FakeExceptions())["reason"] == "period_closed"


def test_normalization_error_subclass_is_recovered_too(store: FakeConfigStore, example_config: LedgerLinkConfig
                                                       ) -> None:
    state = initial_state(document("01-invoice.finalized.json", example_config))
    error = NormalizationError("bad payload", reason="missing_field", field="invoice.total")
    failed = {**state, "error": {"Error": "NormalizationError", "Cause": lambda_cause(error)}}
    exceptions = FakeExceptions()
    assert open_exception_step(failed, FakeLedger(), exceptions)["reason"] == "missing_field"
    assert exceptions.opened[0]["detail"] == {"field": "invoice.total"}


@pytest.mark.parametrize(("error", "mentions"), [
    ({"Error": "KeyError", "Cause": lambda_cause(KeyError("journal"))}, "KeyError"),
    ({"Error": "TransientError", "Cause": lambda_cause(ConnectionError("throttled"))}, "ConnectionError"),
    ({"Error": "Lambda.Unknown", "Cause": "The cause could not be determined because Lambda did not return an "
                                          "error type."}, "could not be determined"),
    ({"Error": "States.Timeout", "Cause": ""}, "States.Timeout"),
    ({"Error": "States.TaskFailed", "Cause": "null"}, "null"),
    ({"Error": "States.TaskFailed", "Cause": '"a JSON string"'}, "a JSON string"),
    ({"Error": "DocumentRejected", "Cause": json.dumps({"errorType": "DocumentRejected",
                                                         "errorMessage": "plain prose"})}, "plain prose"),
])
def test_any_other_error_is_unexpected_error_with_a_fix(store: FakeConfigStore, example_config: LedgerLinkConfig,
                                                        error: dict[str, str], mentions: str) -> None:
    # Given a step that failed for a reason that is not a business rule
    state = initial_state(document("01-invoice.finalized.json", example_config))
    exceptions = FakeExceptions()
    # When the exception step runs (it must never fail itself: it is the last safety net)
    result = open_exception_step({**state, "error": error}, FakeLedger(), exceptions)
    # Then the case is unexpected_error, says what happened and how to proceed
    assert result["reason"] == "unexpected_error"
    (case,) = exceptions.opened
    assert mentions in case["message"]
    assert case["suggested_fix"]


# ---- the post step: the ledger item is the idempotency record --------------------------------------------

def posted_state(store: FakeConfigStore, example_config: LedgerLinkConfig) -> dict[str, Any]:
    state = initial_state(document("01-invoice.finalized.json", example_config))
    return through_json(validate_step(through_json(enrich_step(state, store)), store))


def test_the_post_step_leases_posts_and_records_in_one_invocation(store: FakeConfigStore,
                                                                 example_config: LedgerLinkConfig) -> None:
    erp, ledger = FakeErp(), LeasingLedger()
    state = posted_state(store, example_config)
    result = post_document_step(state, ledger=ledger, config_store=store, connectors=lambda *_: erp, now=1000)
    assert result["status"] == "posted" and result["created"] is True and "stored_result" not in result
    assert erp.post_calls == 1 and [update["status"] for _, update in ledger.updates] == ["posted"]
    assert ledger.item["lease_until"] == 1000 + 120 and ledger.released == []


def test_a_posted_document_answers_its_stored_result_without_calling_the_erp(
        store: FakeConfigStore, example_config: LedgerLinkConfig) -> None:
    erp = FakeErp()
    ledger = LeasingLedger(item={"status": "posted", "erp_ref": "erp://stored"})
    result = post_document_step(posted_state(store, example_config), ledger=ledger, config_store=store,
                                connectors=lambda *_: erp, now=1000)
    assert (result["status"], result["erp_ref"], result["created"], result["stored_result"]) == (
        "posted", "erp://stored", False, True)
    assert erp.post_calls == 0 and ledger.updates == []


def test_a_live_lease_of_another_invocation_is_posting_in_progress(store: FakeConfigStore,
                                                                   example_config: LedgerLinkConfig) -> None:
    erp = FakeErp()
    ledger = LeasingLedger(item={"status": "received", "lease_until": 1060, "lease_holder": "other"})
    with pytest.raises(PostingInProgress):
        post_document_step(posted_state(store, example_config), ledger=ledger, config_store=store,
                           connectors=lambda *_: erp, now=1000)
    assert erp.post_calls == 0 and erp.posted == {}


def test_a_failure_after_the_lease_gives_it_back(store: FakeConfigStore, example_config: LedgerLinkConfig) -> None:
    class Unreachable(FakeErp):
        def post_journal(self, journal: JournalEntry) -> PostResult:
            raise ConnectionError("the ERP is down")

    ledger = LeasingLedger()
    with pytest.raises(ConnectionError):
        post_document_step(posted_state(store, example_config), ledger=ledger, config_store=store,
                           connectors=lambda *_: Unreachable(), now=1000)
    assert ledger.released == [ledger.item["lease_holder"]] and ledger.updates == []


def test_an_ignored_document_is_never_posted(store: FakeConfigStore, example_config: LedgerLinkConfig) -> None:
    from ledgerlink.store.ledger import DocumentStateError

    erp = FakeErp()
    with pytest.raises(DocumentStateError):
        post_document_step(posted_state(store, example_config), ledger=LeasingLedger(item={"status": "ignored"}),
                           config_store=store, connectors=lambda *_: erp, now=1000)
    assert erp.post_calls == 0
