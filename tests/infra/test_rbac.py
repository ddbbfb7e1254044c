"""RBAC for people: four operator roles, each with exactly what its job needs (written from the CLI and the
ops API's code, not from the infra code), assumable by the principals the deployment names — IAM users and
account roots only with MFA — and by default only by MFA-authenticated principals of the account.
"""

from __future__ import annotations

import fnmatch
import json
import re

import pytest
from aws_cdk import App, Stack

from infra.constructs.operator_roles import trust_groups
from infra.constructs.ops_api import ROUTES

from tests.infra.template_queries import grants, of_type, output_target, ref, role_statements, table_ids

OUTPUTS = {"ops_reader": "OpsReaderRoleArn", "exception_resolver": "ExceptionResolverRoleArn",
           "replay_operator": "ReplayOperatorRoleArn", "mapping_admin": "MappingAdminRoleArn"}
DYNAMODB_KEY = ("kms:Decrypt", "kms:DescribeKey")


def _ops_api(template) -> str:
    (api,) = [lid for lid, a in of_type(template, "AWS::ApiGateway::RestApi").items()
              if a["Properties"]["Name"].endswith("-ops")]
    return api


def _route(template, method: str, path: str) -> tuple[str, str, None]:
    return ("execute-api:Invoke",
            f"arn:AWS::Partition:execute-api:AWS::Region:AWS::AccountId:{_ops_api(template)}/ops/{method}{path}", None)


@pytest.fixture(scope="module")
def roles(template) -> dict[str, str]:
    return {job: output_target(template, output) for job, output in OUTPUTS.items()}


def expected(template, job: str) -> set[tuple[str, str, str | None]]:
    t = table_ids(template)
    key = next(iter(of_type(template, "AWS::KMS::Key")))
    archive = output_target(template, "ArchiveBucketName")
    queue, dlq = output_target(template, "InboundQueueUrl"), output_target(template, "InboundDlqUrl")
    reads = {_route(template, "GET", "/exceptions"), _route(template, "GET", "/exceptions/*"),   # list, show
             _route(template, "GET", "/documents/*")}                                            # trace
    return {
        "ops_reader": reads | {_route(template, "POST", "/validate/*"),    # enrich + validate, posts nothing
                               _route(template, "GET", "/close-check"),   # the month-end tie-outs, read only
                               _route(template, "GET", "/backlog")},      # the backlog forecast, read only
        "exception_resolver": reads | {_route(template, "POST", f"/exceptions/*/{action}")
                                       for action in ("retry", "resolve", "ignore")},
        "replay_operator": {
            ("cloudformation:DescribeStacks", "AWS::StackId", None),   # --stack: resource names from the outputs
            # dlq redrive (StartMessageMoveTask from the console or the CLI) and dlq list/show (peek)
            *{(action, dlq, None) for action in (
                "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:CancelMessageMoveTask",
                "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes",
                "sqs:ListDeadLetterSourceQueues")},
            ("sqs:SendMessage", queue, None), ("sqs:GetQueueAttributes", queue, None),   # move target; replay sends
            ("sqs:ListQueues", "*", None),                                               # the console's queue list
            ("dynamodb:GetItem", t["config"], None),      # Replayer: the active configuration (source kinds)
            ("dynamodb:GetItem", t["ledger"], None),      # ... the document (replay --document)
            ("dynamodb:GetItem", t["inbox"], None),       # ... its event's claim
            ("s3:GetObject", f"{archive}/raw/*", None),   # ... the archived body
            ("s3:ListBucket", archive, None),             # ... replay --from/--to lists raw/<source>/<day>/
            ("dynamodb:PutItem", t["audit"], None),       # every redrive and replay audited
            *{(action, key, "dynamodb") for action in DYNAMODB_KEY},
            ("kms:Decrypt", key, "s3"),
            ("kms:Decrypt", key, "sqs"), ("kms:GenerateDataKey", key, "sqs"),
        },
        "mapping_admin": {
            ("dynamodb:GetItem", t["config"], None),      # config apply: the active version
            ("dynamodb:PutItem", t["config"], None),      # ... the new version and `active` (conditional puts)
            ("dynamodb:Query", t["config"], None),        # config history: every version record
            ("dynamodb:PutItem", t["audit"], None),
            *{(action, key, "dynamodb") for action in DYNAMODB_KEY},
        },
    }[job]


@pytest.mark.parametrize("job", sorted(OUTPUTS))
def test_each_operator_role_has_exactly_its_jobs_permissions(template, roles, job):
    assert grants(template, roles[job]) == expected(template, job)


def test_roles_are_separate(roles):
    assert len(set(roles.values())) == len(roles)


def test_replay_lists_only_the_raw_prefix(template, roles):
    (statement,) = [s for s in role_statements(template, roles["replay_operator"]) if s["Action"] == "s3:ListBucket"]
    assert statement["Condition"] == {"StringLike": {"s3:prefix": ["raw/*"]}}


def _requests(path: str) -> list[str]:
    """Concrete request paths for a route: ids become "x", the exception action each of the handler's actions."""
    concrete = re.sub(r"\{(?!action)[^}]+\}", "x", path)
    return [concrete.replace("{action}", action) for action in ("retry", "resolve", "ignore")] \
        if "{action}" in concrete else [concrete]


def _may_call(template, role: str, method: str, request: str) -> bool:
    return any(action == "execute-api:Invoke"
               and fnmatch.fnmatchcase(f"/ops/{method}{request}", "/ops/" + resource.split("/ops/", 1)[1])
               for action, resource, _ in grants(template, role) if "/ops/" in resource)


def test_every_ops_route_is_reachable_by_some_role_and_changes_only_by_the_resolver(template, roles):
    for path, methods in ROUTES.items():
        for method in methods:
            for request in _requests(path):
                callers = {job for job, role in roles.items() if _may_call(template, role, method, request)}
                assert callers, (method, request)
                if method == "POST" and request.startswith("/exceptions/"):
                    assert callers == {"exception_resolver"}, (method, request)
    assert not _may_call(template, roles["ops_reader"], "POST", "/exceptions/x/resolve")
    assert not _may_call(template, roles["exception_resolver"], "POST", "/validate/invoice")
    assert not _may_call(template, roles["exception_resolver"], "POST", "/exceptions/x/delete")  # not a route


MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
THIS_ACCOUNT = "arn:AWS::Partition:iam::AWS::AccountId:root"
SSO_FINANCE_OPS = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_FinanceOps_*"


def _trust(template, role: str) -> list[tuple[list[str], dict]]:
    """(principals, condition) per statement of the role's trust policy."""
    found = []
    for statement in template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        assert (statement["Effect"], statement["Action"], set(statement["Principal"])) == (
            "Allow", "sts:AssumeRole", {"AWS"})  # people (IAM principals), never a service
        principals = statement["Principal"]["AWS"]
        found.append((sorted(ref(p) for p in (principals if isinstance(principals, list) else [principals])),
                      statement.get("Condition", {})))
    return found


def test_by_default_only_mfa_authenticated_principals_of_this_account_may_assume(template, roles):
    for job, role in roles.items():
        assert _trust(template, role) == [([THIS_ACCOUNT], MFA)], job


def test_principals_named_in_context_and_only_they_may_assume(protected_assembly):
    template = protected_assembly.template
    roles = {job: output_target(template, output) for job, output in OUTPUTS.items()}
    # a role without condition (an SSO session never carries MFA); an IAM user only with MFA
    assert _trust(template, roles["ops_reader"]) == [
        (["arn:aws:iam::111122223333:role/FinanceOps"], {}),
        (["arn:aws:iam::111122223333:user/auditor"], MFA)]
    # a permission set by pattern: its account, narrowed to roles so named (any generated suffix)
    assert _trust(template, roles["exception_resolver"]) == [
        (["arn:aws:iam::111122223333:root"], {"ArnLike": {"aws:PrincipalArn": [SSO_FINANCE_OPS]}})]
    # an account id: that account's principals, with MFA
    assert _trust(template, roles["replay_operator"]) == [(["arn:AWS::Partition:iam::111122223333:root"], MFA)]
    # not named: the default (prod warns at synth)
    assert _trust(template, roles["mapping_admin"]) == [([THIS_ACCOUNT], MFA)]


def _root_trusts(template):
    for lid, resource in of_type(template, "AWS::IAM::Role").items():
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            principals = statement.get("Principal", {}).get("AWS", [])
            for principal in principals if isinstance(principals, list) else [principals]:
                if ref(principal).endswith(":root"):
                    yield lid, statement


def test_no_role_trusts_an_account_root_without_mfa_or_a_named_role(template, protected_assembly):
    seen = 0
    for t in (template, protected_assembly.template):
        for lid, statement in _root_trusts(t):
            seen += 1
            condition = statement.get("Condition", {})
            if condition == MFA:
                continue
            # otherwise only roles whose ARN matches a pattern that names the account and the role
            assert set(condition) == {"ArnLike"} and set(condition["ArnLike"]) == {"aws:PrincipalArn"}, lid
            for pattern in condition["ArnLike"]["aws:PrincipalArn"]:
                assert re.fullmatch(r"arn:aws:iam::\d{12}:role/.*[^*/]+\*?", pattern), (lid, pattern)
                assert pattern.split(":")[4] == ref(statement["Principal"]["AWS"]).split(":")[4], lid
    assert seen >= 4 + 2  # every default role, and the configured account / pattern


def test_prod_warns_at_synth_about_a_role_nobody_was_named_for(protected_assembly):
    artifact = json.loads((protected_assembly.outdir / "manifest.json").read_text())["artifacts"][
        protected_assembly.stack_name]
    metadata = artifact.get("metadata") or json.loads(
        (protected_assembly.outdir / artifact["additionalMetadataFile"]).read_text())
    warned = {path.split("/")[3] for path, entries in metadata.items()
              for entry in entries if entry["type"] == "aws:cdk:warning" and "operator_principals" in entry["data"]}
    assert warned == {"MappingAdmin"}


@pytest.mark.parametrize("configured, expected", [
    ((), [([THIS_ACCOUNT], MFA)]),
    (("arn:aws:iam::111122223333:role/A", "arn:aws:iam::111122223333:role/B"),
     [(["arn:aws:iam::111122223333:role/A", "arn:aws:iam::111122223333:role/B"], {})]),
    (("arn:aws:iam::111122223333:user/u", "arn:aws:iam::444455556666:root", "444455556666"),
     [(["arn:aws:iam::111122223333:user/u", "arn:aws:iam::444455556666:root",
        "arn:AWS::Partition:iam::444455556666:root"], MFA)]),
    ((SSO_FINANCE_OPS, "arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_*"),
     [(["arn:aws:iam::111122223333:root"], {"ArnLike": {"aws:PrincipalArn": [SSO_FINANCE_OPS]}}),
      (["arn:aws:iam::444455556666:root"], {"ArnLike": {"aws:PrincipalArn": [
          "arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_*"]}})]),
])
def test_trust_groups_one_statement_per_kind_of_principal(configured, expected):
    stack = Stack(App(), "Trust")
    rendered = [(sorted(ref(v) for v in stack.resolve(arns)), conditions)
                for arns, conditions in trust_groups(configured)]
    assert rendered == [(sorted(arns), conditions) for arns, conditions in expected]
