"""Stage and context handling: prod retains and protects state, dev cleans up; context is validated.

Construct-level synths of a bare stack (no layer, no cdk-nag): cheap, so prod needs no second full synth.
"""

from __future__ import annotations

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
])
def test_invalid_context_is_refused_with_the_key_named(context, message):
    with pytest.raises(OptionsError, match=message):
        DeploymentOptions.from_mapping(context)


def test_seed_timestamp_is_pinned_by_context_or_source_date_epoch(monkeypatch):
    assert DeploymentOptions.from_mapping({"config_applied_at": "x"}).config_applied_at == "x"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert DeploymentOptions.from_mapping({}).config_applied_at == "1970-01-01T00:00:00+00:00"
