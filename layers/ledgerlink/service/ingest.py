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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

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
from ledgerlink.store.archive import archive_key, item_key

INLINE_BODY_LIMIT = 200_000  # bytes; larger bodies travel by archive key (claim check), SQS max is 256 KiB
# a caller's X-Correlation-Id is echoed, logged, stored in the inbox, S3 metadata and the books: only these
# characters (no space, quote, newline or control character) and at most 64 of them (a UUID is 36); fullmatch,
# because ``$`` would also match before a trailing newline
_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def usable_correlation_id(value: str | None) -> bool:
    return isinstance(value, str) and _CORRELATION.fullmatch(value) is not None


def _text(value: Any) -> str:
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


class InboxPort(Protocol):
    def claim(self, source: str, event_id: str, *, correlation_id: str, archive_key: str, event_type: str,
              now: float | None = None) -> Any: ...

    def release(self, source: str, event_id: str, *, correlation_id: str, day: str) -> bool: ...


class ArchivePort(Protocol):
    def put(self, key: str, body: bytes, *, correlation_id: str, source: str, event_id: str) -> None: ...


class QueuePort(Protocol):
    def send(self, message: dict[str, Any], *, correlation_id: str) -> str: ...


class SecretsPort(Protocol):
    def get(self, secret_id: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    source_id: str | None
    method: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    request_id: str
    url: str = ""            # as the provider called it, for schemes that sign the URL

    @classmethod
    def from_api_gateway(cls, event: dict[str, Any]) -> WebhookRequest:
        """API Gateway REST (proxy integration) event → request. Tolerates missing parts."""
        headers = {_text(k).lower(): _text(v) for k, v in (event.get("headers") or {}).items() if v is not None}
        raw = event.get("body") or ""
        body = bytes(raw) if isinstance(raw, bytes | bytearray) else _body_bytes(raw if isinstance(raw, str) else str(raw))
        if event.get("isBase64Encoded"):
            with suppress(ValueError):  # not base64 after all: the text is the body (and will not verify)
                body = base64.b64decode(body, validate=True)
        params = event.get("pathParameters") or {}
        context = event.get("requestContext") or {}
        host = headers.get("host", "")
        path = _text(context.get("path") or event.get("path") or "")
        query = {_text(key): _text(value) for key, value in (event.get("queryStringParameters") or {}).items()}
        # API Gateway sets X-Forwarded-Proto (https); the local front says http — HubSpot v3 signs the URL called
        scheme = "http" if headers.get("x-forwarded-proto", "https").strip().lower() == "http" else "https"
        url = f"{scheme}://{host}{path}" if host else path
        if query:
            url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
        source_id = params.get("source")
        return cls(source_id=None if source_id is None else _text(source_id),
                   method=_text(event.get("httpMethod") or "POST").upper(), headers=headers, body=body,
                   request_id=_text(context.get("requestId") or uuid.uuid4()), url=url)


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int
    body: dict[str, Any]
    outcome: str              # accepted | duplicate | rejected | unavailable (for logs and metrics)
    correlation_id: str
    headers: dict[str, str] = field(default_factory=dict)
    raw_body: str | None = None  # a provider-mandated acknowledgement (``[accepted]``, SOAP Ack) instead of JSON
    source: str | None = None    # the configured source the path named (None until one matched): safe to log
    defect: str | None = None    # "<ErrorType> at <file>:<line>" when a connector raised on this request (logs only)

    def to_api_gateway(self) -> dict[str, Any]:
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
    def from_config(cls, raw: dict[str, Any]) -> WebhookSource:
        return cls(id=raw["id"], kind=raw["kind"], secret_id=raw["signing_secret"]["secret_id"],
                   tolerance_seconds=int(raw.get("tolerance_seconds", 300)),
                   max_body_bytes=int(raw.get("max_body_bytes", 262_144)))


def find_source(config: dict[str, Any], source_id: str | None) -> WebhookSource | None:
    for raw in config.get("sources", []):
        if raw.get("id") == source_id and raw.get("kind") in WEBHOOK_KINDS:
            return WebhookSource.from_config(raw)
    return None


class IngestService:
    def __init__(self, *, config: Callable[[], tuple[int, dict[str, Any]]], secrets: SecretsPort,
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
        if request.method != "POST":
            raise MethodNotAllowed("webhooks are delivered with POST")
        if len(request.body) > source.max_body_bytes:
            raise PayloadTooLarge(f"body of {len(request.body)} bytes exceeds the limit of {source.max_body_bytes}",
                                  limit=source.max_body_bytes)
        webhook = webhook_module(source.kind)
        now = self._clock()
        signed = SignedRequest(method=request.method, url=request.url, headers=request.headers, body=request.body)
        secrets = self._secrets.get(source.secret_id)  # an AWS call: its failure is a 503, like storage
        # verifying and parsing touch nothing but the request: whatever they raise is about the request (or a
        # connector defect on it), never an outage, so it is a 4xx — a 503 would be retried forever
        with _request_errors("unreadable_request", "the request could not be verified"):
            webhook.verify_request(signed, secrets, source.tolerance_seconds, now)
        with _request_errors("unreadable_payload", "the event could not be read"):
            # schemes that carry the event id in a header (Standard Webhooks) parse the whole request
            parse_request = getattr(webhook, "parse_request", None)
            events = parse_request(signed) if parse_request else webhook.parse_events(request.body)
            for event in events:
                check_event_id(event.event_id)
        key = archive_key(source.id, events[0].event_id if len(events) == 1 else batch_name(request.body), now)
        fresh: list[tuple[WebhookEvent, Any]] = []
        duplicates: list[Any] = []
        sent = 0  # fresh claims whose message is on the queue
        try:
            for event in events:
                claim = self._inbox.claim(source.id, event.event_id, correlation_id=correlation_id,
                                          archive_key=key, event_type=event.event_type, now=now)
                if claim.is_new:
                    fresh.append((event, claim))
                else:
                    duplicates.append(claim)
            if events and not fresh:
                return self._answer(webhook, 200, {"status": "duplicate", "event_id": events[0].event_id,
                                                   "correlation_id": duplicates[0].correlation_id},
                                    "duplicate", correlation_id, accepted=0, duplicates=len(duplicates))
            if fresh:
                # one archive object per request, before anything is enqueued or acknowledged
                self._archive.put(fresh[0][1].archive_key, request.body, correlation_id=correlation_id,
                                  source=source.id, event_id=fresh[0][0].event_id)
            for event, claim in fresh:
                archived_at = claim.archive_key
                message: dict[str, Any] = {
                    "v": 1, "source": source.id, "kind": source.kind, "event_id": event.event_id,
                    "event_type": event.event_type, "correlation_id": correlation_id, "archive_key": archived_at,
                    "received_at": int(now), "received_day": claim.day,
                }
                # the raw body is the event unless the scheme says otherwise (SOAP XML: the parsed item is sent)
                as_body = len(events) == 1 and getattr(webhook, "BODY_IS_EVENT", True)
                text = request.body.decode("utf-8") if as_body else json.dumps(event.payload)
                if len(text.encode("utf-8")) <= INLINE_BODY_LIMIT:
                    message["body"] = text
                elif len(events) > 1:  # an oversized item of a batch travels by its own claim check
                    stored_at = item_key(archived_at, event.event_id)
                    self._archive.put(stored_at, text.encode("utf-8"), correlation_id=correlation_id,
                                      source=source.id, event_id=event.event_id)
                    message["payload_key"] = stored_at
                self._queue.send(message, correlation_id=correlation_id)
                sent += 1
            body: dict[str, Any] = {"status": "accepted", "correlation_id": correlation_id}
            if len(events) == 1:
                body["event_id"] = events[0].event_id
            else:
                body.update(event_ids=[event.event_id for event, _ in fresh], duplicates=len(duplicates))
            return self._answer(webhook, 202 if fresh else 200, body, "accepted", correlation_id,
                                accepted=len(fresh), duplicates=len(duplicates))
        except Exception:
            self._release(source.id, fresh[sent:], correlation_id)
            raise

    def _release(self, source_id: str, unsent: list[tuple[WebhookEvent, Any]], correlation_id: str) -> None:
        """Best effort: if the release fails too (the same outage), the claim stays pending and is taken
        over after its lease; reconciliation names it meanwhile (``event_not_processed``)."""
        for event, claim in unsent:
            try:
                self._inbox.release(source_id, event.event_id, correlation_id=correlation_id, day=claim.day)
            except Exception:  # noqa: S112 - the original failure is what the caller reports
                continue

    @staticmethod
    def _answer(webhook: Any, status: int, body: dict[str, Any], outcome: str, correlation_id: str, *,
                accepted: int, duplicates: int) -> WebhookResponse:
        acknowledge = getattr(webhook, "acknowledge", None)
        if acknowledge is None:
            return WebhookResponse(status, body, outcome, correlation_id)
        ack = acknowledge(accepted, duplicates)
        return WebhookResponse(ack.status, body, outcome, correlation_id, {"Content-Type": ack.content_type},
                               raw_body=ack.body)


@dataclass(slots=True)
class _Seen:
    source: str | None = None


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
