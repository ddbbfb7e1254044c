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
