"""Poll a source that sends no webhooks (Expensify): read past the high-water mark, claim, archive, enqueue.

The same guarantees as the webhook path, with the cursor as the provider's "retry":

1. read the mark (``cursors`` table) and ask the vendor for everything after it (the connector re-reads an
   overlap before it, so items the mark's own day gained later are not skipped);
2. claim each item in the inbox by ``(source, event id)`` — an item read twice is a duplicate and costs nothing —
   archive it under ``raw/`` and enqueue it, exactly like ingest;
3. only then move the mark forward, to the newest position read — but never past an item whose claim is still
   ``pending`` from another run inside its lease (that run may have crashed before enqueueing: the next poll must
   read the item again, find the claim stale and take it over).

A crash anywhere before step 3 leaves the mark where it was: the next poll reads the same items again, the inbox
answers "duplicate" for what was enqueued and lets a stale claim be taken over, so nothing is read twice into
the pipeline and nothing is skipped. The mark only moves forward (conditional write), so overlapping runs cannot
move it back. Vendor API errors fail the run (the scheduler retries); the mark stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ledgerlink.clock import epoch
from ledgerlink.connectors.sources import POLLED_KINDS, api_module
from ledgerlink.errors import ConfigError
from ledgerlink.model.json import JsonObject
from ledgerlink.model.messages import InboundMessage
from ledgerlink.service.intake import ArchivePort, QueuePort
from ledgerlink.service.intake import ClaimingInbox as InboxPort
from ledgerlink.store.archive import archive_key

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.config.sources import Source

INLINE_BODY_LIMIT = 200_000


class CursorsPort(Protocol):
    def get(self, source: str) -> str | None: ...
    def advance(self, source: str, position: str, *, correlation_id: str, now: float | None = None) -> bool: ...


class SessionsPort(Protocol):
    def session(self, kind: str, source: Source) -> object: ...   # the kind's API session (connector-defined)


@dataclass
class PollOutcome:
    source: str
    cursor_before: str | None
    cursor_after: str | None
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    held_by: list[str] = field(default_factory=list)   # pending claims of another run that hold the mark back

    def summary(self) -> JsonObject:
        return {"source": self.source, "read": self.read, "accepted": self.accepted, "duplicates": self.duplicates,
                "cursor_before": self.cursor_before, "cursor_after": self.cursor_after, "held": len(self.held_by)}


class PollService:
    def __init__(self, *, config: Callable[[], tuple[int, LedgerLinkConfig]], sessions: SessionsPort, inbox: InboxPort,
                 archive: ArchivePort, queue: QueuePort, cursors: CursorsPort,
                 clock: Callable[[], float] = epoch) -> None:
        self._config = config
        self._sessions = sessions
        self._inbox = inbox
        self._archive = archive
        self._queue = queue
        self._cursors = cursors
        self._clock = clock

    def polled_sources(self) -> list[str]:
        return [source.id for source in self._config()[1].sources if source.kind in POLLED_KINDS]

    def run(self, source_id: str, *, correlation_id: str) -> PollOutcome:
        _, config = self._config()
        source = config.source(source_id)
        if source is None or source.kind not in POLLED_KINDS:
            raise ConfigError(f"no polled source named {source_id!r}", reason="unknown_source")
        module = api_module(source.kind)
        assert module is not None
        cursor = self._cursors.get(source.id)
        outcome = PollOutcome(source=source.id, cursor_before=cursor, cursor_after=cursor)
        items = module.poll(source, self._sessions.session(source.kind, source), cursor)
        newest: str | None = None
        hold: str | None = None
        for item in items:
            outcome.read += 1
            now = self._clock()
            key = archive_key(source.id, item.event_id, now)
            claim = self._inbox.claim(source.id, item.event_id, correlation_id=correlation_id, archive_key=key,
                                      event_type=item.event_type, now=now)
            if claim.is_new:
                self._archive.put(claim.archive_key, item.body, correlation_id=correlation_id, source=source.id,
                                  event_id=item.event_id)
                message = InboundMessage(
                    source=source.id, kind=source.kind, event_id=item.event_id, event_type=item.event_type,
                    correlation_id=correlation_id, archive_key=claim.archive_key, received_at=int(now),
                    received_day=claim.day,
                    body=item.body.decode("utf-8") if len(item.body) <= INLINE_BODY_LIMIT else None)
                self._queue.send(message.to_json(), correlation_id=correlation_id)
                outcome.accepted += 1
            else:
                outcome.duplicates += 1
                if claim.status == "pending" and item.position:
                    # another run holds this claim inside its lease and may not have enqueued it
                    outcome.held_by.append(item.event_id)
                    hold = item.position if hold is None else min(hold, item.position)
            if item.position:
                newest = item.position if newest is None else max(newest, item.position)
        target = newest if hold is None or newest is None else min(newest, hold)
        if target and (cursor is None or target > cursor) and self._cursors.advance(
                source.id, target, correlation_id=correlation_id, now=self._clock()):
            outcome.cursor_after = target
        return outcome
