"""With a source that can list its events (Stripe api_key), the reconcile role gains exactly what the gap
backfill calls — and without one (the example config, tests/infra/test_iam.py) it has none of it."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import EXAMPLE_CONFIG
from tests.infra.conftest import cdk_context
from tests.infra.template_queries import (
    function_names,
    function_role,
    grants,
    of_type,
    output_target,
    table_ids,
)


@pytest.fixture(scope="module")
def backfill_template(tmp_path_factory):
    from infra.app import build_app

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["sources"][0]["api_key"] = {"secret_id": "ledgerlink/stripe/events-reader"}
    config = tmp_path_factory.mktemp("cfg") / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    outdir = tmp_path_factory.mktemp("synth")
    app, stack = build_app(context=cdk_context(config=str(config)), outdir=str(outdir))
    app.synth()
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    assets = json.loads((outdir / f"{stack.stack_name}.assets.json").read_text())
    return template, assets, outdir


def test_reconcile_may_claim_archive_enqueue_and_read_only_the_api_key(backfill_template):
    template, assets, outdir = backfill_template
    role = function_role(template, function_names(template, assets, outdir)["reconcile"])
    found = grants(template, role)
    tables = table_ids(template)
    archive = output_target(template, "ArchiveBucketName")
    queue = output_target(template, "InboundQueueUrl")
    (api_key,) = [lid for lid, secret in of_type(template, "AWS::SecretsManager::Secret").items()
                  if secret["Properties"]["Name"] == "ledgerlink/stripe/events-reader"]
    expected_backfill = {
        ("dynamodb:PutItem", tables["inbox"], None),
        ("dynamodb:UpdateItem", tables["totals"], None),
        ("s3:PutObject", f"{archive}/raw/*", None),
        ("sqs:SendMessage", queue, None),
        ("secretsmanager:GetSecretValue", api_key, None),
    }
    assert expected_backfill <= found
    secret_reads = {resource for action, resource, _ in found if action == "secretsmanager:GetSecretValue"}
    assert secret_reads == {api_key}  # never the webhook signing secrets
