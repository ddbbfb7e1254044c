"""Docker-free build of the core Lambda layer (``python -m layers.build --arch arm64|x86_64``).

The layer is ``build/layer/<arch>-<digest>/python/``: the pinned runtime dependencies from
``layers/requirements.txt`` installed with ``pip --platform manylinux2014_<machine> --only-binary=:all:``
(wheels for the Lambda platform, whatever machine builds it), plus the ``ledgerlink`` package without
its dev-only parts (``local/``, ``cli.py``, ``cli_support/``), with bytecode compiled for Python 3.12 (``_compile``: Lambda's
``/opt`` is read-only, so what is not shipped compiled is compiled on every cold start). boto3/botocore are not shipped: the Lambda runtime has them
(see docs/decisions.md).

The digest covers everything that decides the layer's content (requirements, library sources, arch,
Python version, this file's layout rules), so repeated synths reuse the directory and the CDK asset
hash is the digest itself. Builds are safe to run concurrently (a lock per digest, atomic rename), so
``pytest -n 2`` and ``cdk synth`` can ask for the same layer at the same time in a clean clone.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "layers" / "ledgerlink"
REQUIREMENTS = ROOT / "layers" / "requirements.txt"
BUILD_ROOT = ROOT / "build" / "layer"

PYTHON_VERSION = "3.12"
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
# Marker in the file name of compiled extensions (pydantic-core) that proves the wheel's architecture.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
# Bump when the rules below change: the digest must change with the layer's content.
LAYOUT_VERSION = "2"
DEV_ONLY = frozenset({"local", "cli.py", "cli_support"})   # top level of the ledgerlink package
# what a source package keeps for the local stack only (its signer and new secrets, its vendor fake), and their base
LOCAL_ONLY_SOURCE_MODULES = frozenset({"local.py", "fake_api.py", "local_stack.py"})
PRUNED_DIRS = frozenset({"__pycache__", "tests", "test", "bin"})
PRUNED_SUFFIXES = (".pyc", ".pyo")
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
KEEP_BUILDS = 3                                      # per architecture


class LayerBuildError(RuntimeError):
    """The layer could not be built (pip failed, wrong wheels, or a runtime-provided package slipped in)."""


@dataclass(frozen=True, slots=True)
class LayerBuild:
    arch: str
    digest: str
    path: Path          # the asset directory; contains python/
    size_bytes: int
    built: bool         # False when an existing build was reused

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1_000_000


def _check_arch(arch: str) -> None:
    if arch not in PLATFORMS:
        raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(sorted(PLATFORMS))}")


def _ignored(name: str) -> bool:
    return name in PRUNED_DIRS or name.endswith(PRUNED_SUFFIXES)


def library_files(library: Path = LIBRARY) -> Iterator[Path]:
    """The library files that ship, in a stable order (dev-only parts and bytecode excluded)."""
    for path in sorted(library.rglob("*")):
        relative = path.relative_to(library)
        if relative.parts[0] in DEV_ONLY or any(_ignored(part) for part in relative.parts):
            continue
        if relative.parts[:2] == ("connectors", "sources") and relative.name in LOCAL_ONLY_SOURCE_MODULES:
            continue
        if path.is_file():
            yield path


def digest(arch: str, *, requirements: Path = REQUIREMENTS, library: Path = LIBRARY) -> str:
    _check_arch(arch)
    sha = hashlib.sha256()
    for part in (LAYOUT_VERSION, arch, PLATFORMS[arch], PYTHON_VERSION):
        sha.update(part.encode() + b"\0")
    sha.update(requirements.read_bytes() + b"\0")
    for path in library_files(library):
        sha.update(path.relative_to(library).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:16]


def tree_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink())


def _pip_install(arch: str, target: Path, requirements: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--no-compile", "--only-binary=:all:", "--platform", PLATFORMS[arch], "--python-version", PYTHON_VERSION,
        "--implementation", "cp", "--target", str(target), "-r", str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LayerBuildError(
            f"pip could not install {requirements.name} for {PLATFORMS[arch]} (needs PyPI or a warm pip cache):\n"
            f"{tail}")


def _prune(root: Path) -> None:
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if _ignored(path.name) and path.exists():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def _copy_library(library: Path, destination: Path) -> None:
    for source in library_files(library):
        target = destination / source.relative_to(library)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _compile(python_dir: Path) -> None:
    """Ship bytecode: ``/opt`` is read-only on Lambda, so without it every cold start compiles every module it
    imports (≈0.4 s of CPU for a post-document step here). ``ledgerlink`` keeps its sources (tracebacks show
    our lines) beside ``__pycache__`` files; third-party packages ship as sourceless ``.pyc`` so the layer stays
    under 16 MB. Hash-based, unchecked pycs: the runtime never stats a source or rewrites a file."""
    if sys.version_info[:2] != tuple(int(part) for part in PYTHON_VERSION.split(".")):
        raise LayerBuildError(f"bytecode must be compiled by Python {PYTHON_VERSION} (the Lambda runtime), "
                              f"not {sys.version_info.major}.{sys.version_info.minor}")
    unchecked = py_compile.PycInvalidationMode.UNCHECKED_HASH
    ok = compileall.compile_dir(python_dir / "ledgerlink", ddir="/opt/python/ledgerlink", quiet=2,
                                invalidation_mode=unchecked)
    for entry in sorted(python_dir.iterdir()):
        if entry.name == "ledgerlink" or entry.name.endswith(".dist-info"):
            continue
        if entry.is_dir():
            ok &= compileall.compile_dir(entry, ddir=f"/opt/python/{entry.name}", quiet=2, legacy=True,
                                         invalidation_mode=unchecked)
        elif entry.suffix == ".py":
            ok &= compileall.compile_file(entry, ddir="/opt/python", quiet=2, legacy=True,
                                          invalidation_mode=unchecked)
    if not ok:
        raise LayerBuildError("a module in the layer does not compile")
    for source in python_dir.rglob("*.py"):
        if source.parts[len(python_dir.parts)] != "ledgerlink" and source.with_suffix(".pyc").is_file():
            source.unlink()


def _verify(arch: str, python_dir: Path) -> None:
    problems = []
    if not (python_dir / "ledgerlink" / "__init__.py").is_file():
        problems.append("python/ledgerlink is missing")
    for name in DEV_ONLY:
        if (python_dir / "ledgerlink" / name).exists():
            problems.append(f"dev-only ledgerlink/{name} was copied")
    for name in RUNTIME_PROVIDED:
        if (python_dir / name).exists():
            problems.append(f"{name} is in the layer; the Lambda runtime provides it (check layers/requirements.txt)")
    extensions = [p.name for p in python_dir.rglob("*.so")]
    wrong = [name for name in extensions if MACHINES[arch] not in name]
    if wrong:
        problems.append(f"extensions for another architecture: {', '.join(sorted(wrong))}")
    if problems:
        raise LayerBuildError("layer build is wrong: " + "; ".join(problems))


def _remove_old_builds(build_root: Path, arch: str, keep: Path) -> None:
    builds = sorted((p for p in build_root.glob(f"{arch}-*") if p.is_dir() and p != keep),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[KEEP_BUILDS - 1:]:
        shutil.rmtree(old, ignore_errors=True)
        old.with_suffix(".json").unlink(missing_ok=True)


def ensure_layer(arch: str = "arm64", *, build_root: Path = BUILD_ROOT, force: bool = False,
                 requirements: Path = REQUIREMENTS, library: Path = LIBRARY) -> LayerBuild:
    """The layer directory for ``arch``, built first if this content has not been built before."""
    key = digest(arch, requirements=requirements, library=library)
    final = build_root / f"{arch}-{key}"
    build_root.mkdir(parents=True, exist_ok=True)
    with (build_root / f".{arch}-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent build of the same digest waits, then reuses it
        if final.is_dir() and not force:
            return LayerBuild(arch, key, final, tree_size(final), built=False)
        staging = build_root / f".tmp-{arch}-{key}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        python_dir = staging / "python"
        started = time.monotonic()
        try:
            _pip_install(arch, python_dir, requirements)
            _copy_library(library, python_dir / "ledgerlink")
            _prune(python_dir)
            _verify(arch, python_dir)
            _compile(python_dir)
            if final.exists():
                shutil.rmtree(final)
            staging.rename(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        size = tree_size(final)
        packages = sorted(p.name.removesuffix(".dist-info") for p in (final / "python").glob("*.dist-info"))
        final.with_suffix(".json").write_text(json.dumps({
            "arch": arch, "digest": key, "platform": PLATFORMS[arch], "python": PYTHON_VERSION,
            "size_bytes": size, "packages": packages, "seconds": round(time.monotonic() - started, 1),
        }, indent=2) + "\n")
    _remove_old_builds(build_root, arch, keep=final)
    return LayerBuild(arch, key, final, size, built=True)


def layer_dir(arch: str = "arm64") -> Path:
    """What the CDK app calls: the asset directory (containing ``python/``), built if missing."""
    return ensure_layer(arch).path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m layers.build", description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--force", action="store_true", help="rebuild even if this digest was built before")
    args = parser.parse_args(argv)
    try:
        build = ensure_layer(args.arch, force=args.force)
    except LayerBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    state = "built" if build.built else "cached"
    print(f"layer {build.arch}-{build.digest} ({state}): {build.size_mb:.1f} MB unzipped")
    print(f"  {build.path.relative_to(ROOT) if build.path.is_relative_to(ROOT) else build.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
