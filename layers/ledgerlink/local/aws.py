"""The AWS side of the local stack, created in moto: tables, bucket, queues, secrets, functions,
the two state machines (the Express happy path and the Standard post-document workflow) and the active
configuration.

Works against a moto server (``LocalRuntime``) and in moto's in-process decorator mode (functional
tests) alike: it only uses boto3 clients and patches moto's Docker-free Lambda backend so that
Step Functions task invocations run the real handlers in-process.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from ledgerlink import settings
from ledgerlink.config.loader import config_hash
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.local.console_users import ConsolePool, create_console_pool
from ledgerlink.local.functions import FUNCTION_NAMES, FunctionError, FunctionHost
from ledgerlink.store import clients
from ledgerlink.store.tables import TABLE_ENV, TABLES, TableSpec
from ledgerlink.workflow import ESCALATION_PLACEHOLDER, HAPPY_PATH, TASK_FUNCTIONS, render

REGION = "us-east-1"
ACCOUNT = "123456789012"
# the in-process function host runs at most FunctionHost.concurrency invocations of a function at once, all in one
# process under one GIL: a burst of happy-path executions queues there longer than on Lambda (workflow.render)
LOCAL_TASK_TIMEOUT_SECONDS = 300
MOTO_CONFIG: dict[str, Any] = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@dataclass(frozen=True)
class Resources:
    tables: dict[str, str]
    archive_bucket: str
    reports_bucket: str
    inbound_queue_url: str
    inbound_queue_arn: str
    inbound_dlq_url: str
    state_machine_arn: str
    books_uri: str
    function_arns: dict[str, str]
    legacy_files_uri: str = ""
    happy_path_arn: str = ""
    console: ConsolePool | None = None     # the console's user pool (moto), one generated user per role

    def environment(self) -> dict[str, str]:
        """The Lambda environment (same variable names as the CDK stack sets)."""
        values = {env_name: self.tables[table] for table, env_name in TABLE_ENV.items()}
        values.update({
            settings.STAGE: "local",
            settings.ARCHIVE_BUCKET: self.archive_bucket,
            settings.REPORTS_BUCKET: self.reports_bucket,
            settings.INBOUND_DLQ_URL: self.inbound_dlq_url,
            settings.INBOUND_QUEUE_URL: self.inbound_queue_url,
            settings.STATE_MACHINE_ARN: self.state_machine_arn,
            settings.HAPPY_PATH_STATE_MACHINE_ARN: self.happy_path_arn,
            settings.BOOKS_URI: self.books_uri,
            settings.LEGACY_FILES_URI: self.legacy_files_uri,
            settings.CONFIG_CACHE_SECONDS: "2",
        })
        if self.console is not None:
            values[settings.CONSOLE_USER_POOL_ID] = self.console.user_pool_id
            values[settings.CONSOLE_CLIENT_ID] = self.console.client_id
        return values


def own_query_language_scopes() -> None:
    """Give each of moto's ASL preprocessors its own scope stack.

    moto's ``Preprocessor`` keeps ``_query_language_per_scope`` as a list on the class, so every parse of a state
    machine definition pushes and pops one list shared by all threads: two executions started at once (a burst of
    documents) could pop each other's scope, and one of them died in its worker thread with an ``IndexError`` —
    an execution that never ran, seen as a timed-out wait. An instance list per preprocessor removes the sharing;
    installed once per process (idempotent)."""
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    if "_query_language_per_scope" in vars(Preprocessor).get("__ledgerlink_patched__", ()):
        return
    inherited = Preprocessor.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        inherited(self, *args, **kwargs)
        self._query_language_per_scope = []

    Preprocessor.__init__ = init  # type: ignore[method-assign]
    Preprocessor.__ledgerlink_patched__ = ("_query_language_per_scope",)


def create_table(dynamodb: Any, table: str, spec: TableSpec) -> str:
    """``table`` as ``spec`` shapes it (keys, global secondary indexes with their projections, TTL), as the stack
    deploys it; returns its name."""
    key_schema = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        key_schema.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    kwargs: dict[str, Any] = {}
    if spec.indexes:
        kwargs["GlobalSecondaryIndexes"] = [{
            "IndexName": index.name,
            "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"},
                          *([{"AttributeName": index.sort_key, "KeyType": "RANGE"}] if index.sort_key else [])],
            "Projection": {"ProjectionType": index.projection},
        } for index in spec.indexes]
    dynamodb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=key_schema,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(spec.key_attributes())],
        **kwargs)
    if spec.ttl_attribute:
        dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": spec.ttl_attribute})
    return table


def create_resources(*, prefix: str, books_dir: Path, host: FunctionHost, visibility_timeout_seconds: int = 10,
                     max_receive_count: int = 3, legacy_dir: Path | None = None,
                     master_data_wait_seconds: int | None = 2) -> Resources:
    own_query_language_scopes()
    dynamodb = clients.client("dynamodb")
    tables: dict[str, str] = {}
    for name, spec in TABLES.items():
        tables[name] = create_table(dynamodb, f"{prefix}-{name}", spec)

    s3 = clients.client("s3")
    bucket = f"{prefix}-archive"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    reports = f"{prefix}-reports"
    s3.create_bucket(Bucket=reports)

    sqs = clients.client("sqs")
    dlq_url = sqs.create_queue(QueueName=f"{prefix}-inbound-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=f"{prefix}-inbound", Attributes={
        "VisibilityTimeout": str(visibility_timeout_seconds),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"RedriveAllowPolicy": json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn]})})

    iam = clients.client("iam")
    role = iam.create_role(RoleName=f"{prefix}-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as bundle:  # moto needs *a* package; the handler runs in-process
        bundle.writestr("handler.py", "# executed in-process by ledgerlink.local\n")
    aws_lambda = clients.client("lambda")
    arns = {name: aws_lambda.create_function(
        FunctionName=host.physical_name(name), Runtime="python3.12", Role=role, Handler="handler.handler",
        Code={"ZipFile": package.getvalue()}, Timeout=60)["FunctionArn"] for name in FUNCTION_NAMES}
    task_arns = {placeholder: arns[function] for placeholder, function in TASK_FUNCTIONS.items()}
    sfn = clients.client("stepfunctions")
    state_machine = sfn.create_state_machine(
        name=f"{prefix}-post-document", roleArn=role, type="STANDARD", definition=json.dumps(
            render(task_arns, master_data_wait_seconds=master_data_wait_seconds)))["stateMachineArn"]
    happy_path = sfn.create_state_machine(
        name=f"{prefix}-happy-path", roleArn=role, type="EXPRESS", definition=json.dumps(
            render({**task_arns, ESCALATION_PLACEHOLDER: state_machine}, name=HAPPY_PATH,
                   task_timeout_seconds=LOCAL_TASK_TIMEOUT_SECONDS)))["stateMachineArn"]
    return Resources(tables=tables, archive_bucket=bucket, reports_bucket=reports, inbound_queue_url=queue_url,
                     inbound_queue_arn=queue_arn,
                     inbound_dlq_url=dlq_url, state_machine_arn=state_machine,
                     books_uri=books_dir.resolve().as_uri(), function_arns=arns,
                     legacy_files_uri=(legacy_dir or books_dir.parent / "legacy").resolve().as_uri(),
                     happy_path_arn=happy_path, console=create_console_pool(prefix))


def apply_config(resources: Resources, config: LedgerLinkConfig, *, applied_by: str) -> int:
    from ledgerlink.store.config_store import DynamoConfigStore

    version, _ = DynamoConfigStore(resources.tables["config"]).apply(config, applied_by=applied_by,
                                                                     content_hash=config_hash(config))
    return version


def store_secrets(config: LedgerLinkConfig, values: dict[str, tuple[str, ...]]) -> None:
    from ledgerlink.local.signers import verification_value

    manager = clients.client("secretsmanager")
    for source in config.sources:
        if source.signing_secret is None:  # e.g. files dropped in S3: no webhook, nothing to sign
            continue
        secrets = [verification_value(source.kind, secret) for secret in values[source.id]]
        value = secrets[0] if len(secrets) == 1 else json.dumps({"secrets": list(secrets)})
        manager.create_secret(Name=source.signing_secret.secret_id, SecretString=value)


def store_api_credentials(config: LedgerLinkConfig, values: dict[str, dict[str, str]]) -> None:
    """API credentials (JSON objects) under each source's ``api.credentials`` secret name, as on AWS."""
    from ledgerlink.config.sources import api_credentials

    manager = clients.client("secretsmanager")
    for source in config.sources:
        secret = api_credentials(source)
        if secret is not None and source.id in values:
            manager.create_secret(Name=secret.secret_id, SecretString=json.dumps(values[source.id]))


@contextmanager
def in_process_lambdas(host: FunctionHost) -> Iterator[None]:
    """Route moto Lambda invocations (from Step Functions tasks) to the handlers in ``host``."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original = LambdaSimpleBackend.invoke

    def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
               response_headers: Any) -> str | bytes | None:
        try:
            name = host.logical_name(function_name)
        except KeyError:
            return original(backend, function_name, qualifier, body, headers, response_headers)
        event = json.loads(body) if body else {}
        try:
            result = host.invoke(name, event)
        except FunctionError as error:  # what Lambda returns for an unhandled exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(error.payload).encode()
        return json.dumps(result, default=str).encode()

    with mock.patch.object(LambdaSimpleBackend, "invoke", invoke), _sfn_start_execution_parameters():
        yield


@contextmanager
def _sfn_start_execution_parameters() -> Iterator[None]:
    """moto 5.2.5 hands an ``arn:aws:states:::states:startExecution`` task's parameters to boto3 as written in
    the ASL (``StateMachineArn``, ``Name``, ``Input``, as AWS documents them), and botocore wants
    ``stateMachineArn``/``name``/``input``: the task fails with ``States.Runtime 'StateMachineArn'``. The happy
    path's escalation (D76) uses exactly that task, so the local stack lower-cases the first letter as Step
    Functions does; the definition itself stays AWS's."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    original = StateTaskServiceSfn._normalise_parameters

    def normalise(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                  service_action_name: str | None = None) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        for key in [key for key in parameters if key[:1].isupper()]:
            parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    StateTaskServiceSfn._normalise_parameters = normalise  # type: ignore[method-assign]
    try:
        yield
    finally:
        StateTaskServiceSfn._normalise_parameters = original  # type: ignore[method-assign]


_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item", "get_item",
                    "query", "scan", "transact_get_items")


@contextmanager
def atomic_dynamodb() -> Iterator[Any]:
    """Make moto's DynamoDB serialize item operations, as DynamoDB does per item.

    moto's in-memory backend has no locking: under the threaded server two concurrent conditional puts
    can both succeed and two ``ADD`` updates can lose one increment — things real DynamoDB never does
    and LedgerLink's exactly-once guarantees rely on. One lock around each operation restores it. Yields
    that lock: holding it, nothing changes any item (the local stack's snapshot reads the tables under it).
    """
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in _DYNAMODB_WRITES}

    def locked(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)
        return wrapper

    for name, method in originals.items():
        setattr(DynamoDBBackend, name, locked(method))
    try:
        yield lock
    finally:
        for name, method in originals.items():
            setattr(DynamoDBBackend, name, method)


def waiting_for_decisions(exceptions_table: str) -> int:
    """Executions parked on an open exception case's task token (idle until finance ops decide)."""
    count = 0
    for page in clients.client("dynamodb").get_paginator("scan").paginate(
            TableName=exceptions_table, ProjectionExpression="#s, task_token",
            ExpressionAttributeNames={"#s": "status"}):
        count += sum(1 for item in page.get("Items", [])
                     if item.get("status", {}).get("S") == "open" and "task_token" in item)
    return count


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
