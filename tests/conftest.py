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
