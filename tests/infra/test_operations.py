"""Reconciliation schedules, SLO alarms and the dashboard: what operators rely on every day."""

from __future__ import annotations

import json

from ledgerlink.config.loader import load_config_file

from tests.conftest import EXAMPLE_CONFIG
from tests.infra.template_queries import function_names, of_type, output_target, ref


def test_each_entity_is_reconciled_daily_in_its_own_time_zone(assembly):
    template = assembly.template
    reconcile = function_names(template, assembly.assets, assembly.outdir)["reconcile"]
    schedules = [schedule for schedule in of_type(template, "AWS::Scheduler::Schedule").values()
                 if ref(schedule["Properties"]["Target"]["Arn"]) == reconcile]   # (the flush has its own)
    config = load_config_file(EXAMPLE_CONFIG)
    assert len(schedules) == len(config.entities)
    for entity, schedule in zip(config.entities, schedules, strict=True):
        props = schedule["Properties"]
        assert props["ScheduleExpressionTimezone"] == entity.time_zone
        assert props["ScheduleExpression"] == "cron(30 2 * * ? *)"  # reconcile_time default 02:30 local
        assert ref(props["Target"]["Arn"]) == reconcile
        assert json.loads(props["Target"]["Input"]) == {"entity": entity.id}
        assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def _alarms(template):
    return {lid: alarm["Properties"] for lid, alarm in of_type(template, "AWS::CloudWatch::Alarm").items()}


def _metric(props):
    """(metric name, statistic, period) whether CDK rendered the alarm flat or as a Metrics array."""
    if "MetricName" in props:
        return props["MetricName"], props.get("ExtendedStatistic") or props.get("Statistic"), props["Period"]
    for query in props.get("Metrics", []):
        if "MetricStat" in query and query.get("ReturnData", True):
            stat = query["MetricStat"]
            return stat["Metric"]["MetricName"], stat["Stat"], stat["Period"]
    return None, None, None


def test_every_alarm_notifies_the_encrypted_alarm_topic(template):
    topic = output_target(template, "AlarmTopicArn")
    (topic_props,) = [t["Properties"] for lid, t in of_type(template, "AWS::SNS::Topic").items() if lid == topic]
    assert "KmsMasterKeyId" in topic_props
    alarms = _alarms(template)
    assert len(alarms) >= 7
    for lid, props in alarms.items():
        assert [ref(action) for action in props["AlarmActions"]] == [topic], lid


def test_a_parked_dlq_message_alarms_within_five_minutes(template):
    dlq = output_target(template, "InboundDlqUrl")
    (alarm,) = [p for p in _alarms(template).values()
                if p.get("MetricName") == "ApproximateNumberOfMessagesVisible"
                and ref(p["Dimensions"][0]["Value"]).startswith(dlq.split(".")[0])]
    assert (alarm["Threshold"], alarm["Period"], alarm["ComparisonOperator"]) == (
        1, 300, "GreaterThanOrEqualToThreshold")


def test_a_missing_daily_reconciliation_alarms(template):
    (alarm,) = [p for p in _alarms(template).values() if _metric(p)[0] == "ReconciliationCompleted"]
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["EvaluationPeriods"] * _metric(alarm)[2] == 26 * 3600
    assert alarm["ComparisonOperator"] == "LessThanThreshold"


def test_slo_alarms_use_the_configured_objectives(template):
    alarms = _alarms(template).values()
    (latency,) = [p for p in alarms if _metric(p)[0] == "PostingLatency"]
    assert (_metric(latency)[1], latency["Threshold"]) == ("p95", 900)
    (rate,) = [p for p in alarms if "exceptions" in _expression(p)]
    assert rate["Threshold"] == 2
    (differences,) = [p for p in alarms if _metric(p)[0] == "ReconciliationDifferences"]
    assert differences["Threshold"] == 1


def _expression(alarm: dict) -> str:
    return next((m["Expression"] for m in alarm.get("Metrics", []) if "Expression" in m), "")


def test_a_happy_path_execution_that_ends_without_posting_or_escalating_raises_an_alarm(template):
    (alarm,) = [p for p in _alarms(template).values() if "timedOut" in _expression(p)]
    assert _expression(alarm) == "failed + timedOut + aborted" and alarm["Threshold"] == 1
    machines = {lid for lid, machine in of_type(template, "AWS::StepFunctions::StateMachine").items()
                if machine["Properties"].get("StateMachineType") == "EXPRESS"}
    metrics = {m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]["Metric"]["Dimensions"]
               for m in alarm["Metrics"] if "MetricStat" in m}
    assert set(metrics) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    assert all({ref(d["Value"]) for d in dimensions} == machines for dimensions in metrics.values())
    assert "document_stuck" in alarm["AlarmDescription"]


def test_the_dashboard_shows_the_pipeline_metrics(template):
    (dashboard,) = of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("Webhook_accepted", "DocumentsPosted", "ExceptionsOpened", "PostingLatency",
                   "ReconciliationDifferences", "ExceptionsByReason", "ApproximateNumberOfMessagesVisible"):
        assert metric in body, metric


def test_the_dashboard_charts_executions_of_both_state_machines(template):
    (dashboard,) = of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.loads(ref(dashboard["Properties"]["DashboardBody"]))  # references rendered as logical ids
    (widget,) = [w for w in body["widgets"] if w["properties"].get("title", "").startswith("Executions")]
    charted: dict[str, set[str]] = {}
    for metric in widget["properties"]["metrics"]:
        namespace, name, _, machine = metric[:4]
        assert namespace == "AWS/States"
        charted.setdefault(machine, set()).add(name)
    machines = set(of_type(template, "AWS::StepFunctions::StateMachine"))
    assert len(machines) == 2 and set(charted) == machines
    assert all(names == {"ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed"} for names in charted.values())


def test_each_polled_source_is_polled_on_its_interval(assembly):
    template = assembly.template
    poll = function_names(template, assembly.assets, assembly.outdir)["poll"]
    schedules = [schedule["Properties"] for schedule in of_type(template, "AWS::Scheduler::Schedule").values()
                 if ref(schedule["Properties"]["Target"]["Arn"]) == poll]
    polled = [source for source in load_config_file(EXAMPLE_CONFIG).sources if source.kind == "expensify"]
    assert len(schedules) == len(polled) == 1
    (props,), (source,) = schedules, polled
    assert props["ScheduleExpression"] == f"rate({source.poll_interval_minutes} minutes)"
    assert json.loads(props["Target"]["Input"]) == {"source": source.id}
    assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_a_dropped_bank_file_reaches_the_bank_file_function_through_eventbridge(assembly):
    template = assembly.template
    bank_file = function_names(template, assembly.assets, assembly.outdir)["bank_file"]
    archive = output_target(template, "ArchiveBucketName")
    # the archive bucket publishes object events to EventBridge (no notifications custom resource)
    bucket = template["Resources"][archive]["Properties"]
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert not of_type(template, "Custom::S3BucketNotifications")
    (rule,) = [r["Properties"] for r in of_type(template, "AWS::Events::Rule").values()
               if any(ref(t["Arn"]) == bank_file for t in r["Properties"].get("Targets", []))]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert [ref(name) for name in pattern["detail"]["bucket"]["name"]] == [archive]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "bank-inbox/"}]
    (target,) = rule["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    # EventBridge may invoke it (and nothing else is granted on it)
    permissions = [p["Properties"] for p in of_type(template, "AWS::Lambda::Permission").values()
                   if ref(p["Properties"]["FunctionName"]) == bank_file]
    assert [p["Principal"] for p in permissions] == ["events.amazonaws.com"]


def test_failed_bank_file_drops_are_parked_in_an_alarmed_dlq(assembly):
    template = assembly.template
    bank_file = function_names(template, assembly.assets, assembly.outdir)["bank_file"]
    dlq = output_target(template, "BankFileDlqUrl")
    (config,) = [c["Properties"] for c in of_type(template, "AWS::Lambda::EventInvokeConfig").values()
                 if ref(c["Properties"]["FunctionName"]) == bank_file]
    assert ref(config["DestinationConfig"]["OnFailure"]["Destination"]) == dlq
    assert config["MaximumRetryAttempts"] == 2
    assert ref(template["Resources"][dlq]["Properties"]["KmsMasterKeyId"]) in of_type(template, "AWS::KMS::Key")
    alarms = [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
              and ref(a["Properties"]["Dimensions"][0]["Value"]) == dlq]
    assert len(alarms) == 1 and alarms[0]["Threshold"] == 1


def test_a_failing_poll_alarms(assembly):
    template = assembly.template
    poll = function_names(template, assembly.assets, assembly.outdir)["poll"]
    alarms = [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
              if a["Properties"].get("MetricName") == "Errors"
              and ref(a["Properties"]["Dimensions"][0]["Value"]) == poll]
    assert len(alarms) == 1 and alarms[0]["Threshold"] == 1
