"""The local stack's state across restarts (``ledgerlink local up --state-dir DIR``).

Three parts, chosen so that a restart — clean or after ``kill -9`` — loses nothing the stack acknowledged:

* **S3 is written through to disk.** Every object this stack's buckets receive is also written to
  ``DIR/s3/<bucket>/<sha256 of the key>.obj`` (a JSON header line — key, metadata, when — then the body) *inside*
  moto's handling of the PUT: written to a temporary file, flushed, ``fsync``-ed, renamed over the old one. The
  ingest step archives a webhook's raw body before it enqueues it and before the provider gets its 2xx, so every
  acknowledged webhook is on disk before it is acknowledged — what S3's durability gives on AWS.
* **DynamoDB and SQS are snapshotted** to ``DIR/snapshot.json`` at a clean stop and every
  ``snapshot_every_seconds`` (temporary file, ``fsync``, rename: a crash mid-write leaves the previous snapshot).
  The tables are read under the one lock every DynamoDB item operation of the local stack takes
  (``atomic_dynamodb``), so a snapshot never holds half a transaction (a claim without its counter). The file is a
  header line (format, version, stack prefix, SHA-256 and length of the body) and the body: a truncated, edited or
  foreign file is refused with a reason, never half-loaded.
* **At start, what the snapshot does not reflect is re-driven** (``recover``): archived requests the restored inbox
  never claimed (acknowledged after the snapshot) are claimed as ingest would have and enqueued; claims still
  ``pending`` with no message in the restored queues are enqueued again; documents still ``received`` (their
  execution died with the process) are started again; documents in ``exception`` whose case waited on an execution
  (none survives a restart) are re-run, and a run that fails the same way reopens the same case with the new
  execution's task token. Everything is idempotent downstream (the inbox claim, the ledger's conditional
  transitions, the post step's lookup by external id): a re-driven event that was in fact done posts nothing.

The Beancount books and the legacy GL files already live in ``DIR`` (files), and survive as they are.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict
from unittest import mock

from ledgerlink import clock
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.status import DocumentStatus

FORMAT = "ledgerlink-local-state"
VERSION = 1
SNAPSHOT = "snapshot.json"
OBJECTS = "s3"
# what the local stack itself writes into its state directory; a directory with none of them (and something else) is
# not one
OWN_ENTRIES = frozenset({SNAPSHOT, OBJECTS, "books", "legacy", "lambda.log", "stack.json"})
_TMP = ".tmp-"
FINAL_CASE_STATUSES = frozenset({"resolved", "ignored", "rejected"})


class LocalStateError(Exception):
    """The state directory cannot be used; ``reason`` is machine-readable."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class QueuedMessage(TypedDict):
    """A message of a snapshot's queue, as moto held it."""

    body: str
    attributes: JsonObject | None   # SQS message attributes (the correlation id)
    receive_count: int


class ObjectHeader(TypedDict):
    """The JSON line before a written-through object's body."""

    key: str
    metadata: dict[str, str]
    written_at: float


@dataclass
class Snapshot:
    taken_at: str
    tables: dict[str, list[JsonObject]] = field(default_factory=dict)   # logical table → items (DynamoDB JSON)
    queues: dict[str, list[QueuedMessage]] = field(default_factory=dict)   # "inbound" / "inbound-dlq" → messages

    def items(self, table: str) -> list[JsonObject]:
        return self.tables.get(table, [])


@dataclass
class Recovery:
    """What a start restored and re-drove (printed by ``local up``)."""

    snapshot_taken_at: str | None = None
    items: int = 0
    messages: int = 0
    objects: int = 0
    claimed: int = 0            # archived events the restored inbox did not know: claimed again
    enqueued: int = 0           # events enqueued again (claimed above, or pending without a message)
    restarted: int = 0          # documents whose execution died with the process, started again
    resumed_cases: int = 0      # documents of cases that waited on an execution, re-run
    not_redriven: list[str] = field(default_factory=list)   # what could not be re-driven, and why

    @property
    def restored(self) -> bool:
        return self.snapshot_taken_at is not None or self.objects > 0

    def describe(self) -> str:
        parts = [f"snapshot of {self.snapshot_taken_at}" if self.snapshot_taken_at else "no snapshot",
                 f"{self.items} DynamoDB items", f"{self.messages} queued messages", f"{self.objects} S3 objects"]
        redriven = [f"{self.claimed} archived event(s) claimed again", f"{self.enqueued} event(s) enqueued again",
                    f"{self.restarted} document(s) restarted", f"{self.resumed_cases} waiting case(s) re-run"]
        text = "restored " + ", ".join(parts) + "; " + ", ".join(redriven)
        if self.not_redriven:
            text += f"; not re-driven: {'; '.join(self.not_redriven[:5])}{' ...' if len(self.not_redriven) > 5 else ''}"
        return text


# ---- the directory ------------------------------------------------------------------------------------------

def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):   # not every file system lets a directory be opened
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def atomic_write(path: Path, chunks: list[bytes], *, durable: bool = True) -> None:
    """Write ``path`` so that a reader (or a restart after a crash) sees the old file or the new one, never half."""
    temporary = path.with_name(f"{_TMP}{path.name}.{uuid.uuid4().hex}")
    try:
        with temporary.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


class StateDir:
    def __init__(self, root: Path, *, prefix: str, durable: bool = True) -> None:
        self.root = root
        self.prefix = prefix
        self.durable = durable
        self._write_lock = threading.Lock()

    @property
    def snapshot_path(self) -> Path:
        return self.root / SNAPSHOT

    @property
    def objects_dir(self) -> Path:
        return self.root / OBJECTS

    def prepare(self, *, fresh: bool) -> Snapshot | None:
        """Check the directory before anything starts; empty it when ``fresh`` (or when it holds no state to
        restore: a directory of a version without persistence). Returns the snapshot to restore, if any."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise LocalStateError(f"{root} is not a directory", reason="state_dir_not_a_directory")
        entries = {entry.name for entry in root.iterdir()} if root.exists() else set()
        foreign = sorted(name for name in entries if name not in OWN_ENTRIES and not name.startswith(_TMP))
        if foreign and not entries & OWN_ENTRIES:   # nothing the stack writes: someone else's directory
            raise LocalStateError(
                f"{root} does not look like a LedgerLink local-stack state directory (it holds {', '.join(foreign[:5])}"
                f"{' ...' if len(foreign) > 5 else ''}); nothing was read or deleted — name an empty or new "
                "directory with --state-dir", reason="foreign_state_dir")
        if fresh or not ({SNAPSHOT, OBJECTS} & entries):
            if root.exists():
                shutil.rmtree(root)
            root.mkdir(parents=True)
            return None
        for leftover in root.glob(f"{_TMP}*"):   # a write the previous process did not finish
            leftover.unlink()
        return self.read_snapshot() if SNAPSHOT in entries else None

    # ---- the snapshot file ---------------------------------------------------------------------------------

    def write_snapshot(self, snapshot: Snapshot) -> int:
        body = json.dumps({"taken_at": snapshot.taken_at, "tables": snapshot.tables, "queues": snapshot.queues},
                          separators=(",", ":"), default=_json_default).encode()
        header = json.dumps({"format": FORMAT, "version": VERSION, "prefix": self.prefix,
                             "taken_at": snapshot.taken_at, "bytes": len(body),
                             "sha256": hashlib.sha256(body).hexdigest()}, separators=(",", ":")).encode()
        with self._write_lock:
            atomic_write(self.snapshot_path, [header, b"\n", body], durable=self.durable)
        return len(header) + 1 + len(body)

    def read_snapshot(self) -> Snapshot:
        path = self.snapshot_path
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise LocalStateError(f"cannot read {path}: {exc.strerror}", reason="snapshot_unreadable") from None
        first, _, body = raw.partition(b"\n")
        try:
            header = json.loads(first)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise LocalStateError(f"{path} is not a LedgerLink local-stack snapshot", reason="snapshot_foreign")
        if header.get("version") != VERSION:
            raise LocalStateError(f"{path} is a snapshot of format version {header.get('version')!r}; this version "
                                  f"reads version {VERSION}", reason="snapshot_version")
        if header.get("prefix") != self.prefix:
            raise LocalStateError(f"{path} holds the state of the stack {header.get('prefix')!r}, not "
                                  f"{self.prefix!r}", reason="snapshot_foreign")
        if header.get("bytes") != len(body) or header.get("sha256") != hashlib.sha256(body).hexdigest():
            raise LocalStateError(f"{path} is damaged: its content does not match the length and SHA-256 its header "
                                  "records (truncated or edited); restore a copy, or start empty with --fresh",
                                  reason="snapshot_corrupt")
        try:
            data = json.loads(body)
            snapshot = Snapshot(taken_at=str(data["taken_at"]), tables=dict(data["tables"]),
                                queues=dict(data["queues"]))
        except (ValueError, KeyError, TypeError):
            raise LocalStateError(f"{path} is damaged: its body is not a snapshot", reason="snapshot_corrupt") from None
        return snapshot

    # ---- the written-through S3 objects ----------------------------------------------------------------------

    def object_path(self, bucket: str, key: str) -> Path:
        return self.objects_dir / bucket / (hashlib.sha256(key.encode()).hexdigest()[:40] + ".obj")

    def write_object(self, bucket: str, key: str, body: bytes, metadata: dict[str, str]) -> None:
        path = self.object_path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"key": key, "metadata": metadata, "written_at": clock.epoch()},
                            separators=(",", ":")).encode()
        atomic_write(path, [header, b"\n", body], durable=self.durable)

    def delete_object(self, bucket: str, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.object_path(bucket, key).unlink()

    def objects(self) -> Iterator[tuple[str, str, bytes, ObjectHeader]]:
        """(bucket, key, body, header) of every written-through object."""
        if not self.objects_dir.is_dir():
            return
        for bucket_dir in sorted(p for p in self.objects_dir.iterdir() if p.is_dir()):
            for path in sorted(bucket_dir.glob("*.obj")):
                raw = path.read_bytes()
                first, separator, body = raw.partition(b"\n")
                try:
                    header = json.loads(first)
                    key = header["key"]
                except (ValueError, KeyError, TypeError):
                    header, key = None, None
                if not separator or not isinstance(key, str) or path != self.object_path(bucket_dir.name, key):
                    raise LocalStateError(f"{path} is not an object this stack wrote (damaged or foreign)",
                                          reason="object_corrupt")
                yield bucket_dir.name, key, body, header


def _json_default(value: object) -> JsonValue:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not serializable")


# ---- moto: write-through, capture, restore ------------------------------------------------------------------

@contextlib.contextmanager
def s3_write_through(state: StateDir) -> Iterator[None]:
    """Every object PUT to (or deleted from) a bucket of this stack is written to (removed from) ``state`` before
    moto answers the request: the caller's success means the object is on disk."""
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    put, delete = S3Response.put_object, S3Backend.delete_object
    mine = f"{state.prefix}-"

    def written_put(response: Any) -> Any:
        answer = put(response)
        bucket = response.bucket_name
        if isinstance(bucket, str) and bucket.startswith(mine):
            key_name = response.parse_key_name()
            stored = response.backend.get_object(bucket, key_name)
            if stored is not None:
                state.write_object(bucket, key_name, bytes(stored.value), dict(stored.metadata))
        return answer

    def written_delete(backend: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        answer = delete(backend, bucket_name, key_name, *args, **kwargs)
        if bucket_name.startswith(mine):
            current = backend.get_object(bucket_name, key_name)
            if current is None:
                state.delete_object(bucket_name, key_name)
            else:   # a version was deleted, another one is current
                state.write_object(bucket_name, key_name, bytes(current.value), dict(current.metadata))
        return answer

    with mock.patch.object(S3Response, "put_object", written_put), \
            mock.patch.object(S3Backend, "delete_object", written_delete):
        yield


def _plain(value: Any) -> JsonObject:  # a moto DynamoType (moto is untyped)
    """A moto DynamoType as DynamoDB JSON."""
    kind, content = value.type, value.value
    if kind == "M":
        return {"M": {name: _plain(nested) for name, nested in content.items()}}
    if kind == "L":
        return {"L": [_plain(nested) for nested in content]}
    return {kind: content}


def _backends() -> tuple[Any, Any]:
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    from ledgerlink.local.aws import ACCOUNT, REGION

    return dynamodb_backends[ACCOUNT][REGION], sqs_backends[ACCOUNT][REGION]


def capture(resources: Any, lock: Any) -> Snapshot:
    """The stack's DynamoDB tables (under ``lock``: no half transaction) and queued messages, in-flight ones included
    (their handler's work is re-driven if it did not finish)."""
    dynamodb, sqs = _backends()
    tables: dict[str, list[JsonObject]] = {}
    with lock:
        taken_at = clock.now().isoformat(timespec="seconds")
        for logical, physical in resources.tables.items():
            table = dynamodb.tables[physical]
            tables[logical] = [{name: _plain(attribute) for name, attribute in item.attrs.items()}
                               for item in table.all_items()]
    queues: dict[str, list[QueuedMessage]] = {}
    for label, url in (("inbound", resources.inbound_queue_url), ("inbound-dlq", resources.inbound_dlq_url)):
        queue = sqs.queues[url.rsplit("/", 1)[-1]]
        queues[label] = [{"body": message.body, "attributes": message.message_attributes,
                          "receive_count": message.approximate_receive_count} for message in list(queue._messages)]
    return Snapshot(taken_at=taken_at, tables=tables, queues=queues)


def waiting_cases(snapshot: Snapshot) -> list[JsonObject]:
    """Cases whose execution waited on a task token: no execution survives a restart, so the token is dead."""
    return [item for item in snapshot.items("exceptions")
            if _text(item, "task_token") is not None and _text(item, "status") not in FINAL_CASE_STATUSES]


def restore(state: StateDir, snapshot: Snapshot | None, resources: Any) -> Recovery:
    """Load the written-through objects and the snapshot into moto (before anything runs). Task tokens of waiting
    cases are dropped: their executions are gone (``recover`` re-runs those documents)."""
    from moto.s3.models import s3_backends

    from ledgerlink.local.aws import ACCOUNT

    recovery = Recovery()
    s3 = s3_backends[ACCOUNT]["global"]
    for bucket, key, body, header in state.objects():
        if bucket not in (resources.archive_bucket, resources.reports_bucket):
            raise LocalStateError(f"{state.objects_dir / bucket} belongs to another stack than {state.prefix!r}",
                                  reason="object_foreign")
        stored = s3.put_object(bucket, key, body, disable_notification=True)
        stored.set_metadata(header.get("metadata") or {})
        recovery.objects += 1
    if snapshot is None:
        return recovery
    recovery.snapshot_taken_at = snapshot.taken_at
    dynamodb, sqs = _backends()
    dead_tokens = {id(case) for case in waiting_cases(snapshot)}
    for logical, items in snapshot.tables.items():
        physical = resources.tables.get(logical)
        if physical is None:
            raise LocalStateError(f"the snapshot holds a table {logical!r} this version of LedgerLink does not have; "
                                  "start it with the version that wrote it, or start empty with --fresh",
                                  reason="snapshot_version")
        table = dynamodb.tables[physical]
        for item in items:
            if id(item) in dead_tokens:
                item = {name: attribute for name, attribute in item.items() if name != "task_token"}
            table.put_item(item)
            recovery.items += 1
    for label, url in (("inbound", resources.inbound_queue_url), ("inbound-dlq", resources.inbound_dlq_url)):
        for message in snapshot.queues.get(label, []):
            sqs.send_message(url.rsplit("/", 1)[-1], message["body"], message_attributes=message.get("attributes"))
            recovery.messages += 1
    return recovery


# ---- re-driving what the snapshot does not reflect ------------------------------------------------------------

def _text(item: JsonObject, name: str) -> str | None:
    value = item.get(name)
    text = value.get("S") if isinstance(value, dict) else None
    return text if isinstance(text, str) else None


def recover(state: StateDir, snapshot: Snapshot | None, resources: Any, recovery: Recovery) -> Recovery:
    """Enqueue again whatever the restored state does not show as done (see the module docstring). Runs after
    ``restore`` and the configuration, before the pollers and the front start."""
    redriver = _Redriver(state, snapshot or Snapshot(taken_at=""), resources, recovery)
    redriver.archived_after_snapshot()
    redriver.pending_without_message()
    redriver.documents_in_flight()
    return recovery


def _seconds(value: JsonValue) -> float:
    if isinstance(value, str | int | float | Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not a time in seconds")


def _queued_events(snapshot: Snapshot) -> set[tuple[str, str]]:
    """(source, event id) of every message the snapshot's queues hold."""
    queued: set[tuple[str, str]] = set()
    for label in ("inbound", "inbound-dlq"):
        for message in snapshot.queues.get(label, []):
            with contextlib.suppress(ValueError, TypeError, KeyError):
                body = json.loads(message["body"])
                queued.add((str(body["source"]), str(body["event_id"])))
    return queued


class _Redriver:
    """``recover``'s four steps, over the restored stores (``resources``: ``ledgerlink.local.aws.Resources``)."""

    def __init__(self, state: StateDir, snapshot: Snapshot, resources: Any, recovery: Recovery) -> None:
        from ledgerlink.ops.replay import Replayer
        from ledgerlink.store.archive import S3Archive
        from ledgerlink.store.config_store import DynamoConfigStore
        from ledgerlink.store.inbox import DynamoInbox
        from ledgerlink.store.ledger import DynamoLedger
        from ledgerlink.store.queue import SqsQueue

        totals = resources.tables["totals"]
        self.state, self.snapshot, self.resources, self.recovery = state, snapshot, resources, recovery
        self.inbox = DynamoInbox(resources.tables["inbox"], totals_table=totals)
        self.queue = SqsQueue(resources.inbound_queue_url)
        self.replayer = Replayer(config=DynamoConfigStore(resources.tables["config"]).active,
                                 archive=S3Archive(resources.archive_bucket),
                                 ledger=DynamoLedger(resources.tables["ledger"], totals_table=totals),
                                 inbox=self.inbox, queue=self.queue)
        self.queued = _queued_events(snapshot)   # (source, event id) with a message restored or sent here
        self.claims = {(_text(item, "source"), _text(item, "event_id")): item for item in snapshot.items("inbox")}

    def send(self, message: JsonObject, correlation_id: str | None, *, replay: bool) -> None:
        message["replay"] = replay
        message.pop("resolves_exception", None)
        if correlation_id:
            message["correlation_id"] = correlation_id
        self.queue.send(message, correlation_id=str(message["correlation_id"]))
        self.queued.add((str(message["source"]), str(message["event_id"])))
        self.recovery.enqueued += 1

    def archived_after_snapshot(self) -> None:
        """1. requests archived (so acknowledged, or about to be) after the snapshot: claim them as ingest did"""
        from ledgerlink.store.archive import RAW_PREFIX

        known_keys = {_text(item, "archive_key") for item in self.claims.values()}
        for bucket, key, _body, header in self.state.objects():
            if bucket != self.resources.archive_bucket or not key.startswith(RAW_PREFIX) or key in known_keys:
                continue
            source_id = key.removeprefix(RAW_PREFIX).split("/", 1)[0]
            try:
                plan = self.replayer.plan_event(source_id, key, "")
            except Exception as exc:   # noqa: BLE001 - e.g. a source no longer configured: reported, the rest recovers
                self.recovery.not_redriven.append(f"{key}: {exc}")
                continue
            metadata = {name.lower(): value for name, value in (header.get("metadata") or {}).items()}
            correlation_id = metadata.get("x-amz-meta-correlation-id") or None
            for message in plan.messages:
                if (source_id, message["event_id"]) not in self.claims:
                    self._claim(source_id, key, message, header, correlation_id)

    def _claim(self, source_id: str, key: str, message: JsonObject, header: ObjectHeader,
               correlation_id: str | None) -> None:
        received_at = _seconds(header.get("written_at") or message["received_at"])
        claim = self.inbox.claim(source_id, str(message["event_id"]),
                                 correlation_id=correlation_id or str(message["correlation_id"]), archive_key=key,
                                 event_type=str(message["event_type"]), now=received_at)
        message["received_at"] = int(received_at)
        message["received_day"] = claim.day or message["received_day"]
        if claim.is_new:
            self.recovery.claimed += 1
        if claim.status == "pending":
            self.send(message, correlation_id, replay=False)

    def pending_without_message(self) -> None:
        """2. claims still pending with no message restored: the message was consumed, its work not finished"""
        from ledgerlink.errors import OpsError

        for (source_id, event_id), item in self.claims.items():
            if _text(item, "status") != "pending" or (source_id, event_id) in self.queued or not source_id \
                    or not event_id:
                continue
            archive_key = _text(item, "archive_key") or ""
            try:
                plan = self.replayer.plan_event(source_id, archive_key, event_id)
            except OpsError:   # claimed, never archived: the provider never got its 2xx and delivers it again
                self.recovery.not_redriven.append(f"{source_id}#{event_id}: claimed but never archived, so never "
                                                  "acknowledged (the provider retries it)")
                continue
            for message in plan.messages:
                self.send(message, _text(item, "correlation_id"), replay=False)

    def documents_in_flight(self) -> None:
        """3. documents whose execution died with the process; 4. documents whose case waited on an execution"""
        waiting = {_text(case, "document_id") for case in waiting_cases(self.snapshot)}
        for item in self.snapshot.items("ledger"):
            status, document_id = _text(item, "status"), _text(item, "document_id")
            if document_id is None or not (status == DocumentStatus.RECEIVED or
                                           (status == DocumentStatus.EXCEPTION and document_id in waiting)):
                continue
            event = (_text(item, "source_id"), _text(item, "event_id"))
            if status == DocumentStatus.RECEIVED and event in self.queued:
                continue
            self._rerun(document_id, item, replay=status != DocumentStatus.RECEIVED)

    def _rerun(self, document_id: str, item: JsonObject, *, replay: bool) -> None:
        try:
            plan = self.replayer.plan_document(document_id)
        except Exception as exc:  # noqa: BLE001 - reported, the rest still recovers
            self.recovery.not_redriven.append(f"{document_id}: {exc}")
            return
        for message in plan.messages:
            # replay: re-run under a fresh execution; a failure reopens the same case with a live token
            self.send(message, _text(item, "correlation_id"), replay=replay)
            if replay:
                self.recovery.resumed_cases += 1
            else:
                self.recovery.restarted += 1
