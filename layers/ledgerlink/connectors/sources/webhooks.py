"""The contract between ingest and a source's ``webhook`` module (stdlib only: ingest hot path).

A source's ``webhook`` module provides:

- ``verify_request(request: SignedRequest, secrets, tolerance_seconds, now) -> None`` — raise
  :class:`~ledgerlink.errors.SignatureInvalid` (with a reason code) unless the request is authentic;
- ``parse_events(body: bytes) -> list[WebhookEvent]`` — one or more events (Adyen and Xero batch them;
  an empty list is a valid delivery, e.g. Xero's intent-to-receive check), or raise
  :class:`~ledgerlink.errors.MalformedPayload`;
- optionally ``parse_request(request: SignedRequest) -> list[WebhookEvent]`` — used instead of
  ``parse_events`` when the event id travels in a header (Standard Webhooks' ``webhook-id``);
- optionally ``BODY_IS_EVENT = False`` when the raw body is not the JSON event the normalizer reads (SOAP
  XML): ingest then always enqueues each parsed event's ``payload``;
- optionally ``acknowledge(accepted: int, duplicates: int) -> Acknowledgement`` — the body the provider
  requires once the events are stored (Adyen: ``[accepted]``; Salesforce: a SOAP ``Ack``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    status: int
    body: str
    content_type: str = "text/plain"
