"""Adyen standard notifications (stdlib only: ingest hot path).

Scheme (Adyen's docs and its Python library): a delivery is ``{"live": "...", "notificationItems": [
{"NotificationRequestItem": {...}}, ...]}``; each item carries ``additionalData.hmacSignature`` =
base64(HMAC-SHA256(hex-decoded key, "pspReference:originalReference:merchantAccountCode:merchantReference:
value:currency:eventCode:success")) — empty fields stay empty, values are not escaped. Every item of a delivery
must verify (one forged item refuses the whole request). The provider expects the body ``[accepted]`` once
the notifications are stored; ingest sends it only after archiving and enqueueing.

There is no signed delivery time (``eventDate`` is outside the HMAC), so no replay window can be enforced;
replays are harmless because every item maps to deterministic document ids.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence

from ledgerlink.connectors.sources.reading import get, obj_at
from ledgerlink.connectors.sources.webhooks import (
    Acknowledgement,
    SignedRequest,
    WebhookEvent,
    iso_epoch,
    load_json,
)
from ledgerlink.errors import MalformedPayload, SignatureInvalid
from ledgerlink.model.json import JsonObject, JsonValue

SIGNED_FIELDS = ("pspReference", "originalReference", "merchantAccountCode", "merchantReference", "value",
                 "currency", "eventCode", "success")


def signing_string(item: JsonObject) -> str:
    amount = obj_at(item, "amount")
    values = {**item, "value": amount.get("value", ""), "currency": amount.get("currency", "")}
    return ":".join("" if values.get(name) is None else str(values.get(name)) for name in SIGNED_FIELDS)


def _key(hex_key: str) -> bytes:
    try:
        return binascii.unhexlify(hex_key.strip())
    except (binascii.Error, ValueError):
        raise SignatureInvalid("the configured Adyen HMAC key is not hexadecimal",
                               reason="signature_unverifiable") from None


def sign(item: JsonObject, hex_key: str) -> str:
    """``additionalData.hmacSignature`` as Adyen computes it (demo, tests, ``ledgerlink local sign``)."""
    digest = hmac.new(_key(hex_key), signing_string(item).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _items(payload: JsonValue) -> list[JsonObject]:
    wrappers = get(payload, "notificationItems")
    if not isinstance(wrappers, list):
        raise MalformedPayload("Adyen delivery has no notificationItems list", reason="malformed_json")
    items = []
    for position, wrapper in enumerate(wrappers):
        item = get(wrapper, "NotificationRequestItem")
        if not isinstance(item, dict):
            raise MalformedPayload(f"notificationItems[{position}] has no NotificationRequestItem",
                                   reason="missing_event_object")
        items.append(item)
    if not items:
        raise MalformedPayload("Adyen delivery has no notification items", reason="missing_event_object")
    return items


def verify(body: bytes, secrets: Sequence[str]) -> None:
    if not secrets:
        raise SignatureInvalid("no HMAC key configured for this source", reason="signature_unverifiable")
    keys = [_key(secret) for secret in secrets]
    for position, item in enumerate(_items(load_json(body))):
        supplied = get(item.get("additionalData"), "hmacSignature")
        if not isinstance(supplied, str) or not supplied:
            raise SignatureInvalid(f"notification item {position} has no additionalData.hmacSignature",
                                   reason="signature_missing")
        message = signing_string(item).encode("utf-8")
        matched = False
        for key in keys:
            expected = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest())
            matched |= hmac.compare_digest(expected, supplied.encode("utf-8", "replace"))
        if not matched:
            raise SignatureInvalid(f"notification item {position}: hmacSignature does not match",
                                   reason="signature_mismatch")


def event_id(item: JsonObject) -> str:
    """Adyen identifies a notification by (eventCode, pspReference); ``success`` separates a failed attempt."""
    return f"{item.get('eventCode')}:{item.get('pspReference')}:{item.get('success')}"


# ---- the common webhook-module contract (see connectors/sources/webhooks.py) ----------------------

def verify_request(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    verify(request.body, secrets)


def parse_events(body: bytes) -> list[WebhookEvent]:
    payload = load_json(body)
    events = []
    for item in _items(payload):
        psp, code = item.get("pspReference"), item.get("eventCode")
        if not isinstance(psp, str) or not psp or len(psp) > 64:
            raise MalformedPayload("notification item has no pspReference", reason="missing_event_id")
        if not isinstance(code, str) or not code:
            raise MalformedPayload("notification item has no eventCode", reason="missing_event_type")
        events.append(WebhookEvent(event_id=event_id(item), event_type=code, created=iso_epoch(item.get("eventDate")),
                                   payload={"live": get(payload, "live"), "NotificationRequestItem": item}))
    return events


def acknowledge(accepted: int, duplicates: int) -> Acknowledgement:
    """Adyen marks a delivery as delivered only on this exact body (duplicates included: they are stored)."""
    return Acknowledgement(status=200, body="[accepted]", content_type="text/plain")


# ---- the webhook contract's optional parts (connectors/sources/webhooks.py) ----
# the raw body is the event (sent to normalize as it came)
BODY_IS_EVENT = True
# the event id is in the body, not in a header: parse_events reads it (no whole-request parser)
parse_request = None
