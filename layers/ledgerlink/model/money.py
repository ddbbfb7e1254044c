"""Money: ``Decimal`` amount + ISO 4217 currency, with minor-unit conversion by currency exponent.

Providers send integers in minor units (Stripe: 2000 = 20.00 USD, 500 = ¥500, 1000 = 1.000 KWD);
conversion happens once, at the connector edge, with the currency's exponent. Arithmetic refuses to
mix currencies, and nothing here ever touches ``float``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

# ISO 4217 exponents that differ from 2. Every other active code has 2 minor digits.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    # zero-decimal
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three-decimal
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four-decimal (unit of account)
    "CLF": 4, "UYW": 4,
}

# Active ISO 4217 alphabetic codes (2024 list), so a typo such as "USS" is refused at the edge.
ISO_4217_CODES: frozenset[str] = frozenset(["AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG", "ZWL"])


class CurrencyError(ValueError):
    """Unknown currency code or an amount with more precision than the currency allows."""


def normalize_currency(code: str) -> str:
    """Upper-case and check an ISO 4217 code (providers such as Stripe send lower case)."""
    if not isinstance(code, str):
        raise CurrencyError(f"currency must be a string, got {type(code).__name__}")
    upper = code.strip().upper()
    if upper not in ISO_4217_CODES:
        raise CurrencyError(f"unknown ISO 4217 currency {code!r}")
    return upper


def currency_exponent(code: str) -> int:
    return _EXPONENT_EXCEPTIONS.get(normalize_currency(code), 2)


Currency = Annotated[str, AfterValidator(normalize_currency)]


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, float):
        raise TypeError("money amounts must not be float; pass a str, int or Decimal")
    if isinstance(value, bool):
        raise TypeError("money amounts must not be bool")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"amount must be finite: {value!r}")
    return amount


class Money(BaseModel):
    """An exact amount in one currency. Immutable; serializes the amount as a string."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Decimal
    currency: Currency

    @field_validator("amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Decimal:
        return _to_decimal(value)

    # --- construction at the connector edge ---------------------------------------------------

    @classmethod
    def of(cls, amount: Any, currency: str) -> Money:
        return cls(amount=_to_decimal(amount), currency=currency)

    @classmethod
    def from_minor(cls, minor_units: int, currency: str) -> Money:
        """Provider integers in minor units → Money (``from_minor(2000, "usd")`` = 20.00 USD)."""
        if isinstance(minor_units, bool) or not isinstance(minor_units, int):
            raise CurrencyError(f"minor units must be an integer, got {minor_units!r}")
        exponent = currency_exponent(currency)
        return cls(amount=Decimal(minor_units).scaleb(-exponent), currency=currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.from_minor(0, currency)

    def to_minor(self) -> int:
        """Money → integer minor units; refuses amounts that do not fit the currency's exponent."""
        exponent = currency_exponent(self.currency)
        scaled = self.amount.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise CurrencyError(
                f"{self.amount} {self.currency} has more than {exponent} decimal places"
            )
        return int(scaled)

    # --- arithmetic (same currency only) ------------------------------------------------------

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount=-self.amount, currency=self.currency)

    def __abs__(self) -> Money:
        return Money(amount=abs(self.amount), currency=self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def __eq__(self, other: object) -> bool:
        # 20.0 USD == 20.00 USD: compare numerically, not by exponent.
        return isinstance(other, Money) and other.currency == self.currency and other.amount == self.amount

    def __hash__(self) -> int:
        return hash((self.currency, self.amount.normalize()))

    def is_zero(self) -> bool:
        return self.amount == 0

    def quantized(self) -> Money:
        """Round half-even to the currency's exponent (used only where a rate was applied)."""
        exponent = currency_exponent(self.currency)
        quantum = Decimal(1).scaleb(-exponent)
        return Money(amount=self.amount.quantize(quantum, rounding=ROUND_HALF_EVEN), currency=self.currency)

    def canonical(self) -> str:
        """Amount printed with exactly the currency's number of decimals: ``20.00``, ``500``, ``1.000``."""
        exponent = currency_exponent(self.currency)
        return f"{self.amount.quantize(Decimal(1).scaleb(-exponent)):f}"

    def __str__(self) -> str:
        return f"{self.canonical()} {self.currency}"


def sum_money(items: list[Money] | tuple[Money, ...], currency: str) -> Money:
    total = Money.zero(currency)
    for item in items:
        total = total + item
    return total
