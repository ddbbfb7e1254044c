"""Issue 23: the hourly flush publishes the backlog forecast, and an alarm goes to the alarm topic when any ERP
connection's forecast passes its deadline (metric BacklogForecastLate, service flush, the number of late connections)."""

from __future__ import annotations

from tests.infra.template_queries import of_type, output_target, ref


def test_a_late_backlog_forecast_alarms_on_the_alarm_topic(template):
    alarms = [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
              if any(query.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "BacklogForecastLate"
                     for query in a["Properties"].get("Metrics", []))]
    assert len(alarms) == 1
    (alarm,) = alarms
    (query,) = alarm["Metrics"]
    stat = query["MetricStat"]
    assert (stat["Metric"]["Namespace"], stat["Stat"], stat["Period"]) == ("LedgerLink", "Maximum", 3600)
    assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": "flush"}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        1, "GreaterThanOrEqualToThreshold", "notBreaching")
    assert [ref(action) for action in alarm["AlarmActions"]] == [output_target(template, "AlarmTopicArn")]
