"""DynamoDB attribute values are written and read exactly as boto3's serializer does (the adapters no
longer import boto3), with LedgerLink's own rules on top: no floats, no None attributes, integral numbers
come back as int."""

from __future__ import annotations

from decimal import Decimal, Inexact, Rounded

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from ledgerlink.store.dynamo import from_item, to_item, value

SAMPLES = [
    "text", "", True, False, 0, -7, 10**37, Decimal("12.34"), Decimal("-0.001"), Decimal("1E+100"),
    Decimal("1E-100"), b"\x00\x01", bytearray(b"ab"), {"a": "b", "n": Decimal("1.50"), "l": [1, "x", None]},
    ["a", 2, [True, {"k": "v"}]], ("t", 1), {"x", "y"}, {1, Decimal("2.5")}, {b"a", b"b"},
]


def _sample_id(sample: object) -> str:  # stable across xdist workers (set reprs are not)
    return f"{type(sample).__name__}-{SAMPLES.index(sample)}"


@pytest.mark.parametrize("sample", SAMPLES, ids=_sample_id)
def test_a_value_serializes_like_boto3(sample: object) -> None:
    expected = TypeSerializer().serialize(sample)
    got = value(sample)
    if isinstance(sample, set):  # set order is not significant
        assert got.keys() == expected.keys()
        assert sorted(next(iter(got.values()))) == sorted(next(iter(expected.values())))
    else:
        assert got == expected


@pytest.mark.parametrize("sample", SAMPLES, ids=_sample_id)
def test_an_attribute_deserializes_like_boto3(sample: object) -> None:
    attribute = TypeSerializer().serialize(sample)
    expected = TypeDeserializer().deserialize(attribute)
    got = from_item({"a": attribute})["a"]
    if isinstance(expected, set):
        expected = {getattr(v, "value", v) for v in expected}  # boto3 wraps bytes in Binary
        assert got == sorted(expected)  # sets come back sorted, numbers as int when integral
    elif isinstance(sample, (bytes, bytearray)):
        assert got == expected.value
    else:
        assert got == expected  # int == Decimal when integral


def test_numbers_round_trip_as_decimal_or_int() -> None:
    item = to_item({"amount": Decimal("10.25"), "count": 3, "big": Decimal("123456789012345678901234567890.12345678")})
    assert item["amount"] == {"N": "10.25"}
    assert from_item(item) == {"amount": Decimal("10.25"), "count": 3,
                               "big": Decimal("123456789012345678901234567890.12345678")}


@pytest.mark.parametrize("bad, error", [
    (1.5, TypeError), (Decimal("NaN"), TypeError), (Decimal("Infinity"), TypeError),
    (Decimal("1." + "1" * 40), (Inexact, Rounded)), (object(), TypeError),
])
def test_what_dynamodb_cannot_hold_exactly_is_refused(bad: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        value(bad)
    with pytest.raises(error):
        TypeSerializer().serialize(bad)


def test_none_attributes_are_left_out_and_floats_refused_anywhere() -> None:
    assert to_item({"a": None, "b": {"c": None, "d": "x"}}) == {"b": {"M": {"d": {"S": "x"}}}}
    with pytest.raises(TypeError, match="floats are not stored"):
        to_item({"nested": [{"x": 0.1}]})
