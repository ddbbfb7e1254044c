"""The state machine definitions (Amazon States Language), shared by CDK and the local runtime.

``happy_path.asl.json`` is the Express workflow normalize starts for every document (master data → enrich →
validate → post, billed per request); ``post_document.asl.json`` is the Standard workflow it hands a document to
when one quick retry does not get it through (exception cases and their task tokens, long waits), and the one
replays start. Both hold ``${...}`` placeholders; CDK fills them with ``definition_substitutions`` and the local
runtime with moto ARNs — the same documents either way (D76).
"""

from __future__ import annotations

import json
import re
from importlib import resources

from ledgerlink.model.json import JsonObject, JsonValue

TASK_FUNCTIONS: dict[str, str] = {
    # placeholder → function folder under functions/
    "MasterDataFunctionArn": "master_data",
    "EnrichFunctionArn": "enrich",
    "ValidateFunctionArn": "validate",
    "PostFunctionArn": "post",
    "OpenExceptionFunctionArn": "open_exception",
}


HAPPY_PATH_FUNCTIONS: dict[str, str] = {placeholder: folder for placeholder, folder in TASK_FUNCTIONS.items()
                                         if folder != "open_exception"}
ESCALATION_PLACEHOLDER = "PostDocumentStateMachineArn"   # the Standard workflow, in the happy path's Escalate state
STANDARD = "post_document"
HAPPY_PATH = "happy_path"


def definition_text(name: str = STANDARD) -> str:
    return resources.files(__package__).joinpath(f"{name}.asl.json").read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", text or definition_text()))


def _objects(value: JsonValue | None) -> list[JsonObject]:
    """The JSON objects among ``value``'s items (a map's values, a list's items)."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [item for item in items if isinstance(item, dict)]


def render(arns: dict[str, str], *, master_data_wait_seconds: int | None = None, name: str = STANDARD,
           task_timeout_seconds: int | None = None) -> JsonObject:
    """The definition with every placeholder replaced (local runtime); refuses unknown or missing ones.

    ``master_data_wait_seconds`` shortens the quote-to-cash wait (the ``MasterDataPending`` retry interval)
    for local runs and tests, where waiting a minute per attempt would only slow the demo down; nothing
    else of the deployed definition changes. ``task_timeout_seconds`` replaces every task's timeout: the local
    function host runs one invocation per function at a time (Lambda runs them side by side), so a burst of
    Express executions queues there for longer than the happy path's AWS-sized task timeouts (D76)."""
    text = definition_text(name)
    missing = placeholders(text) - set(arns)
    if missing:
        raise KeyError(f"no ARN for {sorted(missing)}")
    for placeholder, arn in arns.items():
        text = text.replace("${" + placeholder + "}", arn)
    definition: JsonValue = json.loads(text)
    if not isinstance(definition, dict):
        raise ValueError(f"{name}.asl.json is not a JSON object")
    states = _objects(definition.get("States"))
    if master_data_wait_seconds is not None:
        for retrier in (retrier for state in states for retrier in _objects(state.get("Retry"))):
            errors = retrier["ErrorEquals"]
            if isinstance(errors, list) and "MasterDataPending" in errors:
                retrier["IntervalSeconds"] = master_data_wait_seconds
                retrier["BackoffRate"] = 1.0
    if task_timeout_seconds is not None:
        for state in states:
            if state["Type"] == "Task":
                timeout = state.get("TimeoutSeconds", 0)
                state["TimeoutSeconds"] = max(timeout if isinstance(timeout, int) else 0, task_timeout_seconds)
    return definition
