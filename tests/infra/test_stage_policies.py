"""Stage and context handling: prod retains and protects state, dev cleans up; context is validated.

Construct-level synths of a bare stack (no layer, no cdk-nag): cheap, so prod needs no second full synth.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from infra.constructs.encryption import EncryptionKey
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions, OptionsError

from tests.conftest import EXAMPLE_CONFIG


def _state_template(prod: bool) -> Template:
    stack = Stack(App(), "Stage")
    key = EncryptionKey(stack, "Encryption", prod=prod).key
    StateTables(stack, "Tables", key=key, prod=prod)
    return Template.from_stack(stack)


def test_prod_tables_are_retained_and_deletion_protected():
    template = _state_template(prod=True)
    template.all_resources("AWS::DynamoDB::Table", {
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
    })
    template.has_resource("AWS::KMS::Key", {"DeletionPolicy": "Retain"})


def test_dev_tables_are_destroyed_with_the_stack():
    template = _state_template(prod=False)
    template.all_resources("AWS::DynamoDB::Table", {
        "DeletionPolicy": "Delete",
        "Properties": Match.object_like({"DeletionProtectionEnabled": False}),
    })


def test_context_defaults_to_dev_arm64_and_the_example_config():
    options = DeploymentOptions.from_mapping({})
    assert (options.stage, options.arch, options.config_path) == ("dev", "arm64", EXAMPLE_CONFIG)
    assert options.stack_name == "LedgerLink-dev"


@pytest.mark.parametrize("context, message", [
    ({"stage": "staging"}, "stage"),
    ({"arch": "aarch64"}, "arch"),
    ({"config": "config/missing.yaml"}, "no such file"),
    ({"waf": "maybe"}, "'waf'"),
    ({"waf_rate_limit": "50"}, "'waf_rate_limit'"),          # WAF's minimum is 100 per window
    ({"archive_retention_days": "0"}, "'archive_retention_days'"),
    ({"audit_retention_days": "seven years"}, "'audit_retention_days'"),
    ({"ops_readers": "FinanceOps"}, "'ops_readers'"),        # not an ARN or account id
    ({"mapping_admins": "arn:aws:iam::123456789012:group/admins"}, "'mapping_admins'"),  # groups cannot assume
    ({"operator_principals": '{"ops_readers": []}'}, "no operator role 'ops_readers'"),  # role names, not keys
    ({"operator_principals": "ops_reader=arn:aws:iam::123456789012:role/Ops"}, "JSON object"),
    ({"operator_principals": ["arn:aws:iam::123456789012:role/Ops"]}, "must map operator roles"),
    ({"operator_principals": {"ops_reader": ["arn:aws:iam::123456789012:user/*"]}}, "'operator_principals.ops_reader'"),
    ({"operator_principals": {"ops_reader": ["arn:aws:iam::*:role/Ops"]}}, "'operator_principals.ops_reader'"),
    ({"operator_principals": {"ops_reader": ["arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*"]}},
     "every role under its path"),
    ({"operator_principals": {"mapping_admin": ["123456789012"]}, "mapping_admins": "123456789012"}, "twice"),
])
def test_invalid_context_is_refused_with_the_key_named(context, message):
    with pytest.raises(OptionsError, match=message):
        DeploymentOptions.from_mapping(context)


def test_seed_timestamp_is_pinned_by_context_or_source_date_epoch(monkeypatch):
    assert DeploymentOptions.from_mapping({"config_applied_at": "x"}).config_applied_at == "x"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert DeploymentOptions.from_mapping({}).config_applied_at == "1970-01-01T00:00:00+00:00"


def test_protection_defaults_follow_the_stage_and_context_overrides_them():
    dev, prod = DeploymentOptions.from_mapping({}), DeploymentOptions.from_mapping({"stage": "prod"})
    assert (dev.protection.archive_retention_days, dev.protection.waf) == (1, False)
    assert (prod.protection.archive_retention_days, prod.protection.audit_retention_days) == (2555, 2555)
    assert prod.protection.waf   # the WAF is on in prod unless turned off
    assert not DeploymentOptions.from_mapping({"stage": "prod", "waf": "false"}).protection.waf
    assert DeploymentOptions.from_mapping({"waf": True}).protection.waf
    chosen = DeploymentOptions.from_mapping({"stage": "prod", "waf": "true", "audit_retention_days": "3653",
                                             "exception_resolvers": "arn:aws:iam::123456789012:role/Ops, 210987654321"})
    assert chosen.protection.waf and chosen.protection.audit_retention_days == 3653
    assert chosen.protection.operators["exception_resolver"] == ("arn:aws:iam::123456789012:role/Ops", "210987654321")
    assert chosen.protection.operators["ops_reader"] == ()   # nobody named: this account, with MFA


SSO_OPS = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_FinanceOps_*"


@pytest.mark.parametrize("mapping", [
    {"ops_reader": [SSO_OPS, "arn:aws:iam::123456789012:user/alice"], "mapping_admin": "123456789012"},  # cdk.json
    json.dumps({"ops_reader": [SSO_OPS, "arn:aws:iam::123456789012:user/alice"],                         # -c (text)
                "mapping_admin": ["123456789012"]}),
])
def test_operator_principals_map_roles_to_principals_from_cdk_json_or_the_command_line(mapping):
    operators = DeploymentOptions.from_mapping({"operator_principals": mapping,
                                                "replay_operators": "arn:aws:iam::123456789012:role/Oncall"}
                                               ).protection.operators
    assert operators == {"ops_reader": (SSO_OPS, "arn:aws:iam::123456789012:user/alice"),
                         "exception_resolver": (),
                         "replay_operator": ("arn:aws:iam::123456789012:role/Oncall",),
                         "mapping_admin": ("123456789012",)}


def test_the_synth_made_no_network_aws_or_git_calls_and_the_stack_is_environment_agnostic(assembly):
    # conftest refuses sockets, AWS API calls and git/aws/docker subprocesses during the synth and records tries
    assert assembly.outside_calls == []
    manifest = json.loads((assembly.outdir / "manifest.json").read_text())
    assert manifest["artifacts"][assembly.stack_name]["environment"] == "aws://unknown-account/unknown-region"
    assert not [key for key in manifest["artifacts"][assembly.stack_name].get("metadata", {})
                if "missing" in key]  # no context lookups waiting for an AWS account
    assert "123456789012" not in json.dumps(assembly.template)  # no account id baked in
