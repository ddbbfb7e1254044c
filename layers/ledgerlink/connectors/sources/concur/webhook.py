"""SAP Concur Event Subscription Service (ESS) deliveries (stdlib only: ingest hot path).

Authentication (SAP Concur docs, "Event Subscription Service v4 → ESS Authentication"): every request carries a
digital signature in the ``Concur-Signature`` header, verifiable with the public key SAP Concur publishes on that
page; connections also use mutual TLS with the ``webhook.api.concursolutions.com`` client certificate (terminate
it on an API Gateway custom domain for defence in depth). The page does not spell out the signed string; this
verifier implements the conventional scheme the published RSA key implies — RSASSA-PKCS1-v1_5 with SHA-256 over
the raw request body, base64-encoded in the header — and is tested with a key pair generated in the tests. The
source's ``signing_secret`` holds the PEM public key (production: SAP Concur's published key; two PEMs during a
key change: ``{"secrets": [new, old]}``).

Replay window: the body's ``timeStamp`` (RFC 3339, when ESS issued the event) is covered by the signature; ESS
retries an event for up to 72 hours, so it must be within ``tolerance_seconds`` (3 days by default) — and not more
than 5 minutes ahead. Inside the window a replay is a duplicate: the event ``id`` is claimed in the inbox.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from ledgerlink.connectors.sources import rsa
from ledgerlink.connectors.sources.webhooks import (
    SignedRequest,
    WebhookEvent,
    identified_event,
    iso_epoch,
    load_json_object,
)
from ledgerlink.errors import MalformedPayload, SignatureInvalid

SIGNATURE_HEADER = "concur-signature"
FUTURE_SKEW_SECONDS = 300
_KEYS: dict[str, rsa.RsaPublicKey] = {}  # PEM → parsed key (per container; keys are tiny)


def _key(pem: str) -> rsa.RsaPublicKey:
    key = _KEYS.get(pem)
    if key is None:
        try:
            key = rsa.load_public_key(pem)
        except ValueError:
            raise SignatureInvalid("the configured Concur signing key is not an RSA public key PEM",
                                   reason="signature_unverifiable") from None
        _KEYS[pem] = key
    return key


def verify(body: bytes, header: str | None, public_keys: Sequence[str], tolerance_seconds: int, now: float) -> None:
    if not header:
        raise SignatureInvalid("missing Concur-Signature header", reason="signature_missing")
    try:
        signature = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid("Concur-Signature is not base64", reason="signature_malformed") from None
    if not public_keys:
        raise SignatureInvalid("no Concur public key configured for this source", reason="signature_unverifiable")
    if not any(rsa.verify_sha256(_key(pem), body, signature) for pem in public_keys):
        raise SignatureInvalid("Concur-Signature does not verify with the configured public key",
                               reason="signature_mismatch")
    issued = iso_epoch(load_json_object(body).get("timeStamp"))
    if issued is None:
        raise MalformedPayload("Concur event has no timeStamp", reason="missing_field")
    if issued < now - tolerance_seconds:
        raise SignatureInvalid("event timeStamp is outside the replay window", reason="signature_expired",
                               tolerance_seconds=tolerance_seconds)
    if issued > now + FUTURE_SKEW_SECONDS:
        raise SignatureInvalid("event timeStamp is in the future", reason="signature_from_future")


def parse(body: bytes) -> WebhookEvent:
    payload = load_json_object(body)
    event = identified_event(payload, "Concur", id_key="id", type_key="eventType", created_key="timeStamp")
    if not isinstance(payload.get("facts"), dict):
        raise MalformedPayload("Concur event has no facts", reason="missing_event_object")
    return event


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
