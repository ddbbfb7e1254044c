"""Cold start per function: import of ``functions/<name>/handler.py`` plus creating the AWS clients its
first invocation creates, each in a fresh interpreter (median of N), against three baselines measured
in the same run: an empty interpreter, ``import boto3`` plus the same clients (the floor), and a
conventional Powertools handler. Also the deployment sizes: each function asset and the layer.

The library and handlers are byte-compiled first, like the installed dependencies they are compared
with (the children run with PYTHONDONTWRITEBYTECODE, so a fresh clone would otherwise compile every
ledgerlink module in every run). Besides wall time, each figure's CPU time (user + system of the
child) is recorded: on a shared machine it moves far less with the load than wall time does. Each function is
measured a second time as Lambda with active tracing runs it (``traced``: ledgerlink/tracing.py builds its Powertools
Tracer and patches botocore only there); ``traced_cpu_vs_untraced`` is what tracing adds to a cold start.

Import time alone rewards moving an import into the handler, which only moves its cost to the first
invocation. So for the post-document steps and reconciliation the bench also measures the first call:
import + clients + the step run once in process, without the network (the configuration comes from a
stub table holding the stored item and is validated by the model as on AWS; post writes to a
temporary Beancount book). That figure is informational; the targets stay on import + clients."""

from __future__ import annotations

import argparse
import compileall
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.report import REPO, table, verdict, write_section

# The clients each function creates on its first invocation (its store adapters; see ledgerlink/wiring.py).
CLIENTS: dict[str, tuple[str, ...]] = {
    "ingest": ("dynamodb", "secretsmanager", "s3", "sqs"),
    "normalize": ("dynamodb", "s3", "stepfunctions"),
    "enrich": ("dynamodb",),
    "validate": ("dynamodb",),
    "post": ("dynamodb", "s3"),
    "open_exception": ("dynamodb",),
    "reconcile": ("dynamodb", "s3", "events", "secretsmanager", "sqs"),
}
# A first invocation of each step, in process (``data``: the fixture written by ``_first_call_fixture``).
FIRST_CALL_PRELUDE = """
import json, tempfile
data = json.load(open(sys.argv[1]))
class StubTable:
    def get_item(self, TableName, Key, **kwargs):
        return {"Item": {"pk": {"S": "config"}, "sk": {"S": "active"}, "version": {"N": str(data["version"])},
                         "body": {"S": data["config_body"]}}}
from ledgerlink.store.config_store import DynamoConfigStore
store = DynamoConfigStore("config", client=StubTable())
class Ledger:
    def transition(self, *args, **kwargs): return True
    def take_lease(self, *args, **kwargs):
        class Lease: taken = True; item = None
        return Lease()
    def release_lease(self, *args, **kwargs): return True
class Cases:
    def open(self, **kwargs): return "exc-1", True
"""
FIRST_CALL: dict[str, str] = {
    "enrich": "from ledgerlink.service.posting import enrich_step\nenrich_step(data['enrich'], store, None)\n",
    "validate": "from ledgerlink.service.posting import validate_step\nvalidate_step(data['validate'], store)\n",
    "post": ("from ledgerlink.service.posting import beancount_connectors, post_document_step\n"
             "post_document_step(data['post'], ledger=Ledger(), config_store=store,\n"
             "                   connectors=beancount_connectors('file://' + tempfile.mkdtemp()))\n"),
    "open_exception": ("from ledgerlink.service.posting import open_exception_step\n"
                       "open_exception_step(data['open_exception'], Ledger(), Cases())\n"),
    "reconcile": ("from ledgerlink.service.reconcile import reconcile_request\n"
                  "reconcile_request({}, store.active()[1])\n"),
}
ENV = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
       "POWERTOOLS_METRICS_NAMESPACE": "Bench", "PYTHONDONTWRITEBYTECODE": "1"}
ENV.pop("AWS_ENDPOINT_URL", None)
# Tracing is on only in Lambda (ledgerlink/tracing.py): the traced figure runs the same code as Lambda with active
# tracing would (a daemon address; nothing is sent at import), so its cost is visible here too.
TRACED_ENV = {**ENV, "LAMBDA_TASK_ROOT": str(REPO / "functions"), "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}
for _name in ("POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
    TRACED_ENV.pop(_name, None)


def _run_both(code: str, repetitions: int, *args: str, env: dict[str, str] = ENV) -> tuple[float, float]:
    """Median wall time and median CPU time (s) of a fresh interpreter running ``code``."""
    times, cpu = [], []
    for _ in range(repetitions):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *args], check=True, env=env, cwd=REPO,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), statistics.median(cpu)


def _run(code: str, repetitions: int) -> float:
    """Median wall time (s) of a fresh interpreter running ``code``."""
    return _run_both(code, repetitions)[0]


def _compile_sources() -> None:
    for directory in (REPO / "layers" / "ledgerlink", REPO / "functions"):
        compileall.compile_dir(directory, quiet=1)


def _function_code(name: str) -> str:
    clients = ", ".join(repr(c) for c in CLIENTS[name])
    return ("import sys, importlib.util\n"
            f"spec = importlib.util.spec_from_file_location('handler', {str(REPO / 'functions' / name / 'handler.py')!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "from ledgerlink.store import clients\n"
            f"[clients.client(s) for s in ({clients},)]\n")


def _first_call_fixture(path: Path) -> None:
    """The stored example configuration and the state each step receives for a Stripe invoice."""
    import json

    from ledgerlink.config import load_config_file
    from ledgerlink.connectors.sources.base import NormalizeContext
    from ledgerlink.connectors.sources.stripe.normalize import normalize
    from ledgerlink.service.posting import enrich_step, validate_step

    config = load_config_file(REPO / "config" / "ledgerlink.example.yaml")
    event = json.loads((REPO / "events" / "stripe" / "01-invoice.finalized.json").read_text())
    document = normalize(event, NormalizeContext(config=config, source_id="stripe", correlation_id="bench",
                                                 archive_key="raw/stripe/bench")).documents[0]

    class Versions:
        def get(self, version: int) -> Any:
            return config

    def through_json(state: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(state))

    enrich = through_json({"document_id": document.document_id, "correlation_id": "bench", "source_id": "stripe",
                           "archive_key": document.source.archive_key, "config_version": 1,
                           "document": document.model_dump(mode="json")})
    validate = through_json(enrich_step(enrich, Versions()))
    post = through_json(validate_step(validate, Versions()))
    failed = {**post, "error": {"Error": "DocumentRejected", "Cause": json.dumps(
        {"errorType": "DocumentRejected", "errorMessage": json.dumps({"reason": "unmapped_account", "message": "m"})})}}
    path.write_text(json.dumps({
        "version": 1, "config_body": json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":")),
        "enrich": enrich, "validate": validate, "post": post, "open_exception": failed}))


def _floor_code(name: str) -> str:
    clients = ", ".join(repr(c) for c in CLIENTS[name])
    return f"import boto3\n[boto3.client(s) for s in ({clients},)]\n"


def _asset_size(name: str) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in (REPO / "functions" / name).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                bundle.write(path, path.relative_to(REPO / "functions" / name))
    return len(buffer.getvalue())


def _layer_size(arch: str) -> dict[str, Any]:
    from layers.build import ensure_layer

    directory = Path(ensure_layer(arch).path)
    files = [p for p in directory.rglob("*") if p.is_file()]
    unzipped = sum(p.stat().st_size for p in files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in files:
            bundle.write(path, path.relative_to(directory))
    return {"arch": arch, "unzipped_mb": round(unzipped / 1e6, 2), "zipped_mb": round(len(buffer.getvalue()) / 1e6, 2)}


def run(repetitions: int, arch: str) -> dict[str, Any]:
    _compile_sources()
    python = _run("pass", repetitions)
    conventional, conventional_cpu = _run_both(
        "import sys; sys.path.insert(0, 'bench/baselines'); import conventional_handler", repetitions)
    functions: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        fixture = Path(scratch) / "first_call.json"
        _first_call_fixture(fixture)
        first_calls = {name: _run_both(_function_code(name) + FIRST_CALL_PRELUDE + code, repetitions, str(fixture))
                       for name, code in FIRST_CALL.items()}
    for name in CLIENTS:
        measured, measured_cpu = _run_both(_function_code(name), repetitions)
        floor, floor_cpu = _run_both(_floor_code(name), repetitions)
        traced, traced_cpu = _run_both(_function_code(name), repetitions, env=TRACED_ENV)
        functions[name] = {
            "seconds": round(measured, 3), "floor_boto3_clients_seconds": round(floor, 3),
            "vs_floor": round(measured / floor, 2), "vs_conventional": round(measured / conventional, 2),
            "cpu_seconds": round(measured_cpu, 3), "floor_cpu_seconds": round(floor_cpu, 3),
            "cpu_vs_conventional": round(measured_cpu / conventional_cpu, 2),
            "traced_seconds": round(traced, 3), "traced_cpu_seconds": round(traced_cpu, 3),
            "traced_cpu_vs_untraced": round(traced_cpu / measured_cpu, 2),
            "asset_bytes": _asset_size(name),
        }
        if name in first_calls:
            first, first_cpu = first_calls[name]
            functions[name].update(first_call_seconds=round(first, 3), first_call_cpu_seconds=round(first_cpu, 3),
                                   first_call_cpu_vs_conventional=round(first_cpu / conventional_cpu, 2))
    ingest_ok = functions["ingest"]["vs_floor"] <= 1.15
    conventional_ok = all(f["vs_conventional"] <= 0.5 for f in functions.values())
    layer = _layer_size(arch)
    sizes_ok = all(f["asset_bytes"] < 100_000 for f in functions.values()) and layer["unzipped_mb"] < 16
    return {"repetitions": repetitions, "python_pass_seconds": round(python, 3),
            "conventional_powertools_seconds": round(conventional, 3),
            "conventional_powertools_cpu_seconds": round(conventional_cpu, 3), "functions": functions, "layer": layer,
            "targets": {"ingest_vs_floor_max": 1.15, "vs_conventional_max": 0.5, "asset_bytes_max": 100_000,
                        "layer_unzipped_mb_max": 16},
            "target_met": ingest_ok and conventional_ok and sizes_ok}


def format_result(result: dict[str, Any]) -> str:
    rows = [[name, f"{f['seconds']:.3f}", f"{f['floor_boto3_clients_seconds']:.3f}", f"{f['vs_floor']:.2f}x",
             f"{f['vs_conventional']:.2f}x", f"{f['cpu_seconds']:.3f}", f"{f['cpu_vs_conventional']:.2f}x",
             f"{f['first_call_cpu_vs_conventional']:.2f}x" if "first_call_cpu_seconds" in f else "-",
             f"{f['traced_cpu_vs_untraced']:.2f}x",
             f"{f['asset_bytes'] / 1000:.1f} KB"]
            for name, f in result["functions"].items()]
    text = table(f"Cold start (median of {result['repetitions']} fresh interpreters; python -c pass = "
                 f"{result['python_pass_seconds']:.3f} s, conventional Powertools handler = "
                 f"{result['conventional_powertools_seconds']:.3f} s, "
                 f"{result['conventional_powertools_cpu_seconds']:.3f} s CPU)",
                 ["function", "import+clients s", "boto3+clients s", "vs floor", "vs conventional", "CPU s",
                  "CPU vs conventional", "+first call, CPU vs conv.", "traced CPU vs untraced", "asset"], rows)
    layer = result["layer"]
    text += (f"layer ({layer['arch']}): {layer['unzipped_mb']} MB unzipped, {layer['zipped_mb']} MB zipped — "
             f"targets: ingest ≤ 1.15x floor, every function ≤ 0.5x conventional, assets < 100 KB, layer < 16 MB: "
             f"{verdict(result['target_met'])}\n")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.cold_start")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--arch", default="arm64")
    args = parser.parse_args(argv)
    result = run(args.repetitions, args.arch)
    print(format_result(result))
    write_section("cold_start", result)
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
