"""Daily reconciliation: the reconcile Lambda and one EventBridge Scheduler schedule per entity, at
``reconcile_time`` in the entity's own time zone, reconciling the entity's previous business day."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.buckets import BOOKS_PREFIX
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.constructs.schedules import invoke_schedule, local_cron, scheduler_role
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.store.archive import RAW_PREFIX
from ledgerlink.store.tables import LEDGER_DAY_INDEX

REPORTS_PREFIX = "reports/reconciliation"


class Reconcile(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, reports: s3.IBucket,
                 books: s3.IBucket, archive: s3.IBucket, queue: sqs.IQueue,
                 api_keys: Sequence[secretsmanager.ISecret], config: LedgerLinkConfig, values: dict[str, str],
                 legacy: s3.IBucket | None = None, erp_secrets: Sequence[secretsmanager.ISecret] = ()) -> None:
        super().__init__(scope, construct_id)
        self.function = LedgerLinkFunction(
            self, "Reconcile", name="reconcile", options=options, layer=layer, key=key, values=values,
            description="daily: source vs posted vs exceptions vs ERP per entity and business date")
        self._grant(tables, reports, books)
        self._grant_backfill(tables, archive, queue, api_keys)
        self._grant_read_back(tables, erp_secrets)
        if legacy is not None:   # the ERP check lists the parts of legacy GL targets (issue 5)
            from infra.constructs.post_document import grant_legacy_files

            grant_legacy_files(self.function, legacy, ["s3:GetObject"])
        self.schedules = self._build_schedules(options, config)

    def _grant(self, tables: StateTables, reports: s3.IBucket, books: s3.IBucket) -> None:
        function = self.function
        function.allow(["dynamodb:GetItem"], [tables["config"].table_arn])                 # active configuration
        function.allow(["dynamodb:Query", "dynamodb:PutItem"], [tables["totals"].table_arn])  # counters, summaries
        function.allow(["dynamodb:Query"], [f"{tables['inbox'].table_arn}/index/pending_by_day"])
        function.allow(["dynamodb:Query"], [f"{tables['ledger'].table_arn}/index/{LEDGER_DAY_INDEX}"])
        function.allow(["dynamodb:BatchGetItem"], [tables["ledger"].table_arn])     # the day's items, by id
        function.allow(["s3:PutObject"], [reports.arn_for_objects(f"{REPORTS_PREFIX}/*")])
        function.allow(["s3:GetObject"], [books.arn_for_objects(f"{BOOKS_PREFIX}/*")])       # the book's postings
        function.allow(["s3:ListBucket"], [books.bucket_arn])
        region, account = Stack.of(self).region, Stack.of(self).account
        function.allow(["events:PutEvents"], [f"arn:{Stack.of(self).partition}:events:{region}:{account}:event-bus/default"])
        function.allow_key("dynamodb", KeyUse.DYNAMODB)
        function.allow_key("s3", KeyUse.S3_READ + KeyUse.S3_WRITE)
        acknowledge(function.role, "IAM5", "Reports are objects named by business date and scope under the "
                                           "reports/reconciliation/ prefix; writes are limited to it.",
                    finding=f"Resource::<{logical_id(reports)}.Arn>/{REPORTS_PREFIX}/*")
        acknowledge(function.role, "IAM5", "The ERP check reads the Beancount book: one object per posting under "
                                           "books/ (names known at run time); reads are limited to that prefix.",
                    finding=f"Resource::<{logical_id(books)}.Arn>/{BOOKS_PREFIX}/*")

    def _grant_read_back(self, tables: StateTables, erp_secrets: Sequence[secretsmanager.ISecret]) -> None:
        """The ERP check lists what each API ERP holds (through the connection's limiter, with its credentials — a
        refresh token rotated by the listing is written back) and turns a posted document the ERP no longer holds
        into a missing_in_erp case: the case is opened and the document moves posted → exception with its counters
        in one transaction, so a replay posts it again."""
        from infra.constructs.post_document import ERP_SECRET_ACTIONS, LIMITER_ACTIONS

        function = self.function
        function.allow(LIMITER_ACTIONS, [tables["limiter"].table_arn])
        function.allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], [tables["exceptions"].table_arn])
        function.allow(["dynamodb:UpdateItem"], [tables["ledger"].table_arn, tables["totals"].table_arn])
        if erp_secrets:
            function.allow(ERP_SECRET_ACTIONS, [secret.secret_arn for secret in erp_secrets])
            function.allow_key("secretsmanager", KeyUse.SECRET_READ + KeyUse.SECRET_WRITE)

    def _grant_backfill(self, tables: StateTables, archive: s3.IBucket, queue: sqs.IQueue,
                        api_keys: Sequence[secretsmanager.ISecret]) -> None:
        """Gap backfill enters events like ingest does: claim (+ counter), archive, enqueue."""
        if not api_keys:
            return  # no source can list its events: nothing to backfill, nothing granted
        function = self.function
        function.allow(["dynamodb:PutItem"], [tables["inbox"].table_arn])
        function.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])
        function.allow(["s3:PutObject"], [archive.arn_for_objects(f"{RAW_PREFIX}*")])
        function.allow(["sqs:SendMessage"], [queue.queue_arn])
        function.allow(["secretsmanager:GetSecretValue"], [secret.secret_arn for secret in api_keys])
        function.allow_key("sqs", KeyUse.SQS_SEND)
        function.allow_key("secretsmanager", KeyUse.SECRET_READ)
        acknowledge(function.role, "IAM5", "Backfilled events are archived as new objects named by source, date and "
                                           "event id; writes are limited to the raw/ prefix.",
                    finding=f"Resource::<{logical_id(archive)}.Arn>/{RAW_PREFIX}*")

    def _build_schedules(self, options: DeploymentOptions, config: LedgerLinkConfig) -> list[scheduler.Schedule]:
        role = scheduler_role(self, "SchedulerRole",
                              description="EventBridge Scheduler: invoke the reconcile function, nothing else")
        hour, minute = (int(part) for part in options.slos.reconcile_local_time.split(":"))
        return [invoke_schedule(
            self, f"Daily{''.join(p.capitalize() for p in entity.id.replace('-', '_').split('_'))}",
            function=self.function.function, role=role, schedule=local_cron(f"cron({minute} {hour} * * ? *)", entity.time_zone),
            description=f"reconcile entity {entity.id}'s previous business day",
            payload={"entity": entity.id}, retry_attempts=3, max_event_age=Duration.hours(1),
        ) for entity in config.entities]
