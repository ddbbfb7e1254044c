"""Money: ``Decimal`` amount + ISO 4217 currency, with minor-unit conversion by currency exponent.

Providers send integers in minor units (Stripe: 2000 = 20.00 USD, 500 = ¥500, 1000 = 1.000 KWD);
conversion happens once, at the connector edge, with the currency's exponent. Arithmetic refuses to
mix currencies, and nothing here ever touches ``float``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator

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


# Exact spellings that need no work ("USD", "usd") → the code: one dict lookup on the hot path.
_CANONICAL: dict[str, str] = {code: code for code in ISO_4217_CODES} | {code.lower(): code for code in ISO_4217_CODES}


def normalize_currency(code: str) -> str:
    """Upper-case and check an ISO 4217 code (providers such as Stripe send lower case)."""
    if type(code) is str:
        known = _CANONICAL.get(code)
        if known is not None:
            return known
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


class Money:
    """An exact amount in one currency: immutable, slotted, hashable.

    Deliberately not a pydantic model: a document holds a dozen amounts and every arithmetic step makes
    a new one, so construction must be cheap (the pure core's throughput depends on it). It is still a
    first-class pydantic field type: it validates from ``{"amount": "20.00", "currency": "usd"}`` or a
    ``Money`` and serializes the amount as a string (a JSON number would be read back as a float).
    """

    __slots__ = ("amount", "currency")
    amount: Decimal
    currency: str

    def __init__(self, amount: Any, currency: str) -> None:
        object.__setattr__(self, "amount", _to_decimal(amount))
        object.__setattr__(self, "currency", normalize_currency(currency))

    @classmethod
    def _trusted(cls, amount: Decimal, currency: str) -> Money:
        """Internal constructor for results of arithmetic on already-valid Money."""
        return _trusted(amount, currency)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Money is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Money is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Money, (self.amount, self.currency))

    # --- pydantic integration -----------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(cls._serialize, info_arg=True),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "object", "required": ["amount", "currency"], "additionalProperties": False,
                "properties": {"amount": {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"},
                               "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"}}}

    @classmethod
    def _validate(cls, value: Any) -> Money:
        if isinstance(value, Money):
            return value
        if isinstance(value, dict):
            if set(value) != {"amount", "currency"}:
                raise ValueError("money must be {amount, currency}")
            try:
                return cls(value["amount"], value["currency"])
            except TypeError as exc:  # a float amount: a validation error of the document, not a crash
                raise ValueError(str(exc)) from None
        raise ValueError(f"not money: {type(value).__name__}")

    @staticmethod
    def _serialize(value: Money, info: Any) -> dict[str, Any]:
        if info.mode == "json":
            return {"amount": str(value.amount), "currency": value.currency}
        return {"amount": value.amount, "currency": value.currency}

    def to_dict(self) -> dict[str, str]:
        return {"amount": str(self.amount), "currency": self.currency}

    # --- construction at the connector edge ---------------------------------------------------

    @classmethod
    def of(cls, amount: Any, currency: str) -> Money:
        return cls(amount, currency)

    @classmethod
    def from_minor(cls, minor_units: int, currency: str) -> Money:
        """Provider integers in minor units → Money (``from_minor(2000, "usd")`` = 20.00 USD)."""
        if isinstance(minor_units, bool) or not isinstance(minor_units, int):
            raise CurrencyError(f"minor units must be an integer, got {minor_units!r}")
        code = normalize_currency(currency)
        return _trusted(Decimal(minor_units).scaleb(-_EXPONENT_EXCEPTIONS.get(code, 2)), code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        zero = _ZEROS.get(currency) if type(currency) is str else None
        if zero is None:
            zero = cls.from_minor(0, currency)
            if len(_ZEROS) < 1024:  # keys are spellings of valid codes (the call above raised otherwise)
                _ZEROS[currency] = zero
        return zero

    def to_minor(self) -> int:
        """Money → integer minor units; refuses amounts that do not fit the currency's exponent."""
        exponent = _EXPONENT_EXCEPTIONS.get(self.currency, 2)
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
        if type(other) is not Money or other.currency != self.currency:
            self._same(other)
        return _trusted(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if type(other) is not Money or other.currency != self.currency:
            self._same(other)
        return _trusted(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return _trusted(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return _trusted(abs(self.amount), self.currency)

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
        exponent = _EXPONENT_EXCEPTIONS.get(self.currency, 2)
        quantum = Decimal(1).scaleb(-exponent)
        return _trusted(self.amount.quantize(quantum, rounding=ROUND_HALF_EVEN), self.currency)

    def canonical(self) -> str:
        """Amount printed with exactly the currency's number of decimals: ``20.00``, ``500``, ``1.000``."""
        exponent = _EXPONENT_EXCEPTIONS.get(self.currency, 2)
        return f"{self.amount.quantize(Decimal(1).scaleb(-exponent)):f}"

    def __str__(self) -> str:
        return f"{self.canonical()} {self.currency}"

    def __repr__(self) -> str:
        return f"Money({str(self.amount)!r}, {self.currency!r})"


_new_money = object.__new__
_set_amount = Money.__dict__["amount"].__set__      # the slots' own setters: Money.__setattr__ refuses
_set_currency = Money.__dict__["currency"].__set__


def _trusted(amount: Decimal, currency: str) -> Money:
    """Money from an amount and a code that are already valid (arithmetic results, minor-unit conversion)."""
    money = _new_money(Money)
    _set_amount(money, amount)
    _set_currency(money, currency)
    return money


_ZEROS: dict[str, Money] = {}  # Money is immutable: one zero per currency spelling is shared


def sum_money(items: list[Money] | tuple[Money, ...], currency: str) -> Money:
    code = normalize_currency(currency)
    total = Decimal(0).scaleb(-_EXPONENT_EXCEPTIONS.get(code, 2))
    for item in items:
        if not isinstance(item, Money):
            raise TypeError(f"cannot add {type(item).__name__} to Money")
        if item.currency != code:
            raise CurrencyError(f"currency mismatch: {code} vs {item.currency}")
        total += item.amount
    return _trusted(total, code)
