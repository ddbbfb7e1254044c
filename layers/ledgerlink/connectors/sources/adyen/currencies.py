"""Adyen's own currency table: how many decimals an Adyen ``amount.value`` (minor units) counts, per currency.

Adyen's documentation page "Currency codes" ("Currency codes and minor units") lists the decimals of each
currency it supports and says that for CLP, CVE, IDR and ISK "the standard has a different number of decimals"
than its table, and that its table is leading: CLP 2 (ISO 4217: 0), CVE 0 (ISO: 2), IDR 0 (ISO: 2), ISK 2
(ISO: 0; "to submit an ISK amount to Adyen you have to use two decimals"). Every other currency follows
ISO 4217. The books keep each currency at its ISO exponent (``Money``): an Adyen CLP or ISK value that is not a
whole number of units cannot be booked and is refused (``invalid_amount``), never rounded.
"""

from __future__ import annotations

from ledgerlink.errors import NormalizationError
from ledgerlink.model.money import (
    AmountPrecisionError,
    CurrencyError,
    Money,
    currency_exponent,
    normalize_currency,
)

ADYEN_EXPONENTS: dict[str, int] = {"CLP": 2, "CVE": 0, "IDR": 0, "ISK": 2}


def adyen_exponent(currency: str) -> int:
    """Decimals Adyen's minor-unit values count in ``currency`` (ISO 4217's unless its table differs)."""
    code = normalize_currency(currency)
    return ADYEN_EXPONENTS.get(code, currency_exponent(code))


def adyen_money(value: int, currency: str, *, field: str) -> Money:
    """An Adyen minor-unit ``value`` → Money at the ISO 4217 exponent, by Adyen's table."""
    try:
        code = normalize_currency(currency)
    except CurrencyError as exc:
        raise NormalizationError(str(exc), reason="invalid_currency", field=field) from None
    try:
        return Money.from_provider_minor(value, code, adyen_exponent(code))
    except AmountPrecisionError as exc:
        raise NormalizationError(str(exc), reason="invalid_amount", field=field) from None
