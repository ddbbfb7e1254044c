"""Money: ``Decimal`` amount + ISO 4217 currency, with minor-unit conversion by currency exponent.

Providers send integers in minor units (Stripe: 2000 = 20.00 USD, 500 = ¥500, 1000 = 1.000 KWD);
conversion happens once, at the connector edge, with the currency's exponent: ISO 4217's (``from_minor``) or,
where a provider documents its own table, the provider's (``from_provider_minor``: Stripe's MGA has no decimals,
its ISK two). Codes and ISO exponents come from the ``iso4217`` package's copy of ISO 4217 List One, not from a
hand-kept list. Arithmetic refuses to mix currencies, and nothing here ever touches ``float``.
"""

from __future__ import annotations

import importlib.util
import os
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Annotated, Any
from xml.etree import ElementTree

from pydantic import AfterValidator


def _iso_4217_list_one() -> tuple[dict[str, int | None], str]:
    """Active ISO 4217 codes → minor units (``None`` where ISO says N.A.: metals, SDR, test codes), and the list's
    publication date.

    The data is List One (current codes only, so withdrawn codes such as ZWL are refused) as published by the
    ISO 4217 maintenance agency, shipped in the ``iso4217`` package as its ``table.xml``. Read here, not through
    ``import iso4217``: that import costs ~20 ms of every cold start (importlib.resources, locale, a 178-member
    Enum), this ~3 ms. tests/unit/test_currency_exponents.py checks this table equals the package's own API, so a
    change of the package's layout fails CI when its pin moves, never a Lambda.
    """
    spec = importlib.util.find_spec("iso4217")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("ledgerlink needs the iso4217 package (ISO 4217 codes and minor units)")
    root = ElementTree.parse(os.path.join(spec.submodule_search_locations[0], "table.xml")).getroot()
    table: dict[str, int | None] = {}
    for entry in root.iter("CcyNtry"):
        code, units = entry.findtext("Ccy"), entry.findtext("CcyMnrUnts")
        if code and units:  # an entry without a code is a territory with no currency of its own (Antarctica)
            units = units.strip()
            table[code.strip()] = int(units) if units.isdigit() else None
    return table, root.attrib.get("Pblshd", "")


_ISO_MINOR_UNITS, ISO_4217_PUBLISHED = _iso_4217_list_one()

# Active ISO 4217 alphabetic codes, so a typo such as "USS" (or a withdrawn code) is refused at the edge.
ISO_4217_CODES: frozenset[str] = frozenset(_ISO_MINOR_UNITS)

# ISO 4217 exponents that differ from 2 (every other code has 2 minor digits). Codes whose minor unit ISO gives
# as N.A. (XAU, XDR, XTS...) keep the two-decimal default: no source sends them in minor units.
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    code: units for code, units in _ISO_MINOR_UNITS.items() if units is not None and units != 2}


class CurrencyError(ValueError):
    """Unknown currency code or an amount with more precision than the currency allows."""


class AmountPrecisionError(CurrencyError):
    """An amount with more decimals than ISO 4217 gives its currency (the books keep ISO precision): an invalid
    amount, not an invalid currency, so connectors choose the reason code by this type."""


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


class AmountOutOfRange(ValueError):
    """An amount no real document carries and exact arithmetic cannot hold (|amount| ≥ 10^18 major units: sums and
    quantizing to three decimals must stay within the 28 significant digits of the decimal context). A case with
    reason ``amount_out_of_range`` on the first attempt, never a retry loop; plausibility below it is
    ``validate``'s ``max_amount`` gate."""

    reason = "amount_out_of_range"


MAX_MAGNITUDE = Decimal(10) ** 18


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
    return _in_range(amount)


def _in_range(amount: Decimal) -> Decimal:
    if not -MAX_MAGNITUDE < amount < MAX_MAGNITUDE:
        raise AmountOutOfRange(f"amount out of range: {amount:.3e} (at most 10^18 in absolute value)")
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
        return _trusted(_in_range(Decimal(minor_units).scaleb(-_EXPONENT_EXCEPTIONS.get(code, 2))), code)

    @classmethod
    def from_provider_minor(cls, units: int, currency: str, exponent: int) -> Money:
        """A provider integer counted in 10^-``exponent`` of the currency, the provider's own table (Stripe counts
        MGA in whole ariary and ISK in hundredths; Adyen counts CLP in hundredths) → Money at the ISO 4217 exponent.

        Exact both ways: ``from_provider_minor(50000, "mga", 0)`` is 50000.00 MGA; ``(500, "isk", 2)`` is 5 ISK.
        An integer that names a fraction ISO 4217 does not have (4050 hundredths of ISK = 40.50 ISK) raises
        ``AmountPrecisionError``: it is refused, never rounded.
        """
        if isinstance(units, bool) or not isinstance(units, int):
            raise CurrencyError(f"minor units must be an integer, got {units!r}")
        code = normalize_currency(currency)
        iso = _EXPONENT_EXCEPTIONS.get(code, 2)
        if exponent <= iso:
            return _trusted(_in_range(Decimal(units * 10 ** (iso - exponent)).scaleb(-iso)), code)
        whole, rest = divmod(units, 10 ** (exponent - iso))
        if rest:
            raise AmountPrecisionError(
                f"{Decimal(units).scaleb(-exponent)} {code} has more than {iso} decimal places")
        return _trusted(_in_range(Decimal(whole).scaleb(-iso)), code)

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
            raise AmountPrecisionError(
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
