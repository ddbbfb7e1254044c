"""Contract tier: each ERP connector against a local HTTP server (127.0.0.1) that enforces that ERP's
documented behaviour. Loopback sockets are allowed here (unlike tests/unit); nothing leaves the machine."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from ledgerlink.connectors.erps import ConnectorContext
from ledgerlink.connectors.erps.ratelimit import LimitPolicy, MemoryLimiter

from tests.contract.server import ContractServer, ErpApp, FakeClock, MemorySecrets


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def secrets() -> MemorySecrets:
    return MemorySecrets()


class Limiters:
    """The per-connection limiter on the fake clock (the DynamoDB one is tested in tests/functional)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.built: dict[str, MemoryLimiter] = {}

    def for_connection(self, connection_id: str, policy: LimitPolicy) -> MemoryLimiter:
        if connection_id not in self.built:
            self.built[connection_id] = MemoryLimiter(policy, clock=self.clock.ms, sleeper=self.clock.sleep,
                                                      max_wait_ms=120_000, connection_id=connection_id)
        return self.built[connection_id]


@pytest.fixture
def limiters(clock: FakeClock) -> Limiters:
    return Limiters(clock)


@pytest.fixture
def context(clock: FakeClock, secrets: MemorySecrets, limiters: Limiters) -> ConnectorContext:
    return ConnectorContext(secrets=secrets, limiters=limiters, clock_ms=clock.ms, sleeper=clock.sleep)


@pytest.fixture
def serve() -> Iterator:
    servers: list[ContractServer] = []

    def start(app: ErpApp) -> ContractServer:
        server = ContractServer(app).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def store_json(secrets: MemorySecrets, secret_id: str, **values: str) -> None:
    secrets.values[secret_id] = json.dumps(values)
