"""One LedgerLink Lambda: ``functions/<name>/handler.py`` on the core layer, with its own role and log group.

Each function gets exactly the environment its settings class reads (``ledgerlink.settings``) plus the
Powertools/stage variables, its own role with only what its code calls (granted by the part that owns it),
a KMS-encrypted JSON log group with retention, and X-Ray active tracing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.compliance import acknowledge
from infra.constructs.core_layer import ARCHITECTURES, RUNTIME
from infra.options import REPO, DeploymentOptions
from ledgerlink import settings

FUNCTIONS_DIR = REPO / "functions"
METRICS_NAMESPACE = "LedgerLink"
LOG_LEVEL = "INFO"
# Never in a function asset: bytecode left behind when tests or the local runtime import the handlers.
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo", ".*"]


class KeyUse:
    """KMS actions a caller needs when a service uses the data key on its behalf (granted per service)."""

    DYNAMODB = ("kms:Decrypt", "kms:DescribeKey")        # any item read or write on an encrypted table
    S3_READ = ("kms:Decrypt",)                          # GetObject
    S3_WRITE = ("kms:GenerateDataKey",)                 # single-part PutObject
    SQS_SEND = ("kms:Decrypt", "kms:GenerateDataKey")   # SendMessage to an SSE-KMS queue
    SECRET_READ = ("kms:Decrypt",)                      # GetSecretValue
    SECRET_WRITE = ("kms:GenerateDataKey",)             # PutSecretValue (a rotated OAuth refresh token)


@dataclass(frozen=True, slots=True)
class Sizing:
    memory_mb: int
    timeout_seconds: int


SIZING: dict[str, Sizing] = {
    "ingest": Sizing(256, 10),          # verify, archive, dedupe, enqueue: answers the provider fast
    "normalize": Sizing(512, 120),      # a batch of up to 10 events; vendor API fetches; starts executions
    "master_data": Sizing(256, 60),     # may create a customer/vendor in the ERP (rate-limited like post)
    "enrich": Sizing(256, 30),
    "validate": Sizing(256, 30),
    "post": Sizing(256, 60),            # lease, the ERP call, the posted write (ASL: 120 s; the lease: 120 s)
    "open_exception": Sizing(256, 30),
    "reconcile": Sizing(512, 300),      # counters + targeted listings; reads the book for the ERP check
    "ops": Sizing(512, 30),             # the REST resolver and pydantic: an operator's request, not the hot path
    "bank_file": Sizing(512, 60),       # reads a statement file (up to the source's max_body_bytes, 10 MB)
    "poll": Sizing(256, 120),           # a vendor export job and its download, then claims/enqueues
    "flush": Sizing(512, 300),          # seals buckets, posts summaries in bulk, traces members, seals legacy days
    "audit_export": Sizing(256, 60),    # up to 100 stream records → one small S3 object each
    "revenue_release": Sizing(1024, 900),  # every open schedule line of an entity, then a few journals (issue 9)
    "console": Sizing(1024, 30),        # a person waits on each page (close check, waterfall): CPU comes with memory
}


def settings_environment(name: str, values: Mapping[str, str]) -> dict[str, str]:
    """The variables ``settings.FUNCTION_SETTINGS[name]`` reads: each resource value, or the field's default."""
    cls = settings.FUNCTION_SETTINGS[name]
    environment: dict[str, str] = {}
    for item in dataclasses.fields(cls):
        variable = item.metadata["env"]
        if variable in values:
            environment[variable] = values[variable]
        elif item.default is not dataclasses.MISSING:
            environment[variable] = str(item.default)
        else:
            raise KeyError(f"function {name!r}: no value for {variable} (required by {cls.__name__})")
    assert set(environment) == settings.all_env(cls)
    return environment


def service_name(name: str) -> str:
    return "ledgerlink-" + name.replace("_", "-")


class LedgerLinkFunction(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, name: str, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, values: Mapping[str, str], description: str) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self._key = key
        sizing = SIZING[name]
        self.log_group = self._build_log_group(options, key)
        self.role = self._build_role(description)
        self.function = lambda_.Function(
            self, "Function",
            description=f"LedgerLink {name}: {description}",
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR / name), exclude=ASSET_EXCLUDES),
            handler="handler.handler",
            runtime=RUNTIME,
            architecture=ARCHITECTURES[options.arch],
            layers=[layer],
            memory_size=sizing.memory_mb,
            timeout=Duration.seconds(sizing.timeout_seconds),
            role=self.role,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
            environment={
                **settings_environment(name, values),
                "POWERTOOLS_SERVICE_NAME": service_name(name),
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": LOG_LEVEL,
                settings.STAGE: options.stage,
            },
        )
        acknowledge(self.function, "L1", "Python 3.12 is pinned on purpose: the layer's compiled wheels "
                                         "(pydantic-core) are built for cp312 and the dev venv is 3.12; the "
                                         "runtime moves with both in one change.")
        acknowledge(self.role, "IAM5", "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level "
                                       "permissions, so active tracing needs Resource '*'.", finding="Resource::*")

    def _build_log_group(self, options: DeploymentOptions, key: kms.IKey) -> logs.LogGroup:
        return logs.LogGroup(
            self, "Logs",
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR if options.is_prod else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY,
        )

    def _build_role(self, description: str) -> iam.Role:
        role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"LedgerLink {self.name}: {description}"[:1000],
        )
        # Written out instead of AWSLambdaBasicExecutionRole: this log group only, no CreateLogGroup.
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[self.log_group.log_group_arn]))
        return role

    # ---- grants (the owning part calls these with exactly what the function's code does) ----------

    def allow(self, actions: Iterable[str], resources: Iterable[str],
              conditions: Mapping[str, object] | None = None) -> None:
        self.role.add_to_principal_policy(iam.PolicyStatement(
            actions=sorted(actions), resources=list(resources), conditions=dict(conditions) if conditions else None))

    @property
    def key_arn(self) -> str:
        return self._key.key_arn

    def allow_key(self, service: str, actions: Iterable[str]) -> None:
        """Use the data key, but only through ``service`` (kms:ViaService), e.g. DynamoDB decrypting a table key."""
        region = Stack.of(self).region
        self.allow(actions, [self._key.key_arn],
                   {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}})
