"""Gap backfill: events the provider created but never delivered enter the pipeline as if delivered.

For each source whose config names an API key (Stripe: ``api_key``), the events created in a window are
listed; every one the inbox has not seen is claimed (counted as received), archived and enqueued exactly
like a webhook — the claim makes backfill and a late real delivery mutually exclusive.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ledgerlink.clock import epoch
from ledgerlink.model.json import JsonObject
from ledgerlink.model.messages import InboundMessage
from ledgerlink.service.intake import ArchivePort, QueuePort, SecretsPort
from ledgerlink.service.intake import ClaimingInbox as InboxPort
from ledgerlink.store.archive import archive_key

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.config.sources import StripeSource


@dataclass
class BackfillResult:
    source_id: str
    listed: int = 0
    already_received: int = 0
    injected: list[str] = field(default_factory=list)


class Lister(Protocol):
    """Lists a provider's events created in ``[created_gte, created_lt)`` (raw JSON, as the API sends them)."""

    def __call__(self, *, api_base: str, api_key: str, created_gte: int, created_lt: int) -> Iterator[JsonObject]: ...


def stripe_lister() -> Lister:
    from ledgerlink.connectors.sources.stripe.events_api import list_events

    lister: Lister = list_events
    return lister


class Backfiller:
    def __init__(self, *, secrets: SecretsPort, inbox: InboxPort, archive: ArchivePort, queue: QueuePort,
                 listers: dict[str, Lister] | None = None, clock: Callable[[], float] = epoch) -> None:
        self._secrets = secrets
        self._inbox = inbox
        self._archive = archive
        self._queue = queue
        self._listers = listers if listers is not None else {"stripe": stripe_lister()}
        self._clock = clock

    def sources(self, config: LedgerLinkConfig) -> list[StripeSource]:
        """The sources backfill can list: a lister for their kind and an API key configured."""
        from ledgerlink.config.sources import StripeSource

        return [s for s in config.sources
                if isinstance(s, StripeSource) and s.kind in self._listers and s.api_key is not None]

    def run(self, config: LedgerLinkConfig, *, created_gte: int, created_lt: int) -> list[BackfillResult]:
        return [self._one(source, created_gte, created_lt) for source in self.sources(config)]

    def _one(self, source: StripeSource, created_gte: int, created_lt: int) -> BackfillResult:
        result = BackfillResult(source.id)
        assert source.api_key is not None   # sources() keeps only those with one
        (api_key, *_) = self._secrets.get(source.api_key.secret_id)
        for event in self._listers[source.kind](api_base=source.api_base, api_key=api_key,
                                                created_gte=created_gte, created_lt=created_lt):
            event_id, event_type = event.get("id"), event.get("type")
            if not isinstance(event_id, str) or not isinstance(event_type, str):
                continue
            result.listed += 1
            now = self._clock()
            correlation_id = f"backfill-{uuid.uuid4()}"
            claim = self._inbox.claim(source.id, event_id, correlation_id=correlation_id,
                                      archive_key=archive_key(source.id, event_id, now), event_type=event_type, now=now)
            if not claim.is_new:
                result.already_received += 1
                continue
            body = json.dumps(event, separators=(",", ":")).encode("utf-8")
            self._archive.put(claim.archive_key, body, correlation_id=correlation_id, source=source.id,
                              event_id=event_id)
            message = InboundMessage(source=source.id, kind=source.kind, event_id=event_id, event_type=event_type,
                                     correlation_id=correlation_id, archive_key=claim.archive_key,
                                     received_at=int(now), received_day=claim.day, backfilled=True,
                                     body=body.decode("utf-8"))
            self._queue.send(message.to_json(), correlation_id=correlation_id)
            result.injected.append(event_id)
        return result
