"""Infra tests: synthesize the CDK app once per test session, in-process, and share the cloud assembly.

The first xdist worker that needs it runs ``App()`` + ``app.synth()`` (cdk-nag included) into a directory
shared by all workers of this run; the others wait on a lock and load the same files, so the session pays
for one synth however the test files are distributed. The layer comes from ``layers.build`` (cached
under build/layer; a clean clone builds it once, which needs PyPI) and is built *before* the synth: the synth
itself runs with network sockets, AWS API calls and git/aws/docker subprocesses refused, and records any attempt.

``assembly`` is the default deployment (cdk.json: dev, WAF off); ``protected_assembly`` is the second and last
full synth of the session: prod (the WAF on by default), operator principals and a retention from context.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import socket
import subprocess
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CDK_JSON = REPO / "cdk.json"
# Pinned so the synthesized template does not depend on the wall clock.
APPLIED_AT = "2026-01-01T00:00:00+00:00"
# The second synth: what a hardened production deployment passes on the command line. No ``waf``: prod turns the
# WAF on by default. Operator principals: a mapping (``-c operator_principals='{...}'`` passes it as JSON text)
# naming a role, an IAM user and an IAM Identity Center permission set by pattern, plus a per-role key naming an
# account; the mapping admin is left unconfigured (this account, MFA required).
PROTECTED_CONTEXT = {
    "stage": "prod", "waf_rate_limit": "1200", "archive_retention_days": "3650",
    "operator_principals": json.dumps({
        "ops_reader": ["arn:aws:iam::111122223333:role/FinanceOps", "arn:aws:iam::111122223333:user/auditor"],
        "exception_resolver": [
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_FinanceOps_*"],
    }),
    "replay_operators": "111122223333",
}
REFUSED_COMMANDS = {"git", "aws", "docker", "npx", "cdk"}


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
    outside_calls: list[str] = field(default_factory=list)   # network / AWS / git attempts during the synth
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


@contextlib.contextmanager
def _no_outside_calls(attempts: list[str]) -> Iterator[None]:
    """Refuse (and record) network connections, AWS API calls and git/aws/docker subprocesses."""
    import botocore.client

    real_connect, real_popen_init = socket.socket.connect, subprocess.Popen.__init__
    real_api_call = botocore.client.BaseClient._make_api_call

    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(f"network connection to {address!r}")
            raise OSError("the CDK synth must not open network connections")
        return real_connect(sock, address)

    def popen_init(process: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> None:
        argv = [args] if isinstance(args, str | bytes) else list(args)
        command = Path(str(argv[0]).split()[0]).name if argv else ""
        if command in REFUSED_COMMANDS:
            attempts.append(f"subprocess {argv!r}")
            raise OSError(f"the CDK synth must not run {command}")
        real_popen_init(process, args, *rest, **kwargs)

    def api_call(client: Any, operation: str, params: Any) -> Any:
        attempts.append(f"AWS API call {operation}")
        raise RuntimeError("the CDK synth must not call AWS")

    socket.socket.connect = connect  # type: ignore[method-assign]
    subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]
    botocore.client.BaseClient._make_api_call = api_call  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        subprocess.Popen.__init__ = real_popen_init  # type: ignore[method-assign]
        botocore.client.BaseClient._make_api_call = real_api_call  # type: ignore[method-assign]


def _synthesize(outdir: Path, context: dict[str, Any], attempts: list[str]) -> tuple[Any, str]:
    from infra.app import build_app
    from layers.build import ensure_layer

    ensure_layer(context.get("arch", "arm64"))  # may need PyPI on a clean clone: before the guard
    with _no_outside_calls(attempts):
        app, stack = build_app(context=context, outdir=str(outdir))
        app.synth()
    return stack, stack.stack_name


def _load(outdir: Path, state: dict[str, Any], stack: Any = None) -> Assembly:
    name = state["stack_name"]
    return Assembly(
        outdir=outdir, stack_name=name, stack=stack, seconds=state["seconds"], outside_calls=state["outside_calls"],
        template=json.loads((outdir / f"{name}.template.json").read_text()),
        report=json.loads((outdir / "validation-report.json").read_text()),
        assets=json.loads((outdir / f"{name}.assets.json").read_text()),
    )


def _shared_assembly(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, name: str,
                     context: dict[str, Any]) -> Assembly:
    under_xdist = hasattr(request.config, "workerinput")  # workers share the parent of their basetemp
    shared = tmp_path_factory.getbasetemp().parent if under_xdist else tmp_path_factory.getbasetemp()
    root = shared / name
    root.mkdir(exist_ok=True)
    outdir, state_file = root / "cdk.out", root / "state.json"
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if state_file.exists():
            state = json.loads(state_file.read_text())
            stack = None
        else:
            started = time.monotonic()
            attempts: list[str] = []
            try:
                stack, stack_name = _synthesize(outdir, context, attempts)
                state = {"stack_name": stack_name, "error": None}
            except Exception as error:  # noqa: BLE001 - reported by every test that needs the assembly
                stack, state = None, {"stack_name": None, "error": f"{error}\n{traceback.format_exc()}"}
            state["seconds"] = round(time.monotonic() - started, 1)
            state["outside_calls"] = attempts
            state_file.write_text(json.dumps(state))
    if state["error"]:
        report = outdir / "validation-report.json"
        details = report.read_text() if report.exists() else ""
        pytest.fail(f"CDK synth failed: {state['error']}\n{details}", pytrace=False)
    return _load(outdir, state, stack)


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Assembly:
    return _shared_assembly(tmp_path_factory, request, "infra-synth", cdk_context())


@pytest.fixture(scope="session")
def protected_assembly(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Assembly:
    return _shared_assembly(tmp_path_factory, request, "infra-synth-protected", cdk_context(**PROTECTED_CONTEXT))


@pytest.fixture(scope="session")
def template(assembly: Assembly) -> dict[str, Any]:
    return assembly.template
