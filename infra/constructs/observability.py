"""Operational visibility: a CloudWatch dashboard and SLO alarms to an SNS topic.

Metrics come from Powertools EMF (namespace ``LedgerLink``, dimension ``service`` = the handler's
``Metrics(service=...)``) and from the services (SQS, Step Functions). SLO thresholds are deployment
options (``infra.options.Slos``: CDK context ``slo_*``), not constants buried here.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.options import DeploymentOptions

NAMESPACE = "LedgerLink"


def app_metric(name: str, service: str, statistic: str = "Sum", period: Duration | None = None,
               label: str | None = None) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, dimensions_map={"service": service},
                             statistic=statistic, period=period or Duration.hours(1), label=label or name)


class Observability(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions, key: kms.Key,
                 inbound: sqs.IQueue, dlq: sqs.IQueue, state_machine: sfn.IStateMachine,
                 happy_path: sfn.IStateMachine) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._build_topic(key)
        self.alarms = self._build_alarms(options, dlq, state_machine, happy_path)
        self.dashboard = self._build_dashboard(options, inbound, dlq, state_machine, happy_path)

    def _build_topic(self, key: kms.Key) -> sns.Topic:
        topic = sns.Topic(self, "Alarms", display_name="LedgerLink alarms", master_key=key, enforce_ssl=True)
        # CloudWatch alarms publish to the KMS-encrypted topic with the key
        key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsToPublishToTheEncryptedTopic",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], resources=["*"]))
        return topic

    def _alarm(self, construct_id: str, *, metric: cloudwatch.IMetric, threshold: float, description: str,
               comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
               evaluation_periods: int = 1, missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING
               ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(self, construct_id, metric=metric, threshold=threshold,
                                 comparison_operator=comparison, evaluation_periods=evaluation_periods,
                                 datapoints_to_alarm=evaluation_periods, treat_missing_data=missing,
                                 alarm_description=description)
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        return alarm

    def alarm_on_parked_messages(self, construct_id: str, queue: sqs.IQueue, description: str) -> cloudwatch.Alarm:
        """An alarm for another dead-letter queue (the bank-file function's failed drops)."""
        alarm = self._alarm(construct_id, threshold=1, description=description,
                            metric=queue.metric_approximate_number_of_messages_visible(
                                period=Duration.minutes(5), statistic="Maximum"))
        self.alarms[construct_id] = alarm
        return alarm

    def alarm_on_function_errors(self, construct_id: str, function: Any, description: str) -> cloudwatch.Alarm:
        """An alarm when a scheduled function fails (a poll run that keeps failing leaves its source unread)."""
        alarm = self._alarm(construct_id, threshold=1, description=description,
                            metric=function.metric_errors(period=Duration.hours(1), statistic="Sum"))
        self.alarms[construct_id] = alarm
        return alarm

    def alarm_on_app_metric(self, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        """An alarm on one of LedgerLink's own metrics reaching 1 (e.g. the audit export's ``AuditTampering``)."""
        alarm = self._alarm(construct_id, threshold=1, description=description, metric=metric)
        self.alarms[construct_id] = alarm
        return alarm

    def _build_alarms(self, options: DeploymentOptions, dlq: sqs.IQueue, state_machine: sfn.IStateMachine,
                      happy_path: sfn.IStateMachine) -> dict[str, cloudwatch.Alarm]:
        slos = options.slos
        five = Duration.minutes(5)
        happy_path_failed = cloudwatch.MathExpression(
            expression="failed + timedOut + aborted", label="happy path executions failed", period=five,
            using_metrics={"failed": happy_path.metric_failed(period=five),
                           "timedOut": happy_path.metric_timed_out(period=five),
                           "aborted": happy_path.metric_aborted(period=five)})
        exception_rate = cloudwatch.MathExpression(
            expression="100 * exceptions / MAX([posted + exceptions, 1])",
            using_metrics={"exceptions": app_metric("ExceptionsOpened", "exceptions"),
                           "posted": app_metric("DocumentsPosted", "post")},
            period=Duration.hours(1), label="exception rate %")
        return {
            "dlq": self._alarm(
                "DlqNotEmpty", threshold=1,
                metric=dlq.metric_approximate_number_of_messages_visible(period=five, statistic="Maximum"),
                description="Messages are parked in the inbound DLQ: fix the cause, then redrive (console or "
                            "`ledgerlink dlq redrive`)."),
            "reconciliation_difference": self._alarm(
                "ReconciliationDifference", threshold=1,
                metric=app_metric("ReconciliationDifferences", "reconcile", period=Duration.days(1)),
                description="A reconciliation found a difference; the report and the EventBridge event name the "
                            "documents and events involved."),
            "reconciliation_missing": self._alarm(
                "ReconciliationMissing", threshold=1, comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=slos.reconciliation_max_age_hours, missing=cloudwatch.TreatMissingData.BREACHING,
                metric=app_metric("ReconciliationCompleted", "reconcile", period=Duration.hours(1)),
                description=f"No reconciliation completed in {slos.reconciliation_max_age_hours} hours."),
            "posting_latency": self._alarm(
                "PostingLatencySlo", threshold=slos.posting_latency_p95_seconds,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                metric=app_metric("PostingLatency", "post", statistic="p95"),
                description=f"p95 webhook-to-ERP latency above {slos.posting_latency_p95_seconds} s over an hour."),
            "exception_rate": self._alarm(
                "ExceptionRateSlo", threshold=slos.exception_rate_percent,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD, metric=exception_rate,
                description=f"More than {slos.exception_rate_percent}% of documents opened an exception in an hour."),
            "executions_failed": self._alarm(
                "ExecutionsFailed", threshold=1, metric=state_machine.metric_failed(period=five),
                description="A post-document execution failed outright (even the exception step could not run)."),
            "happy_path_failed": self._alarm(
                "HappyPathExecutionsFailed", threshold=1, metric=happy_path_failed,
                description="An Express happy-path execution ended without posting or handing its document to the "
                            "Standard workflow (it failed, timed out or was stopped): the document stays 'received'. "
                            "Replay it (ledgerlink replay --document <id>); the day's reconciliation also lists it "
                            "as document_stuck."),
            "webhooks_unavailable": self._alarm(
                "WebhooksUnavailable", threshold=5,
                metric=app_metric("Webhook_unavailable", "ingest", period=five),
                description="Ingest answered 503 (storage unavailable); providers are retrying."),
        }

    def _build_dashboard(self, options: DeploymentOptions, inbound: sqs.IQueue, dlq: sqs.IQueue,
                         state_machine: sfn.IStateMachine, happy_path: sfn.IStateMachine) -> cloudwatch.Dashboard:
        five = Duration.minutes(5)
        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"LedgerLink-{options.stage}")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Webhooks", width=12, left=[
                app_metric(f"Webhook_{outcome}", "ingest", period=five, label=outcome)
                for outcome in ("accepted", "duplicate", "rejected", "unavailable")]),
            cloudwatch.GraphWidget(title="Documents", width=12, left=[
                app_metric("DocumentsStarted", "normalize", period=five, label="received (started)"),
                app_metric("DocumentsPosted", "post", period=five, label="posted"),
                app_metric("ExceptionsOpened", "exceptions", period=five, label="exceptions")]),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Posting latency, webhook → ERP (s)", width=8, left=[
                app_metric("PostingLatency", "post", statistic=stat, period=five, label=stat)
                for stat in ("p50", "p95", "Maximum")],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=options.slos.posting_latency_p95_seconds,
                                                                  label="p95 SLO")]),
            cloudwatch.GraphWidget(title="Exceptions by reason", width=8, left=[cloudwatch.MathExpression(
                expression=f"SEARCH('{{{NAMESPACE},reason}} MetricName=\"ExceptionsByReason\"', 'Sum', 3600)",
                label="", period=Duration.hours(1))]),
            cloudwatch.GraphWidget(title="Queues", width=8, left=[
                inbound.metric_approximate_number_of_messages_visible(period=five, label="inbound waiting"),
                inbound.metric_approximate_age_of_oldest_message(period=five, label="inbound oldest (s)"),
                dlq.metric_approximate_number_of_messages_visible(period=five, label="DLQ depth")]),
        )
        dashboard.add_widgets(
            # most documents never leave the Express happy path (D76); the Standard machine runs the escalations
            # (exceptions, long waits) and replays, so its starts are the ones worth a look
            cloudwatch.GraphWidget(title="Executions: happy path (Express) | escalated and replays (Standard)",
                                   width=12, left=[
                happy_path.metric_started(period=five, label="happy path started"),
                happy_path.metric_succeeded(period=five, label="happy path succeeded"),
                happy_path.metric_failed(period=five, label="happy path failed")], right=[
                state_machine.metric_started(period=five, label="standard started"),
                state_machine.metric_succeeded(period=five, label="standard succeeded"),
                state_machine.metric_failed(period=five, label="standard failed")]),
            cloudwatch.GraphWidget(title="Reconciliation", width=12, left=[
                app_metric("ReconciliationDifferences", "reconcile", period=Duration.days(1), label="differences"),
                app_metric("ReconciliationCompleted", "reconcile", period=Duration.days(1), label="completed")]),
            cloudwatch.AlarmStatusWidget(title="SLO alarms", width=24, alarms=list(self.alarms.values())),
        )
        return dashboard
