"""DynamoDB attribute (de)serialization with the low-level client (a ``resource`` costs ~10x at cold start)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _clean(value: Any) -> Any:
    if isinstance(value, float):  # never expected; refuse to let a float into a finance record
        raise TypeError("floats are not stored; use Decimal or str")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_clean(value)) for key, value in values.items() if value is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def value(v: Any) -> dict[str, Any]:
    return _serializer.serialize(_clean(v))
