"""Approvals end to end on the local stack: a document above its entity's approval threshold waits on an
``approval_required`` case; an approver approves it (the same execution resumes and posts it once) or rejects it
(the execution ends, the document is ignored). Separation of duties: whoever applied the configuration that set the
thresholds may not approve under them.

The threshold is 10.00 USD on us01; the Stripe invoice (events/stripe/01-invoice.finalized.json) totals 2000 cents,
so its journal moves 20.00 USD (one receivable debit of the invoice total): figures read from the event here, not
from what LedgerLink computed.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink import wiring
from ledgerlink.errors import OpsError
from ledgerlink.ops.commands import config_apply, replayer
from ledgerlink.ops.target import Target
from ledgerlink.service.exceptions import ExceptionsService
from ledgerlink.store import clients
from ledgerlink.store.audit import DynamoAudit
from ledgerlink.store.config_store import DynamoConfigStore
from ledgerlink.store.workflow import StepFunctionsWorkflow

from tests.conftest import EVENTS
from tests.functional.conftest import Stack, config_with, served_like
from tests.functional.test_governance import audit_actions, ops

INVOICE = "01-invoice.finalized.json"
BOB = "bob@finance.example"        # an approver
CAROL = "carol@finance.example"    # another approver
CONFIGURER = "functional-test"     # applied the stack's first configuration (tests/functional/conftest.py)


def invoice_total() -> Decimal:
    """The invoice's total in USD, from the event itself (Stripe amounts are in cents)."""
    event = json.loads((EVENTS / "stripe" / INVOICE).read_text())
    assert event["data"]["object"]["currency"] == "usd"
    return Decimal(event["data"]["object"]["total"]) / 100


def thresholds(amount: str, **controls: Any) -> list[dict[str, Any]]:
    return [{"entity": "us01", "approval_thresholds": [{"amount": amount, "currency": "USD"}], **controls}]


@pytest.fixture
def stack_config():
    return config_with(controls=thresholds("10.00"))


class CountingWorkflow:
    """The real Step Functions client, counting the resumes per task token."""

    def __init__(self, arn: str) -> None:
        self._workflow = StepFunctionsWorkflow(arn)
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def send_task_success(self, task_token: str, output: Any) -> None:
        with self._lock:
            self.sent.append((task_token, dict(output)))
        self._workflow.send_task_success(task_token, output)


def service(stack: Stack, workflow: CountingWorkflow | None = None) -> tuple[ExceptionsService, CountingWorkflow]:
    """The ops service as wiring builds it, its resumes counted."""
    tables = stack.resources.tables
    workflow = workflow or CountingWorkflow(stack.resources.state_machine_arn)
    store = DynamoConfigStore(tables["config"], cache_seconds=0)
    return ExceptionsService(cases=stack.exceptions, ledger=stack.ledger, workflow=workflow,
                             audit=DynamoAudit(tables["audit"]), config=store.active, versions=store,
                             replayer=replayer(Target("local", stack.resources.environment()))), workflow


def settle(stack: Stack, expected: int) -> list[dict[str, Any]]:
    """Drain until ``expected`` cases are open, none of them a step that timed out on a loaded machine (the local
    function host runs one invocation per function at a time: a parallel test run can push a task past its
    timeout, which opens ``unexpected_error``; retrying it is what finance ops would do)."""
    deadline = time.monotonic() + 60
    while True:   # a message whose normalize failed under load comes back after its visibility timeout (1 s)
        stack.drain()
        cases = stack.exceptions.list("open")
        timed_out = [case for case in cases if case["reason"] == "unexpected_error"]
        if (len(cases) == expected and not timed_out) or time.monotonic() > deadline:
            return cases
        for case in timed_out:
            wiring.ops_services().exceptions.retry(case["exception_id"], actor="functional-test")
        time.sleep(0.5)


def held(stack: Stack) -> dict[str, Any]:
    """The invoice sent and waiting on its approval case."""
    stack.send_event(INVOICE)
    (case,) = settle(stack, 1)
    return case


def apply(stack: Stack, config: Any, who: str) -> int:
    applied = config_apply(Target("local", stack.resources.environment()), served_like(config, stack), applied_by=who)
    assert applied["changed"]
    return int(applied["version"])


def test_a_document_over_the_threshold_waits_then_an_approval_posts_it_once(stack: Stack) -> None:
    case = held(stack)
    # Then the invoice waits on an approval case that shows its amount; nothing is posted
    total = invoice_total()
    assert case["reason"] == "approval_required"
    assert Decimal(case["detail"]["amount"]) == total and case["detail"]["currency"] == "USD"
    assert Decimal(case["detail"]["threshold"]) == Decimal("10.00")
    (document,) = stack.documents("exception")
    assert stack.postings() == [] and len(stack.executions("RUNNING")) == 1
    exceptions, workflow = service(stack)

    # When an approver approves it
    shown = exceptions.approve(case["exception_id"], actor=BOB, note="checked the contract")
    assert shown["status"] == "retrying" and "task_token" not in shown
    stack.wait_for_executions()

    # Then the same execution posts it, exactly once, under the approval
    (token, decision), = workflow.sent
    assert decision["action"] == "retry" and decision["exception_id"] == case["exception_id"]
    assert decision["approval"]["by"] == BOB and decision["approval"]["amounts"] == {"USD": f"{total:.2f}"}
    (posted,) = stack.documents()
    assert posted["status"] == "posted" and posted["document_id"] == document["document_id"]
    assert len(stack.postings()) == 1
    assert f"{total:.2f} USD" in stack.postings()[0].read_text()
    assert stack.executions("RUNNING") == []
    (execution,) = stack.executions(workflow="standard")
    assert execution["status"] == "SUCCEEDED"
    # the case is closed by the posting, its history says who approved what
    closed = stack.exceptions.get(case["exception_id"])
    assert closed["status"] == "resolved" and closed["resolution"].startswith("posted as ")
    assert [entry["action"] for entry in closed["history"]][-2:] == ["approve", "resolved"]
    assert closed["approval"]["by"] == BOB and closed["approval"]["amounts"] == {"USD": f"{total:.2f}"}
    # the ledger item and the trace name the approval
    assert posted["approval"]["by"] == BOB and posted["approval"]["exception_id"] == case["exception_id"]
    status, trace = ops(stack, "GET", f"/documents/{document['document_id']}")
    assert status == 200 and trace["approval"]["by"] == BOB
    assert ("exception_approve", BOB) in audit_actions(stack)

    # And a second approval is refused and posts nothing more
    with pytest.raises(OpsError) as refused:
        exceptions.approve(case["exception_id"], actor=CAROL)
    assert (refused.value.status, refused.value.reason) == (409, "not_open")
    stack.wait_for_executions()
    assert len(stack.postings()) == 1 and len(workflow.sent) == 1


def test_two_approvers_at_once_resume_the_execution_once(stack: Stack) -> None:
    case = held(stack)
    exceptions, workflow = service(stack)
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def approve(who: str) -> None:
        start.wait()
        try:
            outcomes[who] = exceptions.approve(case["exception_id"], actor=who)["status"]
        except OpsError as error:
            outcomes[who] = error.reason

    threads = [threading.Thread(target=approve, args=(who,)) for who in (BOB, CAROL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stack.wait_for_executions()
    assert sorted(map(str, outcomes.values())) == ["not_open", "retrying"]
    assert len(workflow.sent) == 1
    assert len(stack.postings()) == 1
    (posted,) = stack.documents("posted")
    winner = next(who for who, outcome in outcomes.items() if outcome == "retrying")
    assert posted["approval"]["by"] == winner


def test_whoever_set_the_threshold_may_not_approve_under_it(stack: Stack) -> None:
    case = held(stack)
    exceptions, workflow = service(stack)
    # the first configuration (which set the threshold) was applied by CONFIGURER
    with pytest.raises(OpsError) as refused:
        exceptions.approve(case["exception_id"], actor=CONFIGURER)
    assert (refused.value.status, refused.value.reason) == (403, "approver_configured_threshold")
    # BOB lowers the threshold; CAROL then changes another control of the entity (not its thresholds)
    apply(stack, config_with(controls=thresholds("15.00")), BOB)
    apply(stack, config_with(controls=thresholds("15.00", allowed_currencies=["USD", "EUR"])), CAROL)
    with pytest.raises(OpsError) as refused:
        exceptions.approve(case["exception_id"], actor=BOB)
    assert (refused.value.status, refused.value.reason) == (403, "approver_configured_threshold")
    # nothing was resumed, nothing posted: the case still waits
    stack.wait_for_executions()
    assert workflow.sent == [] and stack.postings() == []
    waiting = stack.exceptions.get(case["exception_id"])
    assert waiting["status"] == "open" and waiting["task_token"]
    # the first configurer is no longer the one who set them; CAROL never set them
    exceptions.approve(case["exception_id"], actor=CAROL)
    stack.wait_for_executions()
    assert len(stack.postings()) == 1
    assert stack.documents()[0]["status"] == "posted"


def test_reject_ignores_the_document_and_ends_the_execution(stack: Stack) -> None:
    case = held(stack)
    exceptions, workflow = service(stack)
    with pytest.raises(OpsError) as refused:
        exceptions.reject(case["exception_id"], actor=BOB, reason="   ")
    assert (refused.value.status, refused.value.reason) == (400, "reason_required")

    shown = exceptions.reject(case["exception_id"], actor=BOB, reason="duplicate of a manual invoice")
    stack.wait_for_executions()
    assert shown["status"] == "rejected"
    ((_, decision),) = workflow.sent
    assert decision["action"] == "reject"
    assert stack.executions("RUNNING") == []
    (execution,) = stack.executions(workflow="standard")
    assert execution["status"] == "SUCCEEDED"   # ExceptionClosed
    (document,) = stack.documents()
    assert document["status"] == "ignored"
    assert document["ignored_reason"] == f"rejected by {BOB}: duplicate of a manual invoice"
    assert stack.postings() == []
    assert ("exception_reject", BOB) in audit_actions(stack)
    # a rejected case can be neither approved nor rejected again
    for act in (lambda: exceptions.approve(case["exception_id"], actor=CAROL),
                lambda: exceptions.reject(case["exception_id"], actor=CAROL, reason="again")):
        with pytest.raises(OpsError) as again:
            act()
        assert (again.value.status, again.value.reason) == (409, "not_open")


def test_a_plain_retry_of_an_approval_case_waits_again(stack: Stack) -> None:
    case = held(stack)
    exceptions, workflow = service(stack)
    exceptions.retry(case["exception_id"], actor=BOB, note="try without approval")
    stack.wait_for_executions()
    ((_, decision),) = workflow.sent
    assert decision["action"] == "retry" and decision["approval"] is None
    # the execution went round and waits on the same case again: reopened, nothing posted
    again = stack.exceptions.get(case["exception_id"])
    assert again["status"] == "open" and again["reason"] == "approval_required" and again["task_token"]
    assert [entry["action"] for entry in again["history"]][-2:] == ["retry", "reopened"]
    assert stack.postings() == [] and len(stack.executions("RUNNING")) == 1
    # and approving it then posts it once
    exceptions.approve(again["exception_id"], actor=CAROL)
    stack.wait_for_executions()
    assert len(stack.postings()) == 1


def test_an_approval_that_no_longer_matches_the_case_is_refused(stack: Stack) -> None:
    case = held(stack)
    exceptions, workflow = service(stack)
    # the case shows another amount than the document's journal totals now (as if the mapping had changed since)
    clients.client("dynamodb").update_item(
        TableName=stack.resources.tables["exceptions"], Key={"exception_id": {"S": case["exception_id"]}},
        UpdateExpression="SET detail.amount = :amount", ExpressionAttributeValues={":amount": {"S": "19.99"}})
    with pytest.raises(OpsError) as refused:
        exceptions.approve(case["exception_id"], actor=BOB)
    assert (refused.value.status, refused.value.reason) == (409, "amount_changed")
    assert workflow.sent == [] and stack.exceptions.get(case["exception_id"])["status"] == "open"


def test_only_approval_cases_are_approved_and_approvals_need_the_version_history(stack: Stack) -> None:
    case = held(stack)
    exceptions, workflow = service(stack)
    # a service without the configuration's version history cannot check separation of duties: it refuses
    tables = stack.resources.tables
    blind = ExceptionsService(cases=stack.exceptions, ledger=stack.ledger, workflow=workflow,
                              audit=DynamoAudit(tables["audit"]),
                              config=DynamoConfigStore(tables["config"], cache_seconds=0).active)
    with pytest.raises(OpsError) as unchecked:
        blind.approve(case["exception_id"], actor=BOB)
    assert (unchecked.value.status, unchecked.value.reason) == (503, "not_configured")
    assert workflow.sent == [] and stack.exceptions.get(case["exception_id"])["status"] == "open"
    # the same case under another reason code is not an approval
    clients.client("dynamodb").update_item(
        TableName=stack.resources.tables["exceptions"], Key={"exception_id": {"S": case["exception_id"]}},
        UpdateExpression="SET reason = :r", ExpressionAttributeValues={":r": {"S": "mapping_missing"}})
    for act in (lambda: exceptions.approve(case["exception_id"], actor=BOB),
                lambda: exceptions.reject(case["exception_id"], actor=BOB, reason="no")):
        with pytest.raises(OpsError) as refused:
            act()
        assert (refused.value.status, refused.value.reason) == (409, "not_approval")
    with pytest.raises(OpsError) as missing:
        exceptions.approve("exc_nonexistent", actor=BOB)
    assert missing.value.status == 404


def test_a_replay_of_a_held_document_resumes_its_execution_without_an_approval(stack: Stack) -> None:
    """normalize resumes the execution waiting on the case (its retry decision names ``approval``: null); the
    document is held again, on the same case, and the execution still waits."""
    from ledgerlink.ops.commands import replay

    case = held(stack)
    plan, sent = replay(Target("local", stack.resources.environment()), document_id=case["document_id"])
    assert sent == 1
    stack.drain()
    again = stack.exceptions.get(case["exception_id"])
    assert again["status"] == "open" and again["task_token"] and again["task_token"] != case["task_token"]
    assert [entry["action"] for entry in again["history"]][-2:] == ["retry", "reopened"]
    assert [e["status"] for e in stack.executions(workflow="standard")] == ["RUNNING"]
    assert stack.postings() == []
