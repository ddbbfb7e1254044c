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
    "EnrichFunctionArn": "enrich",
    "ValidateFunctionArn": "validate",
    "PostFunctionArn": "post",
    "RecordFunctionArn": "record",
    "OpenExceptionFunctionArn": "open_exception",
}


def definition_text() -> str:
    return resources.files(__package__).joinpath("post_document.asl.json").read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", text or definition_text()))


def render(arns: dict[str, str]) -> dict[str, Any]:
    """The definition with every placeholder replaced (local runtime); refuses unknown or missing ones."""
    text = definition_text()
    missing = placeholders(text) - set(arns)
    if missing:
        raise KeyError(f"no ARN for {sorted(missing)}")
    for name, arn in arns.items():
        text = text.replace("${" + name + "}", arn)
    return json.loads(text)
