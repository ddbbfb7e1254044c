"""What every source normalizer receives and returns."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from ledgerlink.config.model import Entity, LedgerLinkConfig
from ledgerlink.errors import NormalizationError
from ledgerlink.model.documents import Document
from ledgerlink.model.money import CurrencyError, Money, normalize_currency


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


def _instant(unix_seconds: int, zone: tzinfo) -> datetime:
    try:
        return datetime.fromtimestamp(unix_seconds, tz=zone)
    except (OverflowError, OSError):   # outside what a datetime holds: not a time a provider sends
        raise NormalizationError(f"timestamp {unix_seconds} is out of range", reason="invalid_timestamp") from None


def utc_instant(unix_seconds: int) -> datetime:
    return _instant(unix_seconds, UTC)


_ZONES: dict[str, ZoneInfo] = {}  # ZoneInfo(name) is cached by the class too; this skips the call


def _zone(entity: Entity) -> ZoneInfo:
    zone = _ZONES.get(entity.time_zone)
    if zone is None:
        zone = _ZONES[entity.time_zone] = ZoneInfo(entity.time_zone)
    return zone


def local_date(instant: datetime, entity: Entity) -> date:
    """The accounting date: the instant's calendar date in the entity's time zone (not UTC)."""
    return instant.astimezone(_zone(entity)).date()


def local_day(unix_seconds: int, entity: Entity) -> date:
    """``local_date(utc_instant(unix_seconds), entity)`` in one conversion."""
    return _instant(unix_seconds, _zone(entity)).date()


# ---- helpers for connectors that read vendor APIs (exact amounts, instants, category keys) ----------

def load_exact(text: str | bytes, *, what: str = "response") -> Any:
    """JSON with every non-integer number as ``Decimal`` (``90.0`` stays exact; NaN/Infinity are refused)."""
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not a number")

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError):
        raise NormalizationError(f"{what} is not valid JSON", reason="malformed_payload") from None


def major_money(value: Any, currency: Any, *, field: str) -> Money:
    """An amount in major units (``90.00`` USD, ``5000`` JPY) — a JSON number parsed exactly, never a float
    and never a string — refused when it has more decimals than the currency (``90.123`` USD)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise NormalizationError(f"{field} {value!r} is not a number in major units", reason="invalid_amount",
                                 field=field)
    try:
        currency = normalize_currency(currency)
    except CurrencyError as exc:
        raise NormalizationError(f"{field}: {exc}", reason="invalid_currency", field=field) from None
    try:
        amount = Money.of(value, currency)
        amount.to_minor()
    except CurrencyError as exc:
        reason = "invalid_amount" if "decimal places" in str(exc) else "invalid_currency"
        raise NormalizationError(f"{field}: {exc}", reason=reason, field=field) from None
    except (ValueError, TypeError) as exc:
        raise NormalizationError(f"{field}: {exc}", reason="invalid_amount", field=field) from None
    return amount


def minor_money(holder: Any, *, field: str, amount_key: str = "amount", currency_key: str = "currency_code") -> Money:
    """``{"amount": 9000, "currency_code": "USD"}`` (integer minor units, ISO 4217 exponent) → 90.00 USD."""
    if not isinstance(holder, dict):
        raise NormalizationError(f"{field} is missing", reason="missing_field", field=field)
    value = holder.get(amount_key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise NormalizationError(f"{field}.{amount_key} {value!r} is not an integer in minor units",
                                 reason="invalid_amount", field=f"{field}.{amount_key}")
    try:
        # whatever the payload holds: from_minor validates it (CurrencyError below for a non-code)
        return Money.from_minor(value, cast(str, holder.get(currency_key)))
    except CurrencyError as exc:
        raise NormalizationError(f"{field}: {exc}", reason="invalid_currency", field=f"{field}.{currency_key}") from None


def parse_instant(raw: Any, *, field: str) -> datetime:
    """An ISO 8601 / RFC 3339 instant; no offset means UTC (Ramp's documented convention)."""
    if isinstance(raw, str) and raw:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    raise NormalizationError(f"{field} {raw!r} is not a timestamp", reason="missing_field", field=field)


def parse_day(raw: Any, *, field: str) -> date:
    if isinstance(raw, str) and len(raw) >= 10:
        try:
            return date.fromisoformat(raw[:10])
        except ValueError:
            pass
    raise NormalizationError(f"{field} {raw!r} is not a date", reason="missing_field", field=field)


def category_key(raw: Any, default: str) -> str:
    """``"SaaS / Software"`` → ``saas_software``: a mapping-role suffix (``expense.saas_software``)."""
    text = re.sub(r"[^a-z0-9]+", "_", str(raw or "").lower()).strip("_")
    return text[:64] or default
