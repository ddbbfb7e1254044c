"""The contract between ingest and a source's ``webhook`` module (stdlib + defusedxml only: ingest hot path).

A source's ``webhook`` module provides:

- ``verify_request(request: SignedRequest, secrets, tolerance_seconds, now) -> None`` — raise
  :class:`~ledgerlink.errors.SignatureInvalid` (with a reason code) unless the request is authentic;
- ``parse_events(body: bytes) -> list[WebhookEvent]`` — one or more events (Adyen and Xero batch them;
  an empty list is a valid delivery, e.g. Xero's intent-to-receive check), or raise
  :class:`~ledgerlink.errors.MalformedPayload`;
- ``parse_request(request: SignedRequest) -> list[WebhookEvent]``, or ``parse_request = None`` — used instead of
  ``parse_events`` when the event id travels in a header (Standard Webhooks' ``webhook-id``);
- ``BODY_IS_EVENT = True``, or ``False`` when the raw body is not the JSON event the normalizer reads (SOAP
  XML): ingest then always enqueues each parsed event's ``payload``;
- ``acknowledge(accepted: int, duplicates: int) -> Acknowledgement``, or ``acknowledge = None`` — the body the
  provider requires once the events are stored (Adyen: ``[accepted]``; Salesforce: a SOAP ``Ack``).

Every webhook module declares all three (``None`` where the scheme has no such part), so ingest and replay read
them as attributes instead of probing the module (``tests/unit/test_source_packages.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ledgerlink.connectors.sources import safe_parse
from ledgerlink.errors import MalformedPayload

if TYPE_CHECKING:
    from ledgerlink.model.json import JsonObject, JsonValue


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    url: str                 # as the provider called it (HubSpot v3 signs it)
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    event_id: str
    event_type: str
    created: int | None
    payload: JsonObject


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    status: int
    body: str
    content_type: str = "text/plain"


def load_json(body: bytes) -> JsonValue:
    """The body as JSON within the limits of :mod:`~ledgerlink.connectors.sources.safe_parse`: UTF-8 only
    (``json.loads(bytes)`` would also take UTF-16/32) → ``malformed_json``; nested at most ``MAX_JSON_DEPTH`` deep
    → ``payload_too_deep``; no lone surrogate → ``invalid_unicode``. Each is a 400, never a 503."""
    try:
        return safe_parse.load_json(body)
    except safe_parse.UnreadableInput as exc:
        raise MalformedPayload(exc.message, reason=exc.reason) from None


def load_json_object(body: bytes) -> JsonObject:
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise MalformedPayload("body is not a JSON object", reason="malformed_json")
    return payload


def iso_epoch(value: JsonValue) -> int | None:
    """An ISO 8601 instant as Unix seconds (no offset: UTC, as Ramp documents); None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def identified_event(payload: JsonObject, vendor: str, *, id_key: str, type_key: str,
                     created_key: str) -> WebhookEvent:
    """The event of a body that names its own id (1–128 characters) and type, else ``MalformedPayload``
    (``missing_event_id`` / ``missing_event_type``); ``created`` from the ISO instant under ``created_key``."""
    event_id, event_type = payload.get(id_key), payload.get(type_key)
    if not isinstance(event_id, str) or not event_id or len(event_id) > 128:
        raise MalformedPayload(f"{vendor} event has no {id_key}", reason="missing_event_id")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedPayload(f"{vendor} event has no {type_key}", reason="missing_event_type")
    return WebhookEvent(event_id=event_id, event_type=event_type, created=iso_epoch(payload.get(created_key)),
                        payload=payload)
