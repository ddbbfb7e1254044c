"""Polling: sources without webhooks (Expensify) read by the poll Lambda on an EventBridge Scheduler schedule.

One schedule per polled source, every ``poll_interval_minutes`` (config), with input ``{"source": <id>}``. The
function claims what it reads in the inbox, archives it under ``raw/``, enqueues it like ingest, and only then
moves the source's high-water mark in the ``cursors`` table; a failed run is retried by the scheduler and
changes nothing the next run would not redo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.constructs.schedules import every, invoke_schedule, scheduler_role
from infra.constructs.secrets import pascal
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources import POLLED_KINDS
from ledgerlink.store.archive import RAW_PREFIX


class SourcePolling(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, archive: s3.IBucket,
                 queue: sqs.IQueue, secrets: Sequence[secretsmanager.ISecret], config: LedgerLinkConfig,
                 values: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.function = LedgerLinkFunction(
            self, "Poll", name="poll", options=options, layer=layer, key=key, values=values,
            description="scheduled: export a source without webhooks past its high-water mark; claim, archive, "
                        "enqueue, then move the mark")
        self._grant(tables, archive, queue, secrets)
        self.schedules = self._build_schedules(config)

    def _grant(self, tables: StateTables, archive: s3.IBucket, queue: sqs.IQueue,
               secrets: Sequence[secretsmanager.ISecret]) -> None:
        function = self.function
        function.allow(["dynamodb:GetItem"], [tables["config"].table_arn])                 # config_store.active
        function.allow(["dynamodb:PutItem"], [tables["inbox"].table_arn])                  # inbox.claim
        function.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])              # its event counter
        function.allow(["dynamodb:GetItem", "dynamodb:PutItem"], [tables["cursors"].table_arn])  # the mark
        function.allow(["s3:PutObject"], [archive.arn_for_objects(f"{RAW_PREFIX}*")])
        function.allow(["sqs:SendMessage"], [queue.queue_arn])
        if secrets:
            function.allow(["secretsmanager:GetSecretValue"], [secret.secret_arn for secret in secrets])
            function.allow_key("secretsmanager", KeyUse.SECRET_READ)
        function.allow_key("dynamodb", KeyUse.DYNAMODB)
        function.allow_key("s3", KeyUse.S3_WRITE)
        function.allow_key("sqs", KeyUse.SQS_SEND)
        acknowledge(function.role, "IAM5", "The poller archives each item it reads as a new object named by source, "
                                           "date and event id; writes are limited to the raw/ prefix.",
                    finding=f"Resource::<{logical_id(archive)}.Arn>/{RAW_PREFIX}*")

    def _build_schedules(self, config: LedgerLinkConfig) -> list[scheduler.Schedule]:
        polled = [source for source in config.sources if source.kind in POLLED_KINDS]
        if not polled:
            return []
        role = scheduler_role(self, "SchedulerRole",
                              description="EventBridge Scheduler: invoke the poll function, nothing else")
        return [invoke_schedule(
            self, f"Every{pascal(source.id)}", function=self.function.function, role=role,
            schedule=every(Duration.minutes(source.poll_interval_minutes)),
            description=f"poll source {source.id} ({source.kind}) past its high-water mark",
            payload={"source": source.id}, retry_attempts=2,
            max_event_age=Duration.minutes(source.poll_interval_minutes),
        ) for source in polled]
