"""Webhook → normalize → post-document state machine (moto's engine, the deployed ASL) → Beancount book."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from beancount import loader

from ledgerlink.store import clients
from ledgerlink.store.books import FileBookStore

from tests.conftest import contract_json
from tests.functional.conftest import DELETE, config_with, event_bytes

INVOICE_PAID = "02-invoice.paid.json"


def book_errors(stack) -> list:
    _, errors, _ = loader.load_file(str(stack.book_dir / "main.beancount"))
    return errors


def test_invoice_paid_posts_receivable_and_cash_journals_once(stack):
    # Given a paid invoice event
    assert stack.send_event(INVOICE_PAID).status == 202
    # When the pipeline runs
    stack.drain()
    # Then the invoice and its payment are posted, each once, and the book is valid Beancount
    posted = {item["document_type"]: item for item in stack.documents("posted")}
    assert set(posted) == {"invoice", "payment"}
    assert len(stack.postings()) == 2
    assert book_errors(stack) == []
    invoice = posted["invoice"]
    assert invoice["erp_ref"].endswith(f"postings/{invoice['document_id']}.beancount")
    text = (stack.book_dir / "postings" / f"{invoice['document_id']}.beancount").read_text()
    assert f'correlation_id: "{invoice["correlation_id"]}"' in text  # webhook → posting trace
    assert "Assets:US01:AccountsReceivable:Stripe" in text and "20.00 USD" in text
    # And the inbox records what the event became
    claim = stack.inbox.get("stripe", "evt_1KhfNbLedgerLinkInvPaid001")
    assert claim["status"] == "processed" and sorted(claim["document_ids"]) == sorted(
        item["document_id"] for item in posted.values())


def test_every_document_runs_the_express_happy_path_named_by_its_id_and_no_standard_execution(stack):
    stack.send_event(INVOICE_PAID)
    stack.drain()
    express = stack.executions(workflow="happy_path")
    assert {execution["name"] for execution in express} == {item["document_id"] for item in stack.documents()}
    assert all(execution["status"] == "SUCCEEDED" for execution in express) and len(express) == 2
    # nothing went wrong, so nothing was handed to the Standard workflow (billed per state transition)
    assert stack.executions(workflow="standard") == []


def test_two_events_describing_the_same_facts_post_nothing_twice(stack):
    # invoice.paid and invoice.payment_succeeded describe one invoice and one payment
    stack.send_event(INVOICE_PAID)
    stack.send_event("03-invoice.payment_succeeded.json")
    stack.send_event("01-invoice.finalized.json")
    stack.drain()
    assert len(stack.documents("posted")) == 2
    assert len(stack.postings()) == 2
    assert len(stack.executions()) == 2  # the later events found the documents already registered


def test_replayed_webhook_never_adds_a_second_posting(stack):
    # Given an event that has been posted
    body = event_bytes(INVOICE_PAID)
    stack.send(body)
    stack.drain()
    before = {path.name: path.read_text() for path in stack.postings()}
    # When the provider replays it, when the SQS message is redriven from a DLQ, and when the same
    # facts arrive under a brand-new event id
    assert stack.send(body).body["status"] == "duplicate"
    message = {"v": 1, "source": "stripe", "kind": "stripe", "event_id": "evt_1KhfNbLedgerLinkInvPaid001",
               "event_type": "invoice.paid", "correlation_id": "redrive-1",
               "archive_key": stack.inbox.get("stripe", "evt_1KhfNbLedgerLinkInvPaid001")["archive_key"]}
    clients.client("sqs").send_message(QueueUrl=stack.resources.inbound_queue_url, MessageBody=json.dumps(message))
    stack.send(event_bytes(INVOICE_PAID, id="evt_replay_with_new_id"))
    stack.drain()
    # Then the book is byte-for-byte unchanged
    assert {path.name: path.read_text() for path in stack.postings()} == before
    assert len(stack.executions()) == 2


def test_a_rerun_of_a_posted_document_answers_from_the_ledger_without_calling_the_erp(stack, monkeypatch):
    # Given a posted document whose execution name has been freed (e.g. 90 days later): guard 1 removed
    stack.send_event(INVOICE_PAID)
    stack.drain()
    invoice = next(item for item in stack.documents("posted") if item["document_type"] == "invoice")
    before = {path.name: path.read_text() for path in stack.postings()}
    erp_calls = []
    original = FileBookStore.create
    monkeypatch.setattr(FileBookStore, "create", lambda self, name, text: erp_calls.append(name) or original(
        self, name, text))
    # When the state machine runs the document again under another execution name
    output = stack.run_again(invoice)
    # Then the post step's lease was refused by the posted ledger item: the stored result, no ERP write
    assert output["status"] == "posted" and output["created"] is False and output["stored_result"] is True
    assert output["erp_ref"] == invoice["erp_ref"]
    assert erp_calls == []
    assert {path.name: path.read_text() for path in stack.postings()} == before


def test_a_lost_ledger_record_still_cannot_post_twice(stack):
    # Given a posted document whose execution name has been freed and whose ledger item lost its posted state
    # (guards 1 and 2 removed): only the ERP's external-id lookup stands between us and a double posting
    stack.send_event(INVOICE_PAID)
    stack.drain()
    invoice = next(item for item in stack.documents("posted") if item["document_type"] == "invoice")
    before = {path.name: path.read_text() for path in stack.postings()}
    stack.forget_stored_result(invoice["document_id"])
    # When the state machine runs the document again under another execution name
    output = stack.run_again(invoice)
    # Then the post step found the existing posting instead of writing another, and recorded it again
    assert output["status"] == "posted" and output["created"] is False and "stored_result" not in output
    assert {path.name: path.read_text() for path in stack.postings()} == before
    assert stack.ledger.get(invoice["document_id"])["status"] == "posted"


def test_unsupported_event_type_is_recorded_and_acknowledged_not_failed(stack):
    event = contract_json("stripe/events/balance.available.json")
    event["id"] = "evt_1KhfOdLedgerLinkBalance001"
    reply = stack.send(json.dumps(event).encode())
    stack.drain()
    assert reply.status == 202
    claim = stack.inbox.get("stripe", "evt_1KhfOdLedgerLinkBalance001")
    assert claim["outcome"] == "ignored"
    assert claim["reasons"] == ["unsupported_event_type: balance.available"]
    assert stack.documents() == [] and stack.executions() == []
    assert stack.queue_depth() == 0 and stack.queue_depth(stack.resources.inbound_dlq_url) == 0


def test_payload_that_cannot_be_normalized_becomes_an_exception_naming_the_archive(stack):
    # Given a signed invoice whose lines do not add up to its total
    event = json.loads(event_bytes("01-invoice.finalized.json"))
    event["id"] = "evt_inconsistent"
    event["data"]["object"]["total"] = 2500
    stack.send(json.dumps(event).encode())
    stack.drain()
    # Then finance ops get a case with the reason and where the raw payload is
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "amounts_inconsistent"
    assert case["archive_key"] == stack.inbox.get("stripe", "evt_inconsistent")["archive_key"]
    assert stack.archived(case["archive_key"])  # the evidence exists
    assert stack.inbox.get("stripe", "evt_inconsistent")["outcome"] == "exception"
    assert stack.postings() == []


def test_broken_queue_message_fails_only_itself_and_ends_in_the_dlq(stack):
    # Given a batch with one good event and one message that is not a LedgerLink message at all
    stack.send_event("01-invoice.finalized.json")
    clients.client("sqs").send_message(QueueUrl=stack.resources.inbound_queue_url, MessageBody="not json")
    # When the batch is delivered until the redrive policy gives up on the bad one (maxReceiveCount 2)
    for _ in range(4):
        messages = stack.receive()
        if messages:
            stack.deliver(messages)
        time.sleep(1.1)  # visibility timeout 1 s
    stack.wait_for_executions()
    # Then the good event was posted and the bad message is parked in the DLQ, not lost
    assert len(stack.documents("posted")) == 1
    assert stack.queue_depth() == 0
    dlq = clients.client("sqs").receive_message(QueueUrl=stack.resources.inbound_dlq_url).get("Messages", [])
    assert [m["Body"] for m in dlq] == ["not json"]


def test_transient_erp_failure_is_retried_by_the_state_machine_and_posts_once(stack, monkeypatch):
    # Given the book store fails once with a transient error (e.g. an S3 write conflict)
    from ledgerlink.errors import TransientError

    calls = {"n": 0}
    original = FileBookStore.create

    def flaky(self, name, text):
        if name.startswith("postings/"):
            calls["n"] += 1
            if calls["n"] == 1:
                raise TransientError("simulated write conflict", reason="write_conflict")
        return original(self, name, text)

    monkeypatch.setattr(FileBookStore, "create", flaky)
    stack.send_event("01-invoice.finalized.json")
    stack.drain(timeout=90)
    # Then the Retry of the state machine (not code) got it through, exactly once
    assert calls["n"] == 2
    assert len(stack.documents("posted")) == 1 and len(stack.postings()) == 1
    assert stack.exceptions.list("open") == []


class TestClosedPeriodRejected:
    @pytest.fixture
    def stack_config(self):
        return config_with(entities__0__closed_period_policy="reject")

    def test_document_in_a_closed_period_opens_an_exception_and_posts_nothing(self, stack):
        stack.send_event("09-invoice.finalized.closed-period.json")
        stack.drain()
        (case,) = stack.exceptions.list("open")
        assert case["reason"] == "period_closed"
        assert "closed through 2021-12-31" in case["message"]
        assert case["suggested_fix"]
        (document,) = stack.documents()
        assert document["status"] == "exception" and document["exception_id"] == case["exception_id"]
        assert stack.postings() == []


def test_closed_period_with_next_open_period_policy_moves_the_date_and_says_why(stack):
    stack.send_event("09-invoice.finalized.closed-period.json")
    stack.drain()
    (document,) = stack.documents("posted")
    assert document["posted_accounting_date"] == "2022-01-01"
    text = stack.postings()[0].read_text()
    assert text.startswith("2022-01-01 *")
    assert 'original_date: "2021-12-20"' in text and "period closed" in text


class TestMissingMapping:
    @pytest.fixture
    def stack_config(self):
        return config_with(account_mappings__0__accounts__refunds=DELETE)

    def test_unmapped_role_opens_an_exception_with_a_fix_and_other_documents_still_post(self, stack):
        stack.send_event("04-charge.refunded.json")
        stack.send_event("01-invoice.finalized.json")
        stack.drain()
        (case,) = stack.exceptions.list("open")
        assert case["reason"] == "mapping_missing"
        assert "refunds" in case["message"] and "accounts.refunds" in case["suggested_fix"]
        assert case["detail"]["role"] == "refunds"
        statuses = sorted(item["status"] for item in stack.documents())
        assert statuses == ["exception", "posted"]
        assert len(stack.postings()) == 1


def test_all_samples_post_balanced_books_that_pass_bean_check(stack):
    from ledgerlink.connectors.erps.beancount import BeancountBook

    from tests.conftest import EVENTS

    # the billing and payment samples 01-13 (14-19, the annual subscription and usage story, have their own
    # balances in test_revenue_pipeline; the demo and the chaos suite send all of them)
    for path in sorted((EVENTS / "stripe").glob("*.json"))[:13]:
        assert stack.send(path.read_bytes()).status == 202
    stack.drain()
    assert stack.exceptions.list("open") == []
    posted = stack.documents("posted")
    assert len([d for d in posted if d["erp_connection"] == "books"]) == 11      # + payout, dispute, credit note
    assert len([d for d in posted if d["erp_connection"] == "legacy-gl"]) == 2   # gb01's GL import file
    assert len(stack.documents("ignored")) == 1      # the subscription event: recorded, no journal
    assert book_errors(stack) == []
    balance = BeancountBook(stack.config.connection("books"), FileBookStore(stack.book_dir)).trial_balance()
    # receivable left open: the unpaid December 2021 invoice (20 USD) less the 16.90 USD credit note, and ¥5,000
    assert balance[("Assets:US01:AccountsReceivable:Stripe", "USD")] == Decimal("3.10")
    assert balance[("Assets:US01:AccountsReceivable:Stripe", "JPY")] == Decimal("5000")
    # cash: 20.00 USD paid - 1.00 refunded - 11.00 paid out - 10.00 disputed - 15.00 dispute fee;
    # 128.52 EUR paid - 20.00 EUR refunded
    assert balance[("Assets:US01:Clearing:Stripe", "USD")] == Decimal("-17.00")
    assert balance[("Assets:US01:Clearing:PayoutsInTransit", "USD")] == Decimal("11.00")
    assert balance[("Assets:US01:Clearing:Stripe", "EUR")] == Decimal("108.52")
    for currency in ("USD", "EUR", "JPY"):  # every journal balanced, so the book does too
        assert sum(v for (_, c), v in balance.items() if c == currency) == 0
