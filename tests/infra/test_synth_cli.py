"""The same app through the pinned CDK CLI (``npx --no-install cdk synth``), and the summary ``make synth`` prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra import summary

from tests.conftest import REPO


def test_summary_lists_resources_outputs_assets_and_acknowledged_findings(assembly, capsys):
    assert summary.main([str(assembly.outdir)]) == 0
    text = capsys.readouterr().out
    assert "AWS::StepFunctions::StateMachine" in text
    assert "WebhookUrl" in text and "CoreLayer/Layer" in text
    assert "cdk-nag AwsSolutions: success, 0 unacknowledged" in text
    assert "AwsSolutions-IAM5[Resource::*]" in text
    # what protects the data, as deployed by default (dev: WAF off, one-day locks, roles for this account's MFA users)
    assert "Object Lock  ArchiveBucketName            governance, 1 day default retention" in text
    assert "Object Lock  AuditBucketName              governance, 1 day default retention" in text
    assert "append-only  AuditTableName" in text and "UpdateItem" in text
    assert "WAF          off" in text
    for role in ("OpsReader", "ExceptionResolver", "ReplayOperator", "MappingAdmin"):
        assert f"role         {role:28s} assumable by this account (with MFA)\n" in text
    assert ("users        ConsoleUserPoolId            admin-created users only, MFA ON (SOFTWARE_TOKEN_MFA), "
            "passwords of 14+ characters, recovery admin_only\n") in text


def test_summary_of_a_protected_deployment(protected_assembly, capsys):
    assert summary.main([str(protected_assembly.outdir)]) == 0
    text = capsys.readouterr().out
    assert "Object Lock  ArchiveBucketName            governance, 3650 days default retention" in text
    assert "WAF          on, 3 API stage(s):" in text and "1200 req/IP/5 min" in text
    assert ("assumable by arn:aws:iam::111122223333:role/FinanceOps; arn:aws:iam::111122223333:user/auditor "
            "(with MFA)\n") in text
    assert "ExceptionResolver            assumable by arn:aws:iam::111122223333:role/aws-reserved/" in text
    assert "AwsSolutions-APIG3" not in text


@pytest.mark.slow
def test_pinned_cdk_cli_synthesizes_the_app(tmp_path: Path):
    if not (REPO / "node_modules" / ".bin" / "cdk").exists() or shutil.which("npx") is None:
        pytest.fail("the pinned CDK CLI is not installed: run make node")
    outdir = tmp_path / "cdk.out"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--quiet", "--output", str(outdir), "-c", "config_applied_at=pinned"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert "LedgerLink-dev" in manifest["artifacts"]
    report = json.loads((outdir / "validation-report.json").read_text())
    assert [p["conclusion"] for p in report["pluginReports"]] == ["success"]
