"""The finance-ops web console as synthesized: its Cognito user pool, groups and app client, its Lambda (settings and
grants), its REST API, the outputs, and cdk-nag's view of all of it in both deployments (dev, and prod with the WAF).

``tests/infra/test_deploy_moto.py`` deploys the same resources into moto and signs a user in through the pool.
"""

from __future__ import annotations

import json

import pytest

from infra.constructs.console import DLQ_ACTIONS
from ledgerlink import settings
from ledgerlink.console.roles import ROLE_NAMES, Role

from tests.infra.template_queries import (
    function_names,
    function_role,
    grants,
    of_type,
    output_target,
    ref,
    role_statements,
    table_ids,
)
from tests.infra.test_iam import Resources

STANDARD_ACCESS_LOG_FIELDS = {"requestId", "ip", "user", "caller", "requestTime", "httpMethod", "resourcePath",
                              "status", "protocol", "responseLength"}


def _one(template, resource_type):
    ((lid, resource),) = of_type(template, resource_type).items()
    return lid, resource


@pytest.fixture(scope="module")
def console(assembly):
    """Logical ids of the console's parts in the default (dev) deployment."""
    template = assembly.template
    (api,) = [lid for lid, a in of_type(template, "AWS::ApiGateway::RestApi").items()
              if a["Properties"]["Name"] == "ledgerlink-dev-console"]
    (stage,) = [lid for lid, s in of_type(template, "AWS::ApiGateway::Stage").items()
                if ref(s["Properties"]["RestApiId"]) == api]
    function = function_names(template, assembly.assets, assembly.outdir)["console"]
    return {"api": api, "stage": stage, "function": function, "role": function_role(template, function),
            "pool": _one(template, "AWS::Cognito::UserPool")[0],
            "client": _one(template, "AWS::Cognito::UserPoolClient")[0]}


# ---- who may sign in ------------------------------------------------------------------------------------------

def test_one_user_pool_admin_created_users_signing_in_by_username_or_email(template):
    _, pool = _one(template, "AWS::Cognito::UserPool")
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True      # no self sign-up
    assert props["AliasAttributes"] == ["email"] and "UsernameAttributes" not in props
    assert props["UsernameConfiguration"] == {"CaseSensitive": False}
    assert props["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "admin_only", "Priority": 1}]}
    assert {"Name": "email", "Required": True, "Mutable": True} in props["Schema"]
    invitation = props["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"]
    assert "{username}" in invitation and "{####}" in invitation    # Cognito refuses a template without both


def test_strong_passwords_and_totp_mfa_required_for_everyone(template):
    props = _one(template, "AWS::Cognito::UserPool")[1]["Properties"]
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 14
    assert all(policy[rule] is True for rule in ("RequireLowercase", "RequireUppercase", "RequireNumbers",
                                                 "RequireSymbols"))
    assert policy["PasswordHistorySize"] >= 1 and policy["TemporaryPasswordValidityDays"] <= 7
    assert props["MfaConfiguration"] == "ON"
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]          # TOTP: no SMS (cost, SIM swap), no email
    assert props["UserPoolTier"] == "ESSENTIALS"                   # password history needs it; Plus is acknowledged


def test_the_pool_is_deletable_in_dev_and_protected_and_retained_in_prod(template, protected_assembly):
    _, dev = _one(template, "AWS::Cognito::UserPool")
    _, prod = _one(protected_assembly.template, "AWS::Cognito::UserPool")
    assert dev["Properties"]["DeletionProtection"] == "INACTIVE" and dev["DeletionPolicy"] == "Delete"
    assert prod["Properties"]["DeletionProtection"] == "ACTIVE"
    assert prod["DeletionPolicy"] == prod["UpdateReplacePolicy"] == "Retain"


def test_exactly_the_five_role_groups(template, console):
    groups = of_type(template, "AWS::Cognito::UserPoolGroup")
    names = sorted(group["Properties"]["GroupName"] for group in groups.values())
    assert names == sorted(ROLE_NAMES) == sorted(["viewer", "finance_ops", "approver", "ops_admin", "mapping_admin"])
    assert len(Role) == 5
    for group in groups.values():
        assert ref(group["Properties"]["UserPoolId"]) == console["pool"]
        assert group["Properties"]["Description"] and "RoleArn" not in group["Properties"]   # no AWS credentials


def test_the_app_client_has_no_secret_password_and_srp_sign_in_and_one_hour_id_tokens(template, console):
    props = template["Resources"][console["client"]]["Properties"]
    assert ref(props["UserPoolId"]) == console["pool"]
    assert props["GenerateSecret"] is False
    assert set(props["ExplicitAuthFlows"]) == {"ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH",
                                               "ALLOW_REFRESH_TOKEN_AUTH"}
    units = props["TokenValidityUnits"]
    assert (props["IdTokenValidity"], units["IdToken"]) == (60, "minutes")
    assert (props["AccessTokenValidity"], units["AccessToken"]) == (60, "minutes")
    assert units["RefreshToken"] == "minutes" and props["RefreshTokenValidity"] <= 12 * 60
    assert props["PreventUserExistenceErrors"] == "ENABLED"
    assert props["EnableTokenRevocation"] is True
    # the console's own form signs in: no hosted UI, no OAuth redirect to some default callback URL
    assert props["AllowedOAuthFlowsUserPoolClient"] is False
    assert not {"AllowedOAuthFlows", "CallbackURLs", "LogoutURLs"} & set(props)


# ---- the Lambda ----------------------------------------------------------------------------------------------

def test_the_console_function_gets_exactly_its_settings(template, console):
    environment = template["Resources"][console["function"]]["Properties"]["Environment"]["Variables"]
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", settings.STAGE}
    assert set(environment) - powertools == settings.all_env(settings.ConsoleSettings)
    assert environment["POWERTOOLS_SERVICE_NAME"] == "ledgerlink-console"
    assert ref(environment[settings.CONSOLE_USER_POOL_ID]) == console["pool"]
    assert ref(environment[settings.CONSOLE_CLIENT_ID]) == console["client"]
    for variable, output in ((settings.INBOUND_DLQ_URL, "InboundDlqUrl"), (settings.INBOUND_QUEUE_URL,
                             "InboundQueueUrl"), (settings.REPORTS_BUCKET, "ReportsBucketName"),
                             (settings.HAPPY_PATH_STATE_MACHINE_ARN, "HappyPathStateMachineArn"),
                             (settings.STATE_MACHINE_ARN, "StateMachineArn"), (settings.AUDIT_TABLE, "AuditTableName")):
        assert ref(environment[variable]) == output_target(template, output), variable


def test_the_console_role_grants_exactly_what_the_console_calls(assembly, template, console):
    # the expected set, action by action with the code that calls it, is in test_iam.py
    assert grants(template, console["role"]) == Resources(assembly).expected("console")


def test_no_wildcard_action_and_resource_star_only_where_aws_has_no_resource_level_permission(template, console):
    found = grants(template, console["role"])
    assert not [action for action, _, _ in found if "*" in action]
    assert {action for action, resource, _ in found if resource == "*"} == {
        "xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:GetMetricData"}
    assert not [action for action, _, _ in found if action.startswith(("cognito", "iam:", "sts:", "kms:Encrypt"))]


def test_the_redrive_acts_on_the_dlq_and_only_sends_to_the_inbound_queue(template, console):
    found = grants(template, console["role"])
    dlq, queue = output_target(template, "InboundDlqUrl"), output_target(template, "InboundQueueUrl")
    on_queues = {(action, resource) for action, resource, _ in found if action.startswith("sqs:")}
    assert on_queues == {*((action, dlq) for action in DLQ_ACTIONS), ("sqs:SendMessage", queue),
                         ("sqs:GetQueueAttributes", queue)}


def test_the_configuration_is_read_only_and_the_audit_trail_append_only_for_the_console(template, console):
    tables = table_ids(template)
    found = grants(template, console["role"])
    assert {action for action, resource, _ in found if resource == tables["config"]} == {
        "dynamodb:GetItem", "dynamodb:Query"}
    assert {action for action, resource, _ in found if resource == tables["audit"]} == {
        "dynamodb:PutItem", "dynamodb:Query"}


def test_listings_are_limited_to_their_prefix(template, console):
    conditions = {}
    for statement in role_statements(template, console["role"]):
        if statement["Action"] == "s3:ListBucket":
            conditions[ref(statement["Resource"])] = statement.get("Condition")
    assert conditions == {
        output_target(template, "BooksBucketName"): None,     # the close check (like the ops API)
        output_target(template, "ReportsBucketName"): {"StringLike": {"s3:prefix": ["reports/reconciliation/*"]}},
        output_target(template, "ArchiveBucketName"): {"StringLike": {"s3:prefix": ["raw/*"]}},
    }


# ---- the REST API --------------------------------------------------------------------------------------------

def test_the_console_api_is_a_proxy_of_two_methods_without_api_gateway_authorization(template, console):
    resources = {lid: r["Properties"] for lid, r in of_type(template, "AWS::ApiGateway::Resource").items()
                 if ref(r["Properties"]["RestApiId"]) == console["api"]}
    paths = {lid: props["PathPart"] for lid, props in resources.items()}
    methods = [m["Properties"] for m in of_type(template, "AWS::ApiGateway::Method").values()
               if ref(m["Properties"]["RestApiId"]) == console["api"]]
    assert sorted((paths[ref(m["ResourceId"])], m["HttpMethod"]) for m in methods) == [
        ("console", "ANY"), ("{proxy+}", "ANY")]
    (proxy,) = [lid for lid, part in paths.items() if part == "{proxy+}"]
    assert paths[ref(resources[proxy]["ParentId"])] == "console"
    for method in methods:
        assert method["AuthorizationType"] == "NONE"
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert console["function"] in json.dumps(method["Integration"]["Uri"])


def test_only_the_console_and_the_webhook_are_unauthenticated_at_api_gateway(template, console):
    unauthenticated = [m["Properties"] for m in of_type(template, "AWS::ApiGateway::Method").values()
                       if m["Properties"]["AuthorizationType"] == "NONE"]
    others = [m for m in unauthenticated if ref(m["RestApiId"]) != console["api"]]
    assert len(unauthenticated) == 3 and [m["HttpMethod"] for m in others] == ["POST"]   # POST /webhooks/{source}


def test_only_the_console_api_may_invoke_the_console_function(template, console):
    permissions = [p["Properties"] for p in of_type(template, "AWS::Lambda::Permission").values()
                   if ref(p["Properties"]["FunctionName"]) == console["function"]]
    assert len(permissions) == 2    # one per method, no test-invoke permissions
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        source = ref(permission["SourceArn"])
        assert f":{console['api']}/{console['stage']}/*/console" in source


def test_the_stage_is_throttled_traced_and_logs_json_without_bodies_headers_or_cookies(template, console):
    stage = template["Resources"][console["stage"]]["Properties"]
    assert stage["StageName"] == "web" and stage["TracingEnabled"] is True
    (settings_,) = stage["MethodSettings"]
    assert (settings_["ResourcePath"], settings_["HttpMethod"]) == ("/*", "*")
    assert 0 < settings_["ThrottlingRateLimit"] <= settings_["ThrottlingBurstLimit"]
    assert settings_.get("DataTraceEnabled") is not True
    log_format = stage["AccessLogSetting"]["Format"]
    assert set(json.loads(log_format)) == STANDARD_ACCESS_LOG_FIELDS
    for forbidden in ("body", "input", "header", "cookie", "authorization", "token"):
        assert forbidden not in log_format.lower(), forbidden
    log_group = template["Resources"][ref(stage["AccessLogSetting"]["DestinationArn"])]["Properties"]
    assert ref(log_group["KmsKeyId"]) in of_type(template, "AWS::KMS::Key") and log_group["RetentionInDays"]
    api = template["Resources"][console["api"]]["Properties"]
    assert api["EndpointConfiguration"] == {"Types": ["REGIONAL"]} and "BinaryMediaTypes" not in api


def test_the_waf_guards_the_console_stage_in_prod(protected_assembly):
    template = protected_assembly.template
    (stage,) = [lid for lid, s in of_type(template, "AWS::ApiGateway::Stage").items()
                if s["Properties"]["StageName"] == "web"]
    associated = [a for a in of_type(template, "AWS::WAFv2::WebACLAssociation").values()
                  if stage in json.dumps(a["Properties"]["ResourceArn"])]
    assert len(associated) == 1


# ---- outputs -------------------------------------------------------------------------------------------------

def test_outputs_name_the_console_url_the_pool_and_the_client(template, console):
    outputs = template["Outputs"]
    url = ref(outputs["ConsoleUrl"]["Value"])
    assert url.startswith(f"https://{console['api']}.execute-api.") and url.endswith(f"/{console['stage']}/console/")
    assert ref(outputs["ConsoleUserPoolId"]["Value"]) == console["pool"]
    assert ref(outputs["ConsoleUserPoolClientId"]["Value"]) == console["client"]


# ---- cdk-nag -------------------------------------------------------------------------------------------------

def _nag(assembly):
    (plugin,) = [p for p in assembly.report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin


def _console_findings(assembly) -> dict[str, set[str]]:
    """Acknowledged rule → the construct that acknowledged it, for findings on the console's constructs."""
    found: dict[str, set[str]] = {}
    for finding in _nag(assembly)["suppressedViolations"]:
        if any(c["constructPath"].startswith(f"{assembly.stack_name}/Console/") for c in finding["violatingConstructs"]):
            found.setdefault(finding["ruleName"].removeprefix("AwsSolutions-"), set()).add(
                finding["acknowledgedAt"].removeprefix(f"{assembly.stack_name}/"))
    return found


@pytest.mark.parametrize("which", ["assembly", "protected_assembly"])
def test_cdk_nag_passes_with_the_console_and_acknowledges_only_reviewed_rules(request, which):
    assembly = request.getfixturevalue(which)
    plugin = _nag(assembly)
    assert plugin["conclusion"] == "success" and plugin["violations"] == []
    found = _console_findings(assembly)
    rules = {rule.split("[")[0] for rule in found}
    expected = {"APIG2", "APIG4", "APIG6", "COG4", "COG8", "IAM5", "L1"}
    assert rules == (expected | {"APIG3"} if which == "assembly" else expected)   # prod has the WAF
    assert "COG1" not in rules and "COG2" not in rules    # password policy and MFA are satisfied, not acknowledged
    assert found["COG4"] == found["APIG4"] == {"Console/Api"}
    assert found["COG8"] == {"Console/Users"}
    assert found["IAM5[Resource::*]"] == {"Console/Console/Role", "Console/HappyPathMetrics"}


def test_every_console_wildcard_is_a_prefix_or_the_post_document_executions(assembly):
    wildcards = {rule.split("[", 1)[1].rstrip("]") for rule in _console_findings(assembly) if rule.startswith("IAM5[")}
    assert {w.rsplit(">", 1)[-1] for w in wildcards - {"Resource::*"}} == {
        "/raw/*", "/fetched/*", "/books/*", "/reports/reconciliation/*", ":*"}
