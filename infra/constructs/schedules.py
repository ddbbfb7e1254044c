"""EventBridge Scheduler schedules that invoke one LedgerLink function (the L2 ``aws_scheduler.Schedule``).

Every schedule of the app has the same shape: a fixed expression (optionally in an entity's time zone), no
flexible window, a JSON input, a bounded retry policy and the role of the construct that owns it, which may
invoke that one function and nothing else. ``aws_scheduler_targets.LambdaInvoke`` grants through
``Function.grant_invoke``, which also grants every version and alias (``<function arn>:*``): a wildcard the
schedules do not need. ``InvokeFunction`` grants the unqualified ARN only, exactly what a schedule invokes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from constructs import Construct


class InvokeFunction(targets.LambdaInvoke):
    """``LambdaInvoke`` whose role may invoke the function's unqualified ARN only (no versions, no aliases)."""

    def __init__(self, function: lambda_.IFunction, *, role: iam.IRole, input: str, retry_attempts: int,
                 max_event_age: Duration) -> None:
        super().__init__(function, role=role, input=scheduler.ScheduleTargetInput.from_text(input),
                         retry_attempts=retry_attempts, max_event_age=max_event_age)
        self._function_arn = function.function_arn

    def _add_target_action_to_role(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"],
                                                         resources=[self._function_arn]))


def scheduler_role(scope: Construct, construct_id: str, *, description: str) -> iam.Role:
    """The role a construct's schedules assume; each schedule's target grants it its one invocation."""
    return iam.Role(scope, construct_id, assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
                    description=description)


def invoke_schedule(scope: Construct, construct_id: str, *, function: lambda_.IFunction, role: iam.IRole,
                    schedule: scheduler.ScheduleExpression, description: str, payload: Mapping[str, str],
                    retry_attempts: int, max_event_age: Duration) -> scheduler.Schedule:
    """A schedule that invokes ``function`` with ``payload`` (JSON) on ``schedule``, always on time."""
    return scheduler.Schedule(
        scope, construct_id, description=description, schedule=schedule,
        time_window=scheduler.TimeWindow.off(),
        target=InvokeFunction(function, role=role, input=json.dumps(dict(payload)), retry_attempts=retry_attempts,
                              max_event_age=max_event_age))


def every(interval: Duration) -> scheduler.ScheduleExpression:
    """``rate(...)``: no time zone (a rate does not depend on one)."""
    return scheduler.ScheduleExpression.rate(interval)


def local_cron(expression: str, time_zone: str) -> scheduler.ScheduleExpression:
    """A ``cron(...)`` expression evaluated in ``time_zone`` (an entity's IANA zone)."""
    return scheduler.ScheduleExpression.expression(expression, TimeZone.of(time_zone))
