"""cdk-nag (AwsSolutions) and cfn-lint over the synthesized template; no Docker anywhere in the assembly."""

from __future__ import annotations

import json

from cfnlint.api import ManualArgs, lint

# The reviewed set of acknowledged rules; adding one means a reviewed change here (and a reason in code).
ACKNOWLEDGED_RULES = {"APIG2", "APIG3", "APIG4", "APIG6", "COG4", "COG8", "IAM5", "L1", "SF1", "SMG4", "SQS3"}
# W3005: CDK puts the role and its default policy in each function's DependsOn; the role is also a GetAtt.
CFN_LINT_IGNORED = ["W3005"]


def _plugin(assembly):
    (plugin,) = [p for p in assembly.report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return plugin


def test_cdk_nag_has_no_unacknowledged_findings(assembly):
    plugin = _plugin(assembly)
    assert plugin["conclusion"] == "success"
    assert plugin["violations"] == []


def test_every_acknowledgement_names_its_rule_and_a_real_reason(assembly):
    acknowledged = _plugin(assembly).get("suppressedViolations", [])
    assert acknowledged
    for finding in acknowledged:
        assert finding["acknowledgedId"] == f"AwsSolutions::{finding['ruleName']}"
        assert len(finding["reason"].split()) >= 12, finding["ruleName"]


def test_only_the_reviewed_rules_are_acknowledged(assembly):
    rules = {f["ruleName"].removeprefix("AwsSolutions-").split("[")[0]
             for f in _plugin(assembly).get("suppressedViolations", [])}
    assert rules == ACKNOWLEDGED_RULES


def test_wildcard_resources_are_acknowledged_only_where_unavoidable(assembly):
    findings = {f["ruleName"] for f in _plugin(assembly).get("suppressedViolations", [])
                if f["ruleName"].startswith("AwsSolutions-IAM5")}
    # X-Ray / log delivery / the console's GetMetricData (no resource-level permissions) and the object prefixes.
    assert "AwsSolutions-IAM5[Resource::*]" in findings
    assert {f.rsplit(">", 1)[-1] for f in findings - {"AwsSolutions-IAM5[Resource::*]"}} == {
        "/raw/*]", "/items/*]", "/books/*]", "/reports/reconciliation/*]", "/fetched/*]", "/bank-inbox/*]", "/legacy/*]",
        "/audit/*]",            # the audit export's locked copies
        "/stream/*]",           # ListStreams on the audit table's streams
        ":*]",                  # executions of the post-document state machine (the ops API's traces)
        # operator roles: ops API routes whose path parameter is the '*'
        "/ops/GET/exceptions/*]", "/ops/GET/documents/*]", "/ops/POST/validate/*]",
        "/ops/POST/exceptions/*/retry]", "/ops/POST/exceptions/*/resolve]", "/ops/POST/exceptions/*/ignore]"}


def test_the_only_queues_without_a_dlq_are_failure_destinations(assembly):
    # SQS3 is acknowledged on the queues that are themselves on-failure destinations: the bank-file function's
    # failed asynchronous invocations and the audit export's failed stream batches
    paths = {construct["constructPath"] for f in _plugin(assembly).get("suppressedViolations", [])
             if f["ruleName"] == "AwsSolutions-SQS3" for construct in f["violatingConstructs"]}
    assert paths == {f"{assembly.stack_name}/BankFiles/FailedDrops/Resource",
                     f"{assembly.stack_name}/AuditTrail/ExportFailures/Resource"}


def test_cfn_lint_finds_nothing(assembly):
    matches = lint(json.dumps(assembly.template),
                   config=ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=CFN_LINT_IGNORED))
    assert [str(match) for match in matches] == []


def test_no_docker_image_assets(assembly):
    assert not assembly.assets.get("dockerImages")
    assert all(asset["source"].get("executable") is None for asset in assembly.assets["files"].values())
