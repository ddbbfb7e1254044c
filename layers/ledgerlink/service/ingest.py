"""Receive a webhook: verify, size-check, parse, claim in the inbox, archive, enqueue — answer fast.

The order matters for "never lose, never double": the inbox claim comes first (a duplicate costs one
conditional write and nothing else); the raw body is archived *before* the message is enqueued and
before the provider gets its 2xx; any failure after the claim answers 503, the provider retries, and
the stale ``pending`` claim is taken over. An attempt that fails after claiming releases (best effort)
the claims whose message it did not enqueue, so a retry inside the lease re-runs them instead of being
answered "duplicate" for events nothing will process. HTTP statuses are chosen by error type here and only here.

Nothing a caller sends can look like a storage outage (D95): bodies are parsed within fixed limits
(``connectors/sources/safe_parse.py``: JSON depth, lone surrogates, defused XML), and any other exception a
source's ``verify_request`` or parser raises on a request is a 400 (``unreadable_request`` before authentication,
``unreadable_payload`` after), so a 503 is only ever storage, secrets or configuration failing. The caller's
``X-Correlation-Id`` is used only when it is 8–64 characters of ``[A-Za-z0-9._:-]`` (else the API Gateway request
id, else a fresh UUID), and the response names the source only once the path matched a configured one: those
are the only caller-influenced values the ingest handler logs.

Stdlib + boto3 adapters only: no pydantic on the webhook path (cold start).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING

from ledgerlink.clock import epoch
from ledgerlink.connectors.sources import WEBHOOK_KINDS, webhook_module
from ledgerlink.connectors.sources.webhooks import SignedRequest, WebhookEvent
from ledgerlink.errors import (
    ConfigError,
    MalformedPayload,
    MethodNotAllowed,
    PayloadTooLarge,
    RequestRejected,
    UnknownSource,
)
from ledgerlink.model.json import JsonObject
from ledgerlink.model.messages import InboundMessage
from ledgerlink.service.intake import ArchivePort, QueuePort, SecretsPort
from ledgerlink.service.intake import ReleasingInbox as InboxPort
from ledgerlink.store.archive import archive_key, item_key

if TYPE_CHECKING:
    from ledgerlink.model.inbox import Claim

INLINE_BODY_LIMIT = 200_000  # bytes; larger bodies travel by archive key (claim check), SQS max is 256 KiB
# a caller's X-Correlation-Id is echoed, logged, stored in the inbox, S3 metadata and the books: only these
# characters (no space, quote, newline or control character) and at most 64 of them (a UUID is 36); fullmatch,
# because ``$`` would also match before a trailing newline
_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def usable_correlation_id(value: str | None) -> bool:
    return isinstance(value, str) and _CORRELATION.fullmatch(value) is not None


def _text(value: object) -> str:
    """A value of the API Gateway event as text every encoder can write. HTTP cannot carry a lone surrogate but the
    event's JSON can (``"\\ud800"``); one would make ``str.encode`` raise deep inside a verifier, so it becomes
    U+FFFD here — such a request is not what any provider signed, so it is refused, never accepted."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _body_bytes(raw: str) -> bytes:
    """The body text API Gateway passed (the local front passes undecodable bytes as ``surrogateescape``) as bytes;
    a lone surrogate outside that range is kept as its (invalid UTF-8) encoding, which every parser refuses."""
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return raw.encode("utf-8", "surrogatepass")


def _mapping(value: object) -> Mapping[str, object]:
    """A part of the API Gateway event that is an object (absent or null: empty)."""
    return value if isinstance(value, Mapping) else {}


def _event_body(event: Mapping[str, object]) -> bytes:
    raw = event.get("body") or ""
    body = bytes(raw) if isinstance(raw, bytes | bytearray) else _body_bytes(raw if isinstance(raw, str) else str(raw))
    if event.get("isBase64Encoded"):
        with suppress(ValueError):  # not base64 after all: the text is the body (and will not verify)
            body = base64.b64decode(body, validate=True)
    return body


def _called_url(event: Mapping[str, object], headers: Mapping[str, str], context: Mapping[str, object]) -> str:
    """The URL as the provider called it (HubSpot v3 signs it)."""
    host = headers.get("host", "")
    path = _text(context.get("path") or event.get("path") or "")
    query = {_text(key): _text(value) for key, value in _mapping(event.get("queryStringParameters")).items()}
    # API Gateway sets X-Forwarded-Proto (https); the local front says http
    scheme = "http" if headers.get("x-forwarded-proto", "https").strip().lower() == "http" else "https"
    url = f"{scheme}://{host}{path}" if host else path
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    source_id: str | None
    method: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    request_id: str
    url: str = ""            # as the provider called it, for schemes that sign the URL

    @classmethod
    def from_api_gateway(cls, event: Mapping[str, object]) -> WebhookRequest:
        """API Gateway REST (proxy integration) event → request. Tolerates missing parts."""
        headers = {_text(k).lower(): _text(v) for k, v in _mapping(event.get("headers")).items() if v is not None}
        context = _mapping(event.get("requestContext"))
        source_id = _mapping(event.get("pathParameters")).get("source")
        return cls(source_id=None if source_id is None else _text(source_id),
                   method=_text(event.get("httpMethod") or "POST").upper(), headers=headers, body=_event_body(event),
                   request_id=_text(context.get("requestId") or uuid.uuid4()), url=_called_url(event, headers, context))


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    body: JsonObject
    outcome: str              # accepted | duplicate | rejected | unavailable (for logs and metrics)
    correlation_id: str
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: str | None = None  # a provider-mandated acknowledgement (``[accepted]``, SOAP Ack) instead of JSON
    source: str | None = None    # the configured source the path named (None until one matched): safe to log
    defect: str | None = None    # "<ErrorType> at <file>:<line>" when a connector raised on this request (logs only)

    def to_api_gateway(self) -> JsonObject:
        content_type = self.headers.get("Content-Type", "application/json")
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": content_type, "X-Correlation-Id": self.correlation_id,
                        **{k: v for k, v in self.headers.items() if k != "Content-Type"}},
            "body": self.raw_body if self.raw_body is not None else json.dumps(self.body, separators=(",", ":")),
            "isBase64Encoded": False,
        }


@dataclass(frozen=True, slots=True)
class WebhookSource:
    id: str
    kind: str
    secret_id: str
    tolerance_seconds: int
    max_body_bytes: int

    @classmethod
    def from_config(cls, raw: Mapping[str, object]) -> WebhookSource:
        """A source of the stored configuration JSON (validated when it was applied)."""
        return cls(id=str(raw["id"]), kind=str(raw["kind"]), secret_id=str(_mapping(raw["signing_secret"])["secret_id"]),
                   tolerance_seconds=_int(raw.get("tolerance_seconds", 300)),
                   max_body_bytes=_int(raw.get("max_body_bytes", 262_144)))


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float | str) else int(str(value))


def find_source(config: Mapping[str, object], source_id: str | None) -> WebhookSource | None:
    sources = config.get("sources", [])
    for raw in sources if isinstance(sources, list) else []:
        if isinstance(raw, Mapping) and raw.get("id") == source_id and raw.get("kind") in WEBHOOK_KINDS:
            return WebhookSource.from_config(raw)
    return None


class IngestService:
    def __init__(self, *, config: Callable[[], tuple[int, Mapping[str, object]]], secrets: SecretsPort,
                 inbox: InboxPort, archive: ArchivePort, queue: QueuePort,
                 clock: Callable[[], float] = epoch) -> None:
        self._config = config
        self._secrets = secrets
        self._inbox = inbox
        self._archive = archive
        self._queue = queue
        self._clock = clock

    def receive(self, request: WebhookRequest) -> WebhookResponse:
        supplied = request.headers.get("x-correlation-id")
        if usable_correlation_id(supplied):
            correlation_id = str(supplied)
        elif usable_correlation_id(request.request_id):
            correlation_id = request.request_id
        else:
            correlation_id = str(uuid.uuid4())
        seen = _Seen()
        try:
            response = self._receive(request, correlation_id, seen)
        except RequestRejected as exc:
            response = WebhookResponse(exc.status, {"status": "rejected", "reason": exc.reason,
                                                    "message": exc.message, "correlation_id": correlation_id},
                                       "rejected", correlation_id, defect=exc.detail.get("defect"))
        except ConfigError as exc:
            response = WebhookResponse(503, {"status": "unavailable", "reason": exc.reason,
                                             "message": "LedgerLink is not configured yet; retry later",
                                             "correlation_id": correlation_id}, "unavailable", correlation_id,
                                       {"Retry-After": "60"})
        except Exception:  # AWS outage, throttling: the provider must retry, nothing was acknowledged
            response = WebhookResponse(503, {"status": "unavailable", "reason": "temporarily_unavailable",
                                             "message": "could not store the event; retry later",
                                             "correlation_id": correlation_id}, "unavailable", correlation_id,
                                       {"Retry-After": "30"})
        return replace(response, source=seen.source)

    def _receive(self, request: WebhookRequest, correlation_id: str, seen: _Seen) -> WebhookResponse:
        _, config = self._config()
        source = find_source(config, request.source_id)
        if source is None:
            raise UnknownSource(f"no webhook source named {request.source_id!r}")
        seen.source = source.id
        _check_request(source, request)
        webhook = webhook_module(source.kind)
        now = self._clock()
        events = self._read_events(webhook, source, request, now)
        delivery = _Delivery(source, request, correlation_id, now, single=len(events) == 1,
                             body_is_event=bool(webhook.BODY_IS_EVENT))
        key = archive_key(source.id, events[0].event_id if delivery.single else batch_name(request.body), now)
        fresh: list[tuple[WebhookEvent, Claim]] = []
        duplicates: list[tuple[WebhookEvent, Claim]] = []
        sent = 0  # fresh claims whose message is on the queue
        try:
            for event in events:
                claim = self._inbox.claim(source.id, event.event_id, correlation_id=correlation_id,
                                          archive_key=key, event_type=event.event_type, now=now)
                (fresh if claim.is_new else duplicates).append((event, claim))
            if events and not fresh:
                return self._answer(webhook, 200, {"status": "duplicate", "event_id": events[0].event_id,
                                                   "correlation_id": duplicates[0][1].correlation_id},
                                    "duplicate", correlation_id, accepted=0, duplicates=len(duplicates))
            if fresh:
                # one archive object per request, before anything is enqueued or acknowledged
                self._archive.put(fresh[0][1].archive_key, request.body, correlation_id=correlation_id,
                                  source=source.id, event_id=fresh[0][0].event_id)
            for event, claim in fresh:
                self._enqueue(delivery, event, claim)
                sent += 1
            return self._answer(webhook, 202 if fresh else 200, _accepted_body(events, fresh, len(duplicates), correlation_id),
                                "accepted", correlation_id, accepted=len(fresh), duplicates=len(duplicates))
        except Exception:
            self._release(source.id, fresh[sent:], correlation_id)
            raise

    def _read_events(self, webhook: ModuleType, source: WebhookSource, request: WebhookRequest,
                     now: float) -> list[WebhookEvent]:
        """Verify the request and read its events. Verifying and parsing touch nothing but the request: whatever they
        raise is about the request (or a connector defect on it), never an outage, so it is a 4xx — a 503 would be
        retried forever."""
        signed = SignedRequest(method=request.method, url=request.url, headers=request.headers, body=request.body)
        secrets = self._secrets.get(source.secret_id)  # an AWS call: its failure is a 503, like storage
        with _request_errors("unreadable_request", "the request could not be verified"):
            webhook.verify_request(signed, secrets, source.tolerance_seconds, now)
        with _request_errors("unreadable_payload", "the event could not be read"):
            # schemes that carry the event id in a header (Standard Webhooks) parse the whole request
            parse_request = webhook.parse_request
            events: list[WebhookEvent] = (parse_request(signed) if parse_request is not None
                                          else webhook.parse_events(request.body))
            for event in events:
                check_event_id(event.event_id)
        return events

    def _enqueue(self, delivery: _Delivery, event: WebhookEvent, claim: Claim) -> None:
        """The event's inbound message on the queue: inline, or by claim check when an item of a batch is too big."""
        # the raw body is the event unless the scheme says otherwise (SOAP XML: the parsed item is sent)
        as_body = delivery.single and delivery.body_is_event
        text = delivery.request.body.decode("utf-8") if as_body else json.dumps(event.payload)
        body: str | None = None
        payload_key: str | None = None
        if len(text.encode("utf-8")) <= INLINE_BODY_LIMIT:
            body = text
        elif not delivery.single:  # an oversized item of a batch travels by its own claim check
            payload_key = item_key(claim.archive_key, event.event_id)
            self._archive.put(payload_key, text.encode("utf-8"), correlation_id=delivery.correlation_id,
                              source=delivery.source.id, event_id=event.event_id)
        message = InboundMessage(
            source=delivery.source.id, kind=delivery.source.kind, event_id=event.event_id,
            event_type=event.event_type, correlation_id=delivery.correlation_id, archive_key=claim.archive_key,
            received_at=int(delivery.now), received_day=claim.day, body=body, payload_key=payload_key)
        self._queue.send(message.to_json(), correlation_id=delivery.correlation_id)

    def _release(self, source_id: str, unsent: list[tuple[WebhookEvent, Claim]], correlation_id: str) -> None:
        """Best effort: if the release fails too (the same outage), the claim stays pending and is taken
        over after its lease; reconciliation names it meanwhile (``event_not_processed``)."""
        for event, claim in unsent:
            try:
                self._inbox.release(source_id, event.event_id, correlation_id=correlation_id, day=claim.day)
            except Exception:  # noqa: S112 - the original failure is what the caller reports
                continue

    @staticmethod
    def _answer(webhook: ModuleType, status: int, body: JsonObject, outcome: str, correlation_id: str, *,
                accepted: int, duplicates: int) -> WebhookResponse:
        acknowledge = webhook.acknowledge
        if acknowledge is None:
            return WebhookResponse(status, body, outcome, correlation_id)
        ack = acknowledge(accepted, duplicates)
        return WebhookResponse(ack.status, body, outcome, correlation_id, {"Content-Type": ack.content_type},
                               raw_body=ack.body)


@dataclass(slots=True)
class _Seen:
    source: str | None = None


@dataclass(frozen=True, slots=True)
class _Delivery:
    """One request being enqueued: where it came from and what its messages share."""

    source: WebhookSource
    request: WebhookRequest
    correlation_id: str
    now: float
    single: bool            # one event in the request
    body_is_event: bool     # the scheme's raw body is the event (not so for SOAP batches)


def _check_request(source: WebhookSource, request: WebhookRequest) -> None:
    """Whether the request may go on: a POST within the source's size limit."""
    if request.method != "POST":
        raise MethodNotAllowed("webhooks are delivered with POST")
    if len(request.body) > source.max_body_bytes:
        raise PayloadTooLarge(f"body of {len(request.body)} bytes exceeds the limit of {source.max_body_bytes}",
                              limit=source.max_body_bytes)


def _accepted_body(events: list[WebhookEvent], fresh: list[tuple[WebhookEvent, Claim]], duplicates: int,
                   correlation_id: str) -> JsonObject:
    body: JsonObject = {"status": "accepted", "correlation_id": correlation_id}
    if len(events) == 1:
        body["event_id"] = events[0].event_id
    else:
        body.update(event_ids=[event.event_id for event, _ in fresh], duplicates=duplicates)
    return body


@contextmanager
def _request_errors(reason: str, message: str) -> Iterator[None]:
    """Turn an unexpected exception of a connector into a 400 with ``reason``; the response carries the error's type
    and where it arose (``defect``) for the log, never its text (which may quote the request)."""
    try:
        yield
    except RequestRejected:
        raise
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{frames[-1].filename.rsplit('/ledgerlink/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
        raise MalformedPayload(message, reason=reason, defect=f"{type(exc).__name__} at {where}") from None


EVENT_ID_LENGTH = 200


def check_event_id(event_id: str) -> None:
    """An event id becomes a DynamoDB key, an archive object name and S3 metadata (ASCII only), so it must be
    1–200 printable ASCII characters without spaces or slashes. Every provider's ids are; a signed body whose
    id is not (composed from fields of the wrong type, say) is refused instead of failing storage on every retry."""
    usable = (isinstance(event_id, str) and 0 < len(event_id) <= EVENT_ID_LENGTH and event_id.isascii()
              and event_id.isprintable() and not any(c in event_id for c in " /\\"))
    if not usable:
        raise MalformedPayload(f"the event id is not 1–{EVENT_ID_LENGTH} printable ASCII characters without spaces "
                               "or slashes", reason="invalid_event_id")


def batch_name(body: bytes) -> str:
    """Archive name of a multi-event request: the same body retried maps to the same object."""
    return "batch-" + hashlib.sha256(body).hexdigest()[:24]
