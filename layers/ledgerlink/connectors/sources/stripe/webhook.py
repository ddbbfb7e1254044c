"""Stripe webhook verification and envelope parsing (stdlib only: this is on the ingest hot path).

Scheme (Stripe's own libraries): header ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...]``;
signed string ``"{t}.{raw body}"``; HMAC-SHA256 keyed with the whole ``whsec_...`` string as UTF-8;
accept when any ``v1`` matches any live secret (rotation), ignore other schemes; reject timestamps
outside the tolerance (300 s by default) — too old *or* too far in the future.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from ledgerlink.connectors.sources.webhooks import SignedRequest, WebhookEvent, load_json_object
from ledgerlink.errors import MalformedPayload, SignatureInvalid

SIGNATURE_HEADER = "stripe-signature"


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureInvalid("Stripe-Signature timestamp is not an integer",
                                       reason="signature_malformed") from None
        elif key == "v1":
            signatures.append(value.strip().lower())
    if timestamp is None:
        raise SignatureInvalid("Stripe-Signature has no timestamp (t=)", reason="signature_malformed")
    if not signatures:
        raise SignatureInvalid("Stripe-Signature has no v1 signature", reason="signature_malformed")
    return timestamp, signatures


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``v1`` value Stripe would send (used by the demo, the tests and ``ledgerlink local sign``)."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    return {"Stripe-Signature": f"t={timestamp},v1={sign(body, secret, timestamp)}"}


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    tolerance_seconds: int,
    now: float,
) -> int:
    """Raise :class:`SignatureInvalid` unless a ``v1`` signature matches; return the signed timestamp.

    ``headers`` must have lower-case names. The signature is checked before the timestamp so that a
    forged request is reported as forged, not as expired.
    """
    header = headers.get(SIGNATURE_HEADER)
    if not header:
        raise SignatureInvalid("missing Stripe-Signature header", reason="signature_missing")
    timestamp, candidates = _parse_header(header)
    if not secrets:
        raise SignatureInvalid("no signing secret configured for this source", reason="signature_unverifiable")
    matched = False
    for secret in secrets:
        expected = sign(body, secret, timestamp)
        # compare against every candidate without short-circuiting on the first mismatch; as bytes,
        # because compare_digest raises TypeError on non-ASCII str (a forged header must be a 401, not a 5xx)
        for candidate in candidates:
            matched |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
    if not matched:
        raise SignatureInvalid("no Stripe-Signature v1 value matches a signing secret", reason="signature_mismatch")
    if timestamp < now - tolerance_seconds:
        raise SignatureInvalid("Stripe-Signature timestamp is outside the tolerance", reason="signature_expired",
                               tolerance_seconds=tolerance_seconds)
    if timestamp > now + tolerance_seconds:
        raise SignatureInvalid("Stripe-Signature timestamp is in the future", reason="signature_from_future",
                               tolerance_seconds=tolerance_seconds)
    return timestamp


def parse(body: bytes) -> WebhookEvent:
    """The event envelope: id, type, created. Anything else is the normalizer's business."""
    payload = load_json_object(body)
    event_id, event_type = payload.get("id"), payload.get("type")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or len(event_id) > 255:
        raise MalformedPayload("Stripe event has no valid id (evt_...)", reason="missing_event_id")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedPayload("Stripe event has no type", reason="missing_event_type")
    created = payload.get("created")
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedPayload("Stripe event has no data.object", reason="missing_event_object")
    return WebhookEvent(event_id=event_id, event_type=event_type,
                        created=created if isinstance(created, int) else None, payload=payload)


# ---- the common webhook-module contract (see connectors/sources/webhooks.py) ----------------------

def verify_request(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    verify(request.body, request.headers, secrets, tolerance_seconds, now)


def parse_events(body: bytes) -> list[WebhookEvent]:
    """Stripe delivers one event per request."""
    return [parse(body)]


# ---- the webhook contract's optional parts (connectors/sources/webhooks.py) ----
# the raw body is the event (sent to normalize as it came)
BODY_IS_EVENT = True
# the event id is in the body, not in a header: parse_events reads it (no whole-request parser)
parse_request = None
# the provider takes the JSON answer as it is (no scheme-specific acknowledgement)
acknowledge = None
