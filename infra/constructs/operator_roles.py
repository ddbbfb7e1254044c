"""RBAC for people: one IAM role per operator job, each allowed exactly what that job needs.

| role | may |
|---|---|
| ops reader | call the ops API's read routes: list/show exceptions, trace documents, validate a document, the month-end close check (no side effects) |
| exception resolver | the reader's exception and trace routes, plus retry / resolve / ignore a case (audited by the ops API) |
| replay operator | redrive the inbound DLQ (console or ``ledgerlink dlq redrive``) and replay from the raw archive (``ledgerlink replay``) |
| mapping admin | review and apply a reviewed configuration (``ledgerlink config diff/apply/history``), with an audit item |

API roles get ``execute-api:Invoke`` on route ARNs of the ops API (stage ``ops``) only — no table access: the
ops Lambda acts and audits under the caller's identity.

Who may assume each role comes from CDK context (``operator_principals``: role → ARNs, or ``ops_readers``,
``exception_resolvers``, ``replay_operators``, ``mapping_admins``), one trust statement per kind:

* IAM role ARNs (IAM Identity Center permission-set roles included): named as principals, no condition — an
  SSO session never carries ``aws:MultiFactorAuthPresent`` (its MFA is the identity provider's);
* role ARNs with ``*`` (a permission set's generated suffix): that account's root narrowed by ``ArnLike
  aws:PrincipalArn`` to the patterns, so only a role so named may assume, whatever suffix it gets;
* IAM user ARNs, account ids and root ARNs: ``Bool aws:MultiFactorAuthPresent true`` — long-term keys alone
  never assume an operator role.

A role named by no context trusts this account's root *with* the MFA condition (decision D94):
only an MFA-authenticated IAM user the account's administrators allow ``sts:AssumeRole`` on the role; no SSO or
service session and no other account. Nothing trusts an account root without a condition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Annotations, Aws, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.function import KeyUse
from infra.constructs.ops_api import OPS_STAGE
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.store.archive import RAW_PREFIX

# (method, path pattern) on the ops API; "*" stands for one path parameter
READ_ROUTES = (("GET", "/exceptions"), ("GET", "/exceptions/*"), ("GET", "/documents/*"), ("POST", "/validate/*"),
               ("GET", "/close-check"), ("GET", "/backlog"))
RESOLVER_ROUTES = (("GET", "/exceptions"), ("GET", "/exceptions/*"), ("GET", "/documents/*"),
                   *(("POST", f"/exceptions/*/{action}") for action in ("retry", "resolve", "ignore")))

# SQS calls of a DLQ redrive: StartMessageMoveTask needs receive/delete/attributes on the DLQ and send on the
# destination; list/cancel show and stop a running move; receive + change visibility are ``dlq list``'s peek;
# ListDeadLetterSourceQueues is what the console's redrive page reads to offer "redrive to source queue".
DLQ_ACTIONS = ("sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:CancelMessageMoveTask",
               "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes",
               "sqs:ListDeadLetterSourceQueues")


MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


class _Principals(iam.PrincipalBase):
    """Several AWS principals in one trust statement, under one condition block (or none)."""

    def __init__(self, arns: Sequence[str], conditions: dict[str, object] | None = None) -> None:
        super().__init__()
        self._arns = list(arns)
        self._conditions = conditions or {}

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return iam.PrincipalPolicyFragment({"AWS": self._arns}, self._conditions)

    def dedupe_string(self) -> str | None:
        return json.dumps([self._arns, self._conditions], default=str)


def _root(value: str) -> str:
    """The root ARN of an account id, a root ARN or the account of a role ARN pattern."""
    if value.isdigit():
        return f"arn:{Aws.PARTITION}:iam::{value}:root"
    partition, account = value.split(":")[1], value.split(":")[4]
    return f"arn:{partition}:iam::{account}:root"


def trust_groups(configured: Sequence[str]) -> list[tuple[list[str], dict[str, object]]]:
    """(principal ARNs, condition) per trust statement for the configured principals (module docstring)."""
    if not configured:
        return [([iam.AccountRootPrincipal().arn], MFA)]
    roles = [p for p in configured if ":role/" in p and "*" not in p]
    patterns: dict[str, list[str]] = {}
    for p in configured:
        if ":role/" in p and "*" in p:
            patterns.setdefault(_root(p), []).append(p)
    with_mfa = [p if ":user/" in p else _root(p) for p in configured if ":role/" not in p]
    groups: list[tuple[list[str], dict[str, object]]] = []
    if roles:
        groups.append((roles, {}))
    groups.extend(([root], {"ArnLike": {"aws:PrincipalArn": names}}) for root, names in patterns.items())
    if with_mfa:
        groups.append((list(dict.fromkeys(with_mfa)), MFA))
    return groups


class OperatorRoles(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions, key: kms.IKey,
                 ops_api: apigateway.RestApi, tables: StateTables, archive: s3.IBucket, queue: sqs.IQueue,
                 dlq: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        self._options = options
        self._key = key
        self._api = ops_api
        self.ops_reader = self._role("OpsReader", "ops_reader",
                                     "LedgerLink ops API, read-only: exceptions, document traces, validation")
        self._invoke(self.ops_reader, READ_ROUTES)
        self.exception_resolver = self._role("ExceptionResolver", "exception_resolver",
                                             "LedgerLink ops API: read, retry, resolve and ignore exception cases")
        self._invoke(self.exception_resolver, RESOLVER_ROUTES)
        self.replay_operator = self._role("ReplayOperator", "replay_operator",
                                          "LedgerLink: redrive the inbound DLQ and replay events from the raw archive")
        self._grant_replay(tables, archive, queue, dlq)
        self.mapping_admin = self._role("MappingAdmin", "mapping_admin",
                                        "LedgerLink: apply a reviewed configuration version (config apply)")
        self._grant_mapping(tables)

    @property
    def roles(self) -> dict[str, iam.Role]:
        return {"ops_reader": self.ops_reader, "exception_resolver": self.exception_resolver,
                "replay_operator": self.replay_operator, "mapping_admin": self.mapping_admin}

    def _role(self, construct_id: str, job: str, description: str) -> iam.Role:
        configured = self._options.protection.operators.get(job, ())
        principals = [_Principals(arns, conditions) for arns, conditions in trust_groups(configured)]
        role = iam.Role(self, construct_id, description=description,
                        assumed_by=principals[0] if len(principals) == 1 else iam.CompositePrincipal(*principals))
        if not configured and self._options.is_prod:
            Annotations.of(role).add_warning_v2(
                "ledgerlink:operatorTrust",
                f"No principals configured for the {job} role (context operator_principals): only MFA-"
                "authenticated IAM users of this account that IAM policies allow sts:AssumeRole on it may assume "
                "it; IAM Identity Center users cannot until their permission set is named.")
        return role

    @staticmethod
    def _allow(role: iam.Role, actions: list[str], resources: list[str],
               conditions: dict[str, object] | None = None) -> None:
        role.add_to_principal_policy(iam.PolicyStatement(actions=sorted(actions), resources=resources,
                                                         conditions=conditions))

    def _allow_key(self, role: iam.Role, service: str, actions: tuple[str, ...]) -> None:
        region = Stack.of(self).region
        self._allow(role, list(actions), [self._key.key_arn],
                    {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}})

    def _invoke(self, role: iam.Role, routes: tuple[tuple[str, str], ...]) -> None:
        arns = [self._api.arn_for_execute_api(method, path, OPS_STAGE) for method, path in routes]
        self._allow(role, ["execute-api:Invoke"], arns)
        for method, path in routes:
            if "*" in path:
                acknowledge(role, "IAM5", f"{method} {path} names one ops API route; the '*' stands for the path "
                                          "parameter (an id or a document type given at run time).",
                            finding=self._route_finding(method, path))

    def _route_finding(self, method: str, path: str) -> str:
        return (f"Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"
                f"<{logical_id(self._api)}>/{OPS_STAGE}/{method}{path}")

    def _grant_replay(self, tables: StateTables, archive: s3.IBucket, queue: sqs.IQueue, dlq: sqs.IQueue) -> None:
        role = self.replay_operator
        stack = Stack.of(self)
        # `--stack` resolves resource names from this stack's outputs
        self._allow(role, ["cloudformation:DescribeStacks"], [stack.stack_id])
        self._allow(role, list(DLQ_ACTIONS), [dlq.queue_arn])
        self._allow(role, ["sqs:SendMessage", "sqs:GetQueueAttributes"], [queue.queue_arn])
        self._allow(role, ["sqs:ListQueues"], ["*"])
        # replay: the active configuration (source kinds), the document and its event's claim, the archived body
        self._allow(role, ["dynamodb:GetItem"], [tables[name].table_arn for name in ("config", "ledger", "inbox")])
        self._allow(role, ["s3:GetObject"], [archive.arn_for_objects(f"{RAW_PREFIX}*")])
        self._allow(role, ["s3:ListBucket"], [archive.bucket_arn], {"StringLike": {"s3:prefix": [f"{RAW_PREFIX}*"]}})
        self._allow(role, ["dynamodb:PutItem"], [tables["audit"].table_arn])   # every redrive and replay audited
        self._allow_key(role, "dynamodb", KeyUse.DYNAMODB)
        self._allow_key(role, "s3", KeyUse.S3_READ)
        self._allow_key(role, "sqs", KeyUse.SQS_SEND)
        acknowledge(role, "IAM5", "The SQS console lists the account's queues before its DLQ redrive page; "
                                  "ListQueues has no resource-level permissions and returns queue URLs only.",
                    finding="Resource::*")
        acknowledge(role, "IAM5", "A replay reads the archived request bodies of the documents or days it is "
                                  "asked for (object names known at run time), under raw/ only.",
                    finding=f"Resource::<{logical_id(archive)}.Arn>/{RAW_PREFIX}*")

    def _grant_mapping(self, tables: StateTables) -> None:
        role = self.mapping_admin
        # config apply: read the active version, put the new version and move `active` (conditional puts)
        # (config history: Query the version records of the config table)
        self._allow(role, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], [tables["config"].table_arn])
        self._allow(role, ["dynamodb:PutItem"], [tables["audit"].table_arn])
        self._allow_key(role, "dynamodb", KeyUse.DYNAMODB)
