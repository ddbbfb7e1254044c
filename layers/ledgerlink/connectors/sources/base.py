"""What every source normalizer receives and returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from ledgerlink.config.model import Entity, LedgerLinkConfig
from ledgerlink.model.documents import Document


@dataclass(frozen=True, slots=True)
class NormalizeContext:
    config: LedgerLinkConfig
    source_id: str
    correlation_id: str
    archive_key: str | None = None


@dataclass(slots=True)
class Ignored:
    """An event, or part of one, that deliberately produces no document — recorded, not dropped."""

    reason: str
    detail: str


@dataclass(slots=True)
class Normalized:
    documents: list[Document] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)


def utc_instant(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, tz=UTC)


def local_date(instant: datetime, entity: Entity) -> date:
    """The accounting date: the instant's calendar date in the entity's time zone (not UTC)."""
    return instant.astimezone(ZoneInfo(entity.time_zone)).date()
