"""The typed contracts of the posting side: the workflow state, the ledger item, the counter key, the statuses."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.model.counters import CounterKey
from ledgerlink.model.ledger import LedgerItem
from ledgerlink.model.posting import Posting, PostingState
from ledgerlink.model.status import DocumentStatus
from ledgerlink.service.posting import (
    enrich_step,
    open_exception_step,
    post_step,
    record_posting,
    validate_step,
)
from ledgerlink.store.ledger import DocumentStateError, DynamoLedger

from tests.unit.test_posting_steps import (
    VERSION,
    FakeConfigStore,
    FakeErp,
    FakeExceptions,
    FakeLedger,
    document,
    initial_state,
    through_json,
)


@pytest.fixture
def store(example_config: LedgerLinkConfig) -> FakeConfigStore:
    return FakeConfigStore({VERSION: example_config})


# ---- the workflow state -----------------------------------------------------------------------------------------

def test_a_step_answers_the_state_it_received_extended_keys_and_order_kept() -> None:
    raw = {"document_id": "doc_1", "correlation_id": "c", "escalated_from": "States.Timeout", "config_version": 4,
           "decision": {"action": "retry"}, "document": {"document_type": "invoice", "entity_id": "us01"}}
    state = PostingState.parse(through_json(raw))
    out = state.extended(journal={"lines": []})
    assert list(out) == [*raw, "journal"]
    assert {key: out[key] for key in raw} == raw
    assert (state.version, state.document_type, state.entity_id) == (4, "invoice", "us01")


def test_a_state_without_the_ids_a_step_needs_says_which() -> None:
    state = PostingState.parse({"config_version": 1, "document": {}})
    with pytest.raises(KeyError, match="document_id"):
        _ = state.ledger_id
    with pytest.raises(KeyError, match="correlation_id"):
        _ = state.correlation


@pytest.mark.parametrize("posting", [
    {"connection_id": "books", "erp_ref": "erp://1", "created": True, "posted_at": "2024-01-01T00:00:00+00:00"},
    {"connection_id": "books", "erp_ref": "bucket:b1", "created": False, "summarized": True, "bucket_id": "b1",
     "posted_at": "2024-01-01T00:00:00+00:00"},
])
def test_the_posting_key_reads_back_to_the_same_json(posting: dict[str, Any]) -> None:
    parsed = Posting.parse(json.loads(json.dumps(posting)))
    assert json.dumps(parsed.to_json()) == json.dumps(posting)
    assert parsed.summarized is ("bucket_id" in posting)


# ---- one counter key ---------------------------------------------------------------------------------------------

def test_the_state_and_the_ledger_record_count_a_document_under_the_same_key(
        example_config: LedgerLinkConfig) -> None:
    doc = document("01-invoice.finalized.json", example_config)
    registered = {"document_id": doc.document_id, "entity_id": doc.entity_id, "source_id": doc.source.source_id,
                  "accounting_date": doc.accounting_date.isoformat(), "currency": doc.currency,
                  "amount": doc.total.canonical()}   # the counter fields normalize registers the document with
    from_record = CounterKey.of(registered)
    from_state = CounterKey.of_document(initial_state(doc)["document"], "stripe")
    assert from_record == from_state
    assert from_state.partition == ("us01", doc.accounting_date.isoformat(), "stripe", "USD")


def test_a_document_without_an_amount_counts_zero_under_an_unknown_source() -> None:
    key = CounterKey.of_document({"entity_id": "us01", "accounting_date": "2024-01-01", "currency": "EUR",
                                  "source": {}})
    assert (key.source, key.amount) == ("unknown", Decimal(0))


# ---- the ledger item ---------------------------------------------------------------------------------------------

def test_ledger_items_stored_before_the_enum_read_back() -> None:
    old = LedgerItem.parse({"document_id": "doc_1", "entity_id": "us01", "accounting_date": "2024-01-01",
                            "currency": "USD", "amount": 12, "document": '{"a": 1}'})
    assert (old.status, old.status_text, old.document_json()) == (None, None, {"a": 1})
    assert old.counter_key.amount == Decimal(12)
    posted = LedgerItem.parse({"document_id": "doc_1", "status": "posted", "erp_ref": "erp://1"})
    assert posted.status is DocumentStatus.POSTED and posted.erp_ref == "erp://1"
    assert LedgerItem.parse({"document_id": "doc_1", "status": "archived"}).status is None


class _Cancelled(Exception):
    def __init__(self, status: str) -> None:
        super().__init__("cancelled")
        self.response = {"Error": {"Code": "TransactionCanceledException"},
                         "CancellationReasons": [{"Code": "ConditionalCheckFailed", "Item": {"status": {"S": status}}}]}


class _RefusingClient:
    def __init__(self, status: str) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> None:  # noqa: N803 - botocore's name
        self.requests.append(TransactItems[0])
        raise _Cancelled(self.status)


def test_a_transition_from_an_unexpected_status_quotes_the_statuses_as_plain_strings() -> None:
    client = _RefusingClient("ignored")
    ledger = DynamoLedger("ledger", totals_table="totals", client=client)
    key = CounterKey("us01", "2024-01-01", "stripe", "USD", Decimal(1))
    with pytest.raises(DocumentStateError) as refused:
        ledger.transition("doc_1", to=DocumentStatus.POSTED, expected=(DocumentStatus.RECEIVED,
                                                                       DocumentStatus.EXCEPTION), key=key)
    assert str(refused.value) == "doc_1: cannot move to posted from ignored (expected ('received', 'exception'))"
    assert refused.value.actual == "ignored"
    written = client.requests[0]["Update"]["ExpressionAttributeValues"]
    assert written[":v0"] == {"S": "posted"} and type(written[":v0"]["S"]) is str


# ---- the steps on the typed contracts ----------------------------------------------------------------------------

def _validated(store: FakeConfigStore, example_config: LedgerLinkConfig) -> dict[str, Any]:
    state = initial_state(document("01-invoice.finalized.json", example_config))
    return through_json(validate_step(through_json(enrich_step(state, store)), store))


def test_the_post_step_builds_the_native_document_once(store: FakeConfigStore, example_config: LedgerLinkConfig,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerlink.connectors.erps import base
    from ledgerlink.pipeline import erp_documents

    state = _validated(store, example_config)
    built: list[str] = []

    def counting(doc: Any, journal: Any) -> None:
        built.append(doc.document_id)
        return None    # no native form: the journal posts

    policy = example_config.policy_for("stripe", "invoice").model_copy(update={"post_as": "document"})
    monkeypatch.setattr(type(example_config), "policy_for", lambda self, source, kind: policy)
    monkeypatch.setattr(base, "supports_documents", lambda connector: True)
    monkeypatch.setattr(erp_documents, "erp_document", counting)
    erp = FakeErp()
    post_step(state, store, lambda *_: erp)
    assert built == [state["document_id"]]
    assert list(erp.posted) == [state["document_id"]]


def test_the_steps_move_the_ledger_with_document_statuses(store: FakeConfigStore,
                                                          example_config: LedgerLinkConfig) -> None:
    state = _validated(store, example_config)
    ledger = FakeLedger()
    record_posting(through_json(post_step(state, store, lambda *_: FakeErp())), ledger)
    open_exception_step({**state, "error": {"Error": "States.Timeout", "Cause": ""}}, ledger, FakeExceptions())
    assert [(type(to), to, expected) for to, expected, _ in ledger.counted] == [
        (DocumentStatus, DocumentStatus.POSTED, (DocumentStatus.RECEIVED, DocumentStatus.EXCEPTION)),
        (DocumentStatus, DocumentStatus.EXCEPTION, (DocumentStatus.RECEIVED, DocumentStatus.EXCEPTION))]
