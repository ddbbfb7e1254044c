"""Post-document: the two Step Functions state machines and their five task Lambdas (D76).

The Express happy path (``ledgerlink/workflow/happy_path.asl.json``) runs every document normalize registers;
what it cannot get through with one quick retry it hands to the Standard workflow
(``ledgerlink/workflow/post_document.asl.json``), which owns exception cases, task tokens and long waits. Both
files are the very definitions the local runtime runs on moto, with each ``${...}`` placeholder substituted by
CDK. Retry/Catch live in those files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.buckets import BOOKS_PREFIX, LEGACY_PREFIX
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.constructs.secrets import pascal
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink import workflow

# store.buckets.DynamoBuckets.add: head get/put, then TransactWriteItems (Put member, ConditionCheck head, Update lines)
BUCKET_ADD_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")
LIMITER_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")          # store.limiter: read, conditional put
ERP_SECRET_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue")  # rotated refresh tokens
DESCRIPTIONS = {
    "master_data": "master data first: employees known and active, customers and vendors in the ERP",
    "enrich": "map the canonical document to GL accounts",
    "validate": "balance, chart and period gates",
    "post": "post the journal to the entity's ERP connection once, and record it in the posting ledger",
    "open_exception": "open an exception case and mark the document",
}


class PostDocument(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, books: s3.IBucket,
                 values: Mapping[str, str], legacy: s3.IBucket | None = None,
                 erp_secrets: Sequence[secretsmanager.ISecret] = ()) -> None:
        super().__init__(scope, construct_id)
        self.tasks: dict[str, LedgerLinkFunction] = {
            name: LedgerLinkFunction(self, pascal(name), name=name, options=options, layer=layer, key=key,
                                     values=values, description=DESCRIPTIONS[name])
            for name in workflow.TASK_FUNCTIONS.values()
        }
        self._grant_tasks(tables, books)
        if legacy is not None:
            self._grant_posting_engine(tables, legacy, erp_secrets)
        self.log_group = self._build_log_group(options, key, "ExecutionLogs")
        self.state_machine = self._build_state_machine()
        self.happy_path_log_group = self._build_log_group(options, key, "HappyPathLogs")
        self.happy_path = self._build_happy_path()

    def _grant_tasks(self, tables: StateTables, books: s3.IBucket) -> None:
        config = tables["config"].table_arn
        for name in ("enrich", "validate"):
            self.tasks[name].allow(["dynamodb:GetItem"], [config])
            self.tasks[name].allow_key("dynamodb", KeyUse.DYNAMODB)

        post = self.tasks["post"]
        post.allow(["dynamodb:GetItem"], [config])
        # the ledger item is the idempotency record: lease / release (UpdateItem), then the posted transition and
        # its counters (TransactWriteItems of two Updates); a retried or replayed case is resolved (UpdateItem)
        post.allow(["dynamodb:UpdateItem"], [tables["ledger"].table_arn, tables["totals"].table_arn,
                                             tables["exceptions"].table_arn])
        post.allow(["s3:GetObject", "s3:PutObject"], [books.arn_for_objects(f"{BOOKS_PREFIX}/*")])
        # ListBucket on the bucket: the book lists its postings, and without it S3 answers a read of a file
        # that does not exist yet (main.beancount on the first posting) with 403 instead of 404.
        post.allow(["s3:ListBucket"], [books.bucket_arn])
        post.allow_key("dynamodb", KeyUse.DYNAMODB)
        post.allow_key("s3", KeyUse.S3_READ + KeyUse.S3_WRITE)
        acknowledge(post.role, "IAM5", "The book is one S3 object per posting under the books/ prefix (names are "
                                       "document ids known only at run time); access is limited to that prefix.",
                    finding=f"Resource::<{logical_id(books)}.Arn>/{BOOKS_PREFIX}/*")

        master = self.tasks["master_data"]
        master.allow(["dynamodb:GetItem"], [config])
        master.allow(["dynamodb:GetItem", "dynamodb:PutItem"], [tables["parties"].table_arn])  # cross-references
        # Beancount: a party is one open/custom directive file under books/parties/ (read, then written once)
        master.allow(["s3:GetObject", "s3:PutObject"], [books.arn_for_objects(f"{BOOKS_PREFIX}/*")])
        master.allow(["s3:ListBucket"], [books.bucket_arn])
        master.allow_key("dynamodb", KeyUse.DYNAMODB)
        master.allow_key("s3", KeyUse.S3_READ + KeyUse.S3_WRITE)
        acknowledge(master.role, "IAM5", "Beancount parties are one S3 object per party under the books/ prefix "
                                         "(names are source party ids known only at run time); access is limited "
                                         "to that prefix.",
                    finding=f"Resource::<{logical_id(books)}.Arn>/{BOOKS_PREFIX}/*")

        opener = self.tasks["open_exception"]
        # open (put), supersede the previous case of a retried document (update); announce on EventBridge
        opener.allow(["dynamodb:PutItem", "dynamodb:UpdateItem"], [tables["exceptions"].table_arn])
        opener.allow(["events:PutEvents"], [Stack.of(self).format_arn(service="events", resource="event-bus",
                                                                      resource_name="default")])
        opener.allow(["dynamodb:UpdateItem"], [tables["ledger"].table_arn, tables["totals"].table_arn])
        opener.allow_key("dynamodb", KeyUse.DYNAMODB)

    def _grant_posting_engine(self, tables: StateTables, legacy: s3.IBucket,
                              erp_secrets: Sequence[secretsmanager.ISecret]) -> None:
        """Issue 5: enrich reads originals (reversals); post routes, summarizes, rate-limits and calls ERP APIs."""
        self.tasks["enrich"].allow(["dynamodb:GetItem"], [tables["ledger"].table_arn])
        master = self.tasks["master_data"]  # ensure_party goes through the same connections as post
        master.allow(LIMITER_ACTIONS, [tables["limiter"].table_arn])
        if erp_secrets:
            master.allow(ERP_SECRET_ACTIONS, [secret.secret_arn for secret in erp_secrets])
            master.allow_key("secretsmanager", KeyUse.SECRET_READ + KeyUse.SECRET_WRITE)
        post = self.tasks["post"]
        post.allow(BUCKET_ADD_ACTIONS, [tables["buckets"].table_arn])
        post.allow(LIMITER_ACTIONS, [tables["limiter"].table_arn])
        grant_legacy_files(post, legacy, ["s3:GetObject", "s3:PutObject"])
        if erp_secrets:
            post.allow(ERP_SECRET_ACTIONS, [secret.secret_arn for secret in erp_secrets])
            post.allow_key("secretsmanager", KeyUse.SECRET_READ + KeyUse.SECRET_WRITE)

    def _build_log_group(self, options: DeploymentOptions, key: kms.IKey, construct_id: str) -> logs.LogGroup:
        return logs.LogGroup(
            self, construct_id,
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR if options.is_prod else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY,
        )

    def _build_state_machine(self) -> sfn.StateMachine:
        return self._machine(
            "StateMachine", workflow.STANDARD, workflow.TASK_FUNCTIONS, self.log_group,
            comment="LedgerLink post-document: one execution per canonical document, named by its id",
            kind=sfn.StateMachineType.STANDARD)

    def _build_happy_path(self) -> sfn.StateMachine:
        machine = self._machine(
            "HappyPath", workflow.HAPPY_PATH, workflow.HAPPY_PATH_FUNCTIONS, self.happy_path_log_group,
            comment="LedgerLink happy path: master data, enrich, validate, post for one document (Express)",
            kind=sfn.StateMachineType.EXPRESS,
            substitutions={workflow.ESCALATION_PLACEHOLDER: self.state_machine.state_machine_arn})
        # its Escalate state starts the Standard workflow, and nothing else
        machine.add_to_role_policy(iam.PolicyStatement(actions=["states:StartExecution"],
                                                       resources=[self.state_machine.state_machine_arn]))
        return machine

    def _machine(self, construct_id: str, definition: str, functions: Mapping[str, str], log_group: logs.ILogGroup,
                 *, comment: str, kind: sfn.StateMachineType,
                 substitutions: Mapping[str, str] | None = None) -> sfn.StateMachine:
        """One of the two machines on its library ASL. Logs are its record (Express keeps no history): ERROR
        level, no execution data, as inputs and outputs are financial documents."""
        arns = {placeholder: self.tasks[name].function.function_arn for placeholder, name in functions.items()}
        text = workflow.definition_text(definition)
        filled = {**arns, **(substitutions or {})}
        unknown = workflow.placeholders(text) ^ set(filled)
        if unknown:
            raise ValueError(f"{definition}.asl.json and its substitutions disagree on {sorted(unknown)}")
        machine = sfn.StateMachine(
            self, construct_id, comment=comment, state_machine_type=kind,
            definition_body=sfn.DefinitionBody.from_string(text), definition_substitutions=filled,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR, include_execution_data=False),
            tracing_enabled=True,
        )
        # The definition is a string, so CDK cannot infer the tasks: invoke exactly these (unqualified ARNs).
        machine.add_to_role_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=list(arns.values())))
        acknowledge(machine, "SF1", "Execution data are canonical financial documents; logging is ERROR-level "
                                    "without execution data, and each task's own JSON logs carry the correlation id.")
        acknowledge(machine.role, "IAM5", "CloudWatch Logs vended-log delivery (CreateLogDelivery, ...) and X-Ray "
                                          "tracing actions support no resource-level permissions; CDK adds them "
                                          "with Resource '*'.", finding="Resource::*")
        return machine


def grant_legacy_files(function: LedgerLinkFunction, legacy: s3.IBucket, actions: list[str]) -> None:
    """Object access under the legacy/ prefix, and ListBucket (the file names; 404 instead of 403 when absent)."""
    function.allow(actions, [legacy.arn_for_objects(f"{LEGACY_PREFIX}/*")])
    function.allow(["s3:ListBucket"], [legacy.bucket_arn])
    acknowledge(function.role, "IAM5", "Legacy GL files are one S3 object per posting part and per import file "
                                       "under the legacy/ prefix (names are document ids and dates known only at "
                                       "run time); access is limited to that prefix.",
                finding=f"Resource::<{logical_id(legacy)}.Arn>/{LEGACY_PREFIX}/*")
