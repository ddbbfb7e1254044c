"""Paddle Billing webhooks (stdlib only: ingest hot path).

Scheme (Paddle developer docs, "Verify webhook signatures"): the ``Paddle-Signature`` header is
``ts=<unix seconds>;h1=<hex>``; ``h1`` is the HMAC-SHA256 of ``<ts>:<raw body>`` keyed with the notification
destination's secret key. During a secret rotation Paddle sends one ``h1`` per live key, and two secrets may be
configured here. ``ts`` is signed, so the replay window is enforced on it: older than ``tolerance_seconds`` is
``signature_expired``, more than 5 minutes ahead ``signature_from_future``.

Every delivery is one event ``{event_id, event_type, occurred_at, notification_id, data}``; ``event_id`` is stable
across Paddle's retries (the inbox dedupes on it).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from ledgerlink.connectors.sources.webhooks import (
    SignedRequest,
    WebhookEvent,
    identified_event,
    load_json_object,
)
from ledgerlink.errors import SignatureInvalid

SIGNATURE_HEADER = "paddle-signature"
FUTURE_SKEW_SECONDS = 300
_HEX = frozenset("0123456789abcdef")


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``h1`` value Paddle computes for ``body`` sent at ``timestamp``."""
    return hmac.new(secret.encode("utf-8"), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    return {"Paddle-Signature": f"ts={timestamp};h1={sign(body, secret, timestamp)}"}


def _parse_header(header: str) -> tuple[int, list[str]]:
    """``ts=...;h1=...[;h1=...]`` → (ts, [h1, ...]); SignatureInvalid(``signature_malformed``) otherwise."""
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "ts" and value.isdigit():
            timestamp = int(value)
        elif key == "h1" and len(value) == 64 and set(value) <= _HEX:
            digests.append(value)
    if timestamp is None or not digests:
        raise SignatureInvalid("Paddle-Signature is not ts=<unix>;h1=<hex HMAC>", reason="signature_malformed")
    return timestamp, digests


def verify(body: bytes, header: str | None, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    if not header:
        raise SignatureInvalid("missing Paddle-Signature header", reason="signature_missing")
    timestamp, digests = _parse_header(header)
    if not secrets:
        raise SignatureInvalid("no signing secret configured for this source", reason="signature_unverifiable")
    expected = [sign(body, secret, timestamp).encode() for secret in secrets]
    if not any(hmac.compare_digest(mine, theirs.encode()) for mine in expected for theirs in digests):
        raise SignatureInvalid("Paddle-Signature does not match a signing secret", reason="signature_mismatch")
    if timestamp < now - tolerance_seconds:
        raise SignatureInvalid("Paddle-Signature ts is outside the replay window", reason="signature_expired",
                               tolerance_seconds=tolerance_seconds)
    if timestamp > now + FUTURE_SKEW_SECONDS:
        raise SignatureInvalid("Paddle-Signature ts is in the future", reason="signature_from_future")


def parse(body: bytes) -> WebhookEvent:
    payload = load_json_object(body)
    return identified_event(payload, "Paddle", id_key="event_id", type_key="event_type", created_key="occurred_at")


# ---- the common webhook-module contract (see connectors/sources/webhooks.py) ----------------------

def verify_request(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    verify(request.body, request.headers.get(SIGNATURE_HEADER), secrets, tolerance_seconds, now)


def parse_events(body: bytes) -> list[WebhookEvent]:
    return [parse(body)]


# ---- the webhook contract's optional parts (connectors/sources/webhooks.py) ----
# the raw body is the event (sent to normalize as it came)
BODY_IS_EVENT = True
# the event id is in the body, not in a header: parse_events reads it (no whole-request parser)
parse_request = None
# the provider takes the JSON answer as it is (no scheme-specific acknowledgement)
acknowledge = None
