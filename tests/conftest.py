"""Shared fixtures: paths to the repo, the samples in events/ and the vendors' contract files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "tests" / "contracts"
EVENTS = REPO / "events"
EXAMPLE_CONFIG = REPO / "config" / "ledgerlink.example.yaml"


def contract_json(relative: str) -> Any:
    return json.loads((CONTRACTS / relative).read_text())


def event_json(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text())


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def example_config():
    from ledgerlink.config import load_config_file

    return load_config_file(EXAMPLE_CONFIG)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many cases each fuzz property ran (``fuzz_cases`` properties; they travel with xdist reports)."""
    lines = [value for reports in terminalreporter.stats.values() for report in reports
             for name, value in getattr(report, "user_properties", ()) if name == "fuzz_cases"
             and getattr(report, "when", "call") == "call"]
    if lines:
        terminalreporter.section("fuzz cases")
        for line in sorted(lines):
            terminalreporter.write_line(line)


WHOLE_SUITE_COUNT = pytest.StashKey[int]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember how many tests a whole-suite run collected (``make test``: no paths, no -k/-m selection), for the
    README's test count check; a partial run leaves it unset."""
    config = session.config
    whole = all(Path(arg).resolve() == REPO / "tests" for arg in config.args) if config.args else True
    if whole and not config.getoption("keyword") and not config.getoption("markexpr") \
            and not config.getoption("deselect", None):
        config.stash[WHOLE_SUITE_COUNT] = len(session.items)
