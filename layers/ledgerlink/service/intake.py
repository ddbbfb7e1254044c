"""The ports every intake path shares — ingest (webhooks), the poller, backfill and bank files: they claim an event
in the inbox, archive its raw body, queue its inbound message and read the source's signing secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ledgerlink.model.inbox import Claim
    from ledgerlink.model.json import JsonObject


class ClaimingInbox(Protocol):
    def claim(self, source: str, event_id: str, *, correlation_id: str, archive_key: str, event_type: str,
              now: float | None = None) -> Claim: ...


class ReleasingInbox(ClaimingInbox, Protocol):
    """An inbox a path can hand a claim back to when its message could not be queued (the provider retries)."""

    def release(self, source: str, event_id: str, *, correlation_id: str, day: str) -> bool: ...


class ArchivePort(Protocol):
    def put(self, key: str, body: bytes, *, correlation_id: str, source: str, event_id: str) -> None: ...


class QueuePort(Protocol):
    def send(self, message: JsonObject, *, correlation_id: str) -> str: ...


class SecretsPort(Protocol):
    def get(self, secret_id: str) -> list[str]: ...
