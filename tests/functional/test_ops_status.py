"""`ledgerlink status` on the Express happy path: AWS lists no Express executions, so on AWS the status shows the
machine's CloudWatch execution counts of the last hour instead (moto lists them, so the local stack shows them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ledgerlink.ops import commands
from ledgerlink.store import clients, workflow

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
EXPRESS = "arn:aws:states:us-east-1:123456789012:stateMachine:ledgerlink-happy-path"
OTHER = "arn:aws:states:us-east-1:123456789012:stateMachine:someone-else"


class _ExpressOnAws:
    """What AWS answers ListExecutions on an Express machine."""

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_executions"
        return self

    def paginate(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "StateMachineTypeNotSupported",
                                     "Message": "This operation is not supported by this type of state machine"}},
                          "ListExecutions")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        clients.reset()
        yield
    clients.reset()


def _put(name: str, machine: str, value: float, at: datetime) -> None:
    clients.client("cloudwatch").put_metric_data(Namespace="AWS/States", MetricData=[{
        "MetricName": name, "Value": value, "Unit": "Count", "Timestamp": at,
        "Dimensions": [{"Name": "StateMachineArn", "Value": machine}]}])


def test_on_aws_the_happy_path_is_its_cloudwatch_counts_of_the_last_hour(aws, monkeypatch):
    monkeypatch.setattr(workflow, "default_client", lambda service: _ExpressOnAws())   # the Step Functions reads
    for minutes_ago in (5, 20, 50):
        _put("ExecutionsStarted", EXPRESS, 10, NOW - timedelta(minutes=minutes_ago))
    _put("ExecutionsSucceeded", EXPRESS, 27, NOW - timedelta(minutes=10))
    _put("ExecutionsFailed", EXPRESS, 2, NOW - timedelta(minutes=30))
    _put("ExecutionsTimedOut", EXPRESS, 1, NOW - timedelta(minutes=40))
    _put("ExecutionsStarted", EXPRESS, 500, NOW - timedelta(minutes=90))   # before the hour
    _put("ExecutionsFailed", OTHER, 7, NOW - timedelta(minutes=5))         # another machine

    assert commands.happy_path_activity(EXPRESS, now=NOW) == {"last_hour": {
        "started": 30, "succeeded": 27, "failed": 2, "timed_out": 1, "aborted": 0}}


def test_any_other_refusal_is_not_taken_for_an_express_machine(aws):
    with pytest.raises(ClientError) as refused:
        commands.happy_path_activity(EXPRESS, now=NOW)   # moto: no such state machine
    assert refused.value.response["Error"]["Code"] == "StateMachineDoesNotExist"


def test_where_express_executions_can_be_listed_the_running_ones_are_counted(aws):
    sfn = clients.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="happy", type="EXPRESS", roleArn="arn:aws:iam::123456789012:role/happy",
        definition='{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": true}}}'
    )["stateMachineArn"]
    assert commands.happy_path_activity(arn) == {"running": 0}
    # running either way: moto's state machine parser (on once another test enabled it) waits, and without it
    # moto keeps every execution RUNNING
    started = [sfn.start_execution(stateMachineArn=arn, name=name, input="{}")["executionArn"]
               for name in ("doc-1", "doc-2")]
    try:
        assert commands.happy_path_activity(arn) == {"running": 2}
    finally:   # (moto's parser applies a stop asynchronously, so the count after one is not asserted)
        for execution in started:
            sfn.stop_execution(executionArn=execution)
