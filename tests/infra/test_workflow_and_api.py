"""The two state machines (the very ASL files the local runtime runs) and the webhook API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledgerlink.workflow import (
    ESCALATION_PLACEHOLDER,
    HAPPY_PATH,
    HAPPY_PATH_FUNCTIONS,
    TASK_FUNCTIONS,
    definition_text,
)

from tests.infra.template_queries import function_names, of_type, ref


def machines_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: resource for lid, resource in of_type(template, "AWS::StepFunctions::StateMachine").items()
            if resource["Properties"].get("StateMachineType", "STANDARD") == kind}


@pytest.fixture(scope="module")
def machine(template) -> dict[str, Any]:
    (resource,) = machines_of(template, "STANDARD").values()
    return resource["Properties"]


@pytest.fixture(scope="module")
def happy_path(template) -> dict[str, Any]:
    (resource,) = machines_of(template, "EXPRESS").values()
    return resource["Properties"]


def _definition_with_placeholders(machine: dict[str, Any], placeholder_of: dict[str, str]) -> str:
    """DefinitionString with each substituted function ARN turned back into its ``${Placeholder}``."""
    definition = machine["DefinitionString"]
    if isinstance(definition, dict):  # Fn::Join of text and GetAtt function ARNs
        separator, parts = definition["Fn::Join"]
        definition = separator.join(
            part if isinstance(part, str) else "${" + placeholder_of[ref(part)] + "}" for part in parts)
    return definition


def test_definition_is_the_library_asl_with_each_task_function_substituted(assembly, template, machine):
    names = function_names(template, assembly.assets, assembly.outdir)
    substitutions = machine.get("DefinitionSubstitutions", {})
    # Every placeholder maps to the Lambda built from the folder workflow.TASK_FUNCTIONS names.
    assert {placeholder: ref(value) for placeholder, value in substitutions.items()} == {
        placeholder: names[function] for placeholder, function in TASK_FUNCTIONS.items()}
    placeholder_of = {names[function]: placeholder for placeholder, function in TASK_FUNCTIONS.items()}
    deployed = json.loads(_definition_with_placeholders(machine, placeholder_of))
    assert deployed == json.loads(definition_text())


def test_happy_path_is_its_library_asl_with_four_functions_and_the_standard_workflow_to_escalate_to(
        assembly, template, happy_path):
    names = function_names(template, assembly.assets, assembly.outdir)
    (standard,) = machines_of(template, "STANDARD")
    substitutions = {placeholder: ref(value) for placeholder, value in happy_path["DefinitionSubstitutions"].items()}
    assert substitutions == {**{placeholder: names[function] for placeholder, function in HAPPY_PATH_FUNCTIONS.items()},
                             ESCALATION_PLACEHOLDER: standard}
    placeholder_of = {names[function]: placeholder for placeholder, function in HAPPY_PATH_FUNCTIONS.items()}
    assert json.loads(_definition_with_placeholders(happy_path, placeholder_of)) == json.loads(
        definition_text(HAPPY_PATH))


@pytest.mark.parametrize("kind", ["STANDARD", "EXPRESS"])
def test_both_machines_log_errors_without_execution_data_to_encrypted_groups_and_trace(template, kind):
    (resource,) = machines_of(template, kind).values()
    machine = resource["Properties"]
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ERROR"
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group_arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
    log_group = template["Resources"][ref(log_group_arn)]["Properties"]
    assert ref(log_group["KmsKeyId"]) in of_type(template, "AWS::KMS::Key")
    assert machine["TracingConfiguration"] == {"Enabled": True}


@pytest.fixture(scope="module")
def api(template):
    (rest_api,) = [lid for lid, api in of_type(template, "AWS::ApiGateway::RestApi").items()
                   if api["Properties"]["Name"].endswith("-webhooks")]
    (stage,) = [s for s in of_type(template, "AWS::ApiGateway::Stage").values()
                if ref(s["Properties"]["RestApiId"]) == rest_api]
    return rest_api, stage["Properties"]


def test_post_webhooks_source_is_a_lambda_proxy_to_ingest(assembly, template):
    names = function_names(template, assembly.assets, assembly.outdir)
    resources = of_type(template, "AWS::ApiGateway::Resource")
    paths = {lid: r["Properties"]["PathPart"] for lid, r in resources.items()}
    # the console's API is unauthenticated at API Gateway too: its handler verifies sessions (test_console_infra.py)
    (console,) = [lid for lid, rest_api in of_type(template, "AWS::ApiGateway::RestApi").items()
                  if rest_api["Properties"]["Name"].endswith("-console")]
    webhook_methods = [m for m in of_type(template, "AWS::ApiGateway::Method").values()
                       if m["Properties"]["AuthorizationType"] == "NONE" and ref(m["Properties"]["RestApiId"]) != console]
    (method,) = webhook_methods  # the webhook API's only method; the ops API requires IAM everywhere
    props = method["Properties"]
    assert props["HttpMethod"] == "POST"
    assert paths[ref(props["ResourceId"])] == "{source}"
    parent = resources[ref(props["ResourceId"])]["Properties"]["ParentId"]
    assert paths[ref(parent)] == "webhooks"
    assert props["Integration"]["Type"] == "AWS_PROXY"
    assert names["ingest"] in json.dumps(props["Integration"]["Uri"])
    # Public on purpose: provider signatures authenticate (acknowledged in cdk-nag with that reason).
    assert props["AuthorizationType"] == "NONE"
    assert props["RequestParameters"] == {"method.request.path.source": True}


def test_stage_and_webhook_method_are_throttled(api):
    _, stage = api
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in stage["MethodSettings"]}
    stage_wide = settings[("/*", "*")]
    webhook = settings[("/~1webhooks~1{source}", "POST")]
    for setting in (stage_wide, webhook):
        assert setting["ThrottlingRateLimit"] > 0 and setting["ThrottlingBurstLimit"] > 0
        assert setting.get("DataTraceEnabled") is not True  # never log request bodies
    assert webhook["ThrottlingRateLimit"] <= stage_wide["ThrottlingRateLimit"]


def test_access_logs_go_to_an_encrypted_log_group(template, api):
    _, stage = api
    log_group = template["Resources"][ref(stage["AccessLogSetting"]["DestinationArn"])]["Properties"]
    assert ref(log_group["KmsKeyId"]) in of_type(template, "AWS::KMS::Key")
    assert "$context.requestId" in stage["AccessLogSetting"]["Format"]
    assert stage["TracingEnabled"] is True


def test_only_api_gateway_may_invoke_ingest_and_only_this_route(assembly, template, api):
    rest_api, _ = api
    names = function_names(template, assembly.assets, assembly.outdir)
    permissions = [p["Properties"] for p in of_type(template, "AWS::Lambda::Permission").values()
                   if ref(p["Properties"]["FunctionName"]) == names["ingest"]]
    assert permissions
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        source = ref(permission["SourceArn"])
        assert rest_api in source and source.endswith("/POST/webhooks/*")


# Output names are an interface: the CLI (`--stack`), runbooks and other stacks read them. Renaming or dropping
# one is a breaking change and must show up here. Per-source / per-connection outputs are derived from the config.
STABLE_OUTPUTS = {
    "WebhookUrl", "OpsApiUrl", "ConfigTableName", "InboxTableName", "LedgerTableName", "ExceptionsTableName",
    "TotalsTableName", "LimiterTableName", "AuditTableName", "CursorsTableName", "ArchiveBucketName",
    "BooksBucketName", "BooksUri", "ReportsBucketName", "LegacyFilesBucketName", "LegacyFilesUri", "AuditBucketName",
    "ReconcileFunctionName", "FlushFunctionName", "AlarmTopicArn", "InboundQueueUrl", "InboundDlqUrl",
    "BankInbox", "BankFileDlqUrl", "StateMachineArn", "HappyPathStateMachineArn", "OpsReaderRoleArn", "ExceptionResolverRoleArn",
    "ReplayOperatorRoleArn", "MappingAdminRoleArn", "RevenueTableName", "RevenueReleaseFunctionName",
    "ConsoleUrl", "ConsoleUserPoolId", "ConsoleUserPoolClientId",
}


def _config_outputs() -> set[str]:
    from infra.constructs.secrets import pascal
    from ledgerlink.config import load_config_file
    from ledgerlink.config.sources import api_credentials

    from tests.conftest import EXAMPLE_CONFIG

    config = load_config_file(EXAMPLE_CONFIG)
    return ({f"{pascal(s.id)}SigningSecretName" for s in config.sources if s.signing_secret}
            | {f"{pascal(s.id)}ApiCredentialsName" for s in config.sources if api_credentials(s)}
            | {f"{pascal(c.id)}ErpCredentialsSecretArn" for c in config.erp_connections
               if getattr(c, "credentials", None) is not None})


def test_stable_outputs(template):
    outputs = template["Outputs"]
    cdk_endpoints = {name for name in outputs if name.endswith("Endpoint") or "ApiEndpoint" in name}
    assert set(outputs) - cdk_endpoints == STABLE_OUTPUTS | _config_outputs()
    assert ref(outputs["WebhookUrl"]["Value"]).endswith("/webhooks/")
    assert outputs["StripeSigningSecretName"]["Value"] == "ledgerlink/stripe/webhook-signing-secret"


def test_every_ops_route_requires_iam_and_validates_its_request(template):
    from infra.constructs.ops_api import ROUTES

    methods = [m["Properties"] for m in of_type(template, "AWS::ApiGateway::Method").values()
               if m["Properties"]["AuthorizationType"] != "NONE"]
    assert len(methods) == sum(len(verbs) for verbs in ROUTES.values())
    validators = {lid: v["Properties"] for lid, v in of_type(template, "AWS::ApiGateway::RequestValidator").items()}
    for method in methods:
        assert method["AuthorizationType"] == "AWS_IAM"
        validator = validators[ref(method["RequestValidatorId"])]
        assert validator["ValidateRequestParameters"] and validator["ValidateRequestBody"]
    actions = [m for m in methods if m["HttpMethod"] == "POST" and "RequestModels" in m]
    assert len(actions) == 2  # exception actions and /validate carry a JSON schema model
    models = {m["Properties"]["Name"]: m["Properties"]["Schema"] for m in of_type(template, "AWS::ApiGateway::Model").values()}
    assert models["ExceptionAction"]["additionalProperties"] is False
