"""The Express happy path and its hand-over to the Standard workflow (D76), on moto's engine with the deployed
definitions: what posts never touches the Standard workflow; a rejection opens its case without running the
steps again; a second Express run of the same document posts nothing twice."""

from __future__ import annotations

import json
import uuid

import pytest

from ledgerlink.store import clients

from tests.functional.conftest import config_with

INVOICE_PAID = "02-invoice.paid.json"


def entered(execution_arn: str) -> list[str]:
    history = clients.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event]


class TestRejection:
    @pytest.fixture
    def stack_config(self):
        return config_with(entities__0__closed_period_policy="reject")

    def test_a_rejection_is_handed_over_once_and_opens_its_case_without_running_the_steps_again(self, stack):
        stack.send_event("09-invoice.finalized.closed-period.json")
        stack.drain()
        (document,) = stack.documents()
        (express,) = stack.executions(workflow="happy_path")
        (standard,) = stack.executions(workflow="standard")
        # the happy path ran until validate rejected the date, then escalated; it still succeeded itself
        assert express["status"] == "SUCCEEDED" and express["name"] == document["document_id"]
        assert entered(express["executionArn"]) == ["EnsureMasterData", "Enrich", "Validate", "Escalate"]
        # the Standard execution, named by the document, went straight to the case and waits on it
        assert standard["name"] == document["document_id"] and standard["status"] == "RUNNING"
        assert entered(standard["executionArn"]) == ["Escalated", "OpenException"]
        (case,) = stack.exceptions.list("open")
        assert case["reason"] == "period_closed" and document["status"] == "exception"
        assert stack.postings() == []


def test_a_second_express_run_of_a_posted_document_posts_nothing_and_hands_nothing_over(stack):
    stack.send_event(INVOICE_PAID)
    stack.drain()
    posted = {item["document_id"]: item for item in stack.documents("posted")}
    assert len(posted) == 2 and len(stack.postings()) == 2
    # When Express runs a document again (at-least-once start, or normalize restarting it after a crash)
    item = next(iter(posted.values()))
    payload = {"document_id": item["document_id"], "correlation_id": item["correlation_id"], "source_id": "stripe",
               "archive_key": item["archive_key"], "config_version": 1, "received_at": None,
               "document": json.loads(item["document"])}
    clients.client("stepfunctions").start_execution(
        stateMachineArn=stack.resources.happy_path_arn, name=f"again-{uuid.uuid4().hex[:8]}",
        input=json.dumps(payload))
    stack.wait_for_executions()
    # Then the post step's lease returned the stored result: nothing new in the book, nothing escalated
    again = [e for e in stack.executions(workflow="happy_path") if e["name"].startswith("again-")]
    assert [e["status"] for e in again] == ["SUCCEEDED"]
    assert entered(again[0]["executionArn"])[-1] == "Post"
    assert len(stack.postings()) == 2 and stack.executions(workflow="standard") == []
    assert stack.ledger.get(item["document_id"])["erp_ref"] == item["erp_ref"]
