"""The revenue release in the synthesized stack: its schedules (one per entity, in the entity's time zone), the
environment of its settings class, its table, and who may write revenue facts."""

from __future__ import annotations

import json

import pytest

from ledgerlink import settings
from ledgerlink.config.loader import load_config_file
from ledgerlink.store.tables import TABLES

from tests.conftest import EXAMPLE_CONFIG
from tests.infra.template_queries import (
    function_names,
    function_role,
    grants,
    of_type,
    output_target,
    ref,
    table_ids,
)


@pytest.fixture(scope="module")
def functions(assembly):
    return function_names(assembly.template, assembly.assets, assembly.outdir)


def release_schedules(template, functions):
    return [s["Properties"] for s in of_type(template, "AWS::Scheduler::Schedule").values()
            if ref(s["Properties"]["Target"]["Arn"]) == functions["revenue_release"]]


def test_each_entity_is_released_at_month_start_in_its_own_time_zone(template, functions):
    config = load_config_file(EXAMPLE_CONFIG)
    schedules = release_schedules(template, functions)
    by_entity = {json.loads(s["Target"]["Input"])["entity"]: s for s in schedules}
    assert set(by_entity) == {entity.id for entity in config.entities}
    for entity in config.entities:
        schedule = by_entity[entity.id]
        assert schedule["ScheduleExpression"] == "cron(0 3 1-5 * ? *)"
        assert schedule["ScheduleExpressionTimezone"] == entity.time_zone
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_the_release_schedule_role_may_only_invoke_the_release(template, functions):
    for schedule in release_schedules(template, functions):
        assert grants(template, ref(schedule["Target"]["RoleArn"])) == {
            ("lambda:InvokeFunction", functions["revenue_release"], None)}


def test_the_release_environment_is_exactly_its_settings_class(template, functions):
    environment = template["Resources"][functions["revenue_release"]]["Properties"]["Environment"]["Variables"]
    own = set(environment) - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL",
                              settings.STAGE}
    assert own == settings.all_env(settings.RevenueReleaseSettings)
    assert ref(environment[settings.REVENUE_TABLE]) == table_ids(template)["revenue"]


def test_the_revenue_table_has_its_indexes_and_the_data_key(template):
    table = template["Resources"][table_ids(template)["revenue"]]["Properties"]
    assert {index["IndexName"] for index in table["GlobalSecondaryIndexes"]} == {
        index.name for index in TABLES["revenue"].indexes}
    assert table["SSESpecification"]["SSEEnabled"] is True and "KMSMasterKeyId" in table["SSESpecification"]
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_only_the_steps_that_feed_or_release_schedules_can_write_the_revenue_table(template, functions):
    revenue = table_ids(template)["revenue"]
    writers = {name for name, lid in functions.items()
               if any(resource == revenue and action in ("dynamodb:PutItem", "dynamodb:UpdateItem",
                                                         "dynamodb:BatchWriteItem")
                      for action, resource, _ in grants(template, function_role(template, lid)))}
    assert writers == {"normalize", "post", "revenue_release"}


def test_the_revenue_outputs_let_operators_reach_it(template, functions):
    assert output_target(template, "RevenueReleaseFunctionName") == functions["revenue_release"]
    assert output_target(template, "RevenueTableName") == table_ids(template)["revenue"]
