"""Stripe's own currency table: how many decimals Stripe's integer ``amount`` fields count, per currency.

Stripe follows its documentation page "Supported currencies" (sections "Zero-decimal currencies",
"Three-decimal currencies" and "Special cases"), which differs from ISO 4217 for some currencies. Every
currency not named here counts hundredths, as on that page ("1000 to charge 10 USD"); the books still keep
each currency at its ISO 4217 exponent (``Money``), so these exponents are used only to read Stripe's integers.

- Zero-decimal: the amount is whole units ("500 to charge 500 JPY"). The page's list includes MGA (ISO 4217
  gives it two decimals: 50000 from Stripe is 50000 MGA, not 500.00) and UGX — but see the special cases.
- Special cases, ISK and UGX: both became zero-decimal, "but backwards compatibility requires you to represent
  it as a two-decimal value, where the decimal amount is always 00" — 5 ISK is 500. So UGX counts hundredths
  although the zero-decimal list names it, and an ISK or UGX amount not divisible by 100 cannot exist.
  (Stripe's support note "Deprecation of fractional ISK charges and refunds" says the same of ISK: an amount of
  100 is 1 króna, and amounts must be multiples of 100.)
- Special cases, HUF and TWD: two-decimal for charges, but zero-decimal for payouts: a payout amount must be
  evenly divisible by 100 (HUF 10 is 1000).
- Three-decimal (BHD, JOD, KWD, OMR, TND): thousandths, but for Payment Intents, Refunds and Disputes "the
  least-significant (last) digit" must be 0 (5.124 KWD must be 5120 or 5130).

An amount these rules say Stripe cannot send is refused (``invalid_amount``), never rounded: it means the
payload is not what it claims to be, and a guessed conversion would book a wrong figure.
"""

from __future__ import annotations

from typing import Literal

from ledgerlink.errors import NormalizationError
from ledgerlink.model.money import AmountPrecisionError, CurrencyError, Money, normalize_currency

# "Zero-decimal currencies" on "Supported currencies", less UGX (a special case, below).
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV",
                          "XAF", "XOF", "XPF"})
# "Three-decimal currencies" on the same page.
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# "Special cases": zero-decimal currencies Stripe still counts in hundredths, always ending in 00.
WHOLE_UNITS_IN_HUNDREDTHS = frozenset({"ISK", "UGX"})
# "Special cases": two-decimal for charges, whole units for payouts.
WHOLE_UNIT_PAYOUTS = frozenset({"HUF", "TWD"})

STRIPE_EXPONENTS: dict[str, int] = {code: 0 for code in ZERO_DECIMAL} | {code: 3 for code in THREE_DECIMAL}

# What the amount is, for the rules that depend on it: a charge-side flow (a payment, refund or dispute), a
# payout, or anything else (invoice lines, taxes, discounts, fees: Stripe computes those and states no rule).
Flow = Literal["amount", "charge", "payout"]


def stripe_exponent(currency: str) -> int:
    """Decimals Stripe's integer amounts count in ``currency`` (2 unless its table says otherwise)."""
    return STRIPE_EXPONENTS.get(normalize_currency(currency), 2)


def _refuse(message: str, field: str | None) -> NormalizationError:
    return NormalizationError(message, reason="invalid_amount", field=field)


def stripe_money(amount: int, currency: str, *, flow: Flow = "amount", field: str | None = None) -> Money:
    """A Stripe integer ``amount`` in ``currency`` → Money at the ISO 4217 exponent, by Stripe's table.

    Raises ``NormalizationError``: ``invalid_currency`` for a code that is not an active ISO 4217 currency,
    ``invalid_amount`` for an amount Stripe's rules say cannot exist.
    """
    try:
        code = normalize_currency(currency)
    except CurrencyError as exc:
        raise NormalizationError(str(exc), reason="invalid_currency", field=field) from None
    if code in WHOLE_UNITS_IN_HUNDREDTHS and amount % 100:
        raise _refuse(f"Stripe amount {amount} in {code} does not end in 00: Stripe counts {code} in hundredths of "
                      f"whole units (5 {code} is 500)", field)
    if flow == "payout" and code in WHOLE_UNIT_PAYOUTS and amount % 100:
        raise _refuse(f"Stripe payout amount {amount} in {code} is not divisible by 100: {code} payouts are whole "
                      f"units", field)
    if flow == "charge" and code in THREE_DECIMAL and amount % 10:
        raise _refuse(f"Stripe amount {amount} in {code} does not end in 0: charges, refunds and disputes in "
                      f"three-decimal currencies are rounded to ten", field)
    try:
        return Money.from_provider_minor(amount, code, STRIPE_EXPONENTS.get(code, 2))
    except AmountPrecisionError as exc:
        raise _refuse(str(exc), field) from None
