"""Typed errors with machine-readable reason codes.

The class decides the HTTP status (ingest) or the Step Functions path (posting); nothing matches on
message text. Step Functions sees the Python class name as the Lambda ``errorType``, so the names of
``DocumentRejected`` and ``TransientError`` are part of the state machine contract.
"""

from __future__ import annotations

import json
from typing import Any


class LedgerLinkError(Exception):
    """Base error: ``reason`` is a stable snake_case code; ``detail`` is safe to log (no secrets/PII).

    ``detail`` values are ``Any``: each raiser chooses its keywords, and the code that catches the error reads back
    the one it knows (``exc.detail.get("suggested_fix")``) as what that raiser passed."""

    reason: str = "ledgerlink_error"

    def __init__(self, message: str, *, reason: str | None = None, **detail: Any) -> None:
        super().__init__(message)
        if reason:
            self.reason = reason
        self.message = message
        self.detail = detail

    def to_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "message": self.message, **self.detail}


# ---- webhook boundary (ingest) -------------------------------------------------------------------

class RequestRejected(LedgerLinkError):
    """A webhook request that is refused before anything is stored. ``status`` is the HTTP status."""

    status: int = 400
    reason = "bad_request"


class UnknownSource(RequestRejected):
    status = 404
    reason = "unknown_source"


class PayloadTooLarge(RequestRejected):
    status = 413
    reason = "payload_too_large"


class SignatureInvalid(RequestRejected):
    """Missing, malformed, forged or expired signature. ``reason`` says which."""

    status = 401
    reason = "signature_invalid"


class MalformedPayload(RequestRejected):
    status = 400
    reason = "malformed_payload"


class MethodNotAllowed(RequestRejected):
    status = 405
    reason = "method_not_allowed"


# ---- documents and posting -----------------------------------------------------------------------

class DocumentRejected(LedgerLinkError):
    """A business rule says this document cannot be posted as is: it becomes an exception case.

    The message given to Step Functions is the JSON of :meth:`to_dict`, so the exception step can
    recover the reason code without parsing prose.
    """

    reason = "document_rejected"

    def __str__(self) -> str:
        return json.dumps(self.to_dict(), default=str, sort_keys=True)


class MasterDataPending(DocumentRejected):
    """A referenced party is not known yet and policy says wait for its master-data event. The state machine
    retries this (bounded); when it gives up the case opens as ``master_data_missing``."""

    reason = "master_data_missing"


class NormalizationError(DocumentRejected):
    """The source payload is signed and stored but cannot be turned into a canonical document."""

    reason = "normalization_failed"


def connector_defect(kind: str, exc: BaseException) -> NormalizationError:
    """A source connector's unexpected error on a payload, as the case it becomes (D81): its type and the file and
    line where it arose, never its text (which may quote the payload)."""
    import traceback

    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{frame.filename.rsplit('/ledgerlink/', 1)[-1]}:{frame.lineno}"
    return NormalizationError(f"the {kind} connector could not read this event: {type(exc).__name__} at {where}",
                              reason="normalization_failed", error_type=type(exc).__name__, at=where)


def unknown_account(system: str, field: str, account: str, source_id: str) -> NormalizationError:
    """A provider account (Stripe Connect account, Adyen merchant account, Brex company, ...) that the source's
    ``account_entities`` does not map: a case, never a posting to the default entity (unless the source opts in
    with ``unmapped_accounts: default_entity``). Replaying the event once the account is mapped posts it."""
    return NormalizationError(
        f"{system} account {account!r} ({field}) is not in account_entities of source {source_id!r}: map it to its "
        "legal entity (or set unmapped_accounts: default_entity on the source), apply the configuration and retry",
        reason="unknown_account", account=account, field=field, source=source_id,
        suggested_fix=f"add {account!r} to sources[{source_id}].account_entities, apply, then retry this case")


class TransientError(LedgerLinkError):
    """Worth retrying (throttling, 5xx, timeouts). Retried with backoff by the state machine or SQS."""

    reason = "transient"


class RateLimited(TransientError):
    """The ERP connection's limiter (or the ERP itself, 429) says wait ``retry_after`` seconds.

    Its own class so the state machine can back off longer than for other transient errors."""

    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, **detail: Any) -> None:
        super().__init__(message, retry_after=round(retry_after, 3), **detail)
        self.retry_after = retry_after


class UncertainOutcome(TransientError):
    """A write whose result is unknown (timeout, connection reset, 5xx after sending): the connector has
    looked the document up by external id and not found it; the retry looks it up again before posting."""

    reason = "uncertain_outcome"


class PostingInProgress(TransientError):
    """Another invocation of the post step holds the document's lease (it is calling the ERP right now, or it
    crashed and its lease has not run out). Its own class so the state machine waits out a whole lease."""

    reason = "posting_in_progress"


class OpsError(LedgerLinkError):
    """An operator request that cannot be done as asked: ``status`` is the HTTP status of the ops API."""

    status: int = 400
    reason = "bad_request"

    def __init__(self, message: str, *, status: int = 400, reason: str = "bad_request", **detail: Any) -> None:
        super().__init__(message, reason=reason, **detail)
        self.status = status


class ConfigError(LedgerLinkError):
    """The configuration file or the stored configuration is invalid."""

    reason = "config_invalid"


def rejection_from_cause(cause: str | None) -> dict[str, object]:
    """Recover ``{reason, message, ...}`` from a Step Functions ``Cause`` string (Lambda error JSON)."""
    if not cause:
        return {"reason": "unknown", "message": "no error cause recorded"}
    try:
        outer = json.loads(cause)
    except ValueError:
        return {"reason": "unexpected_error", "message": cause[:500]}
    if not isinstance(outer, dict):  # valid JSON but not a Lambda error object ("null", a string ...)
        return {"reason": "unexpected_error", "message": cause[:500]}
    error_type = outer.get("errorType", "")
    message = outer.get("errorMessage", "")
    if error_type in {"DocumentRejected", "NormalizationError", "MasterDataPending"}:
        try:
            inner: object = json.loads(message)
            if isinstance(inner, dict) and "reason" in inner:
                return {str(key): value for key, value in inner.items()}
        except ValueError:
            pass
    if error_type in {"TransientError", "RateLimited", "SourceApiUnavailable"}:
        # a condition worth waiting for (an original still being posted, an ERP outage) outlasted the retries: the
        # message says which; a retry of the case tries again
        return {"reason": "retries_exhausted", "message": f"{error_type}: {message}"[:500], "error_type": error_type}
    return {"reason": "unexpected_error", "message": f"{error_type}: {message}"[:500], "error_type": error_type}
