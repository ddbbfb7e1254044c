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
        targets = [state.get("Next")] + [catcher["Next"] for catcher in state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in states, f"{name} → {target}"
        if state["Type"] not in ("Succeed", "Fail"):
            assert state.get("Next") or state.get("End"), f"{name} leads nowhere"


def test_happy_path_is_enrich_validate_post_record(definition: dict[str, Any]) -> None:
    path, name = [], definition["StartAt"]
    while name:
        path.append(name)
        name = definition["States"][name].get("Next")
    assert path == ["Enrich", "Validate", "Post", "Record"]


def test_every_task_resource_is_a_known_placeholder(definition: dict[str, Any]) -> None:
    resources = {state["Resource"] for state in tasks(definition).values()}
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


def test_the_exception_step_retries_everything_and_then_succeeds(definition: dict[str, Any]) -> None:
    state = definition["States"][EXCEPTION_STATE]
    assert state["Retry"][-1]["ErrorEquals"] == ["States.ALL"]
    assert definition["States"][state["Next"]]["Type"] == "Succeed"


def test_every_task_has_a_timeout(definition: dict[str, Any]) -> None:
    for name, state in tasks(definition).items():
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
