"""DynamoDB tables exactly as ``ledgerlink.store.tables.TABLES`` — the shapes the local runtime creates on moto.

Config, posting ledger, inbox, exceptions and Powertools idempotency records: pay per request, point-in-time
recovery, the customer-managed key, TTL where the spec names an attribute, GSIs projected ALL (as locally).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from ledgerlink.store.tables import TABLES, TableSpec


def _key(name: str | None) -> dynamodb.Attribute | None:
    # Every key attribute is a string, as in the local runtime (AttributeType "S").
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING) if name else None


class StateTables(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, prod: bool) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {
            name: self._build_table(name, spec, key, prod) for name, spec in TABLES.items()
        }

    def __getitem__(self, name: str) -> dynamodb.Table:
        return self.tables[name]

    def _build_table(self, name: str, spec: TableSpec, key: kms.IKey, prod: bool) -> dynamodb.Table:
        construct_id = "".join(part.capitalize() for part in name.split("_"))
        table = dynamodb.Table(
            self, construct_id,
            partition_key=_key(spec.partition_key),
            sort_key=_key(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=prod,
            removal_policy=RemovalPolicy.RETAIN if prod else RemovalPolicy.DESTROY,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name, partition_key=_key(index.partition_key), sort_key=_key(index.sort_key),
                projection_type=dynamodb.ProjectionType.ALL)
        return table
