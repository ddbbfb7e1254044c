"""Object Lock on the evidence buckets, the optional WAF, and cdk-nag's view of both deployments.

``template`` is the default deployment (dev, WAF off); ``protected_assembly`` is prod — the WAF on by default, no
``waf`` in its context — with a ``waf_rate_limit`` and an ``archive_retention_days`` from context
(tests/infra/conftest.py).
"""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from infra.constructs.waf import MANAGED_RULE_GROUPS
from infra.options import DEFAULT_RETENTION_DAYS
from ledgerlink.config import load_config_file
from ledgerlink.connectors.sources import WEBHOOK_KINDS

from tests.conftest import EXAMPLE_CONFIG
from tests.infra.conftest import PROTECTED_CONTEXT
from tests.infra.template_queries import of_type, output_target, ref
from tests.infra.test_compliance import ACKNOWLEDGED_RULES, CFN_LINT_IGNORED

LOCKED = ("ArchiveBucketName", "AuditBucketName")
UNLOCKED = ("BooksBucketName", "ReportsBucketName", "LegacyFilesBucketName")
API_GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024     # REST API request payload (hard limit)
LAMBDA_SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024      # synchronous invocation event (the proxy event carries the body)


def _lock(template, output):
    return template["Resources"][output_target(template, output)]["Properties"].get("ObjectLockConfiguration")


@pytest.mark.parametrize("output", LOCKED)
def test_archive_and_audit_buckets_are_write_once_in_governance_mode(template, output):
    props = template["Resources"][output_target(template, output)]["Properties"]
    assert props["ObjectLockEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert _lock(template, output) == {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {
        "Mode": "GOVERNANCE", "Days": DEFAULT_RETENTION_DAYS["dev"]}}}


@pytest.mark.parametrize("output", UNLOCKED)
def test_working_buckets_are_not_locked(template, output):
    # books and legacy files are written once by design but replaced by tooling; reports are regenerated
    assert _lock(template, output) is None


def test_the_access_log_bucket_is_not_locked(template):
    # S3 cannot deliver server access logs to a bucket with Object Lock
    archive = template["Resources"][output_target(template, "ArchiveBucketName")]["Properties"]
    logs = ref(archive["LoggingConfiguration"]["DestinationBucketName"])
    assert "ObjectLockConfiguration" not in template["Resources"][logs]["Properties"]


def test_retention_comes_from_context_with_a_prod_default(protected_assembly):
    template = protected_assembly.template
    assert _lock(template, "ArchiveBucketName")["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 3650}
    assert _lock(template, "AuditBucketName")["Rule"]["DefaultRetention"] == {
        "Mode": "GOVERNANCE", "Days": DEFAULT_RETENTION_DAYS["prod"]}


def test_no_role_may_bypass_governance_retention_or_change_locks(template, protected_assembly):
    for t in (template, protected_assembly.template):
        for policy in of_type(t, "AWS::IAM::Policy").values():
            text = json.dumps(policy["Properties"]["PolicyDocument"])
            for action in ("s3:BypassGovernanceRetention", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
                           "s3:PutBucketObjectLockConfiguration", "s3:DeleteObjectVersion", "s3:*"):
                assert action not in text, action


# ---- WAF -------------------------------------------------------------------------------------------------

def _nag(assembly):
    (plugin,) = [p for p in assembly.report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin


def test_without_waf_both_apis_acknowledge_apig3_and_no_web_acl_exists(assembly, template):
    assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::WAFv2::")]
    paths = {c["constructPath"].split("/")[1] for f in _nag(assembly)["suppressedViolations"]
             if f["ruleName"] == "AwsSolutions-APIG3" for c in f["violatingConstructs"]}
    assert paths == {"Ingest", "OpsApi", "Console"}


def test_prod_has_the_waf_without_asking_for_it(protected_assembly):
    assert "waf" not in PROTECTED_CONTEXT and PROTECTED_CONTEXT["stage"] == "prod"
    assert len(of_type(protected_assembly.template, "AWS::WAFv2::WebACL")) == 1
    assert len(of_type(protected_assembly.template, "AWS::WAFv2::WebACLAssociation")) == 3


def test_with_waf_apig3_is_satisfied_not_acknowledged(protected_assembly):
    plugin = _nag(protected_assembly)
    assert plugin["conclusion"] == "success" and plugin["violations"] == []
    rules = {f["ruleName"].removeprefix("AwsSolutions-").split("[")[0] for f in plugin["suppressedViolations"]}
    assert rules == ACKNOWLEDGED_RULES - {"APIG3"}


@pytest.fixture(scope="module")
def web_acl(protected_assembly):
    (lid, acl), = of_type(protected_assembly.template, "AWS::WAFv2::WebACL").items()
    return lid, acl["Properties"]


def test_web_acl_runs_managed_rule_groups_and_a_per_ip_rate_limit(web_acl):
    _, acl = web_acl
    assert acl["Scope"] == "REGIONAL" and acl["DefaultAction"] == {"Allow": {}}
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    assert len({rule["Priority"] for rule in acl["Rules"]}) == len(acl["Rules"])
    for group, counted in MANAGED_RULE_GROUPS:
        statement = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"]) == ("AWS", group)
        assert rules[group]["OverrideAction"] == {"None": {}}  # the group's own actions (block) apply ...
        overrides = {o["Name"]: o["ActionToUse"] for o in statement.get("RuleActionOverrides", [])}
        assert overrides == {name: {"Count": {}} for name in counted}  # ... except body rules, which count
        assert all(name.endswith("_BODY") for name in overrides)
    rate = rules["RatePerSourceIp"]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {"Limit": 1200, "AggregateKeyType": "IP",
                                                       "EvaluationWindowSec": 300}  # waf_rate_limit from context


def test_web_acl_guards_every_api_stage(protected_assembly, web_acl):
    template = protected_assembly.template
    lid, _ = web_acl
    stages = set(of_type(template, "AWS::ApiGateway::Stage"))
    associated = set()
    for association in of_type(template, "AWS::WAFv2::WebACLAssociation").values():
        props = association["Properties"]
        assert props["WebACLArn"] == {"Fn::GetAtt": [lid, "Arn"]}
        associated |= {stage for stage in stages if stage in json.dumps(props["ResourceArn"])}
    assert associated == stages and len(stages) == 3   # webhooks, ops and the console


def test_web_acl_logs_to_an_encrypted_group_without_credentials(protected_assembly, web_acl):
    template = protected_assembly.template
    lid, _ = web_acl
    (logging,) = [c["Properties"] for c in of_type(template, "AWS::WAFv2::LoggingConfiguration").values()]
    assert logging["ResourceArn"] == {"Fn::GetAtt": [lid, "Arn"]}
    # WAF delivers only to log groups named aws-waf-logs-*
    ((group_id, group),) = [(gid, g["Properties"]) for gid, g in of_type(template, "AWS::Logs::LogGroup").items()
                            if str(g["Properties"].get("LogGroupName", "")).startswith("aws-waf-logs-")]
    (destination,) = logging["LogDestinationConfigs"]
    assert ref(destination).endswith(f":log-group:{group_id}")
    assert ref(group["KmsKeyId"]) in of_type(template, "AWS::KMS::Key")
    redacted = {field["SingleHeader"]["Name"] for field in logging["RedactedFields"]}
    assert redacted == {"authorization", "x-amz-security-token", "cookie"}   # SigV4; the console's session


def test_cfn_lint_accepts_the_protected_template(protected_assembly):
    matches = lint(json.dumps(protected_assembly.template),
                   config=ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=CFN_LINT_IGNORED))
    assert [str(match) for match in matches] == []


# ---- payload limits ---------------------------------------------------------------------------------------

def test_no_webhook_source_accepts_more_than_api_gateway_and_lambda_can_deliver():
    # API Gateway refuses > 10 MB; the Lambda proxy event (body included) must stay under 6 MB; ingest then
    # answers 413 above the source's max_body_bytes. A larger setting would promise what cannot arrive.
    config = load_config_file(EXAMPLE_CONFIG)
    for source in config.sources:
        if source.kind in WEBHOOK_KINDS:
            assert source.max_body_bytes < LAMBDA_SYNC_PAYLOAD_LIMIT < API_GATEWAY_PAYLOAD_LIMIT, source.id
