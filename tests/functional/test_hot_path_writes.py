"""The hot path's DynamoDB writes against moto: normalize writes once per source event, and the post step's ledger
item is its idempotency record (lease, stored result, posted write). Calls are counted through a botocore event
hook, like ``bench/aws_calls.py`` — never timed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink import wiring
from ledgerlink.errors import PostingInProgress
from ledgerlink.local.functions import LambdaCrash
from ledgerlink.ops.replay import Replayer
from ledgerlink.service.posting import POST_LEASE_SECONDS, enrich_step, post_document_step, validate_step
from ledgerlink.store import clients
from ledgerlink.store.archive import S3Archive
from ledgerlink.store.books import FileBookStore
from ledgerlink.store.config_store import DynamoConfigStore
from ledgerlink.store.control_totals import DynamoControlTotals
from ledgerlink.store.ledger import DynamoLedger
from ledgerlink.store.queue import SqsQueue
from ledgerlink.store.workflow import StepFunctionsWorkflow

INVOICE_PAID = "02-invoice.paid.json"
EVENT_ID = "evt_1KhfNbLedgerLinkInvPaid001"


@contextmanager
def dynamodb_writes() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB write request made while the block runs, as (operation, parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []

    def count(params: dict[str, Any], model: Any, **_: Any) -> None:   # must return None
        if model.name in ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"):
            calls.append((model.name, params))

    events = clients.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb", count)
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.dynamodb", count)


def tables_of(params: dict[str, Any]) -> list[tuple[str, str]]:
    """(operation, table) of each item of a TransactWriteItems request."""
    return [(operation, body["TableName"]) for entry in params["TransactItems"] for operation, body in entry.items()]


def totals(stack, documents: list[dict[str, Any]]) -> dict[str, Decimal]:
    """The document counters of these documents' days, summed over sources and currencies."""
    store = DynamoControlTotals(stack.resources.tables["totals"])
    summed: dict[str, Decimal] = {}
    for entity_id, day in {(d["entity_id"], d["accounting_date"]) for d in documents}:
        for values in store.documents(entity_id, day).values():
            for name, number in values.items():
                summed[name] = summed.get(name, Decimal(0)) + number
    return summed


def event_counters(stack) -> dict[str, int]:
    (counters,) = DynamoControlTotals(stack.resources.tables["totals"]).events(
        time.strftime("%Y-%m-%d", time.gmtime())).values()
    return counters


# ---- normalize: one transaction per source event ----------------------------------------------------------

def test_normalize_registers_an_events_documents_and_marks_its_claim_in_one_transaction(stack, monkeypatch):
    monkeypatch.setattr(StepFunctionsWorkflow, "_start", lambda self, arn, name, payload: True)  # normalize only
    stack.send_event(INVOICE_PAID)
    messages = stack.receive()
    # When normalize handles the event (an invoice and its payment)
    with dynamodb_writes() as writes:
        stack.deliver(messages)
    # Then it wrote once: both documents, their counters and the inbox claim's "processed" mark together
    ledger, inbox, counters = (stack.resources.tables[name] for name in ("ledger", "inbox", "totals"))
    ((operation, params),) = writes
    assert operation == "TransactWriteItems"
    items = tables_of(params)
    assert sorted(items).count(("Put", ledger)) == 2
    assert ("Update", inbox) in items and {table for _, table in items} == {ledger, inbox, counters}
    keys = [json.dumps(body.get("Key") or {"document_id": body["Item"]["document_id"]}, sort_keys=True)
            for entry in params["TransactItems"] for body in entry.values()]
    assert len(keys) == len(set(keys))   # DynamoDB refuses two operations on one item in a transaction
    # and what it wrote is what the per-document path writes: statuses, the claim, exact counters
    documents = stack.documents()
    assert sorted(d["status"] for d in documents) == ["received", "received"]
    claim = stack.inbox.get("stripe", EVENT_ID)
    assert claim["status"] == "processed" and sorted(claim["document_ids"]) == sorted(
        d["document_id"] for d in documents)
    counted = totals(stack, documents)
    assert counted["received_count"] == 2
    assert counted["received_amount"] == sum(Decimal(str(d["amount"])) for d in documents)
    assert event_counters(stack)["processed"] == 1


def test_the_registrations_and_the_inbox_mark_commit_together_or_not_at_all(stack):
    ledger = stack.ledger
    record = {"document_id": "doc_atomic_1", "status": "received", "entity_id": "us01", "accounting_date": "2026-11-24",
              "currency": "USD", "amount": "10.00", "source_id": "stripe"}
    second = {**record, "document_id": "doc_atomic_2", "amount": "5.00"}
    # Given a claim that is no longer pending (another delivery processed the event)
    mark = stack.inbox.outcome_items("stripe", "evt_never_claimed", outcome="normalized",
                                     document_ids=["doc_atomic_1", "doc_atomic_2"], reasons=[], day="2026-11-24")
    # When the event's documents are registered with its mark
    result = ledger.register_batch([record, second], also=mark)
    # Then nothing was written: no document, no counter, no claim
    assert result.complete is False and result.registered == {}
    assert stack.documents() == [] and stack.inbox.get("stripe", "evt_never_claimed") is None
    assert totals(stack, [record]) == {}
    # Given instead that one of the documents exists already (a redelivery): the mark is not written either
    assert ledger.register(record).is_new
    stack.send_event(INVOICE_PAID)   # a real pending claim
    mark = stack.inbox.outcome_items("stripe", EVENT_ID, outcome="normalized", document_ids=["doc_atomic_1"],
                                     reasons=[], day=time.strftime("%Y-%m-%d", time.gmtime()))
    result = ledger.register_batch([record, second], also=mark)
    assert result.complete is False and ledger.get("doc_atomic_2") is None
    assert stack.inbox.get("stripe", EVENT_ID)["status"] == "pending"
    assert totals(stack, [record])["received_count"] == 1


def test_documents_of_one_counter_item_share_one_merged_update_and_count_exactly(stack):
    records = [{"document_id": f"doc_merge_{n}", "status": status, "entity_id": "us01",
                "accounting_date": "2026-11-24", "currency": "USD", "amount": amount, "source_id": "stripe"}
               for n, (status, amount) in enumerate([("received", "10.00"), ("received", "2.50"), ("ignored", "1.25")])]
    with dynamodb_writes() as writes:
        result = stack.ledger.register_batch(records)
    assert result.complete and set(result.registered) == {r["document_id"] for r in records}
    ((_, params),) = writes
    assert [table for _, table in tables_of(params)].count(stack.resources.tables["totals"]) == 1
    counted = totals(stack, records)
    assert (counted["received_count"], counted["received_amount"]) == (3, Decimal("13.75"))
    assert (counted["ignored_count"], counted["ignored_amount"]) == (1, Decimal("1.25"))


def test_a_batch_past_the_transaction_limit_is_chunked_with_the_mark_in_the_last_chunk(stack):
    records = [{"document_id": f"doc_chunk_{n:03d}", "status": "received", "entity_id": "us01",
                "accounting_date": f"2026-11-{1 + n % 20:02d}", "currency": "USD", "amount": "1.00",
                "source_id": "stripe"} for n in range(120)]
    stack.send_event(INVOICE_PAID)
    mark = stack.inbox.outcome_items("stripe", EVENT_ID, outcome="normalized", document_ids=[], reasons=[],
                                     day=time.strftime("%Y-%m-%d", time.gmtime()))
    with dynamodb_writes() as writes:
        result = stack.ledger.register_batch(records, also=mark)
    assert result.complete and len(result.registered) == 120
    assert len(writes) == 2 and all(len(params["TransactItems"]) <= 100 for _, params in writes)
    assert ("Update", stack.resources.tables["inbox"]) in tables_of(writes[-1][1])
    assert stack.inbox.get("stripe", EVENT_ID)["status"] == "processed"
    assert totals(stack, records)["received_count"] == 120


@pytest.mark.parametrize("recovery", ["sqs redelivery", "replay"])
def test_a_crash_after_the_transaction_before_start_execution_loses_no_document(stack, monkeypatch, recovery):
    original = StepFunctionsWorkflow._start   # both workflows: the happy path, and a replay's Standard start
    crashed: list[str] = []

    def crash_once(self, arn, name, payload):
        if not crashed:
            crashed.append(name)
            raise LambdaCrash("chaos: normalize dies after its transaction, before StartExecution")
        return original(self, arn, name, payload)

    monkeypatch.setattr(StepFunctionsWorkflow, "_start", crash_once)
    stack.send_event(INVOICE_PAID)
    stack.deliver(stack.receive())
    # Given the crash: the documents are registered and the claim is processed, but nothing was started
    assert crashed and stack.executions() == []
    assert sorted(d["status"] for d in stack.documents()) == ["received", "received"]
    assert stack.inbox.get("stripe", EVENT_ID)["status"] == "processed"
    if recovery == "replay":   # the message is gone (e.g. purged); finance ops replay the documents
        clients.client("sqs").purge_queue(QueueUrl=stack.resources.inbound_queue_url)
        tables = stack.resources.tables
        replayer = Replayer(config=DynamoConfigStore(tables["config"]).active,
                            archive=S3Archive(stack.resources.archive_bucket), ledger=stack.ledger,
                            inbox=stack.inbox, queue=SqsQueue(stack.resources.inbound_queue_url))
        for document in stack.documents():
            replayer.execute(replayer.plan_document(document["document_id"]))
    else:
        time.sleep(1.1)   # the visibility timeout: SQS delivers the message again
    # When the message is processed again
    stack.drain()
    # Then every document posted exactly once, and nothing was counted twice
    documents = stack.documents()
    assert sorted(d["status"] for d in documents) == ["posted", "posted"]
    assert len(stack.postings()) == 2
    counted = totals(stack, documents)
    assert (counted["received_count"], counted["posted_count"]) == (2, 2)
    assert event_counters(stack)["processed"] == 1 and event_counters(stack)["received"] == 1


# ---- post: the ledger item is the idempotency record ------------------------------------------------------

@pytest.fixture
def ready(stack, monkeypatch) -> dict[str, Any]:
    """An invoice registered by normalize (execution not started), taken through enrich and validate."""
    started: list[dict[str, Any]] = []
    with monkeypatch.context() as patch:
        patch.setattr(StepFunctionsWorkflow, "_start", lambda self, arn, name, payload: started.append(payload) or True)
        stack.send_event(INVOICE_PAID)
        stack.drain()
    state = next(payload for payload in started if payload["document"]["document_type"] == "invoice")
    config = wiring.config_reader()
    return validate_step(enrich_step(state, config), config)


def post(state: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return post_document_step(json.loads(json.dumps(state)), **{**wiring.post_dependencies(), **overrides})


def book_writes(monkeypatch) -> list[str]:
    written: list[str] = []
    original = FileBookStore.create
    monkeypatch.setattr(FileBookStore, "create", lambda self, name, text: written.append(name) or original(
        self, name, text))
    return written


def test_a_post_step_reinvoked_after_a_lost_result_returns_the_stored_result_without_an_erp_call(
        stack, ready, monkeypatch):
    first = post(ready)
    assert first["status"] == "posted" and first["created"] is True
    written = book_writes(monkeypatch)
    # When Step Functions invokes the step again (the first result was lost)
    with dynamodb_writes() as writes:
        again = post(ready)
    # Then the lease was refused by the posted item: the stored result, no ERP call, one conditional write
    assert (again["status"], again["erp_ref"], again["created"], again["stored_result"]) == (
        "posted", first["erp_ref"], False, True)
    assert written == [] and [operation for operation, _ in writes] == ["UpdateItem"]
    assert len(stack.postings()) == 1
    assert totals(stack, [ready["document"]])["posted_count"] == 1


def test_a_concurrent_invocation_during_a_live_lease_does_not_call_the_erp(stack, ready, monkeypatch):
    # Given another invocation holds the lease (it is calling the ERP right now)
    assert stack.ledger.take_lease(ready["document_id"], holder="running-invocation", seconds=POST_LEASE_SECONDS).taken
    written = book_writes(monkeypatch)
    # When a second invocation runs the step
    with pytest.raises(PostingInProgress):
        post(ready)
    # Then it did not touch the ERP, and the document is still the holder's to post
    assert written == [] and stack.postings() == []
    item = stack.ledger.get(ready["document_id"])
    assert item["status"] == "received" and item["lease_holder"] == "running-invocation"


def test_a_crash_after_the_erp_call_before_the_posted_write_is_resolved_by_the_lookup(stack, ready, monkeypatch):
    # Given the process dies right after the ERP wrote the journal: no posted write, no lease released
    original = FileBookStore.create

    def create_then_die(self, name, text):
        original(self, name, text)
        if name.startswith("postings/"):
            raise LambdaCrash("chaos: the process dies after the ERP call")

    with monkeypatch.context() as patch, pytest.raises(LambdaCrash):
        patch.setattr(FileBookStore, "create", create_then_die)
        patch.setattr(DynamoLedger, "release_lease", lambda self, document_id, holder: False)
        post(ready)
    book = {path.name: path.read_text() for path in stack.postings()}
    assert len(book) == 1 and stack.ledger.get(ready["document_id"])["status"] == "received"
    # When the retry comes while the dead invocation's lease is live, it waits (PostingInProgress)
    with pytest.raises(PostingInProgress):
        post(ready)
    # and once the lease ran out it posts: the lookup by external id finds the journal the crash left
    written = book_writes(monkeypatch)
    result = post(ready, now=time.time() + POST_LEASE_SECONDS + 1)
    assert result["status"] == "posted" and result["created"] is False
    assert [name for name in written if name.startswith("postings/")] == []
    assert {path.name: path.read_text() for path in stack.postings()} == book   # the book is unchanged
    item = stack.ledger.get(ready["document_id"])
    assert item["status"] == "posted" and "lease_until" not in item and "lease_holder" not in item
    assert totals(stack, [ready["document"]])["posted_count"] == 1
