"""The core layer: pinned like the dev lock, built without Docker, the library without its dev-only parts."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from layers import build

from tests.conftest import REPO
from tests.infra.template_queries import of_type


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_layer_requirements_pin_the_same_versions_as_the_lock():
    layer, lock = _pins(REPO / "layers" / "requirements.txt"), _pins(REPO / "requirements.lock")
    assert layer, "layers/requirements.txt pins nothing"
    assert {name: lock.get(name) for name in layer} == layer
    assert not {"boto3", "botocore", "s3transfer"} & set(layer)  # the Lambda runtime provides them


@pytest.fixture(scope="module")
def arm64_layer(assembly) -> build.LayerBuild:  # the synth built (or reused) it already
    return build.ensure_layer("arm64")


def test_layer_is_cached_by_content(arm64_layer):
    again = build.ensure_layer("arm64")  # built=False: the content digest matched, nothing was rebuilt
    assert (again.path, again.built) == (arm64_layer.path, False)
    assert arm64_layer.path.name == f"arm64-{build.digest('arm64')}"
    assert build.digest("arm64") != build.digest("x86_64")


def test_layer_holds_the_library_and_its_dependencies_but_not_dev_parts_or_boto3(arm64_layer):
    python = arm64_layer.path / "python"
    assert sorted(p.name for p in arm64_layer.path.iterdir()) == ["python"]
    assert (python / "ledgerlink" / "__init__.py").is_file()
    assert (python / "ledgerlink" / "workflow" / "post_document.asl.json").is_file()
    assert not (python / "ledgerlink" / "local").exists()
    assert not (python / "ledgerlink" / "cli.py").exists()
    # a source package's local-stack parts (signer, vendor fake) stay on the developer's machine
    assert not list((python / "ledgerlink" / "connectors" / "sources").rglob("fake_api.py"))
    assert not (python / "ledgerlink" / "connectors" / "sources" / "local_stack.py").exists()
    for package in ("pydantic", "pydantic_core", "aws_lambda_powertools"):
        assert (python / package).is_dir(), package
    for package in ("boto3", "botocore"):
        assert not (python / package).exists(), package
    # bytecode ships (Lambda's /opt is read-only): ledgerlink keeps its sources beside hash-based pycs, third-party
    # packages are sourceless pycs (the layer stays under 16 MB)
    ledgerlink_sources = sorted((python / "ledgerlink").rglob("*.py"))
    assert ledgerlink_sources
    for source in ledgerlink_sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert compiled.is_file(), source
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, compiled          # hash-based, not checked against the source at import
    assert not [p for p in python.rglob("*.py") if "ledgerlink" not in p.relative_to(python).parts[:1]]
    assert (python / "pydantic" / "main.pyc").is_file() and (python / "typing_extensions.pyc").is_file()
    extensions = list(python.rglob("*.so"))
    assert extensions and all("aarch64" in p.name for p in extensions)
    # 16 MB: the library itself is 3.3 MB of it (sources + bytecode) since the typed contracts; the rest is
    # pydantic-core, Powertools, pydantic and tzdata. Cold start is measured by make bench, not by this bound.
    assert arm64_layer.size_mb < 16


ELF_MACHINES = {"arm64": 0xB7, "x86_64": 0x3E}   # e_machine of an ELF file: EM_AARCH64, EM_X86_64


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[5] == 1, path   # little-endian ELF
    return int.from_bytes(header[18:20], "little")


@pytest.mark.parametrize("arch", sorted(ELF_MACHINES))
def test_the_layer_builds_without_docker_for_both_architectures(arch):
    # pip --platform manylinux2014_<machine> --only-binary: no Docker (a clean clone downloads the wheels once)
    layer = build.ensure_layer(arch)
    assert layer.path.name == f"{arch}-{build.digest(arch)}"
    extensions = list((layer.path / "python").rglob("*.so"))
    assert extensions, "pydantic-core ships a compiled extension"
    assert {_elf_machine(path) for path in extensions} == {ELF_MACHINES[arch]}


def test_the_layer_imports_from_its_bytecode_and_writes_nothing(tmp_path):
    """The host architecture's layer, read-only like /opt: every module a post-document step imports comes from
    shipped bytecode, and Python writes no cache beside it."""
    arch = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())
    if arch is None:
        pytest.skip(f"no layer for {platform.machine()}")
    python = build.ensure_layer(arch).path / "python"
    copy = tmp_path / "opt" / "python"
    shutil.copytree(python, copy)
    before = sorted(str(p.relative_to(copy)) for p in copy.rglob("*"))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import ledgerlink.service.posting, ledgerlink.store.ledger;"
            "import ledgerlink.pipeline.enrich, ledgerlink.pipeline.validate, ledgerlink.connectors.erps.beancount;"
            "import pydantic, aws_lambda_powertools.logging;"
            "mods = [m for m in list(sys.modules.values()) if (getattr(m, '__file__', None) or '').startswith(sys.argv[1])];"
            "print(len(mods), pydantic.__spec__.origin.endswith('.pyc'), ledgerlink.__file__.endswith('.py'))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}   # bytecode writing stays on
    result = subprocess.run([sys.executable, "-c", code, str(copy)], capture_output=True, text=True, env=env,
                            cwd=tmp_path, check=True)
    assert result.stdout.split() == [result.stdout.split()[0], "True", "True"] and int(result.stdout.split()[0]) > 100
    # Python would have written a __pycache__ file for any module imported without its bytecode
    assert sorted(str(p.relative_to(copy)) for p in copy.rglob("*")) == before   # nothing compiled at import


def test_synthesized_layer_asset_is_that_directory_zipped_by_cdk(assembly, template):
    (layer,) = of_type(template, "AWS::Lambda::LayerVersion").values()
    props = layer["Properties"]
    assert props["CompatibleRuntimes"] == ["python3.12"]
    assert props["CompatibleArchitectures"] == ["arm64"]
    asset = assembly.assets["files"][props["Content"]["S3Key"].removesuffix(".zip")]
    assert asset["source"]["packaging"] == "zip"
    staged = assembly.outdir / asset["source"]["path"]
    assert staged.is_dir()
    assert (staged / "python" / "ledgerlink" / "__init__.py").is_file()
    assert not (staged / "python" / "ledgerlink" / "local").exists()


@pytest.fixture
def fake_library(tmp_path: Path) -> Path:
    library = tmp_path / "ledgerlink"
    for relative in ("__init__.py", "cli.py", "local/runtime.py", "store/tables.py", "store/__pycache__/x.pyc",
                     "workflow/post_document.asl.json"):
        (library / relative).parent.mkdir(parents=True, exist_ok=True)
        (library / relative).write_text(relative)
    return library


def test_library_files_leave_out_dev_only_modules_and_bytecode(fake_library):
    shipped = {p.relative_to(fake_library).as_posix() for p in build.library_files(fake_library)}
    assert shipped == {"__init__.py", "store/tables.py", "workflow/post_document.asl.json"}


def test_digest_follows_shipped_sources_and_requirements_only(fake_library, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pydantic==2.14.3\n")
    before = build.digest("arm64", requirements=requirements, library=fake_library)
    (fake_library / "local" / "runtime.py").write_text("changed, but never shipped")
    assert build.digest("arm64", requirements=requirements, library=fake_library) == before
    (fake_library / "store" / "tables.py").write_text("changed")
    changed = build.digest("arm64", requirements=requirements, library=fake_library)
    assert changed != before
    requirements.write_text("pydantic==2.14.4\n")
    assert build.digest("arm64", requirements=requirements, library=fake_library) != changed


def test_verify_refuses_boto3_and_wheels_for_another_architecture(tmp_path, arm64_layer):
    python = tmp_path / "python"
    shutil.copytree(arm64_layer.path / "python" / "ledgerlink", python / "ledgerlink")
    build._verify("arm64", python)
    (python / "boto3").mkdir()
    with pytest.raises(build.LayerBuildError, match="boto3"):
        build._verify("arm64", python)
    shutil.rmtree(python / "boto3")
    (python / "_core.cpython-312-x86_64-linux-gnu.so").write_bytes(b"")
    with pytest.raises(build.LayerBuildError, match="another architecture"):
        build._verify("arm64", python)
