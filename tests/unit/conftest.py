"""Unit tests: no network. Any socket use fails the test (the tier is defined by cost)."""

from __future__ import annotations

import socket

import pytest


class _NoNetwork(socket.socket):
    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        raise RuntimeError("unit tests must not open sockets; use tests/functional for moto-backed tests")


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _NoNetwork)
