"""Splitting an amount so that the parts add up to it exactly, to the currency's minor unit.

Two shapes of split, one rule — *the parts are whole minor units, each within one minor unit of its exact
value, and they sum to the source exactly*:

- :func:`allocate` splits one amount across parallel parts (a refund or credit note over an invoice's lines, a
  discount or tax over lines) by **largest remainder** (Hamilton's method): every part gets the floor of its
  exact share, then the minor units left over go one each to the parts with the largest fractional remainders,
  ties to the earlier position. Deterministic, order-sensitive only in ties, and never more than one minor unit
  away from ``total × weight / Σ weights``.
- :func:`allocate_in_sequence` splits an amount over an ordered series (a schedule's periods) by **cumulative
  rounding**: each part is the rounded (half-even) running total minus the previous rounded running total. The
  parts sum to the rounded total and every *prefix* is within half a minor unit of its exact value, which is
  what a period-by-period release needs: what is due through a period depends only on the exact amounts through
  it, so a change to a later period never re-rounds one already released. (Largest remainder over the periods
  would sum exactly too, but could move a cent between released periods when a later period changes.)

Arithmetic is in integers and exact fractions; nothing here touches ``float``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

from ledgerlink.model.money import Money, currency_exponent

Weight = Decimal | int | Fraction


class AllocationError(ValueError):
    """An amount that cannot be split: negative weights, or a non-zero amount over weights that are all zero."""


def allocate_units(units: int, weights: Sequence[Weight]) -> list[int]:
    """``units`` (whole minor units, any sign) split by non-negative ``weights``; the parts sum to ``units``."""
    exact = [Fraction(weight) for weight in weights]
    if any(weight < 0 for weight in exact):
        raise AllocationError("allocation weights must not be negative")
    base = sum(exact, Fraction(0))
    if units == 0:
        return [0] * len(exact)
    if base == 0:
        raise AllocationError(f"cannot allocate {units} minor units over weights that are all zero")
    sign, magnitude = (-1 if units < 0 else 1), abs(units)
    floors, remainders = [], []
    for weight in exact:
        share = magnitude * weight / base
        floor = share.numerator // share.denominator
        floors.append(floor)
        remainders.append(share - floor)
    left = magnitude - sum(floors)           # 0 <= left < number of parts with a remainder
    for position in sorted(range(len(exact)), key=lambda i: (-remainders[i], i))[:left]:
        floors[position] += 1
    return [sign * part for part in floors]


def allocate(total: Money, weights: Sequence[Weight]) -> list[Money]:
    """``total`` split across ``weights`` by largest remainder (ties to the earlier position).

    ``allocate(Money("100.00", "USD"), [1, 1, 1])`` → 33.34, 33.33, 33.33. A negative total splits as the mirror
    of its absolute value, so a refund and its reversal split alike. Raises :class:`AllocationError` for
    negative weights or a non-zero total over all-zero weights, ``CurrencyError`` for a total finer than the
    currency's minor unit."""
    exponent = currency_exponent(total.currency)
    return [Money(Decimal(part).scaleb(-exponent), total.currency)
            for part in allocate_units(total.to_minor(), weights)]


def allocate_in_sequence(parts: Iterable[Fraction], currency: str) -> list[Decimal]:
    """Exact ``parts`` in order (e.g. per period) → amounts in minor units by cumulative half-even rounding:
    they sum to the rounded total, and each running total is the rounded exact running total."""
    exponent = currency_exponent(currency)
    out: list[Decimal] = []
    cumulative, before = Fraction(0), 0
    for part in parts:
        cumulative += part
        rounded = round(cumulative * 10 ** exponent)   # Fraction.__round__: half to even, exact
        out.append(Decimal(rounded - before).scaleb(-exponent))
        before = rounded
    return out
