"""A deployment with API-based ERP connections: one KMS-encrypted secret per connection for its credentials,
readable *and writable* (rotated OAuth refresh tokens) by exactly the post and flush functions, nothing else.

Synthesizes a second stack from ``tests/infra/configs/erp-connections.yaml`` (the example plus a NetSuite,
QuickBooks Online, Xero and Business Central connection)."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import cdk_context
from tests.infra.template_queries import function_names, function_role, grants, of_type, ref

CONFIG = "tests/infra/configs/erp-connections.yaml"
SECRET_NAMES = {"ledgerlink/erp/netsuite-prod", "ledgerlink/erp/qbo-us", "ledgerlink/erp/xero-uk",
                "ledgerlink/erp/bc-de"}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("erp-synth")
    app, stack = build_app(context=cdk_context(config=CONFIG), outdir=str(outdir))
    app.synth()
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    assets = json.loads((outdir / f"{stack.stack_name}.assets.json").read_text())
    report = json.loads((outdir / "validation-report.json").read_text())
    return template, assets, outdir, report


def erp_secrets(template) -> dict[str, str]:
    return {secret["Properties"]["Name"]: lid for lid, secret in of_type(template, "AWS::SecretsManager::Secret").items()
            if secret["Properties"]["Name"] in SECRET_NAMES}


def test_one_encrypted_placeholder_secret_per_api_connection(synthesized):
    template, *_ = synthesized
    secrets = erp_secrets(template)
    assert set(secrets) == SECRET_NAMES
    for lid in secrets.values():
        props = template["Resources"][lid]["Properties"]
        assert ref(props["KmsKeyId"]) in of_type(template, "AWS::KMS::Key")
        assert "GenerateSecretString" in props and "SecretString" not in props


def test_only_the_erp_callers_may_read_and_rotate_erp_credentials(synthesized):
    template, assets, outdir, _ = synthesized
    secrets = set(erp_secrets(template).values())
    functions = function_names(template, assets, outdir)
    for name, lid in functions.items():
        found = {(action, resource) for action, resource, _ in grants(template, function_role(template, lid))
                 if resource in secrets}
        # ensure_party; the release posts journals; reconcile reads API ERPs back (a listing may rotate the token)
        if name in ("master_data", "post", "flush", "revenue_release", "reconcile"):
            assert found == {(action, secret) for secret in secrets
                             for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue")}, name
            via = {(action, service) for action, _, service in grants(template, function_role(template, lid))
                   if action.startswith("kms:") and service == "secretsmanager"}
            assert via == {("kms:Decrypt", "secretsmanager"), ("kms:GenerateDataKey", "secretsmanager")}, name
        else:
            assert found == set(), name


def test_cdk_nag_stays_clean_with_the_erp_secrets_acknowledged(synthesized):
    *_, report = synthesized
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    assert plugin["violations"] == []
    smg4 = [f for f in plugin["suppressedViolations"] if f["ruleName"] == "AwsSolutions-SMG4"]
    assert len(smg4) >= len(SECRET_NAMES) and all("refresh token" in f["reason"] for f in smg4
                                                  if "ERP" in f["reason"])
