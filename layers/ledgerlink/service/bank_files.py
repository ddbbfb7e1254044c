"""Receive a bank statement file dropped under ``bank-inbox/<source id>/`` (S3 event → this service).

Same guarantees as the webhook path: the file's content hash is its event id, claimed in the inbox (a file
dropped twice is a duplicate), the bytes are archived under ``raw/`` before anything is enqueued, and one
message per file goes to the inbound queue (the bank normalizer turns its lines into bank transactions).
Stdlib + store adapters only (no pydantic): the configuration is read as plain JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote_plus

from ledgerlink.clock import epoch
from ledgerlink.model.messages import InboundMessage
from ledgerlink.service.intake import ArchivePort as ArchiveWriter
from ledgerlink.service.intake import QueuePort
from ledgerlink.service.intake import ReleasingInbox as InboxPort
from ledgerlink.store.archive import item_key

if TYPE_CHECKING:
    pass

INBOX_PREFIX = "bank-inbox/"
INLINE_LIMIT = 200_000


class ObjectReader(Protocol):
    def get(self, key: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class FileOutcome:
    key: str
    outcome: str            # accepted | duplicate | rejected
    reason: str | None = None
    event_id: str | None = None
    archive_key: str | None = None


def object_keys(event: Mapping[str, object]) -> list[str]:
    """Keys of an S3 ``ObjectCreated`` notification (URL-encoded by S3: ``+`` is a space), or of the EventBridge
    ``Object Created`` event S3 sends when the bucket has EventBridge enabled (the deployed wiring; its
    ``detail.object.key`` is not URL-encoded)."""
    detail = event.get("detail")
    if event.get("source") == "aws.s3" and isinstance(detail, Mapping):
        key = _member(detail, "object", "key")
        return [key] if isinstance(key, str) and key else []
    keys = []
    records = event.get("Records")
    for record in records if isinstance(records, list) else []:
        key = _member(record, "s3", "object", "key")
        if isinstance(key, str):
            keys.append(unquote_plus(key))
    return keys


def _member(value: object, *path: str) -> object:
    """``value[path[0]][path[1]]…`` of a JSON event, None where a step is not an object or is absent."""
    for name in path:
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def file_archive_key(source_id: str, event_id: str, name: str, received_at: float) -> str:
    day = time.strftime("%Y/%m/%d", time.gmtime(received_at))
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else "txt"
    return f"raw/{source_id}/{day}/{event_id}.{suffix if suffix.isalnum() else 'txt'}"


class BankFileService:
    def __init__(self, *, config: Callable[[], tuple[int, Mapping[str, object]]], reader: ObjectReader,
                 archive: ArchiveWriter, inbox: InboxPort, queue: QueuePort,
                 clock: Callable[[], float] = epoch) -> None:
        self._config = config
        self._reader = reader
        self._archive = archive
        self._inbox = inbox
        self._queue = queue
        self._clock = clock

    def receive(self, key: str, *, correlation_id: str) -> FileOutcome:
        if not key.startswith(INBOX_PREFIX) or key.count("/") < 2 or key.endswith("/"):
            return FileOutcome(key, "rejected", "not_a_bank_inbox_file")
        source_id, name = key[len(INBOX_PREFIX):].split("/", 1)
        source = self._bank_source(source_id)
        if source is None:
            return FileOutcome(key, "rejected", "unknown_bank_source")
        body = self._reader.get(key)
        limit = source.get("max_body_bytes", 10_000_000)
        if len(body) > (int(limit) if isinstance(limit, int | float | str) else 10_000_000):
            return FileOutcome(key, "rejected", "file_too_large")
        now = self._clock()
        event_id = "file-" + hashlib.sha256(body).hexdigest()[:32]
        archived = file_archive_key(source_id, event_id, name, now)
        claim = self._inbox.claim(source_id, event_id, correlation_id=correlation_id, archive_key=archived,
                                  event_type="bank.statement_file", now=now)
        if not claim.is_new:
            return FileOutcome(key, "duplicate", "file_already_received", event_id, claim.archive_key)
        try:  # a failure from here on releases the claim, so the invocation's retry receives the file again
            self._archive.put(archived, body, correlation_id=correlation_id, source=source_id, event_id=event_id)
            try:
                text = body.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = body.decode("latin-1")  # BAI2 files from older bank systems; camt declares UTF-8
            payload = json.dumps({"file": {"name": name, "dropped_key": key, "sha256": hashlib.sha256(body).hexdigest()},
                                  "content": text})
            inline = len(payload.encode("utf-8")) <= INLINE_LIMIT
            stored = None if inline else item_key(archived.rsplit(".", 1)[0] + ".json", event_id)
            if stored is not None:
                self._archive.put(stored, payload.encode("utf-8"), correlation_id=correlation_id, source=source_id,
                                  event_id=event_id)
            message = InboundMessage(source=source_id, kind="bank", event_id=event_id,
                                     event_type="bank.statement_file", correlation_id=correlation_id,
                                     archive_key=archived, received_at=int(now),
                                     received_day=claim.day or time.strftime("%Y-%m-%d", time.gmtime(now)),
                                     body=payload if inline else None, payload_key=stored)
            self._queue.send(message.to_json(), correlation_id=correlation_id)
        except Exception:
            with contextlib.suppress(Exception):  # if it fails too, the claim waits out its lease
                self._inbox.release(source_id, event_id, correlation_id=correlation_id, day=claim.day)
            raise
        return FileOutcome(key, "accepted", None, event_id, archived)

    def _bank_source(self, source_id: str) -> Mapping[str, object] | None:
        """The configured bank source (the stored configuration JSON, read without pydantic)."""
        _, config = self._config()
        sources = config.get("sources")
        return next((s for s in (sources if isinstance(sources, list) else [])
                     if isinstance(s, Mapping) and s.get("id") == source_id and s.get("kind") == "bank"), None)
