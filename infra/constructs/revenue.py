"""Revenue operations: the period-end release Lambda (which then runs the FX revaluation, D90), its schedules (one
per entity, in the entity's time zone), and the revenue-table grants of the steps that feed schedules (post: facts
of posted documents; normalize: subscription cancellations and usage batches).

The release runs at 03:00 local on the first five days of each month: the first run releases the month that
just ended; the following ones catch facts that arrived late while that month is still open (each posts only
what is new, under the next run sequence). Later changes go into the next month's release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.buckets import BOOKS_PREFIX
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.constructs.post_document import ERP_SECRET_ACTIONS, LIMITER_ACTIONS, grant_legacy_files
from infra.constructs.schedules import invoke_schedule, local_cron, scheduler_role
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.config.model import LedgerLinkConfig

RELEASE_CRON = "cron(0 3 1-5 * ? *)"   # 03:00 on days 1-5 of every month, in the schedule's (entity's) time zone
# store.revenue.DynamoRevenue as the release uses it: runs/plans/lines (Query), plan (BatchWriteItem), run claim
# and tie-outs (PutItem), run status, line applies and closes (UpdateItem)
RELEASE_REVENUE_ACTIONS = ("dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem")
RELEASE_INDEXES = ("open_lines", "untied_usage")
# post: add_line / add_fact / references / tie-outs (PutItem), the invoice's lines and usage hours (Query),
# a finished line reopened by a late fact (UpdateItem)
POST_REVENUE_ACTIONS = ("dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem")
# normalize: a cancellation fact (PutItem); usage claims + hourly ADD in one TransactWriteItems (Put, Update)
NORMALIZE_REVENUE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem")


class RevenueOperations(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, books: s3.IBucket,
                 legacy: s3.IBucket, erp_secrets: Sequence[secretsmanager.ISecret], config: LedgerLinkConfig,
                 values: Mapping[str, str], post: LedgerLinkFunction, normalize: LedgerLinkFunction) -> None:
        super().__init__(scope, construct_id)
        self.release = LedgerLinkFunction(
            self, "Release", name="revenue_release", options=options, layer=layer, key=key, values=values,
            description="period end: release deferred revenue per entity, period, account (exactly once)")
        self._grant_release(tables, books, legacy, erp_secrets)
        self._grant_feeders(tables, post, normalize)
        self.schedules = self._build_schedules(config)

    def _grant_release(self, tables: StateTables, books: s3.IBucket, legacy: s3.IBucket,
                       erp_secrets: Sequence[secretsmanager.ISecret]) -> None:
        release = self.release
        revenue = tables["revenue"].table_arn
        release.allow(["dynamodb:GetItem"], [tables["config"].table_arn])
        release.allow(RELEASE_REVENUE_ACTIONS, [revenue])
        release.allow(["dynamodb:Query"], [f"{revenue}/index/{index}" for index in RELEASE_INDEXES])
        # release journals are documents: ledger.register (put) → transition (update), counted in the totals
        release.allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [tables["ledger"].table_arn])
        # the FX revaluation after the release (D90) reads the entity's posted journals' original amounts (Scan)
        release.allow(["dynamodb:Scan"], [tables["ledger"].table_arn])
        release.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])
        # a refused release or an untied usage line opens (or reopens) a case; a later run resolves it
        release.allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], [tables["exceptions"].table_arn])
        release.allow(LIMITER_ACTIONS, [tables["limiter"].table_arn])
        release.allow(["s3:GetObject", "s3:PutObject"], [books.arn_for_objects(f"{BOOKS_PREFIX}/*")])
        release.allow(["s3:ListBucket"], [books.bucket_arn])
        grant_legacy_files(release, legacy, ["s3:GetObject", "s3:PutObject"])
        release.allow_key("dynamodb", KeyUse.DYNAMODB)
        release.allow_key("s3", KeyUse.S3_READ + KeyUse.S3_WRITE)
        acknowledge(release.role, "IAM5", "Release journals are one S3 object per journal in the Beancount book under "
                                          "the books/ prefix (names are document ids known only at run time).",
                    finding=f"Resource::<{logical_id(books)}.Arn>/{BOOKS_PREFIX}/*")
        if erp_secrets:
            release.allow(ERP_SECRET_ACTIONS, [secret.secret_arn for secret in erp_secrets])
            release.allow_key("secretsmanager", KeyUse.SECRET_READ + KeyUse.SECRET_WRITE)

    @staticmethod
    def _grant_feeders(tables: StateTables, post: LedgerLinkFunction, normalize: LedgerLinkFunction) -> None:
        revenue = tables["revenue"].table_arn
        post.allow(POST_REVENUE_ACTIONS, [revenue])
        normalize.allow(NORMALIZE_REVENUE_ACTIONS, [revenue])

    def _build_schedules(self, config: LedgerLinkConfig) -> list[scheduler.Schedule]:
        role = scheduler_role(self, "SchedulerRole",
                              description="EventBridge Scheduler: invoke the revenue release function, nothing else")
        return [invoke_schedule(
            self, f"Monthly{''.join(p.capitalize() for p in entity.id.replace('-', '_').split('_'))}",
            function=self.release.function, role=role, schedule=local_cron(RELEASE_CRON, entity.time_zone),
            description=f"release entity {entity.id}'s deferred revenue of the month that ended",
            payload={"entity": entity.id},
            # the release is idempotent and resumes an unfinished run: retrying is always safe
            retry_attempts=3, max_event_age=Duration.hours(1),
        ) for entity in config.entities]
