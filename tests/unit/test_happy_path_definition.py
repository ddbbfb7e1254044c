"""The two state machine definitions (D76): the Express happy path mirrors the Standard workflow's four task
steps, hands every failure it does not cure at once to the Standard workflow, and provably fits Express's
five-minute limit; the Standard workflow opens a rejection's case at once and reruns anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledgerlink import workflow

EXPRESS_LIMIT_SECONDS = 300
TASKS = ("EnsureMasterData", "Enrich", "Validate", "Post")


def definition(name: str) -> dict[str, Any]:
    return json.loads(workflow.definition_text(name))


def worst_case_seconds(state: dict[str, Any]) -> float:
    """Every attempt runs to its TimeoutSeconds and every retrier uses all its attempts, with full delays."""
    attempts, delays = 1, 0.0
    for retrier in state.get("Retry", []):
        interval, rate = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0)
        cap = retrier.get("MaxDelaySeconds", float("inf"))
        count = retrier.get("MaxAttempts", 3)
        attempts += count
        delays += sum(min(interval * rate ** k, cap) for k in range(count))
    return attempts * state["TimeoutSeconds"] + delays


def test_the_happy_path_runs_the_standard_workflows_four_steps_in_the_same_order_with_the_same_functions():
    express, standard = definition(workflow.HAPPY_PATH), definition(workflow.STANDARD)
    assert express["StartAt"] == "EnsureMasterData"
    for step, following in zip(TASKS, (*TASKS[1:], None), strict=True):
        assert express["States"][step]["Resource"] == standard["States"][step]["Resource"]
        assert express["States"][step].get("Next") == following
        assert standard["States"][step].get("Next") == following
    assert express["States"]["Post"]["End"] is True


def test_every_happy_path_step_hands_any_failure_to_the_standard_workflow_and_waits_for_nothing():
    express = definition(workflow.HAPPY_PATH)
    for step in TASKS:
        state = express["States"][step]
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Escalate"}]
        retried = {name for retrier in state["Retry"] for name in retrier["ErrorEquals"]}
        # long waits belong to the Standard workflow: none of these is retried inside five minutes
        assert not retried & {"MasterDataPending", "RateLimited", "PostingInProgress", "States.Timeout", "States.ALL"}
        assert all(retrier["MaxAttempts"] <= 1 for retrier in state["Retry"])
    text = workflow.definition_text(workflow.HAPPY_PATH)
    assert ".waitForTaskToken" not in text and ".sync" not in text   # neither is allowed in an Express workflow


def test_the_escalation_starts_the_standard_workflow_named_by_the_document_with_the_whole_state():
    escalate = definition(workflow.HAPPY_PATH)["States"]["Escalate"]
    assert escalate["Resource"] == "arn:aws:states:::states:startExecution"
    assert escalate["Parameters"] == {"StateMachineArn": "${" + workflow.ESCALATION_PLACEHOLDER + "}",
                                      "Name.$": "$.document_id", "Input.$": "$"}
    # a duplicate (at-least-once) Express run that finds the Standard execution started already ends quietly
    assert escalate["Retry"][0] == {**escalate["Retry"][0], "ErrorEquals": [
        "StepFunctions.ExecutionAlreadyExistsException"], "MaxAttempts": 0}
    (caught,) = escalate["Catch"]
    assert caught["ErrorEquals"] == ["StepFunctions.ExecutionAlreadyExistsException"]
    assert definition(workflow.HAPPY_PATH)["States"][caught["Next"]]["Type"] == "Succeed"


def test_the_longest_possible_happy_path_fits_the_express_limit_with_a_margin():
    states = definition(workflow.HAPPY_PATH)["States"]
    total = sum(worst_case_seconds(states[step]) for step in (*TASKS, "Escalate"))
    assert total <= EXPRESS_LIMIT_SECONDS - 30, total


@pytest.mark.parametrize(("state", "expected"), [
    ({"document_id": "d"}, "EnsureMasterData"),                                           # a replay, started directly
    ({"document_id": "d", "error": {"Error": "DocumentRejected", "Cause": "{}"}}, "OpenException"),
    ({"document_id": "d", "error": {"Error": "MasterDataPending", "Cause": "{}"}}, "StartOver"),
    ({"document_id": "d", "error": {"Error": "States.Timeout", "Cause": ""}}, "StartOver"),
])
def test_the_standard_workflow_opens_a_rejection_at_once_and_reruns_anything_else(state, expected):
    choice = definition(workflow.STANDARD)["States"]["Escalated"]
    assert definition(workflow.STANDARD)["StartAt"] == "Escalated"
    assert choose(choice, state) == expected


def test_starting_over_keeps_the_document_and_drops_the_error():
    standard = definition(workflow.STANDARD)
    start_over = standard["States"]["StartOver"]
    assert start_over["Next"] == "EnsureMasterData"
    kept = {key.removesuffix(".$") for key in start_over["Parameters"]}
    assert {"document_id", "correlation_id", "source_id", "archive_key", "config_version", "received_at",
            "document"} <= kept and "error" not in kept


def choose(choice: dict[str, Any], state: dict[str, Any]) -> str:
    """The two Choice rule forms the definition uses: IsPresent and StringEquals on a JSON path, and And."""
    def value(path: str) -> Any:
        current: Any = state
        for part in path.removeprefix("$.").split("."):
            if not isinstance(current, dict) or part not in current:
                return _MISSING
            current = current[part]
        return current

    def holds(rule: dict[str, Any]) -> bool:
        if "And" in rule:
            return all(holds(each) for each in rule["And"])
        found = value(rule["Variable"])
        if "IsPresent" in rule:
            return (found is not _MISSING) == rule["IsPresent"]
        if "StringEquals" in rule:
            return found == rule["StringEquals"]
        raise AssertionError(f"rule form not covered: {rule}")

    return next((rule["Next"] for rule in choice["Choices"] if holds(rule)), choice["Default"])


_MISSING = object()


def test_local_rendering_only_lengthens_the_task_timeouts_and_fills_the_escalation_target():
    arns = {placeholder: f"arn:fn:{placeholder}" for placeholder in workflow.HAPPY_PATH_FUNCTIONS}
    arns[workflow.ESCALATION_PLACEHOLDER] = "arn:aws:states:us-east-1:123456789012:stateMachine:standard"
    deployed = json.loads(workflow.definition_text(workflow.HAPPY_PATH))
    local = workflow.render(arns, name=workflow.HAPPY_PATH, task_timeout_seconds=300)
    assert local["States"]["Escalate"]["Parameters"]["StateMachineArn"] == arns[workflow.ESCALATION_PLACEHOLDER]
    for name, state in local["States"].items():
        if state["Type"] == "Task":
            assert state["TimeoutSeconds"] == 300
            assert {k: v for k, v in state.items() if k not in ("TimeoutSeconds", "Resource", "Parameters")} == {
                k: v for k, v in deployed["States"][name].items() if k not in ("TimeoutSeconds", "Resource",
                                                                                "Parameters")}
    with pytest.raises(KeyError):
        workflow.render({}, name=workflow.HAPPY_PATH)
