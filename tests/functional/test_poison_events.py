"""Poison events (issue 18, defect 2): a validly signed event that fails the same way on every attempt becomes a case
on the first one — never a message that loops through SQS into the DLQ while the inbox keeps it "pending". Only
storage, network and throttling errors are retried by SQS."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from tests.conftest import EVENTS
from tests.functional.test_governance import ops


def poison_invoice() -> bytes:
    event = json.loads((EVENTS / "stripe" / "02-invoice.paid.json").read_text())
    invoice = event["data"]["object"]
    for key in ("total", "subtotal", "amount_due", "amount_paid"):
        invoice[key] = 10 ** 30
    for line in invoice["lines"]["data"]:
        line["amount"] = 10 ** 30
    event["id"] = "evt_1PoisonTotalsTenToThe30"
    return json.dumps(event).encode()


def test_totals_of_10_to_the_30_are_a_case_on_the_first_delivery(stack):
    assert stack.send(poison_invoice()).status == 202
    failed, deleted = stack.deliver(stack.receive())
    assert (failed, deleted) == (0, 1) and stack.queue_depth() == 0
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "amount_out_of_range" and case["archive_key"]
    claim = stack.inbox.get("stripe", "evt_1PoisonTotalsTenToThe30")
    assert claim["status"] == "processed" and claim["outcome"] == "exception"
    assert stack.documents() == []


def test_an_unexpected_error_after_the_payload_was_read_is_a_case_and_its_retry_posts(stack, monkeypatch):
    from ledgerlink.service import normalize as service

    real = service.ledger_record

    def defect(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise TypeError("a defect that fails on every attempt")

    monkeypatch.setattr(service, "ledger_record", defect)
    stack.send_event("02-invoice.paid.json")
    failed, _ = stack.deliver(stack.receive())
    assert failed == 0 and stack.queue_depth() == 0        # not retried through SQS
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "processing_failed"
    assert case["detail"]["error_type"] == "TypeError"
    assert re.fullmatch(r"[\w.]+/[\w.]+\.py:\d+", case["detail"]["at"]), case["detail"]   # relative, no host path
    assert "fails on every attempt" not in case["message"]   # the type and where, never the text
    # once fixed, retrying the case replays the archived event and posts it
    monkeypatch.setattr(service, "ledger_record", real)
    status, body = ops(stack, "POST", f"/exceptions/{case['exception_id']}/retry", {"note": "defect fixed"})
    assert status == 200, body
    stack.drain()
    assert sorted(d["status"] for d in stack.documents()) == ["posted", "posted"]


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "InternalServerError"])
def test_a_throttled_or_unavailable_store_is_retried_by_sqs_not_turned_into_a_case(stack, monkeypatch, code):
    from ledgerlink.service import normalize as service

    def throttled(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ClientError({"Error": {"Code": code, "Message": "slow down"},
                           "ResponseMetadata": {"HTTPStatusCode": 400 if "Throughput" in code else 500}}, "PutItem")

    monkeypatch.setattr(service, "ledger_record", throttled)
    stack.send_event("02-invoice.paid.json")
    failed, _ = stack.deliver(stack.receive())
    assert failed == 1 and stack.exceptions.list("open") == []


def test_a_message_that_keeps_failing_is_listed_in_the_dlq_with_the_reason_it_failed(stack, monkeypatch):
    from ledgerlink.ops.dlq import DlqTool
    from ledgerlink.service import normalize as service
    from ledgerlink.store import clients

    def throttled(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutItem")

    monkeypatch.setattr(service, "ledger_record", throttled)
    stack.send_event("02-invoice.paid.json")
    (message,) = stack.receive()
    assert stack.deliver([message]) == (1, 0)
    event_id = json.loads(message["Body"])["event_id"]
    claim = stack.inbox.get("stripe", event_id)
    assert claim["status"] == "pending" and claim["failed_attempts"] == 1
    assert re.fullmatch(r"ClientError at [\w.]+/[\w.]+\.py:\d+", claim["last_error"]), claim["last_error"]
    # parked in the DLQ (as SQS does after maxReceiveCount): the listing names why
    sqs = clients.client("sqs")
    sqs.send_message(QueueUrl=stack.resources.inbound_dlq_url, MessageBody=message["Body"])
    tool = DlqTool(sqs, dlq_url=stack.resources.inbound_dlq_url, source_url=stack.resources.inbound_queue_url,
                   claims=stack.inbox.get)
    (parked,) = tool.list()
    assert parked.summary()["event_id"] == event_id and parked.summary()["last_error"] == claim["last_error"]
