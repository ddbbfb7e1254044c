"""Reconciliation, DLQ redrive and replay against moto: nothing lost is left unnamed, nothing is posted twice."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest

from ledgerlink import wiring
from ledgerlink.ops.dlq import DlqTool
from ledgerlink.ops.replay import Replayer
from ledgerlink.store import clients
from ledgerlink.store.archive import S3Archive
from ledgerlink.store.config_store import DynamoConfigStore
from ledgerlink.store.queue import SqsQueue
from ledgerlink.store.workflow import StepFunctionsWorkflow

from tests.functional.conftest import DELETE, config_with

DAY = "2022-03-26"  # business date of the 2020-08-27-shape samples (America/New_York)


@pytest.fixture(autouse=True)
def _no_grace(monkeypatch):
    # anything not finished is overdue: the tests look at the state right after draining
    monkeypatch.setenv("LEDGERLINK_STUCK_AFTER_SECONDS", "0")


@pytest.fixture
def difference_events(stack):
    """Reconciliation differences published to EventBridge, captured through a rule → SQS target."""
    sqs, events = clients.client("sqs"), clients.client("events")
    url = sqs.create_queue(QueueName="recon-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="recon", EventPattern=json.dumps({"source": ["ledgerlink"]}))
    events.put_targets(Rule="recon", Targets=[{"Id": "q", "Arn": arn}])

    def received() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def utc_today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime())


def reconcile(entity: str | None = "us01", day: str = DAY):
    wiring.reset()
    return wiring.reconciler().run(day, [entity] if entity else None)


def replayer(stack) -> Replayer:
    tables = stack.resources.tables
    return Replayer(config=DynamoConfigStore(tables["config"]).active, archive=S3Archive(stack.resources.archive_bucket),
                    ledger=stack.ledger, inbox=stack.inbox, queue=SqsQueue(stack.resources.inbound_queue_url))


def test_a_clean_day_reconciles_to_zero_and_writes_json_and_csv(stack, difference_events):
    # Given a day of events: an invoice, its payment (two events), a refund and an unsupported type
    for name in ("01-invoice.finalized.json", "02-invoice.paid.json", "03-invoice.payment_succeeded.json",
                 "04-charge.refunded.json", "05-customer.subscription.updated.json"):
        stack.send_event(name)
    stack.send_event("01-invoice.finalized.json")  # and a provider retry
    stack.drain()
    # When the day is reconciled
    report = reconcile()
    # Then every document is accounted for: posted, or recorded without a journal (the subscription event);
    # the ERP holds exactly the posted ones, and nothing is announced
    assert report.status == "balanced", report.differences
    (usd,) = report.entities[0].documents
    assert (usd.received_count, usd.posted_count, usd.exception_count, usd.ignored_count, usd.in_flight_count) == (
        4, 3, 0, 1, 0)
    assert usd.received_amount == usd.posted_amount == "41.00"   # 20.00 invoice + 20.00 payment + 1.00 refund
    assert report.entities[0].erp == {"connection": "books", "checked": True, "ledger_posted": 3, "erp_posted": 3}
    # events are counted by UTC receipt date: today, not the business date
    assert report.events == {}
    today = reconcile(day=utc_today())
    # (the subscription event now yields a document recorded without a journal: the event is "normalized")
    assert today.events["stripe"] == {"received": 5, "processed": 5, "ignored": 0, "exception": 0}
    s3 = clients.client("s3")
    body = json.loads(s3.get_object(Bucket=stack.resources.reports_bucket, Key=report.report_key + ".json")["Body"].read())
    assert body["status"] == "balanced" and body["difference_count"] == 0
    csv_text = s3.get_object(Bucket=stack.resources.reports_bucket, Key=report.report_key + ".csv")["Body"].read().decode()
    assert f"{DAY},us01,stripe,USD,4,41.00,3,41.00,0,0.00,1,0.00,0,0.00" in csv_text
    assert difference_events() == []


def test_a_dropped_event_is_detected_named_and_recovered_by_replay(stack, difference_events):
    # Given an accepted event whose queue message is lost before the normalizer saw it
    stack.send_event("01-invoice.finalized.json")
    (message,) = stack.receive()
    clients.client("sqs").delete_message(QueueUrl=stack.resources.inbound_queue_url,
                                         ReceiptHandle=message["ReceiptHandle"])
    today = utc_today()
    # When the day is reconciled
    report = reconcile(day=today)
    # Then the event is named, with where its payload is, and the difference is announced
    (difference,) = report.differences
    assert difference.kind == "event_not_processed"
    assert difference.detail["event_id"] == "evt_1KhfNbLedgerLinkInvFinal01"
    assert difference.detail["archive_key"].startswith("raw/stripe/")
    (announced,) = difference_events()
    assert announced["detail-type"] == "LedgerLink Reconciliation Difference"
    assert announced["detail"]["differences"][0]["detail"]["event_id"] == "evt_1KhfNbLedgerLinkInvFinal01"
    # And a replay of the day from the archive completes it: posted once, reconciled to zero
    tool = replayer(stack)
    plan = tool.plan_range(date.fromisoformat(today), date.fromisoformat(today))
    assert [m["event_id"] for m in plan.messages] == ["evt_1KhfNbLedgerLinkInvFinal01"]
    tool.execute(plan)
    stack.drain()
    assert len(stack.documents("posted")) == 1 and len(stack.postings()) == 1
    assert reconcile(day=today).status == "balanced"
    assert reconcile().status == "balanced"


def test_a_document_whose_execution_never_ran_is_named_and_replay_posts_it_once(stack):
    # Given the execution start is lost for one document (e.g. the state machine was unavailable)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(StepFunctionsWorkflow, "_start", lambda self, arn, name, payload: True)
        stack.send_event("01-invoice.finalized.json")
        stack.drain()
    # When reconciled
    report = reconcile()
    (difference,) = report.differences
    assert difference.kind == "document_stuck"
    (document,) = stack.documents()
    assert difference.detail["document_id"] == document["document_id"]
    assert report.entities[0].documents[0].in_flight_count == 1
    # Then replaying that document posts it, once, even when replayed twice
    tool = replayer(stack)
    tool.execute(tool.plan_document(document["document_id"]))
    tool.execute(tool.plan_document(document["document_id"]))
    stack.drain()
    assert len(stack.postings()) == 1
    assert reconcile().status == "balanced"
    again = tool.plan_document(document["document_id"])
    assert again.messages == [] and again.skipped == [{"document_id": document["document_id"],
                                                       "reason": "already posted"}]


def test_the_erp_losing_a_posting_is_named(stack):
    stack.send_event("02-invoice.paid.json")
    stack.drain()
    victim = stack.postings()[0]
    victim.unlink()
    report = reconcile()
    (difference,) = report.differences
    assert difference.kind == "missing_in_erp"
    assert difference.detail["document_id"] == victim.stem
    assert report.entities[0].erp["erp_posted"] == 1 and report.entities[0].erp["ledger_posted"] == 2


def test_dlq_redrive_processes_parked_messages_once_even_when_redriven_twice(stack):
    # Given an event whose message was parked in the DLQ (the normalizer failed it repeatedly)
    sqs = clients.client("sqs")
    stack.send_event("02-invoice.paid.json")
    (message,) = stack.receive()
    for _ in range(2):  # the same message parked twice, e.g. a duplicate delivery that also failed
        sqs.send_message(QueueUrl=stack.resources.inbound_dlq_url, MessageBody=message["Body"])
    sqs.delete_message(QueueUrl=stack.resources.inbound_queue_url, ReceiptHandle=message["ReceiptHandle"])
    tool = DlqTool(sqs, dlq_url=stack.resources.inbound_dlq_url, source_url=stack.resources.inbound_queue_url)
    # When an operator looks, then redrives (moto has no StartMessageMoveTask: the receive/send fallback runs)
    parked = tool.list()
    assert [p.summary()["event_id"] for p in parked] == ["evt_1KhfNbLedgerLinkInvPaid001"] * 2
    assert tool.redrive(dry_run=True).moved == 0 and tool.depth() == 2
    result = tool.redrive()
    stack.drain()
    # Then both copies were processed and the invoice and payment are posted exactly once
    assert (result.mode, result.moved, tool.depth()) == ("receive_send", 2, 0)
    assert len(stack.documents("posted")) == 2 and len(stack.postings()) == 2
    assert reconcile().status == "balanced"


class TestReplayAfterAMappingFix:
    @pytest.fixture
    def stack_config(self):
        return config_with(account_mappings__0__accounts__refunds=DELETE)

    def test_replay_pinned_to_the_fixed_configuration_posts_and_closes_the_case(self, stack):
        # Given a refund stuck in exception because the refunds account was not mapped
        stack.send_event("04-charge.refunded.json")
        stack.drain()
        (case,) = stack.exceptions.list("open")
        (document,) = stack.documents("exception")
        report = reconcile()
        assert report.status == "balanced"  # an open exception is accounted for, not a difference
        assert report.entities[0].documents[0].exception_count == 1
        # When finance fixes the mapping (a new configuration version) and replays the document pinned to it
        fixed = config_with()
        version, _ = DynamoConfigStore(stack.resources.tables["config"]).apply(fixed, applied_by="ops",
                                                                               content_hash="fixed")
        tool = replayer(stack)
        tool.execute(tool.plan_document(document["document_id"], config_version=version))
        stack.drain()
        # Then it posts once, the case is resolved with a history entry, and the day still reconciles
        assert [d["status"] for d in stack.documents()] == ["posted"]
        assert stack.exceptions.list("open") == []
        closed = stack.exceptions.get(case["exception_id"])
        assert closed["status"] == "resolved" and closed["history"][-1]["action"] == "resolved"
        final = reconcile()
        assert final.status == "balanced"
        row = final.entities[0].documents[0]
        assert (row.received_count, row.posted_count, row.exception_count) == (1, 1, 0)


def test_replaying_an_event_whose_archived_request_is_gone_is_refused_with_a_reason(stack):
    # (an archive key an operator mistyped, or an object removed after its retention) — a 409, never a 5xx
    from ledgerlink.errors import OpsError

    with pytest.raises(OpsError) as refused:
        replayer(stack).plan_event("stripe", "raw/stripe/2026-11-24/evt_gone.json", "evt_gone")
    assert (refused.value.status, refused.value.reason) == (409, "archive_missing")
    assert stack.queue_depth() == 0


def test_an_event_unprocessed_for_more_than_15_minutes_is_a_difference_by_default(stack, monkeypatch):
    import time_machine

    monkeypatch.delenv("LEDGERLINK_STUCK_AFTER_SECONDS")   # the deployed default, not this module's 0
    # Given an accepted event whose message never reached the normalizer (a poison message parked, a lost one)
    stack.send_event("01-invoice.finalized.json")
    (message,) = stack.receive()
    clients.client("sqs").delete_message(QueueUrl=stack.resources.inbound_queue_url,
                                         ReceiptHandle=message["ReceiptHandle"])
    today, accepted = utc_today(), time.time()
    # 10 minutes later it is still in flight; 16 minutes later the day is not balanced, and the report says why
    with time_machine.travel(accepted + 600, tick=False):
        early = reconcile(day=today)
    with time_machine.travel(accepted + 960, tick=False):
        late = reconcile(day=today)
    assert early.status == "balanced" and early.stuck_after_seconds == 900
    assert late.status == "difference" and late.to_dict()["stuck_after_seconds"] == 900
    assert [d.kind for d in late.differences] == ["event_not_processed"]
