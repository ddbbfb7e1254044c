"""Starts the post-document state machine: one execution per document, named by its document id."""

from __future__ import annotations

import json
from typing import Any

from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code


class StepFunctionsWorkflow:
    def __init__(self, state_machine_arn: str, *, client: Any = None) -> None:
        self._arn = state_machine_arn
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("stepfunctions")

    def send_task_success(self, task_token: str, output: dict[str, Any]) -> None:
        """Resume an execution waiting on a task token (an exception case's decision)."""
        self.client.send_task_success(taskToken=task_token, output=json.dumps(output, default=str))

    def describe(self, name: str) -> dict[str, Any] | None:
        arn = self._arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            return self.client.describe_execution(executionArn=arn)
        except Exception as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "ResourceNotFound"):
                return None
            raise

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        """Start once. Returns False when an execution with this name already exists (idempotent)."""
        try:
            self.client.start_execution(stateMachineArn=self._arn, name=name,
                                        input=json.dumps(payload, separators=(",", ":"), default=str))
        except Exception as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return False
            raise
        return True
