"""The audit trail's write-once copy: the audit table's stream → the audit export Lambda → the audit bucket.

The table itself is append-only (conditional puts by code; a resource policy denies every update and delete,
see ``tables.py``). What IAM cannot express is "PutItem only with a condition": a principal holding PutItem
could overwrite an item. The stream records that too (a ``MODIFY`` with the old image), so every change —
legitimate or not — ends up in the Object Lock bucket, where it cannot be removed before its retention ends.
Failed batches go to an alarmed queue; a ``MODIFY`` or ``REMOVE`` raises the ``AuditTampering`` alarm.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.options import DeploymentOptions
from ledgerlink.service.audit_export import AUDIT_PREFIX

RETRY_ATTEMPTS = 10                     # then the batch's coordinates go to the failure queue (the items stay)
MAX_RECORD_AGE = Duration.hours(24)     # a stream keeps records 24 hours


class AuditTrail(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, table: dynamodb.Table, bucket: s3.IBucket,
                 values: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.failures = sqs.Queue(
            self, "ExportFailures", encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
            enforce_ssl=True, retention_period=Duration.days(14))
        acknowledge(self.failures, "SQS3", "This queue is itself the on-failure destination of the audit export's "
                                           "stream mapping (it receives the coordinates of batches that failed); it "
                                           "is watched by an alarm and needs no DLQ.")
        self.function = LedgerLinkFunction(
            self, "Export", name="audit_export", options=options, layer=layer, key=key, values=values,
            description="copy each audit-table change to the write-once (Object Lock) audit bucket")
        self._grant(table, bucket)
        self.mapping = lambda_.CfnEventSourceMapping(
            self, "FromStream",
            function_name=self.function.function.function_name,
            event_source_arn=table.table_stream_arn,
            starting_position="TRIM_HORIZON",   # nothing written before the mapping existed is skipped
            batch_size=100,
            maximum_retry_attempts=RETRY_ATTEMPTS,
            maximum_record_age_in_seconds=int(MAX_RECORD_AGE.to_seconds()),
            function_response_types=["ReportBatchItemFailures"],
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(destination=self.failures.queue_arn)),
        )
        # The mapping is validated against the role's permissions when it is created.
        self.mapping.node.add_dependency(self.function.role)

    def _grant(self, table: dynamodb.Table, bucket: s3.IBucket) -> None:
        function = self.function
        stream = table.table_stream_arn
        assert stream is not None
        function.allow(["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"], [stream])
        function.allow(["dynamodb:ListStreams"], [f"{table.table_arn}/stream/*"])
        function.allow(["kms:Decrypt"], [function.key_arn])   # stream records are encrypted with the table's key
        function.allow(["s3:PutObject"], [bucket.arn_for_objects(f"{AUDIT_PREFIX}*")])
        function.allow_key("s3", KeyUse.S3_WRITE)
        function.allow(["sqs:SendMessage"], [self.failures.queue_arn])   # the mapping's on-failure destination
        function.allow_key("sqs", KeyUse.SQS_SEND)
        acknowledge(function.role, "IAM5", "Lambda's stream poller lists the audit table's streams (ListStreams is "
                                           "granted on this table's streams only, whose labels are not known at "
                                           "synth).", finding=f"Resource::<{logical_id(table)}.Arn>/stream/*")
        acknowledge(function.role, "IAM5", "The export writes one object per audit change, named by the item's key "
                                           "and the stream sequence number (known at run time), under audit/ only.",
                    finding=f"Resource::<{logical_id(bucket)}.Arn>/{AUDIT_PREFIX}*")
