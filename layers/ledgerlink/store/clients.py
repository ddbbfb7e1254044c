"""Lazily created, process-wide AWS clients (never at import time: cold start and testability).

Clients come from one botocore session, not from boto3: importing boto3 costs ≈0.07 s more at cold
start (``boto3.compat`` pulls in s3transfer) and the adapters only use low-level clients. The session
itself is created on the first client (moto registers its handlers on sessions created after it is
imported) and forgotten by ``reset()``, so a changed environment is read again.

Endpoint and credentials come from the standard AWS environment (``AWS_ENDPOINT_URL`` points every
client at moto in the local runtime and tests). Adapters accept ``client=`` to inject fakes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_clients: dict[str, Any] = {}   # boto3 clients by service name (boto3 ships no types)
_session: Any = None


def _config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=20,
                  tcp_keepalive=True)


def client(service: str) -> Any:
    cached = _clients.get(service)
    if cached is not None:
        return cached
    global _session
    with _lock:
        if service not in _clients:
            if _session is None:
                import botocore.session

                _session = botocore.session.get_session()
            _clients[service] = _session.create_client(service, config=_config())
        return _clients[service]


def reset() -> None:
    """Forget cached clients and the session (tests and the local runtime call this when the endpoint changes)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return None if code is None else str(code)


def conditional(write: Callable[..., Any], /, **request: Any) -> bool:
    """One conditional DynamoDB write: True when it was made, False when its condition did not hold."""
    try:
        write(**request)
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


THROTTLING_CODES = frozenset({
    "ThrottlingException", "Throttling", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "TooManyRequestsException", "SlowDown", "RequestThrottled", "InternalServerError", "ServiceUnavailable",
    "InternalFailure", "TransactionConflictException",
})


def retryable(exc: BaseException) -> bool:
    """Whether another attempt can succeed: a storage, network or throttling error (and LedgerLink's own
    ``TransientError``, a status that kept changing under a concurrent writer). Anything else fails the same way on
    every attempt and must become a case on the first one, never a message that loops to the DLQ (issue 18)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from ledgerlink.errors import TransientError
    from ledgerlink.store.ledger import DocumentStateError

    if isinstance(exc, TransientError | DocumentStateError | BotoCoreError | OSError | TimeoutError):
        return True
    if getattr(exc, "retryable", False) is True:   # declared so (a simulated Lambda crash: SQS delivers it again)
        return True
    if isinstance(exc, ClientError):
        status = (exc.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
        return error_code(exc) in THROTTLING_CODES or int(status) >= 500 or error_code(exc) in (
            "ConditionalCheckFailedException", "TransactionCanceledException")
    return False
