"""Normalize: the SQS inbound queue (+ DLQ) and the normalize Lambda that drains it in batches.

Partial batch failures (ReportBatchItemFailures) retry only the failed messages; after 5 receives a message
moves to the DLQ, whose RedriveAllowPolicy names the inbound queue so the console's "Start DLQ redrive"
sends it back. The inbound queue has a fixed name because the DLQ must name it (referencing the queue's
ARN attribute would be a circular dependency: the queue's RedrivePolicy already names the DLQ).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.function import SIZING, KeyUse, LedgerLinkFunction
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.store.archive import ARCHIVE_PREFIXES, FETCHED_PREFIX

MAX_RECEIVE_COUNT = 5
BATCH_SIZE = 10
MAX_BATCHING_WINDOW = Duration.seconds(5)
# AWS guidance for SQS event sources: visibility timeout at least 6x the function timeout.
VISIBILITY_TIMEOUT = Duration.seconds(6 * SIZING["normalize"].timeout_seconds)


class Normalize(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, archive: s3.IBucket,
                 state_machine: sfn.IStateMachine, happy_path: sfn.IStateMachine, values: Mapping[str, str],
                 api_secrets: Sequence[secretsmanager.ISecret] = ()) -> None:
        super().__init__(scope, construct_id)
        self.queue_name = f"{Stack.of(self).stack_name}-inbound"
        self.dlq = self._build_dlq(key)
        self.queue = self._build_queue(key)
        self.function = LedgerLinkFunction(
            self, "Normalize", name="normalize", options=options, layer=layer, key=key, values=values,
            description="SQS inbound to canonical documents, posting ledger and one execution per document")
        self._grant(tables, archive, state_machine, happy_path, self.function, api_secrets)
        self.function.function.add_event_source(event_sources.SqsEventSource(
            self.queue, batch_size=BATCH_SIZE, max_batching_window=MAX_BATCHING_WINDOW,
            report_batch_item_failures=True))

    def _build_dlq(self, key: kms.IKey) -> sqs.Queue:
        stack = Stack.of(self)
        inbound_arn = stack.format_arn(service="sqs", resource=self.queue_name)
        return sqs.Queue(
            self, "InboundDlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            redrive_allow_policy=sqs.RedriveAllowPolicy(
                redrive_permission=sqs.RedrivePermission.BY_QUEUE,
                source_queues=[sqs.Queue.from_queue_arn(self, "InboundByName", inbound_arn)]),
        )

    def _build_queue(self, key: kms.IKey) -> sqs.Queue:
        return sqs.Queue(
            self, "Inbound",
            queue_name=self.queue_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            visibility_timeout=VISIBILITY_TIMEOUT,
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )

    @staticmethod
    def _grant(tables: StateTables, archive: s3.IBucket, state_machine: sfn.IStateMachine,
               happy_path: sfn.IStateMachine, function: LedgerLinkFunction,
               api_secrets: Sequence[secretsmanager.ISecret]) -> None:
        function.allow(["dynamodb:GetItem"], [tables["config"].table_arn])
        function.allow(["dynamodb:UpdateItem"], [tables["inbox"].table_arn])
        # register; get = cash application reads the documents a bank line names; update = the receivables
        # subledger's claims on an invoice's item (receivable_claims / receivable_version, D92)
        function.allow(["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"], [tables["ledger"].table_arn])
        # open (put); a replayed document whose execution waits on its case: read it, mark it retrying
        function.allow(["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"], [tables["exceptions"].table_arn])
        function.allow(["dynamodb:PutItem"], [tables["parties"].table_arn])  # parties announced by CRM/HR events
        function.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])  # counters, in the same transactions
        function.allow(["s3:GetObject"], [archive.arn_for_objects(f"{prefix}*") for prefix in ARCHIVE_PREFIXES])
        # a replay starts the Standard workflow, and a replayed document whose execution waits is resumed there;
        # a new document starts the Express happy path (D76)
        function.allow(["states:StartExecution", "states:SendTaskSuccess"], [state_machine.state_machine_arn])
        function.allow(["states:StartExecution"], [happy_path.state_machine_arn])
        function.allow_key("dynamodb", KeyUse.DYNAMODB)
        function.allow_key("s3", KeyUse.S3_READ)
        if api_secrets:  # vendor API reads: credentials, and the fetched objects kept for replays
            function.allow(["secretsmanager:GetSecretValue"], [secret.secret_arn for secret in api_secrets])
            function.allow_key("secretsmanager", KeyUse.SECRET_READ)
            function.allow(["s3:PutObject", "s3:GetObject"], [archive.arn_for_objects(f"{FETCHED_PREFIX}*")])
            function.allow_key("s3", KeyUse.S3_WRITE)
            acknowledge(function.role, "IAM5", "Normalize archives what it fetches from a vendor API under fetched/ "
                                               "(named by the notification's archive key, known at run time) and "
                                               "reads it back on replay; access is limited to that prefix.",
                        finding=f"Resource::<{logical_id(archive)}.Arn>/{FETCHED_PREFIX}*")
        for prefix in ARCHIVE_PREFIXES:
            acknowledge(function.role, "IAM5", "Normalize reads the archived body named in each message "
                                               "(archive_key or payload_key, known only at run time); reads are "
                                               f"limited to the {prefix} prefix.",
                        finding=f"Resource::<{logical_id(archive)}.Arn>/{prefix}*")
