"""Replay from the raw archive: one document, or every event archived in a date range.

A replayed event goes through normalize again (message ``replay: true``, optionally pinned to a
configuration version). What is already posted stays as it is — the ledger and the ERP's external-id
lookup make a second posting impossible; documents in exception or stuck are re-run under a fresh
execution name; events that were accepted but never processed (lost messages) are completed.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ledgerlink.clock import epoch
from ledgerlink.connectors.sources import WEBHOOK_KINDS, webhook_module
from ledgerlink.errors import ConfigError, OpsError
from ledgerlink.model.status import DocumentStatus
from ledgerlink.store.clients import error_code


@dataclass
class ReplayPlan:
    messages: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


class Replayer:
    def __init__(self, *, config: Any, archive: Any, ledger: Any, inbox: Any, queue: Any) -> None:
        self._config = config        # () -> (version, LedgerLinkConfig)
        self._archive = archive
        self._ledger = ledger
        self._inbox = inbox
        self._queue = queue

    def _kind(self, source_id: str) -> str:
        source = self._config()[1].source(source_id)
        if source is None:
            raise ConfigError(f"source {source_id!r} is not configured")
        return str(source.kind)

    @staticmethod
    def _archived_events(kind: str, archive_key: str, raw: bytes) -> list[tuple[str, str | None, str]]:
        """(event id, event type if known, message body) of each event in one archived object — the body the
        ingest / poll / bank-file step enqueued for it."""
        stem = archive_key.rsplit("/", 1)[-1].rsplit(".", 1)[0]  # single-event objects are named by event id
        if kind == "bank":  # the raw statement file; the bank-file step wraps it
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("latin-1")
            return [(stem, "bank.statement_file", json.dumps({"file": {"name": stem, "dropped_key": None,
                                                                         "sha256": hashlib.sha256(raw).hexdigest()},
                                                                "content": text}))]
        if kind not in WEBHOOK_KINDS:  # polled items are archived as the very message body
            return [(stem, None, raw.decode("utf-8"))]
        module = webhook_module(kind)
        if module.parse_request is not None:  # the id travels in a header (Standard Webhooks): one event per body
            return [(stem, None, raw.decode("utf-8"))]
        events = module.parse_events(raw)
        as_body = len(events) == 1 and bool(module.BODY_IS_EVENT)
        return [(event.event_id, event.event_type, raw.decode("utf-8") if as_body else json.dumps(event.payload))
                for event in events]

    def _messages_for(self, source_id: str, archive_key: str, *, only_event: str | None,
                      config_version: int | None) -> list[dict[str, Any]]:
        kind = self._kind(source_id)
        try:
            raw = self._archive.get(archive_key)
        except Exception as exc:
            if error_code(exc) not in ("NoSuchKey", "404"):
                raise
            raise OpsError(f"the archived request {archive_key} is missing: nothing to replay", status=409,
                           reason="archive_missing") from None
        messages = []
        for event_id, event_type, body in self._archived_events(kind, archive_key, raw):
            if only_event and event_id != only_event:
                continue
            claim = self._inbox.get(source_id, event_id) or {}
            claimed_at = int(claim.get("claimed_at") or epoch())
            message: dict[str, Any] = {
                "v": 1, "source": source_id, "kind": kind, "event_id": event_id,
                "event_type": event_type or claim.get("event_type") or "unknown",
                "correlation_id": f"replay-{uuid.uuid4()}", "archive_key": archive_key, "replay": True,
                "received_at": claimed_at,
                "received_day": claim.get("pending_day") or time.strftime("%Y-%m-%d", time.gmtime(claimed_at)),
                "body": body,
            }
            if config_version is not None:
                message["config_version"] = config_version
            messages.append(message)
        return messages

    def plan_event(self, source_id: str, archive_key: str, event_id: str, *, resolves_exception: str | None = None,
                   config_version: int | None = None) -> ReplayPlan:
        """One archived event (an exception case that never reached a document)."""
        messages = self._messages_for(source_id, archive_key, only_event=event_id or None,
                                      config_version=config_version)
        for message in messages:
            message["resolves_exception"] = resolves_exception
        return ReplayPlan(messages=messages)

    def plan_document(self, document_id: str, *, config_version: int | None = None) -> ReplayPlan:
        plan = ReplayPlan()
        item = self._ledger.get(document_id)
        if item is None:
            raise ConfigError(f"no document {document_id} in the ledger")
        if item["status"] in (DocumentStatus.POSTED, DocumentStatus.IGNORED):
            plan.skipped.append({"document_id": document_id, "reason": f"already {item['status']}"})
            return plan
        plan.messages = self._messages_for(item["source_id"], item["archive_key"], only_event=item.get("event_id"),
                                           config_version=config_version)
        return plan

    def plan_range(self, start: date, end: date, *, source_id: str | None = None,
                   config_version: int | None = None) -> ReplayPlan:
        """Every event archived (by UTC receipt date) from ``start`` to ``end`` inclusive."""
        plan = ReplayPlan()
        sources = [source_id] if source_id else [s.id for s in self._config()[1].sources]
        day = start
        while day <= end:
            for source in sources:
                for key in self._archive.keys(f"raw/{source}/{day:%Y/%m/%d}/"):
                    plan.messages.extend(self._messages_for(source, key, only_event=None,
                                                            config_version=config_version))
            day += timedelta(days=1)
        return plan

    def execute(self, plan: ReplayPlan, on_sent: Callable[[int, int], None] | None = None) -> int:
        """Send the plan's messages; ``on_sent(done, total)`` after each (the CLI's progress)."""
        for done, message in enumerate(plan.messages, 1):
            self._queue.send(message, correlation_id=message["correlation_id"])
            if on_sent is not None:
                on_sent(done, len(plan.messages))
        return len(plan.messages)
