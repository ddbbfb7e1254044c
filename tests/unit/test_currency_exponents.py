"""Currency exponents: ISO 4217 from the ``iso4217`` package, and the providers' own tables where they differ.

Expected figures come from the vendors' documentation, never from the code under test:
- Stripe, "Supported currencies": "1000 to charge 10 USD"; zero-decimal currencies "500 to charge 500 JPY";
  special cases ISK and UGX "to charge 5 ISK, provide an amount value of 500" (the decimal amount is always 00);
  HUF payouts "you can pay out HUF 10 by submitting 1000" (TWD has the same rule; its figures here are built
  the same way, not quoted); three-decimal currencies
  "5.124 KWD must be rounded to 5120 or 5130" for charges, refunds and disputes. Stripe's support note
  "Deprecation of fractional ISK charges and refunds": "ISK 40.10 will not be accepted".
- Adyen, "Currency codes": GBP 10 is 1000, JPY 10 is 10, BHD 10 is 10000; CLP 2, CVE 0, IDR 0 and ISK 2
  decimals ("differs from standard").
- ISO 4217 List One (amendment introducing XCG, the Caribbean guilder, two decimals; ZWL withdrawn).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources.adyen.currencies import adyen_money
from ledgerlink.connectors.sources.adyen.normalize import _amount as adyen_amount
from ledgerlink.connectors.sources.base import NormalizeContext, Normalized
from ledgerlink.connectors.sources.stripe.currencies import stripe_money
from ledgerlink.connectors.sources.stripe.normalize import normalize as stripe_normalize
from ledgerlink.errors import NormalizationError
from ledgerlink.model.money import (
    ISO_4217_CODES,
    AmountPrecisionError,
    CurrencyError,
    Money,
    currency_exponent,
    normalize_currency,
)

from tests.conftest import event_json

# ---- ISO 4217 from the maintained package --------------------------------------------------------


def test_iso_table_is_the_packages_list_one() -> None:
    # The table money.py reads from the package's data file equals what the package's own API says, code by code
    # (an N.A. minor unit — gold, SDR, test codes — keeps the two-decimal default).
    from iso4217 import Currency

    package = {currency.code: currency.exponent for currency in Currency}
    assert set(package) == ISO_4217_CODES
    assert {code: currency_exponent(code) for code in package} == {
        code: 2 if exponent is None else exponent for code, exponent in package.items()}


def test_caribbean_guilder_is_known_with_two_decimals() -> None:
    assert normalize_currency("xcg") == "XCG"
    assert Money.from_minor(1050, "XCG") == Money.of("10.50", "XCG")


@pytest.mark.parametrize("withdrawn", ["ZWL", "SLL", "CUC"])
def test_withdrawn_codes_are_refused(withdrawn: str) -> None:
    with pytest.raises(CurrencyError, match="unknown ISO 4217 currency"):
        normalize_currency(withdrawn)


@pytest.mark.parametrize(("currency", "exponent"), [
    ("USD", 2), ("MGA", 2), ("HUF", 2), ("TWD", 2), ("JPY", 0), ("ISK", 0), ("UGX", 0), ("CLP", 0),
    ("KWD", 3), ("IQD", 3), ("CLF", 4), ("CVE", 2), ("IDR", 2)])
def test_iso_exponents(currency: str, exponent: int) -> None:
    # ISO 4217 List One's minor units (the books keep every currency at these)
    assert currency_exponent(currency) == exponent


def test_money_module_does_not_import_the_package_on_the_hot_path() -> None:
    # ``import iso4217`` costs ~20 ms of cold start; money.py reads the package's table without importing it
    code = "import sys, ledgerlink.model.money; print('iso4217' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ---- a provider's own exponent -------------------------------------------------------------------


def test_provider_minor_units_are_scaled_exactly_to_the_iso_exponent() -> None:
    assert Money.from_provider_minor(50000, "mga", 0).canonical() == "50000.00"
    assert Money.from_provider_minor(500, "isk", 2).canonical() == "5"
    assert Money.from_provider_minor(-4000, "isk", 2) == Money.of("-40", "ISK")


@pytest.mark.parametrize("units", [4010, -4010, 1])
def test_provider_minor_units_finer_than_iso_are_refused_not_rounded(units: int) -> None:
    with pytest.raises(AmountPrecisionError, match="decimal places"):
        Money.from_provider_minor(units, "ISK", 2)


# ---- Stripe ---------------------------------------------------------------------------------------

STRIPE_ZERO_DECIMAL = ["BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF",
                       "XOF", "XPF"]
STRIPE_THREE_DECIMAL = ["BHD", "JOD", "KWD", "OMR", "TND"]


def test_stripe_two_decimal_example() -> None:
    assert stripe_money(1000, "usd") == Money.of("10", "USD")


@pytest.mark.parametrize("currency", STRIPE_ZERO_DECIMAL)
def test_stripe_zero_decimal_amounts_are_whole_units(currency: str) -> None:
    # "500 to charge 500 JPY": the amount is not divided by 100 (MGA was booked 100x too small)
    assert stripe_money(500, currency.lower()) == Money.of("500", currency)


def test_stripe_mga_is_zero_decimal_although_iso_gives_it_two() -> None:
    assert stripe_money(50000, "mga") == Money.of("50000", "MGA")
    assert stripe_money(50000, "mga") != Money.from_minor(50000, "MGA")   # ISO reading: 500.00 MGA


@pytest.mark.parametrize("currency", ["ISK", "UGX"])
def test_stripe_isk_and_ugx_count_hundredths_of_whole_units(currency: str) -> None:
    # "to charge 5 ISK, provide an amount value of 500" — UGX too, although the zero-decimal list names it
    assert stripe_money(500, currency.lower()) == Money.of("5", currency)
    assert stripe_money(-4000, currency.lower()) == Money.of("-40", currency)


@pytest.mark.parametrize("currency", ["ISK", "UGX"])
@pytest.mark.parametrize("amount", [4010, 550, 5])
def test_stripe_isk_and_ugx_amounts_not_ending_in_00_are_refused(currency: str, amount: int) -> None:
    with pytest.raises(NormalizationError) as caught:
        stripe_money(amount, currency.lower(), field="invoice.total")
    assert caught.value.to_dict()["reason"] == "invalid_amount"


@pytest.mark.parametrize(("currency", "amount", "expected"), [("HUF", 1000, "10"), ("TWD", 80000, "800")])
def test_stripe_huf_and_twd_payouts_are_whole_units_in_hundredths(currency: str, amount: int, expected: str) -> None:
    assert stripe_money(amount, currency.lower(), flow="payout") == Money.of(expected, currency)


@pytest.mark.parametrize(("currency", "amount"), [("HUF", 1045), ("TWD", 80045)])
def test_stripe_huf_and_twd_charge_two_decimals_but_refuse_fractional_payouts(currency: str, amount: int) -> None:
    # "you can charge two-decimal amounts" (HUF 10.45 is a balance Stripe shows), but a payout of it cannot exist
    assert stripe_money(amount, currency.lower(), flow="charge") == Money.of(Decimal(amount).scaleb(-2), currency)
    with pytest.raises(NormalizationError) as caught:
        stripe_money(amount, currency.lower(), flow="payout")
    assert caught.value.to_dict()["reason"] == "invalid_amount"


@pytest.mark.parametrize("currency", STRIPE_THREE_DECIMAL)
def test_stripe_three_decimal_amounts_are_thousandths(currency: str) -> None:
    assert stripe_money(5120, currency.lower(), flow="charge") == Money.of("5.120", currency)
    assert stripe_money(5130, currency.lower(), flow="charge") == Money.of("5.130", currency)


@pytest.mark.parametrize("currency", STRIPE_THREE_DECIMAL)
def test_stripe_three_decimal_charges_must_end_in_zero(currency: str) -> None:
    # "5.124 KWD must be rounded to 5120 or 5130": such a charge, refund or dispute amount cannot exist...
    with pytest.raises(NormalizationError) as caught:
        stripe_money(5124, currency.lower(), flow="charge")
    assert caught.value.to_dict()["reason"] == "invalid_amount"
    # ...while amounts Stripe computes (taxes, fees) carry no such rule and keep their thousandths
    assert stripe_money(5124, currency.lower()) == Money.of("5.124", currency)


def test_stripe_unknown_currency_is_an_invalid_currency() -> None:
    with pytest.raises(NormalizationError) as caught:
        stripe_money(100, "zwl")
    assert caught.value.to_dict()["reason"] == "invalid_currency"


# ---- Stripe, through the normalizer ---------------------------------------------------------------

@pytest.fixture
def run(example_config: LedgerLinkConfig) -> Callable[[dict[str, Any]], Normalized]:
    def _run(event: dict[str, Any]) -> Normalized:
        ctx = NormalizeContext(config=example_config, source_id="stripe", correlation_id="corr-test-0001",
                               archive_key="raw/stripe/2024/01/01/evt.json")
        return stripe_normalize(event, ctx)
    return _run


def in_currency(value: Any, currency: str) -> Any:
    """A copy of a Stripe payload with every ``currency`` field set to ``currency``."""
    if isinstance(value, dict):
        return {k: currency if k == "currency" else in_currency(v, currency) for k, v in value.items()}
    if isinstance(value, list):
        return [in_currency(item, currency) for item in value]
    return value


def test_stripe_mga_invoice_is_booked_in_whole_ariary(run: Callable[[dict[str, Any]], Normalized]) -> None:
    # Given the JPY sample invoice (total 5000) in MGA
    event = in_currency(event_json("stripe/07-invoice.finalized.jpy.json"), "mga")
    # When normalized, Then 5000 is 5000 MGA (Stripe: zero-decimal), not 50.00 MGA
    (invoice,) = run(event).documents
    assert invoice.total == Money.of("5000", "MGA")


def test_stripe_isk_invoice_in_hundredths(run: Callable[[dict[str, Any]], Normalized]) -> None:
    # Given the sample invoice in ISK: 5000 is 50 ISK
    (invoice,) = run(in_currency(event_json("stripe/07-invoice.finalized.jpy.json"), "isk")).documents
    assert invoice.total == Money.of("50", "ISK")


def test_stripe_isk_invoice_with_fractional_krona_is_a_case(run: Callable[[dict[str, Any]], Normalized]) -> None:
    event = in_currency(event_json("stripe/07-invoice.finalized.jpy.json"), "isk")
    invoice = event["data"]["object"]
    for key in ("amount_due", "amount_remaining", "subtotal", "total"):
        invoice[key] = 4010
    invoice["lines"]["data"][0]["amount"] = 4010
    with pytest.raises(NormalizationError) as caught:
        run(event)
    assert caught.value.to_dict()["reason"] == "invalid_amount"


@pytest.mark.parametrize(("amount", "expected"), [(5120, "5.120"), (5124, None)])
def test_stripe_kwd_refund_follows_the_three_decimal_rule(run: Callable[[dict[str, Any]], Normalized], amount: int,
                                                          expected: str | None) -> None:
    event = in_currency(copy.deepcopy(event_json("stripe/04-charge.refunded.json")), "kwd")
    charge = event["data"]["object"]
    charge["amount"] = charge["amount_captured"] = charge["amount_refunded"] = amount
    charge["refunds"]["data"][0]["amount"] = amount
    if expected is None:
        with pytest.raises(NormalizationError) as caught:
            run(event)
        assert caught.value.to_dict()["reason"] == "invalid_amount"
    else:
        (refund,) = run(event).documents
        assert refund.amount == Money.of(expected, "KWD")


# ---- Adyen ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "currency", "expected"), [
    (1000, "GBP", "10"), (10, "JPY", "10"), (10000, "BHD", "10"),            # the page's examples
    (100000, "CLP", "1000"), (48900, "ISK", "489"),                          # two decimals at Adyen, none in ISO
    (1000, "CVE", "1000"), (10000, "IDR", "10000"),                          # none at Adyen, two in ISO
])
def test_adyen_values_follow_adyens_table(value: int, currency: str, expected: str) -> None:
    assert adyen_money(value, currency, field="amount") == Money.of(expected, currency)
    assert adyen_amount({"amount": {"value": value, "currency": currency}}) == Money.of(expected, currency)


@pytest.mark.parametrize("currency", ["CLP", "ISK"])
def test_adyen_fractions_iso_does_not_have_are_refused(currency: str) -> None:
    with pytest.raises(NormalizationError) as caught:
        adyen_amount({"amount": {"value": 100050, "currency": currency}})
    assert caught.value.to_dict()["reason"] == "invalid_amount"


@pytest.mark.parametrize("currency", ["ZZZ", 978, None])
def test_adyen_unknown_currency_is_an_invalid_currency(currency: Any) -> None:
    with pytest.raises(NormalizationError) as caught:
        adyen_amount({"amount": {"value": 100, "currency": currency}})
    assert caught.value.to_dict()["reason"] == "invalid_currency"
