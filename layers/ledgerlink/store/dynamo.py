"""DynamoDB attribute (de)serialization with the low-level client (a ``resource`` costs ~10x at cold start).

Written here rather than imported from ``boto3.dynamodb.types`` so that no Lambda imports boto3 (the
clients come from botocore, see ``clients``). Same wire format and number rules as boto3's
serializer: numbers go through a 38-digit decimal context that refuses to round, floats, NaN and
infinities are refused, and numbers come back as ``Decimal`` (then as ``int`` when integral).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any, TypeGuard

MAX_TRANSACTION_ITEMS = 100   # TransactWriteItems: at most 100 actions, each on a distinct item

# DynamoDB numbers: up to 38 significant digits, exponents -130..+125; never silently rounded.
NUMBER_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def _clean(value: object) -> object:
    if isinstance(value, float):  # never expected; refuse to let a float into a finance record
        raise TypeError("floats are not stored; use Decimal or str")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _number(value: int | Decimal) -> str:
    text = str(NUMBER_CONTEXT.create_decimal(value))
    if text in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return text


def _is_number(value: object) -> TypeGuard[int | Decimal]:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, (int, Decimal))  # bool is an int: callers test it first, as boto3 does


def _serialize_set(value: Set[object]) -> dict[str, object] | None:
    numbers = [v for v in value if _is_number(v)]
    if len(numbers) == len(value):
        return {"NS": [_number(v) for v in numbers]}
    if all(isinstance(v, str) for v in value):
        return {"SS": list(value)}
    if all(isinstance(v, (bytes, bytearray)) for v in value):
        return {"BS": list(value)}
    return None


def _serialize(value: object) -> dict[str, object]:
    """One DynamoDB attribute value (``{"S": ...}``, ``{"N": ...}``, ``{"M": {...}}`` ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": str(value)}   # a StrEnum (DocumentStatus) is stored as its plain value
    if isinstance(value, (bytes, bytearray)):
        return {"B": value}
    if isinstance(value, Set) and (serialized := _serialize_set(value)) is not None:
        return serialized
    if isinstance(value, Mapping):
        return {"M": {k: _serialize(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [_serialize(v) for v in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def _deserialize(attribute: Mapping[str, Any]) -> object:
    if not attribute:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, raw = next(iter(attribute.items()))
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL", "B"):
        return raw
    if kind == "N":
        return NUMBER_CONTEXT.create_decimal(raw)
    if kind == "M":
        return {k: _deserialize(v) for k, v in raw.items()}
    if kind == "L":
        return [_deserialize(v) for v in raw]
    if kind == "NS":
        return {NUMBER_CONTEXT.create_decimal(v) for v in raw}
    if kind in ("SS", "BS"):
        return set(raw)
    raise TypeError(f"Dynamodb type {kind} is not supported")


def to_item(values: Mapping[str, object]) -> dict[str, object]:
    """An item as the low-level client writes it (``Item=``)."""
    return {key: _serialize(_clean(value)) for key, value in values.items() if value is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as the low-level client returned it, in plain values (Decimal, int when integral, str, lists, maps).

    Any, in and out: botocore's response is untyped, and the stores' callers read the values field by field (the
    posting side through typed records, ``model.ledger.LedgerItem``)."""
    return {key: _plain(_deserialize(value)) for key, value in item.items()}


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)  # type: ignore[type-var]  # a set is of one comparable kind
    return value


def value(v: object) -> dict[str, object]:
    """One value as a DynamoDB attribute value (a key, an expression value)."""
    return _serialize(_clean(v))
