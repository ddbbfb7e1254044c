"""HubSpot webhooks, signature v3 (stdlib only: ingest hot path).

Scheme (HubSpot docs "Validating requests", and ``hubspot.utils.signature`` of HubSpot's own library):
``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(app client secret, method + URI + raw body + timestamp)), where the
timestamp is the ``X-HubSpot-Request-Timestamp`` header in **milliseconds** and the URI is the full URL HubSpot
called (the ingest reconstructs it as ``https://<Host><stage path>[?query]``), with the characters HubSpot
documents (``%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B``) URL-decoded. Requests older than 300 s are refused
(``tolerance_seconds``); more than 300 s in the future too. Two client secrets may be live during a rotation.

A delivery is a JSON array of up to 100 events (``eventId``, ``subscriptionId``, ``portalId``, ``occurredAt`` ms,
``subscriptionType``, ``objectId``, ``propertyName``/``propertyValue`` ...). HubSpot says ``eventId`` alone is
not guaranteed unique, so an event is identified by ``portalId-subscriptionId-eventId-objectId-occurredAt``,
which a retry repeats and a different change never does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from ledgerlink.connectors.sources.webhooks import SignedRequest, WebhookEvent, load_json
from ledgerlink.errors import MalformedPayload, SignatureInvalid

SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
# HubSpot: "decode any URL-encoded characters listed" before signing the URI
BODY_IS_EVENT = False  # the body is an array of events; each message carries one event object
_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'", "%28": "(",
            "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def signed_uri(url: str) -> str:
    for encoded, plain in _DECODED.items():
        url = url.replace(encoded, plain).replace(encoded.lower(), plain)
    return url


def sign(secret: str, method: str, url: str, body: bytes, timestamp_ms: int | str) -> str:
    """The ``X-HubSpot-Signature-v3`` value (demo, tests, ``ledgerlink local sign``)."""
    message = f"{method.upper()}{signed_uri(url)}".encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


def signature_headers(secret: str, method: str, url: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
    return {"X-HubSpot-Signature-v3": sign(secret, method, url, body, timestamp_ms),
            "X-HubSpot-Request-Timestamp": str(timestamp_ms)}


def verify(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    headers: Mapping[str, str] = request.headers
    supplied, raw_timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if not supplied or not raw_timestamp:
        raise SignatureInvalid("missing X-HubSpot-Signature-v3 / X-HubSpot-Request-Timestamp headers",
                               reason="signature_missing")
    try:
        timestamp_ms = int(raw_timestamp)
    except ValueError:
        raise SignatureInvalid("X-HubSpot-Request-Timestamp is not an integer", reason="signature_malformed") from None
    if not secrets:
        raise SignatureInvalid("no client secret configured for this source", reason="signature_unverifiable")
    if not request.url:
        raise SignatureInvalid("the request URL is unknown; v3 signatures cover it", reason="signature_unverifiable")
    matched = False
    for secret in secrets:
        expected = sign(secret, request.method, request.url, request.body, raw_timestamp.strip())
        matched |= hmac.compare_digest(expected.encode(), supplied.strip().encode("utf-8", "replace"))
    if not matched:
        raise SignatureInvalid("X-HubSpot-Signature-v3 does not match a client secret", reason="signature_mismatch")
    age = now - timestamp_ms / 1000
    if age > tolerance_seconds:
        raise SignatureInvalid("X-HubSpot-Request-Timestamp is older than the tolerance", reason="signature_expired",
                               tolerance_seconds=tolerance_seconds)
    if -age > tolerance_seconds:
        raise SignatureInvalid("X-HubSpot-Request-Timestamp is in the future", reason="signature_from_future")


def event_id(event: Mapping[str, object]) -> str:
    return "-".join(str(event.get(key)) for key in ("portalId", "subscriptionId", "eventId", "objectId", "occurredAt"))


def parse(body: bytes) -> list[WebhookEvent]:
    payload = load_json(body)
    if isinstance(payload, dict):  # some tools post a single event object
        payload = [payload]
    if not isinstance(payload, list) or not payload:
        raise MalformedPayload("HubSpot delivery is not a non-empty array of events", reason="missing_event_object")
    events = []
    for position, event in enumerate(payload):
        if not isinstance(event, dict):
            raise MalformedPayload(f"event {position} is not an object", reason="missing_event_object")
        kind = event.get("subscriptionType")
        if not isinstance(kind, str) or not kind:
            raise MalformedPayload(f"event {position} has no subscriptionType", reason="missing_event_type")
        occurred = event.get("occurredAt")
        if not isinstance(occurred, int) or not all(isinstance(event.get(key), int) and not isinstance(event.get(key), bool)
                                                    for key in ("eventId", "portalId", "occurredAt", "objectId")):
            raise MalformedPayload(f"event {position} lacks eventId/portalId/objectId/occurredAt",
                                   reason="missing_event_id")
        events.append(WebhookEvent(event_id=event_id(event), event_type=kind, created=occurred // 1000,
                                   payload=event))
    return events


# ---- the common webhook-module contract (see connectors/sources/webhooks.py) ----------------------

def verify_request(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    verify(request, secrets, tolerance_seconds, now)


def parse_events(body: bytes) -> list[WebhookEvent]:
    return parse(body)


# ---- the webhook contract's optional parts (connectors/sources/webhooks.py) ----
# the event id is in the body, not in a header: parse_events reads it (no whole-request parser)
parse_request = None
# the provider takes the JSON answer as it is (no scheme-specific acknowledgement)
acknowledge = None
