"""Case work on the local stack: assign and note a case, act on many at once (bulk retry / resolve / ignore), the
queue filtered and sorted as the console asks for it, and the store's claim that keeps a case from being resumed
twice.

Three Stripe invoices above us01's 10.00 USD approval threshold wait on ``approval_required`` cases (15.00, 20.00
and 50.00 USD: their totals in cents / 100), and a 1.00 USD refund waits on ``mapping_missing`` (the refunds account
is unmapped), a case without an amount.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink import clock
from ledgerlink.errors import OpsError
from ledgerlink.service.exceptions import ExceptionsService

from tests.conftest import EVENTS
from tests.functional.conftest import DELETE, Stack, config_with
from tests.functional.test_approvals import BOB, CAROL, CountingWorkflow, service, settle, thresholds
from tests.functional.test_governance import audit_actions

CENTS = {"in_work_a": 1500, "in_work_b": 2000, "in_work_c": 5000}


@pytest.fixture
def stack_config():
    return config_with(controls=thresholds("10.00"), account_mappings__0__accounts__refunds=DELETE)


def invoice_event(invoice_id: str, cents: int) -> bytes:
    event = json.loads((EVENTS / "stripe" / "01-invoice.finalized.json").read_text())
    event["id"] = f"evt_{invoice_id}"
    invoice = event["data"]["object"]
    invoice["id"] = invoice_id
    for key in ("subtotal", "total", "amount_due", "amount_paid"):
        invoice[key] = cents
    invoice["lines"]["data"][0]["amount"] = cents
    return json.dumps(event).encode()


@pytest.fixture
def cases(stack: Stack) -> dict[str, dict[str, Any]]:
    """The waiting cases: invoice id → its approval case, and "refund" → the refund's mapping_missing case."""
    for invoice_id, cents in CENTS.items():
        stack.send(invoice_event(invoice_id, cents))
    stack.send_event("04-charge.refunded.json")
    found: dict[str, dict[str, Any]] = {}
    for case in settle(stack, len(CENTS) + 1):
        if case["reason"] == "mapping_missing":
            found["refund"] = case
        else:
            document = json.loads(stack.ledger.get(case["document_id"])["document"])
            found[document["source"]["object_id"]] = case
    assert sorted(found) == sorted([*CENTS, "refund"])
    return found


def ids(listed: list[dict[str, object]]) -> list[object]:
    return [case["exception_id"] for case in listed]


def test_the_queue_is_filtered_and_sorted_for_the_console(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    exceptions, _ = service(stack)
    a, b, c, refund = (cases[k]["exception_id"] for k in ("in_work_a", "in_work_b", "in_work_c", "refund"))
    # amounts as the cases show them: the invoices' totals (cents / 100)
    assert {cases[k]["detail"]["amount"] for k in CENTS} == {f"{Decimal(v) / 100:.2f}" for v in CENTS.values()}
    assert sorted(ids(exceptions.list())) == sorted([a, b, c, refund])   # the existing call: every open case
    assert ids(exceptions.list(sort="amount")) == [a, b, c, refund]       # no amount: last
    assert ids(exceptions.list(sort="-amount")) == [c, b, a, refund]
    assert ids(exceptions.list(min_amount=Decimal("16"), sort="amount")) == [b, c]   # the refund has none: left out
    assert ids(exceptions.list(max_amount=Decimal("20.00"), sort="amount")) == [a, b]
    assert ids(exceptions.list(min_amount=Decimal("15.00"), max_amount=Decimal("15.00"))) == [a]
    assert ids(exceptions.list(reason="mapping_missing")) == [refund]
    assert sorted(ids(exceptions.list(source="stripe"))) == sorted([a, b, c, refund])
    assert exceptions.list(source="ramp") == []
    assert ids(exceptions.list(sort="reason"))[-1] == refund               # approval_required < mapping_missing
    assert sorted(ids(exceptions.list(sort="entity"))) == sorted([a, b, c, refund])
    assert exceptions.counts_by_reason("open") == {"approval_required": 3, "mapping_missing": 1}
    assert exceptions.counts_by_reason("resolved") == {}
    # age: opened now, so none is a day old; two days on, all are
    assert exceptions.list(min_age_days=1) == []
    with clock.use(clock.FixedClock(clock.now() + timedelta(days=2))):
        assert len(exceptions.list(min_age_days=1)) == 4
        assert exceptions.list(min_age_days=3) == []
    # assignee: "" is the unassigned cases
    exceptions.assign(b, actor=CAROL, assignee=BOB)
    assert ids(exceptions.list(assignee=BOB)) == [b]
    assert sorted(ids(exceptions.list(assignee=""))) == sorted([a, c, refund])
    with pytest.raises(OpsError) as refused:
        exceptions.list(sort="size")
    assert (refused.value.status, refused.value.reason) == (400, "bad_sort")


def test_assign_and_unassign_a_case(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    exceptions, _ = service(stack)
    case_id = cases["in_work_a"]["exception_id"]
    shown = exceptions.assign(case_id, actor=CAROL, assignee=BOB)
    assert shown["assignee"] == BOB and "task_token" not in shown
    assert exceptions.assign(case_id, actor=CAROL, assignee="x" * 200)["assignee"] == "x" * 200
    unassigned = exceptions.assign(case_id, actor=CAROL, assignee="")
    assert "assignee" not in unassigned
    history = stack.exceptions.get(case_id)["history"]
    assert [(e["action"], e["by"], e["assignee"]) for e in history[-3:]] == [
        ("assign", CAROL, BOB), ("assign", CAROL, "x" * 200), ("unassign", CAROL, "")]
    assert audit_actions(stack).count(("exception_assign", CAROL)) == 3
    for bad in (" bob", "x" * 201, "bob\nalice", "   "):
        with pytest.raises(OpsError) as refused:
            exceptions.assign(case_id, actor=CAROL, assignee=bad)
        assert (refused.value.status, refused.value.reason) == (400, "bad_assignee")
    with pytest.raises(OpsError) as missing:
        exceptions.assign("exc_missing", actor=CAROL, assignee=BOB)
    assert missing.value.status == 404
    # a closed case is not assigned any more
    exceptions.close(case_id, "ignore", actor=CAROL, reason="duplicate")
    with pytest.raises(OpsError) as closed:
        exceptions.assign(case_id, actor=CAROL, assignee=BOB)
    assert (closed.value.status, closed.value.reason) == (409, "not_open")


def test_notes_go_into_the_history(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    exceptions, _ = service(stack)
    case_id = cases["refund"]["exception_id"]
    exceptions.add_note(case_id, actor=BOB, note="asked the controller about the refunds account")
    exceptions.add_note(case_id, actor=CAROL, note="n" * 2000)
    for bad, reason in (("", "note_required"), ("  \n", "note_required"), ("n" * 2001, "note_too_long")):
        with pytest.raises(OpsError) as refused:
            exceptions.add_note(case_id, actor=BOB, note=bad)
        assert (refused.value.status, refused.value.reason) == (400, reason)
    # a closed case still takes notes (the record of what happened after)
    exceptions.close(case_id, "resolve", actor=BOB, reason="booked by hand")
    exceptions.add_note(case_id, actor=BOB, note="ERP reference JE-4711")
    history = stack.exceptions.get(case_id)["history"]
    notes = [(e["by"], e["note"]) for e in history if e["action"] == "note"]
    assert notes == [(BOB, "asked the controller about the refunds account"), (CAROL, "n" * 2000),
                     (BOB, "ERP reference JE-4711")]
    assert audit_actions(stack).count(("exception_note", BOB)) == 2
    with pytest.raises(OpsError) as missing:
        exceptions.add_note("exc_missing", actor=BOB, note="hello")
    assert missing.value.status == 404


def test_bulk_retry_acts_on_each_case_once_and_reports_each(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    exceptions, workflow = service(stack)
    a, b = cases["in_work_a"]["exception_id"], cases["in_work_b"]["exception_id"]
    results = exceptions.bulk("retry", [a, a, "exc_missing", b], actor=BOB, text="bulk retry")
    assert [(r["exception_id"], r["ok"], r["reason"]) for r in results] == [
        (a, True, None), ("exc_missing", False, "not_found"), (b, True, None)]
    assert all(isinstance(r["message"], str) and r["message"] for r in results)
    assert sorted(decision["exception_id"] for _, decision in workflow.sent) == sorted([a, b])
    assert all(decision["approval"] is None for _, decision in workflow.sent)
    stack.wait_for_executions()
    # without an approval both went round and wait again; nothing was posted
    assert {stack.exceptions.get(i)["status"] for i in (a, b)} == {"open"}
    assert stack.postings() == []
    assert audit_actions(stack).count(("exception_retry", BOB)) == 2
    assert ("exception_bulk", BOB) in audit_actions(stack)


def test_a_bulk_sent_twice_at_once_resumes_each_case_once(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    exceptions, workflow = service(stack)
    wanted = [cases[k]["exception_id"] for k in CENTS]
    start = threading.Barrier(2)
    answers: list[list[dict[str, object]]] = []

    def send() -> None:
        start.wait()
        answers.append(exceptions.bulk("retry", wanted, actor=BOB, text="double click"))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stack.wait_for_executions()
    assert sorted(decision["exception_id"] for _, decision in workflow.sent) == sorted(wanted)
    for case_id in wanted:   # each case: resumed by one request, refused (not_open) to the other
        outcomes = sorted(str(r["reason"]) for answer in answers for r in answer if r["exception_id"] == case_id)
        assert outcomes == ["None", "not_open"]
    assert stack.postings() == []


def test_one_failing_case_does_not_stop_the_others(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    a, b, c = (cases[k]["exception_id"] for k in CENTS)
    broken = stack.exceptions.get(b)["task_token"]

    class Flaky(CountingWorkflow):
        def send_task_success(self, task_token: str, output: Any) -> None:
            if task_token == broken:
                raise ConnectionError("the Step Functions endpoint did not answer")
            super().send_task_success(task_token, output)

    exceptions, _ = service(stack, Flaky(stack.resources.state_machine_arn))
    results = exceptions.bulk("retry", [a, b, c], actor=BOB)
    assert [(r["ok"], r["reason"]) for r in results] == [(True, None), (False, "failed"), (True, None)]
    assert "ConnectionError" in str(results[1]["message"])
    # the failed one is given back: open, waiting on its token, and a later retry resumes it
    back = stack.exceptions.get(b)
    assert back["status"] == "open" and back["task_token"] == broken
    assert [e["action"] for e in back["history"]][-2:] == ["retry", "released"]
    stack.wait_for_executions()
    exceptions, counting = service(stack)
    assert exceptions.bulk("retry", [b], actor=BOB)[0]["ok"] is True
    ((token, _),) = counting.sent
    assert token == broken
    stack.wait_for_executions()   # no execution of this test runs on into the next one


def test_bulk_ignore_closes_each_case_and_ends_its_execution(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    exceptions, _ = service(stack)
    a, refund = cases["in_work_a"]["exception_id"], cases["refund"]["exception_id"]
    results = exceptions.bulk("ignore", [a, refund], actor=CAROL, text="test data")
    assert [(r["ok"], r["message"]) for r in results] == [(True, "ignored"), (True, "ignored")]
    stack.wait_for_executions()
    assert len(stack.executions("RUNNING")) == 2   # the other two invoices still wait
    ignored = {d["document_id"]: d for d in stack.documents("ignored")}
    assert set(ignored) == {cases["in_work_a"]["document_id"], cases["refund"]["document_id"]}
    assert all(d["ignored_reason"] == f"ignored by {CAROL}: test data" for d in ignored.values())
    # again: each is refused on its own
    again = exceptions.bulk("resolve", [a, refund], actor=CAROL, text="posted by hand")
    assert [(r["ok"], r["reason"]) for r in again] == [(False, "not_open"), (False, "not_open")]


def test_bulk_requests_are_checked_before_anything_is_done(stack: Stack, cases: dict[str, dict[str, Any]]) -> None:
    exceptions, workflow = service(stack)
    a = cases["in_work_a"]["exception_id"]
    for action, given, text, reason in (("ignore", [a], "", "reason_required"),
                                        ("resolve", [a], "  ", "reason_required"),
                                        ("approve", [a], "ok", "unknown_action"),
                                        ("retry", [a] * 201, "", "too_many"),
                                        ("retry", [a, ""], "", "bad_request")):
        with pytest.raises(OpsError) as refused:
            exceptions.bulk(action, given, actor=BOB, text=text)
        assert (refused.value.status, refused.value.reason) == (400, reason)
    assert workflow.sent == [] and stack.exceptions.get(a)["status"] == "open"
    assert exceptions.bulk("retry", [], actor=BOB) == []
    # 200 ids is the most: all the same case here, acted on once
    assert len(exceptions.bulk("retry", [a] * 200, actor=BOB)) == 1 and len(workflow.sent) == 1
    stack.wait_for_executions()   # no execution of this test runs on into the next one


def test_a_case_superseded_by_a_later_one_reopens_when_its_failure_comes_back(stack: Stack) -> None:
    cases = stack.exceptions
    first, new = cases.open(subject="doc_x", reason="approval_required", message="held", correlation_id="c",
                            document_id="doc_x", task_token="token-1")
    assert new
    assert cases.claim(first, actor=BOB, action="approve", note="ok", task_token="token-1",
                       approval={"by": BOB, "amounts": {"USD": "20.00"}})
    # a later step failed for another reason: LedgerLink supersedes the approval case
    assert cases.resolve(first, actor="ledgerlink", note="superseded by exc_other (erp_rejected)")
    # the document fails the approval gate again: the case reopens with the new token, without the old approval
    again, new = cases.open(subject="doc_x", reason="approval_required", message="held again", correlation_id="c",
                            document_id="doc_x", task_token="token-2")
    reopened = cases.get(again)
    assert (again, new) == (first, False)
    assert reopened["status"] == "open" and reopened["task_token"] == "token-2"
    assert "approval" not in reopened and "resolution" not in reopened
    # a claim with a stale token is refused; the current one claims it
    assert not cases.claim(first, actor=BOB, action="retry", note="", task_token="token-1")
    assert cases.claim(first, actor=BOB, action="retry", note="", task_token="token-2")
    # a case finance ops closed stays closed
    assert cases.resolve(first, actor=CAROL, note="posted by hand")
    cases.open(subject="doc_x", reason="approval_required", message="and again", correlation_id="c",
               document_id="doc_x", task_token="token-3")
    assert cases.get(first)["status"] == "resolved" and "task_token" not in cases.get(first)


def test_the_ops_api_keeps_working_on_a_service_built_the_old_way(stack: Stack,
                                                                  cases: dict[str, dict[str, Any]]) -> None:
    """Callers that build the service without the new arguments (the ops API's list) are unchanged."""
    from ledgerlink.store.audit import DynamoAudit
    from ledgerlink.store.config_store import DynamoConfigStore

    tables = stack.resources.tables
    old_style = ExceptionsService(cases=stack.exceptions, ledger=stack.ledger,
                                  workflow=CountingWorkflow(stack.resources.state_machine_arn),
                                  audit=DynamoAudit(tables["audit"]), config=DynamoConfigStore(tables["config"]).active)
    listed = old_style.list(status="open", entity="us01", reason="approval_required")
    assert len(listed) == 3 and all(case["waiting_execution"] for case in listed)
