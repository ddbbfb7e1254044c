"""EventBridge Scheduler schedules (the L2 ``aws_scheduler.Schedule``): what runs when, with which input and retry
policy, and a role that may invoke exactly one unqualified function ARN."""

from __future__ import annotations

import json

from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_

from infra.constructs.schedules import every, invoke_schedule, local_cron, scheduler_role
from ledgerlink.config import load_config_file

from tests.conftest import REPO
from tests.infra.template_queries import function_names, grants, of_type, ref

EXAMPLE_CONFIG = REPO / "config" / "ledgerlink.example.yaml"


def _schedules(assembly):
    functions = {lid: name for name, lid in function_names(assembly.template, assembly.assets,
                                                            assembly.outdir).items()}
    found = set()
    for schedule in of_type(assembly.template, "AWS::Scheduler::Schedule").values():
        props, target = schedule["Properties"], schedule["Properties"]["Target"]
        found.add((functions[ref(target["Arn"])], props["ScheduleExpression"], props.get("ScheduleExpressionTimezone"),
                   target["Input"], target["RetryPolicy"]["MaximumRetryAttempts"],
                   target["RetryPolicy"]["MaximumEventAgeInSeconds"]))
    return found


def test_the_schedules_run_what_they_ran_with_the_same_input_and_retry_policy(assembly):
    config = load_config_file(EXAMPLE_CONFIG)
    polled = [source for source in config.sources if source.kind == "expensify"]
    expected = {("flush", "rate(1 hour)", "Etc/UTC", "{}", 2, 3600)}
    expected |= {("poll", f"rate({s.poll_interval_minutes} minutes)", "Etc/UTC", json.dumps({"source": s.id}), 2,
                  60 * s.poll_interval_minutes) for s in polled}
    for entity in config.entities:
        payload = json.dumps({"entity": entity.id})
        expected.add(("reconcile", "cron(30 2 * * ? *)", entity.time_zone, payload, 3, 3600))
        expected.add(("revenue_release", "cron(0 3 1-5 * ? *)", entity.time_zone, payload, 3, 3600))
    assert _schedules(assembly) == expected


def test_every_schedule_is_enabled_on_time_and_in_the_default_group(template):
    for schedule in of_type(template, "AWS::Scheduler::Schedule").values():
        props = schedule["Properties"]
        assert props["State"] == "ENABLED" and props["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert "GroupName" not in props and "Name" not in props and "DeadLetterConfig" not in props["Target"]


def test_scheduler_roles_grant_no_wildcard(template):
    for schedule in of_type(template, "AWS::Scheduler::Schedule").values():
        for action, resource, _ in grants(template, ref(schedule["Properties"]["Target"]["RoleArn"])):
            assert action == "lambda:InvokeFunction" and "*" not in resource, (action, resource)


def test_invoke_schedule_grants_the_unqualified_function_once_however_many_schedules_share_the_role():
    stack = Stack(App(), "S")
    function = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_12, handler="handler.handler",
                                code=lambda_.Code.from_inline("def handler(event, context): pass"))
    role = scheduler_role(stack, "Role", description="test")
    for index, schedule in enumerate((every(Duration.minutes(5)), local_cron("cron(0 1 * * ? *)", "Europe/Paris"))):
        invoke_schedule(stack, f"S{index}", function=function, role=role, schedule=schedule, description="d",
                        payload={"n": str(index)}, retry_attempts=1, max_event_age=Duration.minutes(2))
    template = App.of(stack).synth().get_stack_by_name("S").template
    function_id = stack.resolve(function.function_arn)["Fn::GetAtt"][0]
    (policy,) = of_type(template, "AWS::IAM::Policy").values()
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [function_id, "Arn"]}}]
    schedules = sorted((s["Properties"]["ScheduleExpression"], s["Properties"]["ScheduleExpressionTimezone"],
                        s["Properties"]["Target"]["Input"], s["Properties"]["Target"]["RetryPolicy"]["MaximumRetryAttempts"],
                        s["Properties"]["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"])
                       for s in of_type(template, "AWS::Scheduler::Schedule").values())
    assert schedules == [("cron(0 1 * * ? *)", "Europe/Paris", '{"n": "1"}', 1, 120),
                         ("rate(5 minutes)", "Etc/UTC", '{"n": "0"}', 1, 120)]
