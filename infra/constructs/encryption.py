"""The customer-managed KMS key behind every table, queue, bucket, secret and log group."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# What CloudWatch Logs does with a key that encrypts a log group (explicit actions, no wildcards).
_LOGS_KEY_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
                     "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]


class EncryptionKey(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prod: bool) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self, "Key",
            description="LedgerLink data key: tables, queues, buckets, secrets and log groups",
            enable_key_rotation=True,
            # Deleting the key makes every retained archive object unreadable: prod keeps it.
            removal_policy=RemovalPolicy.RETAIN if prod else RemovalPolicy.DESTROY,
            pending_window=Duration.days(30 if prod else 7),
        )
        self._allow_cloudwatch_logs()

    def _allow_cloudwatch_logs(self) -> None:
        """CloudWatch Logs of this region may use the key for this account's log groups only.

        Two source-account pins: the encryption context CloudWatch Logs puts on every call names the log group
        (``ArnLike`` on this account and region: enforced, the key AWS documents for log groups), and
        ``aws:SourceAccount`` must be this account whenever the service sends it. The latter is ``IfExists``:
        CloudWatch Logs does not document sending it on its KMS calls, and a strict ``StringEquals`` on an
        absent key would deny every encrypted log group (CreateLogGroup fails with AccessDenied).
        """
        stack = Stack.of(self)
        self.key.add_to_resource_policy(iam.PolicyStatement(
            sid="AllowCloudWatchLogsForThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=_LOGS_KEY_ACTIONS,
            resources=["*"],  # in a key policy "*" means this key
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                    service="logs", resource="log-group", resource_name="*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME)},
                "StringEqualsIfExists": {"aws:SourceAccount": stack.account},
            },
        ))

