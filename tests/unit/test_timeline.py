"""A document's timeline: the trace (with its Standard execution's steps) ordered from the webhook to the ERP
reference, with who acted on its exception cases and the configuration version it was posted with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledgerlink.service.timeline import timeline
from ledgerlink.service.trace import steps, trace

from tests.unit.console_fakes import FakeCases, FakeInbox, FakeLedger, FakeWorkflow, invoice, item

DOCUMENT = invoice("in_tl", "500.00", on=date(2021, 12, 20), event_id="evt_tl")
T0 = datetime(2024, 3, 15, 10, 0, 0, tzinfo=UTC)
ALICE = "arn:aws:iam::123456789012:user/alice"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return at(seconds).isoformat(timespec="seconds")


def event(kind: str, seconds: float, **details: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": at(seconds), **details}


def entered(state: str, seconds: float, kind: str = "TaskStateEntered") -> dict[str, Any]:
    return event(kind, seconds, stateEnteredEventDetails={"name": state})


def failed(seconds: float, error: str) -> dict[str, Any]:
    return event("LambdaFunctionFailed", seconds, lambdaFunctionFailedEventDetails={"error": error,
                                                                                   "cause": "customer Jane Doe"})


CLAIM = {"source": "stripe", "event_id": "evt_tl", "event_type": "invoice.finalized", "status": "processed",
         "claimed_at": int(at(0).timestamp()), "processed_at": int(at(1).timestamp()), "outcome": "normalized",
         "archive_key": "raw/stripe/2024/03/15/evt_tl.json"}

# The Standard execution: the period was closed (case opened, the execution waited); Alice retried after the
# policy changed; the post step failed once (retried) and then posted.
HISTORY = [
    event("ExecutionStarted", 2),
    entered("Escalated", 2.010, "ChoiceStateEntered"),
    entered("OpenException", 2.020),
    event("TaskScheduled", 2.021),
    entered("Decision", 60.100, "ChoiceStateEntered"),
    entered("PrepareRetry", 60.110, "PassStateEntered"),
    entered("EnsureMasterData", 60.120),
    event("LambdaFunctionScheduled", 60.121),
    entered("Enrich", 60.300),
    event("LambdaFunctionScheduled", 60.301),
    entered("Validate", 60.500),
    event("LambdaFunctionScheduled", 60.501),
    entered("Post", 60.700),
    event("LambdaFunctionScheduled", 60.701),
    failed(60.900, "TransientError"),
    event("LambdaFunctionScheduled", 62.100),
    event("LambdaFunctionSucceeded", 62.600),
    event("ExecutionSucceeded", 63.200),
]
CASE = {"exception_id": "exc_tl", "status": "resolved", "reason": "period_closed", "document_id": DOCUMENT.document_id,
        "task_token": "secret-token", "opened_at": iso(2),
        "history": [{"at": iso(2), "action": "opened", "by": "ledgerlink", "reason": "period_closed"},
                    {"at": iso(60), "action": "retry", "by": ALICE, "note": "policy now next_open_period"},
                    {"at": iso(62), "action": "resolved", "by": "ledgerlink", "note": "posted as JE-9"}]}


def posted_trace(**overrides: Any) -> Any:
    stored = item(DOCUMENT, status="posted", config_version=3, registered_at=int(at(1).timestamp()),
                  erp_ref="JE-9", erp_connection="books", posted_at=iso(62), posted_accounting_date="2022-01-01",
                  period_adjusted=True, **overrides)
    return trace(DOCUMENT.document_id, ledger=FakeLedger([stored]), inbox=FakeInbox([CLAIM]),
                 cases=FakeCases([CASE]),
                 workflow=FakeWorkflow({DOCUMENT.document_id: {"status": "SUCCEEDED"}},
                                       {DOCUMENT.document_id: HISTORY}), with_steps=True)


def test_the_timeline_runs_from_the_webhook_to_the_erp_reference_in_order() -> None:
    entries = [entry.to_dict() for entry in timeline(posted_trace())]
    assert [(entry["at"], entry["step"], entry["who"]) for entry in entries] == [
        (iso(0), "received", None),
        (iso(0), "archived", None),
        (iso(1), "normalized", None),
        (iso(2), "exception_opened", None),
        (iso(60), "exception_retried", ALICE),                              # the person, before what it resumed
        (at(60.120).isoformat(timespec="milliseconds"), "master_data", None),
        (at(60.300).isoformat(timespec="milliseconds"), "enrich", None),
        (at(60.500).isoformat(timespec="milliseconds"), "validate", None),
        (at(60.700).isoformat(timespec="milliseconds"), "post", None),
        (at(60.900).isoformat(timespec="milliseconds"), "post_failed", None),
        (at(62.100).isoformat(timespec="milliseconds"), "post_retried", None),
        (iso(62), "posted", None),
        (iso(62), "exception_resolved", None),                              # closed by the posting itself
        (at(63.200).isoformat(timespec="milliseconds"), "execution_succeeded", None),
    ]
    by_step = {entry["step"]: entry for entry in entries}
    assert by_step["received"]["detail"] == "stripe event evt_tl (invoice.finalized), correlation id corr-in_tl"
    assert by_step["archived"]["detail"] == "raw request stored as raw/stripe/2024/03/15/evt_tl.json"
    assert by_step["post_failed"]["detail"] == "post failed: TransientError"      # never the error's cause text
    assert "Jane" not in str(entries)
    posted = by_step["posted"]
    assert posted["config_version"] == 3 and by_step["normalized"]["config_version"] is None
    assert posted["detail"] == ("ERP reference JE-9 on books, accounting date 2022-01-01 (moved into the next open "
                                "period: its own was closed), configuration version 3")
    assert by_step["exception_retried"]["detail"] == (f"case exc_tl retry by {ALICE}: policy now next_open_period")


def test_a_document_posted_by_the_happy_path_has_no_step_entries() -> None:
    stored = item(DOCUMENT, status="posted", config_version=1, registered_at=int(at(1).timestamp()), erp_ref="JE-1",
                  erp_connection="books", posted_at=iso(2), posted_accounting_date="2021-12-20")
    traced = trace(DOCUMENT.document_id, ledger=FakeLedger([stored]), inbox=FakeInbox([CLAIM]), cases=FakeCases(),
                   workflow=FakeWorkflow(), with_steps=True)
    entries = timeline(traced)
    assert [entry.step for entry in entries] == ["received", "archived", "normalized", "posted"]
    assert entries[-1].detail.endswith("by the Express happy path (it keeps no step history), configuration version 1")


def test_a_waiting_document_shows_its_normalize_version_and_failed_attempts() -> None:
    claim = {**CLAIM, "failed_attempts": 2, "last_error": "TransientError at store/ledger.py:12",
             "last_error_at": int(at(0.5).timestamp())}
    stored = item(DOCUMENT, status="received", config_version=4, registered_at=int(at(1).timestamp()))
    traced = trace(DOCUMENT.document_id, ledger=FakeLedger([stored]), inbox=FakeInbox([claim]), cases=FakeCases(),
                   workflow=FakeWorkflow(), with_steps=True)
    entries = timeline(traced)
    assert [entry.step for entry in entries] == ["received", "archived", "normalize_failed", "normalized"]
    assert entries[2].detail == "2 failed attempt(s) to normalize, the last: TransientError at store/ledger.py:12"
    assert entries[3].config_version == 4 and entries[3].detail.endswith("configuration version 4")


def test_a_document_ignored_by_policy_and_one_ignored_by_a_person() -> None:
    by_policy = item(DOCUMENT, status="ignored", ignored_reason="policy_disabled", registered_at=int(at(1).timestamp()))
    traced = trace(DOCUMENT.document_id, ledger=FakeLedger([by_policy]), inbox=FakeInbox([CLAIM]), cases=FakeCases(),
                   workflow=FakeWorkflow())
    assert [(entry.step, entry.detail) for entry in timeline(traced)][-1] == ("ignored", "not posted: policy_disabled")
    case = {**CASE, "status": "ignored", "history": [
        CASE["history"][0], {"at": iso(90), "action": "ignored", "by": ALICE, "note": "duplicate of in_9"}]}
    by_person = item(DOCUMENT, status="ignored", ignored_reason=f"ignored by {ALICE}: duplicate of in_9",
                     registered_at=int(at(1).timestamp()))
    traced = trace(DOCUMENT.document_id, ledger=FakeLedger([by_person]), inbox=FakeInbox([CLAIM]),
                   cases=FakeCases([case]), workflow=FakeWorkflow())
    last = timeline(traced)[-1]
    assert (last.step, last.who, last.at) == ("exception_ignored", ALICE, iso(90))
    assert "ignored" not in [entry.step for entry in timeline(traced)]


def test_steps_are_read_only_when_asked() -> None:
    stored = item(DOCUMENT, status="posted", registered_at=int(at(1).timestamp()))
    workflow = FakeWorkflow({DOCUMENT.document_id: {"status": "SUCCEEDED"}}, {DOCUMENT.document_id: HISTORY})
    plain = trace(DOCUMENT.document_id, ledger=FakeLedger([stored]), inbox=FakeInbox(), cases=FakeCases(),
                  workflow=workflow)
    assert plain["steps"] == []


def test_steps_name_failures_retries_and_the_states_passed_through() -> None:
    history = [entered("Post", 1), event("LambdaFunctionScheduled", 1.1), failed(2, "RateLimited"),
               event("LambdaFunctionScheduled", 30), event("LambdaFunctionTimedOut", 150, lambdaFunctionTimedOutEventDetails={
                   "error": "States.Timeout"}),
               event("LambdaFunctionScheduled", 151), event("LambdaFunctionSucceeded", 152),
               entered("Decision", 153, "ChoiceStateEntered"), event("LambdaFunctionScheduled", 154),
               event("ExecutionFailed", 155, executionFailedEventDetails={"error": "States.Runtime"})]
    assert [(step["state"], step["event"], step["error"]) for step in steps(history)] == [
        ("Post", "entered", None), ("Post", "failed", "RateLimited"), ("Post", "retried", None),
        ("Post", "timed_out", "States.Timeout"), ("Post", "retried", None),
        ("Decision", "passed", None),                       # a Choice: no task ran, so nothing was retried
        (None, "failed", "States.Runtime")]
    assert steps(history)[0]["at"] == "2024-03-15T10:00:01.000+00:00"


def test_within_one_second_a_case_is_opened_before_it_is_retried_and_the_retry_before_what_it_resumed() -> None:
    # everything after normalize happened within second 2: only the execution history's milliseconds and the
    # states the case answers to (OpenException opened it, Decision resumed with the retry) can order it
    history = [entered("Escalated", 2.010, "ChoiceStateEntered"), entered("OpenException", 2.020),
               entered("Decision", 2.600, "ChoiceStateEntered"), entered("PrepareRetry", 2.610, "PassStateEntered"),
               entered("EnsureMasterData", 2.620), entered("Post", 2.800), event("ExecutionSucceeded", 2.950)]
    case = {**CASE, "history": [{**entry, "at": iso(2)} for entry in CASE["history"]]}
    stored = item(DOCUMENT, status="posted", config_version=2, registered_at=int(at(1).timestamp()),
                  erp_ref="JE-9", erp_connection="books", posted_at=iso(2), posted_accounting_date="2022-01-01")
    traced = trace(DOCUMENT.document_id, ledger=FakeLedger([stored]), inbox=FakeInbox([CLAIM]),
                   cases=FakeCases([case]), workflow=FakeWorkflow({DOCUMENT.document_id: {"status": "SUCCEEDED"}},
                                                                  {DOCUMENT.document_id: history}), with_steps=True)
    assert [entry.step for entry in timeline(traced)] == [
        "received", "archived", "normalized", "exception_opened", "exception_retried", "master_data", "post",
        "posted", "exception_resolved", "execution_succeeded"]


def test_a_retry_recorded_in_the_second_after_the_execution_resumed_still_comes_before_its_steps() -> None:
    # Alice's retry resumed the execution at 59.990 (Decision); her case entry was written at second 60
    history = [entered("OpenException", 2.020), entered("Decision", 59.990, "ChoiceStateEntered"),
               entered("EnsureMasterData", 59.995), entered("Post", 60.300)]
    stored = item(DOCUMENT, status="received", registered_at=int(at(1).timestamp()))
    case = {**CASE, "status": "retrying", "history": CASE["history"][:2]}
    traced = trace(DOCUMENT.document_id, ledger=FakeLedger([stored]), inbox=FakeInbox([CLAIM]),
                   cases=FakeCases([case]), workflow=FakeWorkflow({DOCUMENT.document_id: {"status": "RUNNING"}},
                                                                  {DOCUMENT.document_id: history}), with_steps=True)
    assert [(entry.step, entry.at) for entry in timeline(traced)][-4:] == [
        ("exception_opened", iso(2)), ("exception_retried", iso(60)),
        ("master_data", at(59.995).isoformat(timespec="milliseconds")), ("post", at(60.3).isoformat(timespec="milliseconds"))]


def test_a_case_written_seconds_away_from_its_steps_keeps_its_own_order() -> None:
    # Under load the case is written four seconds after OpenException began, and stamped in the same second as the
    # retry, whose Decision the history puts a second earlier: the case's history order still holds.
    history = [event("ExecutionStarted", 2), entered("Escalated", 2.010, "ChoiceStateEntered"),
               entered("OpenException", 2.020), entered("Decision", 5.100, "ChoiceStateEntered"),
               entered("PrepareRetry", 5.110, "PassStateEntered"), entered("EnsureMasterData", 8.120),
               event("ExecutionSucceeded", 9.5)]
    case = {**CASE, "history": [{"at": iso(6), "action": "opened", "by": "ledgerlink", "reason": "period_closed"},
                                {"at": iso(6), "action": "retry", "by": ALICE, "note": "now"},
                                {"at": iso(9), "action": "resolved", "by": "ledgerlink", "note": "posted"}]}
    stored = item(DOCUMENT, status="posted", config_version=3, registered_at=int(at(1).timestamp()),
                  erp_ref="JE-9", erp_connection="books", posted_at=iso(9), posted_accounting_date="2022-01-01")
    traced = trace(DOCUMENT.document_id, ledger=FakeLedger([stored]), inbox=FakeInbox([CLAIM]),
                   cases=FakeCases([case]),
                   workflow=FakeWorkflow({DOCUMENT.document_id: {"status": "SUCCEEDED"}},
                                         {DOCUMENT.document_id: history}), with_steps=True)
    steps_in_order = [entry.step for entry in timeline(traced)]
    assert steps_in_order.index("exception_opened") < steps_in_order.index("exception_retried") \
        < steps_in_order.index("master_data") < steps_in_order.index("exception_resolved")
