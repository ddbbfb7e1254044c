"""Posting engine: the flush Lambda and the EventBridge Scheduler schedule that runs it.

Every hour the flush seals the summary buckets of days that are over (in each entity's time zone), posts
one journal per bucket in bulk through the connection's limiter, marks the member documents posted, and
seals the finished days of legacy flat-file targets into import files. Hourly rather than daily: a day is
over at a different UTC hour for each entity, and a run with nothing due costs a few DynamoDB queries.
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
from infra.constructs.schedules import every, invoke_schedule, scheduler_role
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions

FLUSH_INTERVAL = Duration.hours(1)   # rate(1 hour)
# store.buckets: query lines (table) and the two indexes; read/mark a bucket; seal (TransactWriteItems of Updates)
BUCKET_FLUSH_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")


class PostingEngine(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, books: s3.IBucket,
                 legacy: s3.IBucket, erp_secrets: Sequence[secretsmanager.ISecret], values: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.flush = LedgerLinkFunction(
            self, "Flush", name="flush", options=options, layer=layer, key=key, values=values,
            description="post summary buckets (one journal each, in bulk) and seal legacy GL import files")
        self._grant(tables, books, legacy, erp_secrets)
        self.schedule = self._build_schedule()

    def _grant(self, tables: StateTables, books: s3.IBucket, legacy: s3.IBucket,
               erp_secrets: Sequence[secretsmanager.ISecret]) -> None:
        flush = self.flush
        buckets = tables["buckets"].table_arn
        flush.allow(["dynamodb:GetItem"], [tables["config"].table_arn])
        flush.allow(BUCKET_FLUSH_ACTIONS, [buckets])
        flush.allow(["dynamodb:Query"], [f"{buckets}/index/by_status", f"{buckets}/index/by_bucket"])
        flush.allow(LIMITER_ACTIONS, [tables["limiter"].table_arn])
        # trace members to the summary: ledger.get (counter key), ledger.transition (ledger + control totals)
        flush.allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [tables["ledger"].table_arn])
        flush.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])
        flush.allow(["dynamodb:Query"], [tables["totals"].table_arn])   # the backlog forecast: documents waiting
        flush.allow(["dynamodb:PutItem"], [tables["exceptions"].table_arn])      # a refused summary's case
        flush.allow(["s3:GetObject", "s3:PutObject"], [books.arn_for_objects(f"{BOOKS_PREFIX}/*")])
        flush.allow(["s3:ListBucket"], [books.bucket_arn])
        grant_legacy_files(flush, legacy, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
        flush.allow_key("dynamodb", KeyUse.DYNAMODB)
        flush.allow_key("s3", KeyUse.S3_READ + KeyUse.S3_WRITE)
        acknowledge(flush.role, "IAM5", "Summary journals are one S3 object per bucket in the Beancount book under "
                                        "the books/ prefix (names are bucket ids known only at run time).",
                    finding=f"Resource::<{logical_id(books)}.Arn>/{BOOKS_PREFIX}/*")
        if erp_secrets:
            flush.allow(ERP_SECRET_ACTIONS, [secret.secret_arn for secret in erp_secrets])
            flush.allow_key("secretsmanager", KeyUse.SECRET_READ + KeyUse.SECRET_WRITE)

    def _build_schedule(self) -> scheduler.Schedule:
        role = scheduler_role(self, "ScheduleRole",
                              description="EventBridge Scheduler: invoke the LedgerLink flush function")
        return invoke_schedule(
            self, "Schedule", function=self.flush.function, role=role, schedule=every(FLUSH_INTERVAL),
            description="LedgerLink flush: summary buckets of finished days, legacy GL import files", payload={},
            # the flush is idempotent and the next run picks up whatever this one left
            retry_attempts=2, max_event_age=Duration.hours(1))
