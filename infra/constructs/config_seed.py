"""Config seeding: the reviewed config file becomes configuration version 1 on the first deploy only.

Two conditional PutItems (``v#000001`` and ``active``), written exactly as
``ledgerlink.store.config_store.DynamoConfigStore.apply`` writes them, each with
``attribute_not_exists(sk)`` and ConditionalCheckFailedException ignored. Later versions applied with
``ledgerlink config apply`` are therefore never clobbered: not by a redeploy, not by a replaced resource.
The calls run only on create (no onUpdate, no onDelete): config history is never rewritten or deleted by CDK.
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.constructs.function import KeyUse
from infra.options import DeploymentOptions
from ledgerlink.config.loader import config_hash
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.store.config_store import ACTIVE, PK, version_key

SEED_VERSION = 1
APPLIED_BY = "cdk-deploy"
IGNORED_ERRORS = "ConditionalCheckFailedException"


def config_body(config: LedgerLinkConfig) -> str:
    """The stored JSON, byte for byte what ``DynamoConfigStore.apply`` writes."""
    return json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def seed_items(config: LedgerLinkConfig, applied_at: str) -> list[dict[str, dict[str, str]]]:
    """DynamoDB JSON of the two items of version 1: the immutable version and the ``active`` copy."""
    record = {"pk": {"S": PK}, "version": {"N": str(SEED_VERSION)}, "body": {"S": config_body(config)},
              "content_hash": {"S": config_hash(config)}, "applied_at": {"S": applied_at},
              "applied_by": {"S": APPLIED_BY}}
    return [{**record, "sk": {"S": version_key(SEED_VERSION)}}, {**record, "sk": {"S": ACTIVE}}]


class ConfigSeed(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions, config: LedgerLinkConfig,
                 table: dynamodb.ITable, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR if options.is_prod else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY)
        self.role = self._build_role(table, key)
        self.writes = [self._build_put(item, table) for item in seed_items(config, options.config_applied_at)]

    def _build_role(self, table: dynamodb.ITable, key: kms.IKey) -> iam.Role:
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                        description="LedgerLink config seed: PutItem of configuration version 1, on create only")
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[table.table_arn]))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=list(KeyUse.DYNAMODB), resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Stack.of(self).region}.amazonaws.com"}}))
        return role

    def _build_put(self, item: dict[str, dict[str, str]], table: dynamodb.ITable) -> cr.AwsCustomResource:
        sort_key = item["sk"]["S"]
        label = "Version" if sort_key != ACTIVE else "Active"
        put = cr.AwsCustomResource(
            self, f"Put{label}",
            resource_type="Custom::LedgerLinkConfigSeed",
            role=self.role,
            log_group=self.log_group,
            install_latest_aws_sdk=False,  # no npm download at deploy time; PutItem is in every SDK
            on_create=cr.AwsSdkCall(
                service="DynamoDB",
                action="putItem",
                parameters={"TableName": table.table_name, "Item": item,
                            "ConditionExpression": "attribute_not_exists(sk)"},
                physical_resource_id=cr.PhysicalResourceId.of(f"ledgerlink-config-seed-{sort_key}"),
                ignore_error_codes_matching=IGNORED_ERRORS,
                logging=cr.Logging.with_data_hidden(),  # the event carries the whole config body
            ),
            removal_policy=RemovalPolicy.RETAIN,  # nothing to undo: the items belong to the config history
        )
        put.node.add_dependency(self.role)
        return put
