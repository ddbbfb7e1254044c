"""Bank files: a statement dropped under ``bank-inbox/<source id>/`` of the archive bucket → the bank-file Lambda.

S3 publishes ``Object Created`` to EventBridge (``EventBridgeConfiguration`` on the bucket, set on the L1 resource:
no notifications custom resource, whose Lambda would carry a managed policy and ``s3:PutBucketNotification`` on
``*``); a rule matching the bucket and the ``bank-inbox/`` prefix invokes the function asynchronously. A failed
invocation is retried by Lambda and, when it still fails, its event lands in a dedicated KMS-encrypted DLQ with an
alarm — the file itself stays in ``bank-inbox/`` and is claimed by content hash, so re-sending the event (or
re-dropping the file) processes it exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.service.bank_files import INBOX_PREFIX
from ledgerlink.store.archive import RAW_PREFIX

ASYNC_RETRIES = 2
MAX_EVENT_AGE = Duration.hours(6)


class BankFiles(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, archive: s3.Bucket,
                 queue: sqs.IQueue, values: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.function = LedgerLinkFunction(
            self, "BankFile", name="bank_file", options=options, layer=layer, key=key, values=values,
            description="a statement file dropped under bank-inbox/: claim by content hash, archive, enqueue")
        self.dlq = sqs.Queue(self, "FailedDrops", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                             enforce_ssl=True, retention_period=Duration.days(14))
        acknowledge(self.dlq, "SQS3", "This queue is itself the dead-letter destination of the bank-file function's "
                                      "failed asynchronous invocations; it is watched by an alarm and needs no DLQ.")
        self._grant(tables, archive, queue)
        self._build_async_failures()
        self.rule = self._build_rule(archive)

    def _grant(self, tables: StateTables, archive: s3.IBucket, queue: sqs.IQueue) -> None:
        function = self.function
        function.allow(["dynamodb:GetItem"], [tables["config"].table_arn])        # config_store.active_raw
        function.allow(["dynamodb:PutItem"], [tables["inbox"].table_arn])         # inbox.claim (transaction put)
        function.allow(["dynamodb:DeleteItem"], [tables["inbox"].table_arn])      # inbox.release after a failure (D69)
        function.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])     # event counter, same transaction
        function.allow(["s3:GetObject"], [archive.arn_for_objects(f"{INBOX_PREFIX}*")])   # the dropped file
        function.allow(["s3:PutObject"], [archive.arn_for_objects(f"{RAW_PREFIX}*"),      # archive.put of the file ...
                                          archive.arn_for_objects("items/*")])            # ... and of a large payload
        function.allow(["sqs:SendMessage"], [queue.queue_arn])
        function.allow(["sqs:SendMessage"], [self.dlq.queue_arn])                 # on-failure destination
        function.allow_key("dynamodb", KeyUse.DYNAMODB)
        function.allow_key("s3", KeyUse.S3_READ + KeyUse.S3_WRITE)
        function.allow_key("sqs", KeyUse.SQS_SEND)
        for prefix, why in ((INBOX_PREFIX, "reads the dropped statement named in each S3 event"),
                            (RAW_PREFIX, "archives each statement under a name made of source, date and content hash"),
                            ("items/", "stores a statement too large to travel inline in the queue message")):
            acknowledge(function.role, "IAM5", f"The bank-file function {why} (known only at run time); access is "
                                               f"limited to the {prefix} prefix.",
                        finding=f"Resource::<{logical_id(archive)}.Arn>/{prefix}*")

    def _build_async_failures(self) -> None:
        # L1 on purpose: the L2 SqsDestination also grants kms:ReEncrypt* / GenerateDataKey* (wildcard actions)
        lambda_.CfnEventInvokeConfig(
            self, "AsyncFailures", function_name=self.function.function.function_name, qualifier="$LATEST",
            maximum_retry_attempts=ASYNC_RETRIES, maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds()),
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=self.dlq.queue_arn)))

    def _build_rule(self, archive: s3.Bucket) -> events.Rule:
        bucket = archive.node.default_child
        assert isinstance(bucket, s3.CfnBucket)
        bucket.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        rule = events.Rule(
            self, "DroppedStatement",
            description="A bank statement was dropped under bank-inbox/ of the archive bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"], detail_type=["Object Created"],
                detail={"bucket": {"name": [archive.bucket_name]}, "object": {"key": [{"prefix": INBOX_PREFIX}]}}))
        rule.add_target(targets.LambdaFunction(self.function.function, retry_attempts=24,
                                               max_event_age=Duration.hours(24)))
        return rule
