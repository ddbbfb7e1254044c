"""Infra tests: synthesize the CDK app once per test session, in-process, and share the cloud assembly.

The first xdist worker that needs it runs ``App()`` + ``app.synth()`` (cdk-nag included) into a directory
shared by all workers of this run; the others wait on a lock and load the same files, so the session pays
for one synth however the test files are distributed. The layer comes from ``layers.build`` (cached
under build/layer; a clean clone builds it once, which needs PyPI).
"""

from __future__ import annotations

import fcntl
import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CDK_JSON = REPO / "cdk.json"
# Pinned so the synthesized template does not depend on the wall clock.
APPLIED_AT = "2026-01-01T00:00:00+00:00"


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """The context ``cdk synth`` would use (cdk.json), plus overrides."""
    return {**json.loads(CDK_JSON.read_text())["context"], "config_applied_at": APPLIED_AT, **overrides}


@dataclass
class Assembly:
    outdir: Path
    stack_name: str
    template: dict[str, Any]
    report: dict[str, Any]
    assets: dict[str, Any]
    seconds: float
    stack: Any = None            # the Stack object, only in the worker that synthesized
    _template_assertions: Any = field(default=None, repr=False)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def assertions(self) -> Any:
        """``aws_cdk.assertions.Template`` over the synthesized stack."""
        if self._template_assertions is None:
            from aws_cdk.assertions import Template

            self._template_assertions = (Template.from_stack(self.stack) if self.stack is not None
                                         else Template.from_json(self.template))
        return self._template_assertions


def _synthesize(outdir: Path) -> tuple[Any, str]:
    from infra.app import build_app

    app, stack = build_app(context=cdk_context(), outdir=str(outdir))
    app.synth()
    return stack, stack.stack_name


def _load(outdir: Path, state: dict[str, Any], stack: Any = None) -> Assembly:
    name = state["stack_name"]
    return Assembly(
        outdir=outdir, stack_name=name, stack=stack, seconds=state["seconds"],
        template=json.loads((outdir / f"{name}.template.json").read_text()),
        report=json.loads((outdir / "validation-report.json").read_text()),
        assets=json.loads((outdir / f"{name}.assets.json").read_text()),
    )


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Assembly:
    under_xdist = hasattr(request.config, "workerinput")  # workers share the parent of their basetemp
    shared = tmp_path_factory.getbasetemp().parent if under_xdist else tmp_path_factory.getbasetemp()
    root = shared / "infra-synth"
    root.mkdir(exist_ok=True)
    outdir, state_file = root / "cdk.out", root / "state.json"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if state_file.exists():
            state = json.loads(state_file.read_text())
            stack = None
        else:
            started = time.monotonic()
            try:
                stack, name = _synthesize(outdir)
                state = {"stack_name": name, "error": None}
            except Exception as error:  # noqa: BLE001 - reported by every test that needs the assembly
                stack, state = None, {"stack_name": None, "error": f"{error}\n{traceback.format_exc()}"}
            state["seconds"] = round(time.monotonic() - started, 1)
            state_file.write_text(json.dumps(state))
    if state["error"]:
        report = outdir / "validation-report.json"
        details = report.read_text() if report.exists() else ""
        pytest.fail(f"CDK synth failed: {state['error']}\n{details}", pytrace=False)
    return _load(outdir, state, stack)


@pytest.fixture(scope="session")
def template(assembly: Assembly) -> dict[str, Any]:
    return assembly.template
