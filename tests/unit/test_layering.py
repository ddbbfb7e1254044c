"""The layers of layers/ledgerlink and what each may import (docs/architecture.md, "Layers").

Read from the source with ``ast`` (nothing is imported), so a lazy import inside a function counts the same as
one at the top of a module: the rule is about what a layer depends on, not about when it loads it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "ledgerlink"

# layer -> the ledgerlink layers it must never import. Everything else inside ledgerlink is allowed.
# The foundation modules (clock, errors, settings) may be imported by every layer.
OUTER = {"service", "ops", "console", "local", "cli", "cli_support", "wiring"}
FORBIDDEN: dict[str, set[str]] = {
    "model": {"config", "store", "pipeline", "connectors.sources", "connectors.erps", "totals"} | OUTER,
    "config": {"store", "pipeline", "connectors.sources", "connectors.erps", "totals"} | OUTER,   # but see DISCOVERY
    "totals": {"config", "store", "pipeline", "connectors.sources", "connectors.erps"} | OUTER,
    "store": {"pipeline", "connectors.sources", "connectors.erps"} | OUTER,
    "pipeline": {"store", "connectors.sources", "connectors.erps"} | OUTER,
    "connectors.sources": {"store", "connectors.erps"} | OUTER,   # normalizers may apply pipeline's pure rules
    "connectors.erps": {"pipeline", "connectors.sources"} | OUTER,
    "service": {"console", "local", "cli", "cli_support", "wiring"},
    "ops": {"console", "local", "cli", "cli_support"},
    "console": {"local", "cli", "cli_support"},   # the web console: pages over service/ and ops/, built by wiring
}

# config/ discovers the connector packages: it may import a package's registry (``connectors.sources``), and each
# kind's configuration model (``<kind>/config.py``) and the shared connection settings — nothing else of them.
DISCOVERY = ("ledgerlink.connectors.sources", "ledgerlink.connectors.erps")
DISCOVERABLE = ("config", "connection", "traits")


def allowed_discovery(mine: str | None, imported: str) -> bool:
    if mine != "config" or not imported.startswith(DISCOVERY):
        return False
    return imported in DISCOVERY or imported.rsplit(".", 1)[-1] in DISCOVERABLE


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "ledgerlink" or len(parts) == 1:
        return None
    if parts[1] == "connectors" and len(parts) > 2:
        return f"connectors.{parts[2]}"
    return parts[1]


def imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(("ledgerlink", *path.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
        mine = layer_of(module)
        for line, imported in imports(path):
            theirs = layer_of(imported)
            if mine in FORBIDDEN and theirs in FORBIDDEN[mine] and not allowed_discovery(mine, imported):
                found.append(f"{path.relative_to(package.parent)}:{line}: {mine} imports {imported}")
    return found


def test_every_layer_imports_only_what_it_may() -> None:
    assert violations(PACKAGE) == []


def test_the_check_sees_a_forbidden_import_even_inside_a_function(tmp_path: Path) -> None:
    package = tmp_path / "ledgerlink"
    (package / "store").mkdir(parents=True)
    (package / "store" / "things.py").write_text(
        "from ledgerlink.model.money import Money\n\n"
        "def load():\n    from ledgerlink.pipeline.summarize import SummaryLine\n    return SummaryLine\n")
    assert violations(package) == [
        "ledgerlink/store/things.py:4: store imports ledgerlink.pipeline.summarize"]


def test_config_discovers_connector_configs_but_imports_no_connector_logic(tmp_path: Path) -> None:
    package = tmp_path / "ledgerlink"
    (package / "config").mkdir(parents=True)
    (package / "config" / "sources.py").write_text(
        "from ledgerlink.connectors.sources import SOURCE_KINDS\n"
        "from ledgerlink.connectors.sources.stripe.config import StripeSource\n"
        "from ledgerlink.connectors.sources.stripe.normalize import normalize\n")
    assert violations(package) == [
        "ledgerlink/config/sources.py:3: config imports ledgerlink.connectors.sources.stripe.normalize"]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_every_layer_in_the_rules_exists(layer: str) -> None:
    path = PACKAGE.joinpath(*layer.split("."))
    assert path.is_dir() or path.with_suffix(".py").is_file(), layer
