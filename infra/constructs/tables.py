"""DynamoDB tables exactly as ``ledgerlink.store.tables.TABLES`` — the shapes the local runtime creates on moto.

Config, posting ledger, inbox, exceptions, totals and the other state tables: pay per request, point-in-time
recovery, the customer-managed key, TTL where the spec names an attribute, GSIs projected as the spec says (ALL
unless keys only; as locally).

Append-only tables (the audit trail) also carry a resource policy that denies every principal — this stack's
roles, operators, administrators of the account — any call that could change or delete an item, and a stream
(old and new images) that the audit export copies to the write-once audit bucket.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ledgerlink.store.tables import LEDGER_LOOKUPS, RETIRED_LEDGER_DAY_INDEX, TABLES, Index, TableSpec

APPEND_ONLY = ("audit",)
# The ledger's lookup indexes (`ledgerlink trace` by any id) and the context that stages them on an existing stack.
LOOKUP_INDEX_NAMES = tuple(f"by_{attribute}" for attribute in LEDGER_LOOKUPS.values())
LOOKUP_CONTEXT = "ledger_lookup_indexes"
# A stack deployed before the day index became keys-only keeps the retired ``by_day`` for one deployment
# (-c ledger_retired_day_index=keep): CloudFormation creates or deletes at most one index per table per update.
RETIRED_DAY_CONTEXT = "ledger_retired_day_index"
# Every API action that can change or remove an existing item (PutItem stays: conditional puts append). A
# transaction's update or delete is authorized as UpdateItem / DeleteItem, so it is covered too.
ITEM_CHANGING_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                         "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert")


def append_only_policy() -> iam.PolicyDocument:
    return iam.PolicyDocument(statements=[iam.PolicyStatement(
        sid="AppendOnlyNoUpdatesOrDeletesByAnyone",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(ITEM_CHANGING_ACTIONS),
        resources=["*"],  # in a table's resource policy "*" means this table (its own ARN would be circular)
    )])


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

    def _deployed(self, name: str, spec: TableSpec) -> tuple[Index, ...]:
        """The table's indexes; for the ledger, the first ``ledger_lookup_indexes`` (context, default all) of its
        lookup indexes only: CloudFormation creates at most one global secondary index per table in one stack
        update, so an existing stack gets them one deployment at a time (-c ledger_lookup_indexes=1, then 2, ...)."""
        if name != "ledger":
            return spec.indexes
        lookups = [index for index in spec.indexes if index.name in LOOKUP_INDEX_NAMES]
        wanted = self.node.try_get_context(LOOKUP_CONTEXT)
        count = len(lookups) if wanted is None else int(str(wanted))
        if not 0 <= count <= len(lookups):
            raise ValueError(f"context {LOOKUP_CONTEXT} must be 0..{len(lookups)}, not {wanted!r}")
        retired = self.node.try_get_context(RETIRED_DAY_CONTEXT)
        if retired not in (None, "keep"):
            raise ValueError(f"context {RETIRED_DAY_CONTEXT} must be 'keep' or unset, not {retired!r}")
        kept = (RETIRED_LEDGER_DAY_INDEX,) if retired == "keep" else ()
        return (tuple(index for index in spec.indexes if index.name not in LOOKUP_INDEX_NAMES) + kept
                + tuple(lookups[:count]))

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
            **({"resource_policy": append_only_policy(), "stream": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES}
               if name in APPEND_ONLY else {}),
        )
        for index in self._deployed(name, spec):
            table.add_global_secondary_index(
                index_name=index.name, partition_key=_key(index.partition_key), sort_key=_key(index.sort_key),
                projection_type=dynamodb.ProjectionType(index.projection))
        return table
