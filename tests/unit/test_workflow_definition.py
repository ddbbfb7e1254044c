"""The post-document state machine (ASL): placeholders, Catch into OpenException, Retry with backoff.

Error names are matched by Step Functions exactly; the names used here are the Python class names in
ledgerlink.errors (Lambda reports ``type(exc).__name__`` as ``errorType``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledgerlink import errors
from ledgerlink.workflow import TASK_FUNCTIONS, definition_text, placeholders, render

EXCEPTION_STATE = "OpenException"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(definition_text())


def tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in definition["States"].items() if state["Type"] == "Task"}


def business_tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in tasks(definition).items() if name != EXCEPTION_STATE}


def test_definition_parses_and_every_transition_exists(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] in states
    for name, state in states.items():
        targets = [state.get("Next"), state.get("Default")] + [catcher["Next"] for catcher in state.get("Catch", [])]
        targets += [choice["Next"] for choice in state.get("Choices", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} → {target}"
        if state["Type"] not in ("Succeed", "Fail"):
            assert state.get("Next") or state.get("End") or state.get("Choices"), f"{name} leads nowhere"


def test_happy_path_is_master_data_enrich_validate_post(definition: dict[str, Any]) -> None:
    # the Standard workflow starts at the Choice that routes an escalation from the Express happy path (D76);
    # its default (a replay, started directly) is the pipeline
    path, name = [], definition["States"][definition["StartAt"]]["Default"]
    while name:
        path.append(name)
        name = definition["States"][name].get("Next")
    # the post step records the posting in the ledger itself (one transition less per document)
    assert path == ["EnsureMasterData", "Enrich", "Validate", "Post"]
    assert definition["States"]["Post"]["End"] is True


def test_every_task_resource_is_a_known_placeholder(definition: dict[str, Any]) -> None:
    resources = {state["Resource"] for name, state in tasks(definition).items() if name != EXCEPTION_STATE}
    waiting = definition["States"][EXCEPTION_STATE]
    assert waiting["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    resources.add(waiting["Parameters"]["FunctionName"])
    assert resources == {f"${{{name}}}" for name in TASK_FUNCTIONS}
    assert placeholders() == set(TASK_FUNCTIONS)


def test_every_business_task_catches_rejections_and_everything_else_into_open_exception(
        definition: dict[str, Any]) -> None:
    for name, state in business_tasks(definition).items():
        caught = {error: catcher["Next"] for catcher in state["Catch"] for error in catcher["ErrorEquals"]}
        assert caught.get("DocumentRejected") == EXCEPTION_STATE, name
        assert caught.get("States.ALL") == EXCEPTION_STATE, name
        # States.ALL must be the last catcher or it shadows the specific ones
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        # the error goes next to the input, so the exception step still sees the document
        assert all(catcher["ResultPath"] == "$.error" for catcher in state["Catch"]), name


def test_the_catch_names_match_the_python_error_classes() -> None:
    assert errors.DocumentRejected.__name__ == "DocumentRejected"
    assert errors.TransientError.__name__ == "TransientError"


def test_transient_errors_are_retried_with_backoff_and_rejections_are_not(definition: dict[str, Any]) -> None:
    for name, state in business_tasks(definition).items():
        retriers = state["Retry"]
        retried = {error for retrier in retriers for error in retrier["ErrorEquals"]}
        assert {"TransientError", "Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= retried, name
        assert "DocumentRejected" not in retried, name  # a business rule does not change on retry
        assert "States.ALL" not in retried, name
        for retrier in retriers:
            assert retrier["MaxAttempts"] >= 2, name
            assert retrier["BackoffRate"] > 1, name
            assert retrier["IntervalSeconds"] >= 1, name


def test_the_exception_step_waits_for_a_decision_that_retries_or_closes(definition: dict[str, Any]) -> None:
    states = definition["States"]
    state = states[EXCEPTION_STATE]
    # the case gets the task token; the execution waits for finance ops (bounded under a year)
    assert state["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert state["ResultPath"] == "$.decision"
    assert 86_400 * 30 <= state["TimeoutSeconds"] < 86_400 * 365
    assert state["Retry"][-1]["ErrorEquals"] == ["States.TaskFailed"]  # the Lambda failing, not the wait timing out
    decision = states[state["Next"]]
    assert decision["Type"] == "Choice"
    (retry,) = decision["Choices"]
    assert (retry["Variable"], retry["StringEquals"]) == ("$.decision.action", "retry")
    prepare = states[retry["Next"]]
    assert prepare["Next"] == "EnsureMasterData"  # a retry starts over, master data first
    assert prepare["Parameters"]["config_version.$"] == "$.decision.config_version"  # the fixed mapping
    # an approver's approval (or null: every retry decision names it, a missing path fails the Pass state)
    assert prepare["Parameters"]["approval.$"] == "$.decision.approval"
    assert states[decision["Default"]]["Type"] == "Succeed"
    (expired,) = state["Catch"]
    assert expired["ErrorEquals"] == ["States.Timeout"] and states[expired["Next"]]["Type"] == "Succeed"


def test_quote_to_cash_waits_for_master_data_a_bounded_time(definition: dict[str, Any]) -> None:
    (wait,) = [r for r in definition["States"]["EnsureMasterData"]["Retry"] if r["ErrorEquals"] == ["MasterDataPending"]]
    total = sum(wait["IntervalSeconds"] * wait["BackoffRate"] ** attempt for attempt in range(wait["MaxAttempts"]))
    assert 5 * 60 <= total <= 2 * 3600


def test_every_task_has_a_timeout(definition: dict[str, Any]) -> None:
    for name, state in business_tasks(definition).items():
        assert 0 < state["TimeoutSeconds"] <= 900, name


def test_render_fills_every_placeholder() -> None:
    arns = {name: f"arn:aws:lambda:eu-west-1:123456789012:function:ll-{folder}"
            for name, folder in TASK_FUNCTIONS.items()}
    rendered = render(arns)
    assert "${" not in json.dumps(rendered)
    assert rendered["States"]["Post"]["Resource"] == arns["PostFunctionArn"]


def test_render_refuses_missing_arns() -> None:
    arns = {name: "arn:aws:lambda:eu-west-1:123456789012:function:x" for name in TASK_FUNCTIONS}
    del arns["PostFunctionArn"]
    with pytest.raises(KeyError, match="PostFunctionArn"):
        render(arns)
