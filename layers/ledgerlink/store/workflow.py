"""Starts a document's workflow: the Express happy path (normalize's first start), or the Standard post-document
workflow (replays; the happy path escalates to it by itself), one Standard execution per name (D76)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code


def running_executions(state_machine_arn: str) -> list[str]:
    """The ARNs of a state machine's running executions. AWS refuses ``ListExecutions`` on an Express machine
    (``StateMachineTypeNotSupported``; its record is the execution logs); moto answers it."""
    paginator = default_client("stepfunctions").get_paginator("list_executions")
    return [execution["executionArn"] for page in paginator.paginate(stateMachineArn=state_machine_arn,
                                                                      statusFilter="RUNNING")
            for execution in page["executions"]]


class StepFunctionsWorkflow:
    def __init__(self, state_machine_arn: str, *, happy_path_arn: str = "", client: Any = None) -> None:
        self._arn = state_machine_arn
        self._happy_path_arn = happy_path_arn
        self._client = client

    @property
    def client(self) -> Any:
        """The low-level Step Functions client (botocore: untyped)."""
        return self._client or default_client("stepfunctions")

    def send_task_success(self, task_token: str, output: Mapping[str, object]) -> None:
        """Resume an execution waiting on a task token (an exception case's decision)."""
        self.client.send_task_success(taskToken=task_token, output=json.dumps(dict(output), default=str))

    def describe(self, name: str) -> dict[str, Any] | None:
        """``DescribeExecution`` of the execution ``name`` (botocore's untyped response), None when there is none."""
        arn = self._arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            return cast("dict[str, Any]", self.client.describe_execution(executionArn=arn))
        except Exception as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "ResourceNotFound"):
                return None
            raise

    def history(self, name: str) -> list[dict[str, Any]]:
        """The events of the Standard execution ``name``, oldest first (botocore's untyped events; empty when there is
        none). Express executions keep no history (D76): the happy path's steps are not here."""
        arn = self._arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        try:
            pages = self.client.get_paginator("get_execution_history").paginate(
                executionArn=arn, includeExecutionData=False)
            return [event for page in pages for event in page.get("events", [])]
        except Exception as exc:
            if error_code(exc) in ("ExecutionDoesNotExist", "ResourceNotFound"):
                return []
            raise

    def start_document(self, document_id: str, payload: Mapping[str, object]) -> bool:
        """A newly registered document: the Express happy path when deployed, else the Standard workflow.

        Express executions are not unique by name (each start runs again) and run at least once; the post step's
        ledger lease and its lookup by external id keep a second run from posting twice (D11, D73)."""
        if not self._happy_path_arn:
            return self.start(document_id, payload)
        return self._start(self._happy_path_arn, document_id, payload)

    def start(self, name: str, payload: Mapping[str, object]) -> bool:
        """Start the Standard workflow once. Returns False when an execution with this name already exists."""
        return self._start(self._arn, name, payload)

    def _start(self, arn: str, name: str, payload: Mapping[str, object]) -> bool:
        try:
            self.client.start_execution(stateMachineArn=arn, name=name,
                                        input=json.dumps(dict(payload), separators=(",", ":"), default=str))
        except Exception as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return False
            raise
        return True
