"""Lazily created, process-wide boto3 clients (never at import time: cold start and testability).

Endpoint and credentials come from the standard AWS environment (``AWS_ENDPOINT_URL`` points every
client at moto in the local runtime and tests). Adapters accept ``client=`` to inject fakes.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    cached = _clients.get(service)
    if cached is not None:
        return cached
    with _lock:
        if service not in _clients:
            import boto3
            from botocore.config import Config

            _clients[service] = boto3.client(
                service,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 3},
                    connect_timeout=3,
                    read_timeout=20,
                    tcp_keepalive=True,
                ),
            )
        return _clients[service]


def reset() -> None:
    """Forget cached clients (tests and the local runtime call this when the endpoint changes)."""
    with _lock:
        _clients.clear()


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "TooManyRequestsException", "SlowDown", "RequestThrottled", "InternalServerError", "ServiceUnavailable",
    "InternalFailure", "TransactionConflictException",
})
