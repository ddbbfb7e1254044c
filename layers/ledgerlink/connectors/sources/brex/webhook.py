"""Brex webhooks — the Standard Webhooks scheme (stdlib only: ingest hot path).

Headers ``webhook-id``, ``webhook-timestamp`` (unix seconds), ``webhook-signature`` (space-separated
``v1,<base64>`` values); signed content ``"{id}.{timestamp}.{raw body}"``; HMAC-SHA256 keyed with the base64
decoding of the secret after its ``whsec_`` prefix. Brex keeps two secrets live during a rotation: any ``v1``
value matching any configured secret is accepted. Timestamps outside the tolerance (past or future) are
refused. The Svix spelling of the headers (``svix-id`` ...) is accepted too.

Brex sends one event per request; its ``webhook-id`` is the event id (stable across retries).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from ledgerlink.connectors.sources.webhooks import SignedRequest, WebhookEvent, load_json_object
from ledgerlink.errors import MalformedPayload, SignatureInvalid

PREFIXES = ("webhook-", "svix-")


def _key(secret: str) -> bytes:
    raw = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid("the configured Standard Webhooks secret is not whsec_<base64>",
                               reason="signature_unverifiable") from None


def sign(body: bytes, secret: str, msg_id: str, timestamp: int) -> str:
    """One ``v1,<base64>`` value, as the sender computes it."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest()).decode()


def signature_headers(body: bytes, secret: str, msg_id: str, timestamp: int) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(body, secret, msg_id, timestamp)}


def _headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    for prefix in PREFIXES:
        values = tuple(headers.get(prefix + name) for name in ("id", "timestamp", "signature"))
        if any(values):
            if not all(values):
                raise SignatureInvalid(f"{prefix}id, {prefix}timestamp and {prefix}signature are all required",
                                       reason="signature_missing")
            return values  # type: ignore[return-value]
    raise SignatureInvalid("missing webhook-id / webhook-timestamp / webhook-signature headers",
                           reason="signature_missing")


def verify(body: bytes, headers: Mapping[str, str], secrets: Sequence[str], tolerance_seconds: int,
           now: float) -> str:
    """Raise :class:`SignatureInvalid` unless authentic and fresh; return the message id."""
    msg_id, raw_timestamp, header = _headers(headers)
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise SignatureInvalid("webhook-timestamp is not an integer", reason="signature_malformed") from None
    if not secrets:
        raise SignatureInvalid("no signing secret configured for this source", reason="signature_unverifiable")
    candidates = [part.split(",", 1)[1] for part in header.split() if part.startswith("v1,")]
    if not candidates:
        raise SignatureInvalid("webhook-signature has no v1 value", reason="signature_malformed")
    content = f"{msg_id}.{timestamp}.".encode() + body
    matched = False
    for secret in secrets:
        expected = base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest())
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureInvalid("no webhook-signature v1 value matches a signing secret", reason="signature_mismatch")
    if timestamp < now - tolerance_seconds:
        raise SignatureInvalid("webhook-timestamp is outside the tolerance", reason="signature_expired",
                               tolerance_seconds=tolerance_seconds)
    if timestamp > now + tolerance_seconds:
        raise SignatureInvalid("webhook-timestamp is in the future", reason="signature_from_future",
                               tolerance_seconds=tolerance_seconds)
    return msg_id


def parse(body: bytes, msg_id: str) -> WebhookEvent:
    payload = load_json_object(body)
    event_type = payload.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedPayload("Brex event has no event_type", reason="missing_event_type")
    if not msg_id or len(msg_id) > 255:
        raise MalformedPayload("Brex event has no valid webhook-id", reason="missing_event_id")
    return WebhookEvent(event_id=msg_id, event_type=event_type, created=None, payload=payload)


# ---- the common webhook-module contract (see connectors/sources/webhooks.py) ----------------------

def verify_request(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    verify(request.body, request.headers, secrets, tolerance_seconds, now)


def parse_request(request: SignedRequest) -> list[WebhookEvent]:
    """The event id is the ``webhook-id`` header (the body has none): ingest prefers this to parse_events."""
    msg_id, _, _ = _headers(request.headers)
    return [parse(request.body, msg_id)]


def parse_events(body: bytes) -> list[WebhookEvent]:
    raise MalformedPayload("a Brex event id travels in the webhook-id header, not the body",
                           reason="missing_event_id")


# ---- the webhook contract's optional parts (connectors/sources/webhooks.py) ----
# the raw body is the event (sent to normalize as it came)
BODY_IS_EVENT = True
# the provider takes the JSON answer as it is (no scheme-specific acknowledgement)
acknowledge = None
