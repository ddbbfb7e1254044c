"""Deploy smoke test: the synthesized template goes through moto's CloudFormation, then the deployed stack is
inspected through the AWS APIs, as an operator would see it.

The test prepares what ``cdk bootstrap`` and ``cdk deploy`` would: the bootstrap version parameter in SSM and the
asset bucket holding each staged asset (zipped like the CDK CLI does). It then creates the stack from the very
template ``make synth`` writes.

What moto 5.2.5 could not deploy, exactly (asserted below, so a new gap shows up as a failure):

* Resource types moto's CloudFormation has no model for — it skips them with a warning: AWS::SecretsManager::Secret,
  AWS::Scheduler::Schedule, AWS::CloudWatch::Alarm, AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy,
  AWS::SNS::TopicPolicy, AWS::ApiGateway::Stage, AWS::ApiGateway::RequestValidator, AWS::ApiGateway::Model,
  AWS::Lambda::EventInvokeConfig, and with ``waf=true`` AWS::WAFv2::WebACL,
  AWS::WAFv2::WebACLAssociation, AWS::WAFv2::LoggingConfiguration. Left alone, moto would then fail the whole
  stack: a reference to a skipped resource resolves to nothing (IAM statements lose their Resource, the dashboard's
  alarm widget cannot GetAtt its alarms). The test therefore registers a *placeholder* for each skipped type: it
  creates nothing and answers references with ``arn:aws:cloudformation:<region>:<account>:not-deployed-by-moto/<id>``
  — so those resources are listed as not deployed, never counted as present. (The tests' in-process synth has no
  AWS::CDK::Metadata: version reporting is context only the CDK CLI adds.)
* AWS::Cognito::UserPool, AWS::Cognito::UserPoolClient and AWS::Cognito::UserPoolGroup (the console's users): moto's
  CloudFormation has no model for them, but its Cognito API has. The test creates each through that API from the
  template's properties — CloudFormation's property names are the API's (CreateUserPool, CreateUserPoolClient,
  CreateGroup), except the pool's ``EnabledMfas``, which is SetUserPoolMfaConfig's — so references resolve to a
  real pool id and client id (the console function's environment, the outputs), and a user can sign in as the
  console does. Of the pool's settings moto applies the password policy, MFA and the groups; it keeps the others
  (tier, recovery, aliases, token validities) without acting on them.
* Custom::LedgerLinkConfigSeed (the config seed, an AwsCustomResource): moto sends the Create request to the
  provider Lambda, which it can only run in Docker. The test records that request and plays the provider: it makes
  the DynamoDB PutItem the request names (with its ConditionExpression) and answers SUCCESS through moto's
  custom-resource API; the seeded configuration is then read back by the library.
* Properties moto accepts but does not apply (so they are not asserted here; tests on the template cover them):
  DynamoDB point-in-time recovery, TTL, SSE and the resource policy; S3 versioning, Object Lock, public access
  block, access logging and ownership controls; the DLQ's RedriveAllowPolicy; Lambda architecture, layers,
  tracing and logging configuration; log group KMS keys; the state machine's logging and tracing, and its
  DefinitionSubstitutions (moto stores the definition with its ``${...FunctionArn}`` placeholders; the test checks
  each placeholder has a substitution naming a function moto deployed).
* A moto bug worked around: moto reads AWS::KMS::Key ``Tags`` with the KMS API's field names (TagKey/TagValue)
  instead of CloudFormation's (Key/Value) and crashes; the test translates the tag fields, nothing else.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ledgerlink.store.tables import TABLES
from ledgerlink.workflow import TASK_FUNCTIONS

REGION, ACCOUNT = "us-east-1", "123456789012"
PROTECTED_REGION = "eu-west-1"   # the second deployment gets a region of its own: no shared state
BOOTSTRAP_QUALIFIER = "hnb659fds"   # the CDK's default bootstrap qualifier (the template's BootstrapVersion parameter)
NOT_DEPLOYED = "arn:aws:cloudformation:{region}:{account}:not-deployed-by-moto/"
MOTO_HAS_NO_MODEL = {
    "AWS::SecretsManager::Secret", "AWS::Scheduler::Schedule", "AWS::CloudWatch::Alarm", "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::ApiGateway::Stage", "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::Model", "AWS::Lambda::EventInvokeConfig",
}
WAF_TYPES = {"AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration"}


@dataclass
class Deployment:
    stack_name: str
    template: dict[str, Any]
    status_before_provider: str
    status: str
    outputs: dict[str, str]
    skipped: list[tuple[str, str]]
    provider_requests: list[dict[str, Any]]
    resources: list[dict[str, Any]] = field(default_factory=list)
    cognito: list[tuple[str, str]] = field(default_factory=list)   # created through moto's Cognito API

    def physical(self, logical_id: str) -> str:
        (resource,) = [r for r in self.resources if r["LogicalResourceId"] == logical_id]
        return resource["PhysicalResourceId"]


class _NotDeployed:
    """Placeholder for a resource type moto's CloudFormation cannot create: records it, creates nothing."""

    skipped: list[tuple[str, str]] = []

    def __init__(self, logical_id: str, account_id: str, region_name: str) -> None:
        self.logical_id, self.account_id, self.region_name = logical_id, account_id, region_name

    @property
    def physical_resource_id(self) -> str:
        return NOT_DEPLOYED.format(region=self.region_name, account=self.account_id) + self.logical_id

    def is_created(self) -> bool:
        return True

    def get_cfn_attribute(self, attribute: str) -> str:
        return f"{self.physical_resource_id}/{attribute}"

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return True

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> _NotDeployed:
        cls.skipped.append((kwargs["LogicalId"], kwargs["ResourceType"]))
        return cls(kwargs["LogicalId"], account_id, region_name)


class _CreatedThroughCognito:
    """A Cognito resource moto's CloudFormation has no model for, created through moto's Cognito API instead."""

    created: list[tuple[str, str]] = []

    def __init__(self, physical_id: str, attributes: dict[str, str]) -> None:
        self.physical_resource_id = physical_id
        self._attributes = attributes

    def is_created(self) -> bool:
        return True

    def get_cfn_attribute(self, attribute: str) -> str:
        return self._attributes[attribute]

    @classmethod
    def has_cfn_attr(cls, attribute: str) -> bool:
        return True

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> _CreatedThroughCognito:
        from moto.cognitoidp.models import cognitoidp_backends

        backend = cognitoidp_backends[account_id][region_name]
        properties = dict(cloudformation_json["Properties"])
        cls.created.append((kwargs["LogicalId"], kwargs["ResourceType"]))
        if kwargs["ResourceType"] == "AWS::Cognito::UserPool":
            enabled = properties.pop("EnabledMfas", [])
            pool = backend.create_user_pool(properties.pop("UserPoolName"), properties)
            backend.set_user_pool_mfa_config(pool.id, None, {"Enabled": "SOFTWARE_TOKEN_MFA" in enabled},
                                             properties.get("MfaConfiguration", "OFF"))
            return cls(pool.id, {"Arn": pool.arn, "UserPoolId": pool.id})
        if kwargs["ResourceType"] == "AWS::Cognito::UserPoolClient":
            pool_id = properties.pop("UserPoolId")
            client = backend.create_user_pool_client(pool_id, properties.pop("GenerateSecret", False), properties)
            return cls(client.id, {"ClientId": client.id, "Name": properties.get("ClientName", "")})
        assert kwargs["ResourceType"] == "AWS::Cognito::UserPoolGroup", kwargs["ResourceType"]
        group = backend.create_group(properties["UserPoolId"], properties["GroupName"], properties.get("Description"),
                                     properties.get("RoleArn"), properties.get("Precedence"))
        return cls(group.group_name, {})   # a group's Ref is its name


CREATED_THROUGH_COGNITO = {"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup"}


def _zipped(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def _bootstrap(outdir: Path, stack_name: str, region: str) -> None:
    """What `cdk bootstrap` leaves behind in the region and `cdk deploy` uploads, for this one stack."""
    boto3.client("ssm", region_name=region).put_parameter(
        Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String")
    s3 = boto3.client("s3", region_name=region)
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{ACCOUNT}-{region}"
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                      {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    assets = json.loads((outdir / f"{stack_name}.assets.json").read_text())
    for asset in assets["files"].values():
        source = outdir / asset["source"]["path"]
        body = _zipped(source) if asset["source"].get("packaging") == "zip" else source.read_bytes()
        for destination in asset["destinations"].values():
            s3.put_object(Bucket=destination["bucketName"].replace("${AWS::AccountId}", ACCOUNT)
                          .replace("${AWS::Region}", region), Key=destination["objectKey"], Body=body)


def _play_the_provider(requests: list[dict[str, Any]], stack_id: str, region: str) -> None:
    """Do what the AwsCustomResource provider does with each Create request moto sent it, then answer SUCCESS."""
    from moto.cloudformation.models import cloudformation_backends

    stack = cloudformation_backends[ACCOUNT][region].get_stack(stack_id)
    for request in requests:
        call = json.loads(request["ResourceProperties"]["Create"])
        assert (call["service"], call["action"]) == ("DynamoDB", "putItem")
        parameters = {key[0].upper() + key[1:]: value for key, value in call["parameters"].items()}
        boto3.client("dynamodb", region_name=region).put_item(**parameters)
        stack.get_custom_resource(request["LogicalResourceId"]).set_data({})
    stack.verify_readiness()


def _deploy(assembly: Any, region: str = REGION) -> Deployment:
    from moto.awslambda import models as lambda_models
    from moto.cloudformation import parsing
    from moto.kms import models as kms_models

    provider_requests: list[dict[str, Any]] = []
    real_create_key, real_class_from_type = kms_models.KmsBackend.create_key, parsing.resource_class_from_type

    def create_key(backend: Any, policy: Any, key_usage: Any, key_spec: Any, description: Any, tags: Any,
                   *args: Any, **kwargs: Any) -> Any:
        tags = [{"TagKey": t.get("TagKey", t.get("Key")), "TagValue": t.get("TagValue", t.get("Value"))}
                for t in tags or []]
        return real_create_key(backend, policy, key_usage, key_spec, description, tags, *args, **kwargs)

    def class_from_type(resource_type: str) -> Any:
        if resource_type in CREATED_THROUGH_COGNITO:
            return _CreatedThroughCognito
        found = real_class_from_type(resource_type)
        return _NotDeployed if found is None and not resource_type.startswith("Custom::") else found

    def provider_invoke(function: Any, body: str, *args: Any, **kwargs: Any) -> None:
        provider_requests.append(json.loads(body))   # instead of Docker: recorded, answered by the test

    _NotDeployed.skipped = []
    _CreatedThroughCognito.created = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kms_models.KmsBackend, "create_key", create_key)
        patch.setattr(parsing, "resource_class_from_type", class_from_type)
        patch.setattr(lambda_models.LambdaFunction, "invoke", provider_invoke)
        logging.getLogger("moto").setLevel(logging.ERROR)   # one "No Moto CloudFormation support" line per skip
        _bootstrap(assembly.outdir, assembly.stack_name, region)
        cloudformation = boto3.client("cloudformation", region_name=region)
        stack_id = cloudformation.create_stack(
            StackName=assembly.stack_name, TemplateBody=json.dumps(assembly.template),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])["StackId"]
        before = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        _play_the_provider(provider_requests, stack_id, region)
    stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
    resources = cloudformation.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    return Deployment(assembly.stack_name, assembly.template, before, stack["StackStatus"],
                      {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
                      list(_NotDeployed.skipped), provider_requests, resources, list(_CreatedThroughCognito.created))


@pytest.fixture(scope="module")
def aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": REGION, "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled"}.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        yield


@pytest.fixture(scope="module")
def deployed(assembly, aws_env) -> Iterator[Deployment]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield _deploy(assembly)


# ---- what moto deployed, and what it could not --------------------------------------------------------------

def test_the_stack_is_created_once_the_config_seed_is_answered(deployed):
    assert deployed.status_before_provider == "CREATE_IN_PROGRESS"   # waiting for the config seed's provider
    assert deployed.status == "CREATE_COMPLETE"
    assert {r["ResourceStatus"] for r in deployed.resources} == {"CREATE_COMPLETE"}
    assert len(deployed.resources) == len(deployed.template["Resources"])
    created = [r for r in deployed.resources if not r["PhysicalResourceId"].startswith(
        NOT_DEPLOYED.format(region=REGION, account=ACCOUNT))]   # the rest are placeholders, listed as not deployed
    assert len(created) == len(deployed.template["Resources"]) - len(deployed.skipped) > 0


def test_moto_skips_exactly_the_resource_types_it_has_no_model_for(deployed):
    types = {resource["Type"] for resource in deployed.template["Resources"].values()}
    skipped = Counter(resource_type for _, resource_type in deployed.skipped)
    assert set(skipped) == MOTO_HAS_NO_MODEL & types == MOTO_HAS_NO_MODEL
    for resource_type, count in skipped.items():  # every resource of a skipped type, and nothing else
        assert count == sum(r["Type"] == resource_type for r in deployed.template["Resources"].values())
    for logical_id, _ in deployed.skipped:
        assert deployed.physical(logical_id) == NOT_DEPLOYED.format(region=REGION, account=ACCOUNT) + logical_id


def test_the_config_seed_request_reaches_its_provider_function(deployed):
    seeds = {lid for lid, r in deployed.template["Resources"].items() if r["Type"] == "Custom::LedgerLinkConfigSeed"}
    assert {request["LogicalResourceId"] for request in deployed.provider_requests} == seeds
    provider = {request["ServiceToken"] for request in deployed.provider_requests}
    functions = {f["FunctionArn"] for f in boto3.client("lambda").list_functions()["Functions"]}
    assert provider <= functions and all(r["RequestType"] == "Create" for r in deployed.provider_requests)


# ---- every resource the app needs exists, as the AWS APIs report it ---------------------------------------------

def test_every_table_exists_with_its_keys_indexes_and_stream(deployed):
    dynamodb = boto3.client("dynamodb")
    by_output = {"audit": "AuditTableName", "config": "ConfigTableName", "inbox": "InboxTableName",
                 "ledger": "LedgerTableName", "exceptions": "ExceptionsTableName", "totals": "TotalsTableName",
                 "cursors": "CursorsTableName"}
    names = {name: deployed.outputs[output] for name, output in by_output.items()}
    listed = set(dynamodb.list_tables()["TableNames"])
    assert len(listed) == len(TABLES) and set(names.values()) <= listed
    for name, table_name in names.items():
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        spec = TABLES[name]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        assert (keys.get("HASH"), keys.get("RANGE")) == (spec.partition_key, spec.sort_key), name
        assert {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])} == {i.name for i in spec.indexes}
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    audit = dynamodb.describe_table(TableName=names["audit"])["Table"]
    assert audit["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_inbound_queue_redrives_to_its_encrypted_dlq(deployed):
    sqs = boto3.client("sqs")
    inbound = sqs.get_queue_attributes(QueueUrl=deployed.outputs["InboundQueueUrl"], AttributeNames=["All"])
    dlq = sqs.get_queue_attributes(QueueUrl=deployed.outputs["InboundDlqUrl"], AttributeNames=["All"])
    redrive = json.loads(inbound["Attributes"]["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": dlq["Attributes"]["QueueArn"], "maxReceiveCount": 5}
    (key,) = {q["Attributes"]["KmsMasterKeyId"] for q in (inbound, dlq)}
    assert boto3.client("kms").get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    assert inbound["Attributes"]["QueueArn"].endswith(f":{deployed.stack_name}-inbound")  # the DLQ names it


def test_buckets_exist_encrypted_with_the_data_key(deployed):
    s3 = boto3.client("s3")
    for output in ("ArchiveBucketName", "AuditBucketName", "BooksBucketName", "ReportsBucketName",
                   "LegacyFilesBucketName"):
        (rule,) = s3.get_bucket_encryption(Bucket=deployed.outputs[output])[
            "ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", output


def test_every_function_exists_with_its_settings_and_both_event_sources(deployed):
    from ledgerlink import settings

    lam = boto3.client("lambda")
    functions = lam.list_functions()["Functions"]
    ours = [f for f in functions if "POWERTOOLS_SERVICE_NAME" in f.get("Environment", {}).get("Variables", {})]
    services = {f["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: f for f in ours}
    assert set(services) == {"ledgerlink-" + name.replace("_", "-") for name in settings.FUNCTION_SETTINGS}
    for name, cls in settings.FUNCTION_SETTINGS.items():
        function = services["ledgerlink-" + name.replace("_", "-")]
        assert function["Runtime"] == "python3.12" and function["Handler"] == "handler.handler"
        assert settings.all_env(cls) <= set(function["Environment"]["Variables"]), name
    assert boto3.client("lambda").list_layers()["Layers"]   # the core layer version exists
    mappings = {m["EventSourceArn"]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    inbound_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=deployed.outputs["InboundQueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert mappings[inbound_arn]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    stream = boto3.client("dynamodb").describe_table(TableName=deployed.outputs["AuditTableName"])["Table"][
        "LatestStreamArn"]
    assert mappings[stream]["FunctionArn"] == services["ledgerlink-audit-export"]["FunctionArn"]


def test_the_state_machine_runs_the_deployed_task_functions(deployed):
    definition = boto3.client("stepfunctions").describe_state_machine(
        stateMachineArn=deployed.outputs["StateMachineArn"])["definition"]
    (machine,) = [r for r in deployed.template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
                  and r["Properties"].get("StateMachineType", "STANDARD") == "STANDARD"]
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    # moto stores the DefinitionString as given (it does not apply DefinitionSubstitutions): each task's
    # placeholder must name a substitution, and each substitution must resolve to a function moto deployed
    # (a waitForTaskToken task names its function in Parameters.FunctionName instead of Resource)
    tasks = [state["Parameters"]["FunctionName"] if state["Resource"].endswith(".waitForTaskToken")
             else state["Resource"] for state in json.loads(definition)["States"].values() if state["Type"] == "Task"]
    placeholders = {resource[2:-1] for resource in tasks if resource.startswith("${") and resource.endswith("}")}
    assert len(tasks) == len(placeholders) and placeholders == set(substitutions) == set(TASK_FUNCTIONS)
    deployed_names = {f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]}
    for placeholder, value in substitutions.items():
        function, attribute = value["Fn::GetAtt"]
        assert deployed.template["Resources"][function]["Type"] == "AWS::Lambda::Function" and attribute == "Arn"
        assert deployed.physical(function) in deployed_names, placeholder


def test_the_happy_path_is_deployed_as_an_express_machine_beside_the_standard_one(deployed):
    sfn = boto3.client("stepfunctions")
    happy_path = sfn.describe_state_machine(stateMachineArn=deployed.outputs["HappyPathStateMachineArn"])
    assert happy_path["stateMachineArn"] != deployed.outputs["StateMachineArn"]
    # moto's CloudFormation creates every state machine as STANDARD (it drops StateMachineType): the type is
    # checked on the template the deployment was given
    types = sorted(r["Properties"].get("StateMachineType", "STANDARD") for r in deployed.template["Resources"].values()
                   if r["Type"] == "AWS::StepFunctions::StateMachine")
    assert types == ["EXPRESS", "STANDARD"]
    states = json.loads(happy_path["definition"])["States"]
    assert states["Escalate"]["Resource"] == "arn:aws:states:::states:startExecution"
    assert {name for name, state in states.items() if state["Type"] == "Task"} == {
        "EnsureMasterData", "Enrich", "Validate", "Post", "Escalate"}


def test_apis_expose_the_public_webhook_iam_only_ops_routes_and_the_console_proxy(deployed):
    from infra.constructs.ops_api import ROUTES

    apigateway = boto3.client("apigateway")
    apis = {api["name"]: api["id"] for api in apigateway.get_rest_apis()["items"]}
    methods = {}
    for name, api_id in apis.items():
        for resource in apigateway.get_resources(restApiId=api_id)["items"]:
            for verb, method in resource.get("resourceMethods", {}).items():
                methods[(name.rsplit("-", 1)[-1], resource["path"], verb)] = method["authorizationType"]
    assert methods.pop(("webhooks", "/webhooks/{source}", "POST")) == "NONE"
    # the console's handler authenticates every request from its session cookie
    assert methods.pop(("console", "/console", "ANY")) == "NONE"
    assert methods.pop(("console", "/console/{proxy+}", "ANY")) == "NONE"
    assert methods == {("ops", path, verb): "AWS_IAM" for path, verbs in ROUTES.items() for verb in verbs}


# ---- the console's users: the pool, its client and groups exist, and a user signs in as the console will ------

def test_the_console_pool_client_and_groups_are_created_and_named_by_the_outputs_and_the_function(deployed):
    from ledgerlink import settings
    from ledgerlink.console.roles import ROLE_NAMES

    assert sorted(t for _, t in deployed.cognito) == sorted(
        r["Type"] for r in deployed.template["Resources"].values() if r["Type"] in CREATED_THROUGH_COGNITO)
    cognito = boto3.client("cognito-idp")
    pool_id, client_id = deployed.outputs["ConsoleUserPoolId"], deployed.outputs["ConsoleUserPoolClientId"]
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["MfaConfiguration"] == "ON"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert cognito.get_user_pool_mfa_config(UserPoolId=pool_id)["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    assert {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool_id)["Groups"]} == set(ROLE_NAMES)
    client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
    assert "ClientSecret" not in client and "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    environments = [f.get("Environment", {}).get("Variables", {}) for f in boto3.client("lambda").list_functions()[
        "Functions"]]
    (variables,) = [v for v in environments if v.get("POWERTOOLS_SERVICE_NAME") == "ledgerlink-console"]
    assert (variables[settings.CONSOLE_USER_POOL_ID], variables[settings.CONSOLE_CLIENT_ID]) == (pool_id, client_id)
    # the stage is not deployed by moto (its name in the URL is a placeholder); the API and the path are
    (api_id,) = [api["id"] for api in boto3.client("apigateway").get_rest_apis()["items"]
                 if api["name"] == f"{deployed.stack_name.lower()}-console"]
    url = deployed.outputs["ConsoleUrl"]
    assert url.startswith(f"https://{api_id}.execute-api.{REGION}.amazonaws.com/") and url.endswith("/console/")


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _totp(secret: str) -> str:
    """The code an authenticator app shows now; moto checks it against its clock with no window, so never in a
    step's last two seconds."""
    from cryptography.hazmat.primitives.hashes import SHA1
    from cryptography.hazmat.primitives.twofactor.totp import TOTP

    if time.time() % 30 > 28:
        time.sleep(30 - time.time() % 30)
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    return TOTP(key, 6, SHA1(), 30, enforce_key_length=False).generate(time.time()).decode()


def test_an_invited_user_sets_a_password_and_totp_then_signs_in_with_its_roles_in_the_id_token(deployed, monkeypatch):
    # what the console's sign-in form does (InitiateAuth USER_PASSWORD_AUTH, then each challenge), no AWS credentials
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")   # moto checks the codes
    cognito = boto3.client("cognito-idp")
    pool_id, client_id = deployed.outputs["ConsoleUserPoolId"], deployed.outputs["ConsoleUserPoolClientId"]
    cognito.admin_create_user(UserPoolId=pool_id, Username="controller", TemporaryPassword="Temporary-Pass-2026",
                              MessageAction="SUPPRESS", UserAttributes=[
                                  {"Name": "email", "Value": "controller@example.com"},
                                  {"Name": "email_verified", "Value": "true"}])
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="controller", GroupName="approver")
    cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="controller", GroupName="viewer")

    def sign_in(password: str) -> dict[str, Any]:
        return cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": "controller", "PASSWORD": password})

    def answer(name: str, session: str, **responses: str) -> dict[str, Any]:
        return cognito.respond_to_auth_challenge(ClientId=client_id, ChallengeName=name, Session=session,
                                                 ChallengeResponses={"USERNAME": "controller", **responses})

    invited = sign_in("Temporary-Pass-2026")
    assert invited["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(cognito.exceptions.InvalidPasswordException):   # the policy: 14 characters, four classes
        answer("NEW_PASSWORD_REQUIRED", invited["Session"], NEW_PASSWORD="Short-Pass-1")
    setup = answer("NEW_PASSWORD_REQUIRED", invited["Session"], NEW_PASSWORD="Ledger-Controller-2026")
    assert setup["ChallengeName"] == "MFA_SETUP"   # MFA is required: no session before a TOTP app is set up
    secret = cognito.associate_software_token(Session=setup["Session"])["SecretCode"]
    code = _totp(secret)
    with pytest.raises(cognito.exceptions.CodeMismatchException):
        cognito.verify_software_token(Session=setup["Session"], UserCode=f"{(int(code) + 1) % 1_000_000:06d}")
    verified = cognito.verify_software_token(Session=setup["Session"], UserCode=_totp(secret))
    first = answer("MFA_SETUP", verified["Session"])["AuthenticationResult"]

    again = sign_in("Ledger-Controller-2026")
    assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA"   # from now on every sign-in asks for the code
    second = answer("SOFTWARE_TOKEN_MFA", again["Session"],
                    SOFTWARE_TOKEN_MFA_CODE=_totp(secret))["AuthenticationResult"]
    for result in (first, second):
        claims = _claims(result["IdToken"])
        assert claims["aud"] == client_id and claims["token_use"] == "id"
        assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
        assert sorted(claims["cognito:groups"]) == ["approver", "viewer"]
        assert claims["exp"] - claims["iat"] == 3600


def test_operator_roles_exist_with_their_policies(deployed):
    iam = boto3.client("iam")
    for output in ("OpsReaderRoleArn", "ExceptionResolverRoleArn", "ReplayOperatorRoleArn", "MappingAdminRoleArn"):
        role = deployed.outputs[output].rsplit("/", 1)[-1]
        assert iam.list_role_policies(RoleName=role)["PolicyNames"], output
        trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]["Statement"]
        assert [(s["Principal"], s["Condition"]) for s in trust] == [  # the default: this account, with MFA
            ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}})]


def test_the_bank_inbox_rule_watches_the_archive_bucket(deployed):
    (rule,) = boto3.client("events").list_rules()["Rules"]
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["bucket"]["name"] == [deployed.outputs["ArchiveBucketName"]]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "bank-inbox/"}]


def test_secrets_and_schedules_are_not_deployed_by_moto(deployed):
    # listed, not faked: moto's Secrets Manager and Scheduler APIs exist, but its CloudFormation creates neither
    assert boto3.client("secretsmanager").list_secrets()["SecretList"] == []
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []


# ---- the operator's view: the CLI resolves the stack and reads the seeded configuration -----------------------

def test_the_cli_resolves_every_resource_from_the_outputs_and_reads_the_seeded_config(deployed):
    from ledgerlink import settings, wiring
    from ledgerlink.ops import commands
    from ledgerlink.ops.target import OUTPUT_ENV, load_target
    from ledgerlink.store import clients
    from ledgerlink.store.config_store import DynamoConfigStore

    saved = dict(os.environ)
    try:
        target = load_target(stack=deployed.stack_name)
        assert set(target.environment) == set(OUTPUT_ENV.values())
        # the settings the CLI's --stack commands read (ops: exceptions, close-check; reconcile) are all there
        for cls in (settings.OpsSettings, settings.ReconcileSettings):
            assert settings.required_env(cls) <= set(target.environment), cls.__name__
        status = commands.status(target)   # queues, executions, exceptions, last reconciliation: all reachable
        version, config = DynamoConfigStore(target.get(settings.CONFIG_TABLE)).active()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()
        clients.reset()
    assert status["queues"]["inbound-dlq"] == {"visible": 0, "in_flight": 0}
    assert status["running_executions"] == 0 and status["open_exceptions"] == 0
    assert status["happy_path"] == {"running": 0}   # moto lists Express executions; AWS does not (CloudWatch)
    assert version == 1 and config.sources   # the seed's item is the configuration the library loads


# ---- the hardened deployment deploys too ---------------------------------------------------------------------

def test_the_protected_deployment_deploys_and_only_the_waf_adds_to_what_moto_skips(protected_assembly, aws_env):
    with mock_aws(config={"lambda": {"use_docker": False}}):
        protected = _deploy(protected_assembly, PROTECTED_REGION)
    assert protected.status == "CREATE_COMPLETE"
    assert {t for _, t in protected.skipped} == MOTO_HAS_NO_MODEL | WAF_TYPES
