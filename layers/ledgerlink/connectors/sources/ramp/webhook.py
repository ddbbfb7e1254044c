"""Ramp webhooks (stdlib only: ingest hot path).

Scheme (Ramp developer docs, "Webhooks"): the signature header carries the lowercase hex HMAC-SHA256 of the raw
request body, keyed with the subscription's secret as UTF-8. Ramp's docs spell the header
``X-Ramp-Webhook-Signature``; other Ramp material (and this project's issue) say ``X-Ramp-Signature`` — both are
read. Two secrets may be live during a rotation.

The signature covers no timestamp header, but it covers the body, and the body's ``created_at`` is the event
time (constant across Ramp's up-to-10 retries with exponential backoff). So the replay window is enforced on
that signed ``created_at``: older than ``tolerance_seconds`` (a day by default, longer than Ramp's retry span)
is ``signature_expired``; more than 5 minutes ahead is ``signature_from_future``. Inside the window a replay is
a duplicate (the inbox keeps ``(source, id)`` for 35 days).

Every delivery is one event ``{id, type, created_at, business_id, object: {id}}``; ``id`` is stable across
retries. Ramp's subscription challenge (``{"challenge": ...}``) is accepted as ``webhooks.verification`` so the
operator can read it from the archive and confirm the subscription.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence

from ledgerlink.connectors.sources.webhooks import (
    SignedRequest,
    WebhookEvent,
    identified_event,
    iso_epoch,
    load_json_object,
)
from ledgerlink.errors import MalformedPayload, SignatureInvalid

SIGNATURE_HEADERS = ("x-ramp-signature", "x-ramp-webhook-signature")
FUTURE_SKEW_SECONDS = 300


def sign(body: bytes, secret: str) -> str:
    """The header value Ramp sends (demo, tests, ``ledgerlink local sign``)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secret: str) -> dict[str, str]:
    return {"X-Ramp-Signature": sign(body, secret)}


def verify(body: bytes, headers: Mapping[str, str], secrets: Sequence[str], tolerance_seconds: int,
           now: float) -> None:
    supplied = next((headers[name] for name in SIGNATURE_HEADERS if headers.get(name)), None)
    if not supplied:
        raise SignatureInvalid("missing X-Ramp-Signature header", reason="signature_missing")
    candidate = supplied.strip().lower().removeprefix("sha256=")
    if len(candidate) != 64 or any(c not in "0123456789abcdef" for c in candidate):
        raise SignatureInvalid("X-Ramp-Signature is not a hex SHA-256 HMAC", reason="signature_malformed")
    if not secrets:
        raise SignatureInvalid("no signing secret configured for this source", reason="signature_unverifiable")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), candidate.encode())
    if not matched:
        raise SignatureInvalid("X-Ramp-Signature does not match a signing secret", reason="signature_mismatch")
    payload = load_json_object(body)
    if "challenge" in payload and "type" not in payload:
        return  # the subscription challenge carries no event time
    created = iso_epoch(payload.get("created_at"))
    if created is None:
        raise MalformedPayload("Ramp event has no created_at timestamp", reason="missing_field")
    if created < now - tolerance_seconds:
        raise SignatureInvalid("event created_at is outside the replay window", reason="signature_expired",
                               tolerance_seconds=tolerance_seconds)
    if created > now + FUTURE_SKEW_SECONDS:
        raise SignatureInvalid("event created_at is in the future", reason="signature_from_future")


def parse(body: bytes) -> WebhookEvent:
    payload = load_json_object(body)
    challenge = payload.get("challenge")
    if "type" not in payload and isinstance(challenge, str) and challenge:
        digest = hashlib.sha256(challenge.encode()).hexdigest()[:32]
        return WebhookEvent(event_id=f"challenge-{digest}", event_type="webhooks.verification", created=None,
                            payload=payload)
    return identified_event(payload, "Ramp", id_key="id", type_key="type", created_key="created_at")


# ---- the common webhook-module contract (see connectors/sources/webhooks.py) ----------------------

def verify_request(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    verify(request.body, request.headers, secrets, tolerance_seconds, now)


def parse_events(body: bytes) -> list[WebhookEvent]:
    return [parse(body)]


# ---- the webhook contract's optional parts (connectors/sources/webhooks.py) ----
# the raw body is the event (sent to normalize as it came)
BODY_IS_EVENT = True
# the event id is in the body, not in a header: parse_events reads it (no whole-request parser)
parse_request = None
# the provider takes the JSON answer as it is (no scheme-specific acknowledgement)
acknowledge = None
