"""Fuzz tier: hypothesis and schemathesis against the real handlers on moto (in-process, no sockets to AWS).

One stack per module (hypothesis runs many examples against it; state accumulates like a real deployment's
would). ``FUZZ_EXAMPLES`` sets how many cases each property runs (``make fuzz`` raises it); every test
records how many it ran as the ``fuzz_cases`` property, which ``tests/conftest.py`` prints after the run.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from ledgerlink import wiring
from ledgerlink.config.loader import load_config_file
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.local.aws import (
    MOTO_CONFIG,
    Resources,
    apply_config,
    atomic_dynamodb,
    create_resources,
    environment,
    in_process_lambdas,
    store_secrets,
)
from ledgerlink.local.functions import FunctionHost
from ledgerlink.local.secrets import generate

from tests.conftest import EXAMPLE_CONFIG

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))


def json_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (what the properties mutate)."""
    paths = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            paths += json_paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            paths += json_paths(child, (*prefix, index))
    return paths


@dataclass
class FuzzStack:
    resources: Resources
    host: FunctionHost
    config: LedgerLinkConfig
    secrets: dict[str, str]      # source id → the secret its provider signs with (Concur: the private key)


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzStack]:
    root: Path = tmp_path_factory.mktemp("fuzz")
    aws = {"AWS_ACCESS_KEY_ID": "fuzz", "AWS_SECRET_ACCESS_KEY": "fuzz", "AWS_DEFAULT_REGION": "us-east-1",
           "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "LedgerLinkFuzz",
           "POWERTOOLS_LOG_LEVEL": "ERROR"}
    saved_endpoint = os.environ.pop("AWS_ENDPOINT_URL", None)
    config = load_config_file(EXAMPLE_CONFIG)
    secrets = {source.id: generate(source.kind) for source in config.sources if source.signing_secret is not None}
    try:
        with environment(aws), mock_aws(config=MOTO_CONFIG):
            wiring.reset()
            host = FunctionHost(prefix="ll-fuzz", log_stream=io.StringIO())
            with in_process_lambdas(host), atomic_dynamodb():
                resources = create_resources(prefix="ll-fuzz", books_dir=root / "books", host=host)
                with environment(resources.environment()):
                    apply_config(resources, config, applied_by="fuzz")
                    store_secrets(config, {source_id: (secret,) for source_id, secret in secrets.items()})
                    yield FuzzStack(resources, host, config, secrets)
            wiring.reset()
    finally:
        if saved_endpoint is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved_endpoint
