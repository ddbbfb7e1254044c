"""Governed posting end to end: a bad mapping never posts; fixing it and retrying posts exactly once.

The refund arrives while the configuration lacks the ``refunds`` account: the execution opens a
``mapping_missing`` case and waits on its task token. Finance applies a fixed configuration (``config apply``,
audited with its diff) and retries the case through the ops API (IAM-authenticated on AWS; here the caller is
in the request context): the same execution resumes with the new version, posts once, and the case closes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ledgerlink.local.http_front import ops_event
from ledgerlink.model.documents import SourceRef
from ledgerlink.ops.commands import config_apply, config_diff
from ledgerlink.ops.target import Target
from ledgerlink.store import clients
from ledgerlink.store.audit import DynamoAudit

from tests.functional.conftest import DELETE, Stack, config_with, served_like

ALICE = "arn:aws:iam::123456789012:user/alice"


def ops(stack: Stack, method: str, path: str, body: dict[str, Any] | None = None, *,
        caller: str = ALICE) -> tuple[int, dict[str, Any]]:
    event = ops_event(method, path, {"content-type": "application/json"},
                      json.dumps(body).encode() if body is not None else b"", caller)
    assert event is not None, path
    response = stack.host.invoke("ops", event)
    return response["statusCode"], json.loads(response["body"])


def audit_actions(stack: Stack) -> list[tuple[str, str]]:
    entries = DynamoAudit(stack.resources.tables["audit"]).on(datetime.now(UTC).date().isoformat())
    return [(entry["action"], entry["actor"]) for entry in sorted(entries, key=lambda e: e["sk"])]


@pytest.fixture
def stack_config():
    return config_with(account_mappings__0__accounts__refunds=DELETE)


@pytest.fixture
def notifications(stack: Stack) -> str:
    """An SQS queue subscribed to the exception notifications on the event bus (what an ops team would wire)."""
    sqs, events = clients.client("sqs"), clients.client("events")
    url = sqs.create_queue(QueueName="ll-test-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="ll-test-exception-opened", EventBusName="default",
                    EventPattern=json.dumps({"source": [{"prefix": "ledgerlink"}],
                                             "detail-type": ["LedgerLink Exception Opened"]}))
    events.put_targets(Rule="ll-test-exception-opened", EventBusName="default", Targets=[{"Id": "q", "Arn": arn}])
    return url


def notified(url: str) -> list[dict[str, Any]]:
    messages = clients.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_bad_mapping_waits_then_fix_and_retry_posts_exactly_once(stack: Stack, notifications: str) -> None:
    # Given a refund posted while the refunds account is unmapped
    stack.send_event("04-charge.refunded.json")
    stack.drain()
    # Then nothing is posted: the document is in exception, its execution waits for a decision
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "mapping_missing" and "refunds" in case["message"]
    assert "accounts.refunds" in case["suggested_fix"]
    (document,) = stack.documents("exception")
    assert stack.postings() == []
    assert len(stack.executions("RUNNING")) == 1
    # and finance ops was notified on the event bus
    (event,) = notified(notifications)
    assert event["detail-type"] == "LedgerLink Exception Opened"
    assert event["detail"]["reason"] == "mapping_missing"
    assert event["detail"]["exception_id"] == case["exception_id"]

    # When someone retries before fixing anything, it still does not post
    status, body = ops(stack, "POST", f"/exceptions/{case['exception_id']}/retry", {"note": "try again"})
    assert status == 200, body
    stack.wait_for_executions()
    assert stack.postings() == []
    (again,) = stack.exceptions.list("open")
    assert again["reason"] == "mapping_missing"

    # When finance reviews the fix (diff) and applies it as a new configuration version
    target = Target("local", stack.resources.environment())
    fixed = served_like(config_with(), stack)
    active, changes = config_diff(target, fixed)
    assert [(c.kind, c.path) for c in changes] == [
        ("added", "account_mappings[entity=us01 source=stripe].accounts.refunds")]
    applied = config_apply(target, fixed, applied_by=ALICE)
    assert applied["changed"] and applied["version"] == active + 1
    # and retries the case through the ops API
    status, body = ops(stack, "POST", f"/exceptions/{again['exception_id']}/retry", {"note": "refunds mapped"})
    assert status == 200, body
    assert body["status"] == "retrying"
    stack.wait_for_executions()

    # Then the same document posts exactly once, with the fixed configuration's version
    (posted,) = stack.documents()
    assert posted["status"] == "posted" and posted["document_id"] == document["document_id"]
    assert int(posted["config_version"]) == applied["version"]
    assert len(stack.postings()) == 1
    assert stack.executions("RUNNING") == []
    closed = stack.exceptions.get(again["exception_id"])
    assert closed["status"] == "resolved"
    assert [entry["action"] for entry in closed["history"]][-2:] == ["retry", "resolved"]
    assert stack.exceptions.list("open") == []

    # and a second retry of the closed case is refused with a reason, posting nothing more
    status, body = ops(stack, "POST", f"/exceptions/{again['exception_id']}/retry")
    assert (status, body["reason"]) == (409, "not_open")
    assert len(stack.postings()) == 1

    # and the trace tells the whole story: webhook → document → mapping version → ERP reference
    status, trace = ops(stack, "GET", f"/documents/{document['document_id']}")
    assert status == 200
    assert trace["webhook"]["event_id"] and trace["webhook"]["archive_key"]
    assert int(trace["mapping"]["config_version"]) == applied["version"]
    assert trace["erp"]["reference"]
    assert {c["status"] for c in trace["exceptions"]} == {"resolved"}

    # and the audit trail has every decision, under the caller who made it
    actions = audit_actions(stack)
    assert [a for a, who in actions if who == ALICE].count("exception_retry") == 2
    apply_entry = next(e for e in DynamoAudit(stack.resources.tables["audit"]).on(
        datetime.now(UTC).date().isoformat()) if e["action"] == "config_apply")
    assert apply_entry["detail"]["applied_by"] == ALICE
    assert "accounts.refunds" in apply_entry["detail"]["changes"]
    assert apply_entry["detail"]["previous_version"] == str(active)


def test_ignore_and_resolve_require_a_reason(stack: Stack) -> None:
    stack.send_event("04-charge.refunded.json")
    stack.drain()
    (case,) = stack.exceptions.list("open")
    for action in ("ignore", "resolve"):
        status, body = ops(stack, "POST", f"/exceptions/{case['exception_id']}/{action}", {"reason": "  "})
        assert (status, body["reason"]) == (400, "reason_required")
    assert stack.exceptions.get(case["exception_id"])["status"] == "open"
    # With a reason, ignore closes the case, ends the waiting execution and posts nothing
    status, body = ops(stack, "POST", f"/exceptions/{case['exception_id']}/ignore",
                       {"reason": "refund booked by hand in the ERP"})
    assert status == 200 and body["status"] == "ignored"
    stack.wait_for_executions()
    assert stack.executions("RUNNING") == []
    assert stack.postings() == []
    (document,) = stack.documents()
    assert document["status"] == "ignored" and "booked by hand" in document["ignored_reason"]
    assert ("exception_ignore", ALICE) in audit_actions(stack)


def test_exceptions_are_listed_by_status_and_entity(stack: Stack) -> None:
    stack.send_event("04-charge.refunded.json")
    stack.drain()
    status, body = ops(stack, "GET", "/exceptions?status=open&entity=us01")
    assert status == 200 and body["count"] == 1
    assert body["exceptions"][0]["reason"] == "mapping_missing"
    assert "task_token" not in body["exceptions"][0]  # a capability to resume the execution is never exposed
    status, body = ops(stack, "GET", "/exceptions?status=open&entity=gb01")
    assert (status, body["count"]) == (200, 0)


def test_validate_endpoint_reports_findings_without_posting(stack: Stack) -> None:
    source = SourceRef(system="stripe", object_type="refund", object_id="re_1", source_id="stripe")
    refund = {
        "document_type": "payment", "direction": "refunded", "document_id": source.document_id(),
        "source": source.model_dump(mode="json"),
        "entity_id": "us01", "correlation_id": "corr-validate", "occurred_at": "2024-03-15T12:00:00Z",
        "accounting_date": "2024-03-15", "currency": "USD", "amount": {"amount": "5.00", "currency": "USD"},
    }
    status, body = ops(stack, "POST", "/validate/payment", refund)
    assert status == 200, body
    assert body["valid"] is False
    assert {finding["reason"] for finding in body["findings"]} == {"mapping_missing"}
    assert stack.documents() == [] and stack.postings() == []
    # a malformed document names the field instead of failing the request
    status, body = ops(stack, "POST", "/validate/payment", {**refund, "amount": {"amount": "abc", "currency": "USD"}})
    assert status == 200 and body["valid"] is False
    assert {f["reason"] for f in body["findings"]} == {"invalid_document"}
    assert any("amount" in f["field"] for f in body["findings"])
