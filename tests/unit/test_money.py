"""Money: exact Decimal amounts in one ISO 4217 currency, converted from/to minor units by exponent.

Expected values come from ISO 4217 itself (USD and EUR have 2 minor digits, JPY 0, KWD and BHD 3) and
from Stripe's documentation of zero-decimal currencies, not from the code under test.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ledgerlink.model.money import ISO_4217_CODES, CurrencyError, Money, currency_exponent, sum_money

# (minor units, currency, amount as ISO 4217 says it should read)
ISO_EXAMPLES = [
    (2000, "USD", "20.00"),
    (1, "USD", "0.01"),
    (5000, "JPY", "5000"),
    (1000, "KWD", "1.000"),
    (1234, "BHD", "1.234"),
    (-250, "EUR", "-2.50"),
]


@pytest.mark.parametrize(("minor", "currency", "expected"), ISO_EXAMPLES)
def test_from_minor_uses_the_currency_exponent(minor: int, currency: str, expected: str) -> None:
    # Given a provider integer in minor units
    # When it becomes Money
    money = Money.from_minor(minor, currency)
    # Then the amount is scaled by the ISO 4217 exponent, and converts back exactly
    assert money.amount == Decimal(expected)
    assert money.canonical() == expected
    assert money.to_minor() == minor


@pytest.mark.parametrize(("currency", "exponent"), [("USD", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)])
def test_currency_exponents_follow_iso_4217(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize(("amount", "currency"), [("20.001", "USD"), ("1.5", "JPY"), ("1.0001", "KWD")])
def test_to_minor_refuses_more_precision_than_the_currency_has(amount: str, currency: str) -> None:
    # Given an amount with more decimals than the currency allows
    money = Money.of(amount, currency)
    # When / Then converting to minor units refuses instead of rounding
    with pytest.raises(CurrencyError, match="decimal places"):
        money.to_minor()


def test_to_minor_accepts_trailing_zeros_beyond_the_exponent() -> None:
    # 500.00 JPY is exactly 500 yen: extra zeros are not extra precision
    assert Money.of("500.00", "JPY").to_minor() == 500
    assert Money.of("20.100", "USD").to_minor() == 2010


def test_float_amounts_are_refused_everywhere() -> None:
    with pytest.raises(TypeError, match="float"):
        Money.of(19.99, "USD")
    with pytest.raises((TypeError, ValidationError)):
        Money(amount=19.99, currency="USD")
    with pytest.raises(CurrencyError):
        Money.from_minor(1999.0, "USD")  # type: ignore[arg-type]


def test_bool_and_non_finite_amounts_are_refused() -> None:
    with pytest.raises(TypeError):
        Money.of(True, "USD")
    with pytest.raises(CurrencyError):
        Money.from_minor(True, "USD")
    for text in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="finite"):
            Money.of(text, "USD")
    with pytest.raises(ValueError, match="not a decimal"):
        Money.of("twelve", "USD")


def test_arithmetic_refuses_to_mix_currencies() -> None:
    usd, eur = Money.of("10", "USD"), Money.of("10", "EUR")
    with pytest.raises(CurrencyError, match="mismatch"):
        _ = usd + eur
    with pytest.raises(CurrencyError):
        _ = usd - eur
    with pytest.raises(CurrencyError):
        _ = usd < eur
    # equality is not an error, just false: 10 USD is not 10 EUR
    assert usd != eur


def test_arithmetic_refuses_plain_numbers() -> None:
    with pytest.raises(TypeError):
        _ = Money.of("10", "USD") + Decimal("1")  # type: ignore[operator]


def test_lower_case_currency_is_normalized() -> None:
    # Stripe sends "usd"
    assert Money.of("1", "usd").currency == "USD"
    assert Money.from_minor(100, "eur").currency == "EUR"
    assert Money.of("1", "usd") == Money.of("1", "USD")


@pytest.mark.parametrize("code", ["USS", "XYZ", "", "US", "EURO"])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(CurrencyError, match="ISO 4217"):
        Money.of("1", code)
    with pytest.raises(CurrencyError):
        Money.from_minor(1, code)


def test_equality_is_numeric_and_hash_consistent() -> None:
    # 20.0 USD and 20.00 USD are the same money, so they must also hash alike (used as dict keys)
    a, b = Money.of("20.0", "USD"), Money.of("20.00", "USD")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_sum_money_and_zero() -> None:
    items = [Money.from_minor(150, "USD"), Money.from_minor(250, "USD"), -Money.from_minor(100, "USD")]
    assert sum_money(items, "USD") == Money.of("3.00", "USD")
    assert sum_money([], "JPY").is_zero()
    with pytest.raises(CurrencyError):
        sum_money([Money.of("1", "EUR")], "USD")


def test_quantized_rounds_half_even_to_the_minor_unit() -> None:
    # banker's rounding: 0.125 -> 0.12, 0.135 -> 0.14; yen have no decimals
    assert Money.of("0.125", "USD").quantized().canonical() == "0.12"
    assert Money.of("0.135", "USD").quantized().canonical() == "0.14"
    assert Money.of("2.5", "JPY").quantized().canonical() == "2"


@pytest.mark.parametrize(("money", "text"), [
    (Money.from_minor(2000, "usd"), "20.00 USD"),
    (Money.from_minor(5000, "jpy"), "5000 JPY"),
    (Money.from_minor(1000, "kwd"), "1.000 KWD"),
    (Money.from_minor(-5, "usd"), "-0.05 USD"),
    (Money.of("20", "USD"), "20.00 USD"),
])
def test_canonical_formatting_prints_exactly_the_currency_decimals(money: Money, text: str) -> None:
    assert str(money) == text


def test_money_is_immutable() -> None:
    money = Money.of("1", "USD")
    with pytest.raises(AttributeError):
        money.amount = Decimal("2")  # type: ignore[misc]


def test_json_serializes_the_amount_as_a_string() -> None:
    # a JSON number would be read back as float by most consumers
    from pydantic import TypeAdapter

    adapter = TypeAdapter(Money)
    assert adapter.dump_python(Money.from_minor(1999, "USD"), mode="json") == {"amount": "19.99", "currency": "USD"}
    assert Money.from_minor(1999, "USD").to_dict() == {"amount": "19.99", "currency": "USD"}


def test_as_a_field_money_validates_from_json_and_refuses_floats_and_extra_keys() -> None:
    from pydantic import TypeAdapter

    adapter = TypeAdapter(Money)
    assert adapter.validate_python({"amount": "20.00", "currency": "usd"}) == Money.of("20", "USD")
    for bad in ({"amount": 20.0, "currency": "USD"}, {"amount": "1", "currency": "USD", "x": 1}, "20 USD"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


# ---- properties ----------------------------------------------------------------------------------

CURRENCIES = st.sampled_from(sorted(ISO_4217_CODES))
# Far beyond any real amount (10^15 minor units) but within Decimal's 28-digit default context.
MINOR_UNITS = st.integers(min_value=-(10**15), max_value=10**15)


@settings(max_examples=200, deadline=None)
@given(minor=MINOR_UNITS, currency=CURRENCIES)
def test_minor_units_round_trip_for_every_currency(minor: int, currency: str) -> None:
    assert Money.from_minor(minor, currency).to_minor() == minor
    assert Money.from_minor(minor, currency.lower()).to_minor() == minor


@settings(max_examples=200, deadline=None)
@given(minor=MINOR_UNITS, currency=CURRENCIES)
def test_canonical_text_is_the_minor_units_with_a_decimal_point_inserted(minor: int, currency: str) -> None:
    # Independent formatting: pad the digits and insert the point by hand.
    exponent = currency_exponent(currency)
    digits = str(abs(minor)).rjust(exponent + 1, "0")
    expected = digits if exponent == 0 else f"{digits[:-exponent]}.{digits[-exponent:]}"
    if minor < 0:
        expected = "-" + expected
    assert Money.from_minor(minor, currency).canonical() == expected


@settings(max_examples=100, deadline=None)
@given(a=MINOR_UNITS, b=MINOR_UNITS, currency=CURRENCIES)
def test_addition_in_money_matches_addition_in_minor_units(a: int, b: int, currency: str) -> None:
    total = Money.from_minor(a, currency) + Money.from_minor(b, currency)
    assert total.to_minor() == a + b
    assert (total - Money.from_minor(b, currency)) == Money.from_minor(a, currency)
