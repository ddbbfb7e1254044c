"""Typed reading of a vendor payload (``JsonValue``) for the source connectors' normalizers.

A payload stays raw JSON (``ledgerlink.model.json``) until a normalizer reads it; these accessors narrow one field at
a time, so a connector never indexes into ``Any``. The lenient ones (``get``, ``obj_at``, ``text``, ``integer``)
answer None / ``{}`` for a missing or mistyped field, as the ``x.get(k) if isinstance(...) else ...`` idiom they
replace did; the ``require_*`` ones raise :class:`NormalizationError` with reason ``missing_field`` and the field's
path, the case every connector opens for a field it cannot do without. Also here: the few things every connector did
the same way (its configured source, the data object of an event envelope, an ISO 8601 instant).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ledgerlink.errors import NormalizationError
from ledgerlink.model.json import JsonArray, JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.connectors.sources.base import NormalizeContext


def source_of[S](ctx: NormalizeContext, kind: type[S], what: str) -> S:
    """The context's configured source as the connector's own source model, or ``source_mismatch`` (``what``
    names it in the message: ``"a Brex source"``)."""
    source = ctx.config.source(ctx.source_id)
    if not isinstance(source, kind):
        raise NormalizationError(f"source {ctx.source_id!r} is not {what}", reason="source_mismatch")
    return source


def get(holder: JsonValue | None, key: str) -> JsonValue:
    """``holder[key]`` when ``holder`` is an object that has it, else None."""
    return holder.get(key) if isinstance(holder, dict) else None


def obj(value: JsonValue | None) -> JsonObject:
    """``value`` when it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def obj_at(holder: JsonValue | None, key: str) -> JsonObject:
    """The object at ``holder[key]``, or an empty one when it is missing or not an object."""
    return obj(get(holder, key))


def obj_or_none(value: JsonValue | None) -> JsonObject | None:
    return value if isinstance(value, dict) else None


def array_at(holder: JsonValue | None, key: str) -> JsonArray:
    """The list at ``holder[key]``, or an empty one when it is missing or not a list."""
    value = get(holder, key)
    return value if isinstance(value, list) else []


def items(holder: JsonValue | None, key: str, where: str) -> JsonArray:
    """``holder[key] or []`` read as a list: absent or empty is no items; any other non-list is ``missing_field``
    (iterating a string or an object as if it were the list reads its characters or keys)."""
    value = get(holder, key)
    if isinstance(value, list):
        return value
    if not value:
        return []
    raise NormalizationError(f"{where}.{key} is not a list", reason="missing_field", field=f"{where}.{key}")


def objects(values: JsonArray) -> list[JsonObject]:
    """The elements of a list that are objects (the others skipped, as the connectors always have)."""
    return [value for value in values if isinstance(value, dict)]


def text(holder: JsonValue | None, key: str) -> str | None:
    """``holder[key]`` when it is a string (empty included), else None."""
    value = get(holder, key)
    return value if isinstance(value, str) else None


def text_or_none(holder: JsonValue | None, key: str) -> str | None:
    """``holder[key]`` when it is a non-empty string, else None (``obj.get(key) or None`` for a string field)."""
    return text(holder, key) or None


def is_int(value: JsonValue | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def as_int(value: JsonValue | None) -> int | None:
    """``value`` when it is an integer (a JSON ``true`` is not one), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def integer(holder: JsonValue | None, key: str) -> int | None:
    return as_int(get(holder, key))


def flag(holder: JsonValue | None, key: str) -> bool | None:
    value = get(holder, key)
    return value if isinstance(value, bool) else None


def require_text(holder: JsonValue | None, key: str, where: str) -> str:
    """A string field a document cannot do without (``missing_field`` otherwise)."""
    value = get(holder, key)
    if not isinstance(value, str):
        raise NormalizationError(f"{where}.{key} is missing or not a str", reason="missing_field",
                                 field=f"{where}.{key}")
    return value


def require_int(holder: JsonValue | None, key: str, where: str) -> int:
    """An integer field (minor units, Unix seconds) a document cannot do without (``missing_field`` otherwise)."""
    value = as_int(get(holder, key))
    if value is None:
        raise NormalizationError(f"{where}.{key} is missing or not a int", reason="missing_field",
                                 field=f"{where}.{key}")
    return value


def require_obj(holder: JsonValue | None, key: str, where: str) -> JsonObject:
    value = get(holder, key)
    if not isinstance(value, dict):
        raise NormalizationError(f"{where}.{key} is missing or not an object", reason="missing_field",
                                 field=f"{where}.{key}")
    return value


def id_of(value: JsonValue | None) -> str | None:
    """A vendor reference given as an id or as the expanded object that has it (Stripe, Ramp)."""
    if isinstance(value, str):
        return value
    return text(value, "id")


def data_object(event: JsonObject) -> JsonObject:
    """``event["data"]["object"]`` of a Stripe-style envelope (``missing_field`` when it is not an object)."""
    found = get(get(event, "data"), "object")
    if not isinstance(found, dict):
        raise NormalizationError("event has no data.object", reason="missing_field", field="data.object")
    return found


def offset_instant(value: JsonValue | None) -> datetime | None:
    """An ISO 8601 instant that states its offset, in UTC; None when absent, unreadable or without an offset."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


# ---- what the fetch step added to an event (``{"notification": ..., "fetched": {name: response text}}``) ----

def fetched_json(fetched: JsonValue, name: str, vendor: str) -> JsonValue:
    """The fetched response text ``name``, parsed exactly (``base.load_exact``: Decimal, never float), or
    ``missing_field`` when the fetch step left none."""
    from ledgerlink.connectors.sources.base import (
        load_exact,  # pydantic config models: never on the ingest path
    )

    raw = get(fetched, name)
    if not isinstance(raw, str):
        raise NormalizationError(f"no fetched {name} for this event", reason="missing_field", field=name)
    loaded: JsonValue = load_exact(raw, what=f"{vendor} {name}")
    return loaded


def fetched_object(fetched: JsonValue, name: str, vendor: str) -> JsonObject:
    """The fetched object ``name`` (an enveloped single object, ``{"data": {...}}``, is unwrapped), or
    ``malformed_payload`` when it is not an object."""
    found = fetched_json(fetched, name, vendor)
    if isinstance(found, dict) and isinstance(found.get("data"), dict):
        found = found["data"]
    if not isinstance(found, dict):
        raise NormalizationError(f"{vendor} {name} is not a JSON object", reason="malformed_payload")
    return found
