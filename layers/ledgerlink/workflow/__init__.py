"""The post-document state machine definition (Amazon States Language), shared by CDK and the local runtime.

``post_document.asl.json`` holds ``${...FunctionArn}`` placeholders; CDK fills them with
``definition_substitutions`` and the local runtime with moto Lambda ARNs — the same document either way.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

TASK_FUNCTIONS: dict[str, str] = {
    # placeholder → function folder under functions/
    "MasterDataFunctionArn": "master_data",
    "EnrichFunctionArn": "enrich",
    "ValidateFunctionArn": "validate",
    "PostFunctionArn": "post",
    "OpenExceptionFunctionArn": "open_exception",
}


def definition_text() -> str:
    return resources.files(__package__).joinpath("post_document.asl.json").read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", text or definition_text()))


def render(arns: dict[str, str], *, master_data_wait_seconds: int | None = None) -> dict[str, Any]:
    """The definition with every placeholder replaced (local runtime); refuses unknown or missing ones.

    ``master_data_wait_seconds`` shortens the quote-to-cash wait (the ``MasterDataPending`` retry interval)
    for local runs and tests, where waiting a minute per attempt would only slow the demo down; nothing
    else of the deployed definition changes."""
    text = definition_text()
    missing = placeholders(text) - set(arns)
    if missing:
        raise KeyError(f"no ARN for {sorted(missing)}")
    for name, arn in arns.items():
        text = text.replace("${" + name + "}", arn)
    definition = json.loads(text)
    if master_data_wait_seconds is not None:
        for state in definition["States"].values():
            for retrier in state.get("Retry", []):
                if "MasterDataPending" in retrier["ErrorEquals"]:
                    retrier["IntervalSeconds"] = master_data_wait_seconds
                    retrier["BackoffRate"] = 1.0
    return definition
