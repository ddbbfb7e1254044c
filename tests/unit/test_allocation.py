"""Every split adds up to its source exactly (issue 17, defect 9): ``model.allocation`` by construction, checked
against the independent largest-remainder of ``tests/revenue_oracle.py`` and against the exact fractions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlink.model.allocation import AllocationError, allocate, allocate_in_sequence, allocate_units
from ledgerlink.model.money import CurrencyError, Money
from ledgerlink.pipeline.revenue import RevenueFact, ScheduleLine, changes_for, line_schedule

from tests import revenue_oracle

EXPONENT = {"USD": 2, "JPY": 0, "KWD": 3}


def minor(currency: str) -> Decimal:
    return Decimal(1).scaleb(-EXPONENT[currency])


def amounts(shares: list[Money]) -> list[Decimal]:
    return [share.amount for share in shares]


# ---- the rule, by example --------------------------------------------------------------------------------

def test_a_hundred_over_three_equal_lines_is_33_34_33_33_33_33_the_first_line_taking_the_extra_cent():
    shares = allocate(Money("100.00", "USD"), [1, 1, 1])
    assert amounts(shares) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert sum(amounts(shares)) == Decimal("100.00")          # the old per-line round-down gave 99.99


@pytest.mark.parametrize(("total", "weights", "expected"), [
    (Money("100", "JPY"), [1, 1, 1], ["34", "33", "33"]),                      # zero-decimal currency
    (Money("1.000", "KWD"), [1, 1, 1], ["0.334", "0.333", "0.333"]),          # three-decimal currency
    (Money("0.05", "USD"), [Decimal("1"), Decimal("2"), Decimal("2")], ["0.01", "0.02", "0.02"]),
    (Money("10.00", "USD"), [Decimal("0.333"), 0, Decimal("0.667")], ["3.33", "0.00", "6.67"]),
    (Money("0.02", "USD"), [1, 1, 1], ["0.01", "0.01", "0.00"]),              # ties: earlier positions first
    (Money("0.01", "USD"), [1, 3], ["0.00", "0.01"]),                          # largest remainder, not position
    (Money("-100.00", "USD"), [1, 1, 1], ["-33.34", "-33.33", "-33.33"]),     # a negative total mirrors
    (Money("0.00", "USD"), [0, 0], ["0.00", "0.00"]),
])
def test_largest_remainder_examples(total, weights, expected):
    assert amounts(allocate(total, weights)) == [Decimal(value) for value in expected]


def test_what_cannot_be_allocated_is_refused():
    with pytest.raises(AllocationError):
        allocate(Money("1.00", "USD"), [0, 0])                # nothing to carry a non-zero amount
    with pytest.raises(AllocationError):
        allocate(Money("1.00", "USD"), [Decimal(2), Decimal(-1)])
    with pytest.raises(CurrencyError):
        allocate(Money("1.001", "USD"), [1, 1])               # finer than the currency's minor unit


# ---- the rule, as properties -----------------------------------------------------------------------------

weights_strategy = st.lists(
    st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False,
                                                allow_infinity=False)),
    min_size=1, max_size=12).filter(lambda ws: any(w > 0 for w in ws))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(EXPONENT)), st.integers(-10**12, 10**12), weights_strategy)
def test_any_allocation_sums_exactly_and_each_share_is_within_one_minor_unit_of_its_exact_value(
        currency, units, weights):
    total = Money(Decimal(units) * minor(currency), currency)
    shares = allocate(total, weights)
    assert sum(amounts(shares), Decimal(0)) == total.amount
    base = sum((Fraction(w) for w in weights), Fraction(0))
    for share, weight in zip(shares, weights, strict=True):
        exact = Fraction(total.amount) * Fraction(weight) / base
        assert abs(Fraction(share.amount) - exact) < Fraction(minor(currency))
        assert share.amount == share.amount.quantize(minor(currency))
        if weight == 0:
            assert share.amount == 0


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**6), min_size=1, max_size=10).filter(any))
def test_the_production_allocation_equals_the_oracles_independent_largest_remainder(cents, weights):
    assert allocate_units(cents, weights) == revenue_oracle.largest_remainder(
        cents, [Fraction(weight) for weight in weights])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(EXPONENT)),
       st.lists(st.fractions(min_value=-10**6, max_value=10**7, max_denominator=10**4), min_size=1, max_size=24))
def test_a_split_over_periods_keeps_every_running_total_at_its_rounded_exact_value(currency, parts):
    amounts_in_order = allocate_in_sequence(parts, currency)
    unit = Fraction(minor(currency))
    running, exact = Decimal(0), Fraction(0)
    for amount, part in zip(amounts_in_order, parts, strict=True):
        running += amount
        exact += part
        assert abs(Fraction(running) - exact) <= unit / 2      # every prefix: the rounded exact prefix
        assert abs(Fraction(amount) - part) <= unit            # every part: within one minor unit
    assert running == Decimal(round(exact / unit)) * minor(currency)


# ---- where the revenue code splits amounts: refunds and credit notes over an invoice's lines ------------

def schedule_line(line_id: str, position: int, net: str, *, total: str = "300.00") -> ScheduleLine:
    return ScheduleLine(
        schedule_id=f"sch_{line_id}", entity_id="us01", source_id="stripe", invoice_document_id="doc_inv",
        line_id=line_id, currency="USD", billed=Decimal(net), service_start=date(2026, 3, 1),
        service_end=date(2027, 3, 1), deferred_account="Liabilities:Deferred", revenue_account="Income:Revenue",
        weight=Decimal(net), invoice_net=Decimal(total), invoice_total=Decimal(total), billed_on=date(2026, 3, 1),
        position=position)


def refund_fact(amount: str, kind: str = "refund") -> RevenueFact:
    return RevenueFact(fact_id="re_1", kind=kind, entity_id="us01", document_id="doc_re", currency="USD",
                       effective_date=date(2026, 3, 2), amount=Decimal(amount), account="Income:Refunds",
                       invoice_document_id="doc_inv")


@pytest.mark.parametrize("kind", ["refund", "credit_note"])
def test_a_refund_or_unlinked_credit_of_100_over_three_equal_lines_takes_out_exactly_100(kind):
    # Given an invoice of three 100.00 lines (listed to the schedule in reverse), and 100.00 refunded or credited
    lines = [schedule_line("il_c", 2, "100.00"), schedule_line("il_b", 1, "100.00"), schedule_line("il_a", 0, "100.00")]
    # When each line's schedule is computed with its siblings
    taken = {line.line_id: sum((t.amount for t in line_schedule(line, [refund_fact("100.00", kind)], lines).taken),
                               Decimal(0)) for line in lines}
    # Then the shares are 33.34 + 33.33 + 33.33 = 100.00, the first line on the invoice taking the extra cent
    assert taken == {"il_a": Decimal("33.34"), "il_b": Decimal("33.33"), "il_c": Decimal("33.33")}
    assert sum(taken.values()) == Decimal("100.00")


def test_the_rest_of_the_invoice_tax_and_undeferred_lines_is_a_claimant_too():
    # Given two deferred lines of 100.00 on an invoice of 250.00 (50.00 of tax or undeferred lines)
    lines = [schedule_line("il_a", 0, "100.00", total="250.00"), schedule_line("il_b", 1, "100.00", total="250.00")]
    shares = [changes_for(line, [refund_fact("0.03")], lines) for line in lines]
    # Then 0.03 (exact shares 0.012, 0.012, 0.006) gives 0.01 to each line and the leftover cent to the rest,
    # whose remainder (0.006) is the largest
    assert [change.share for (change,) in shares] == [Decimal("0.01"), Decimal("0.01")]
    # and the same figures as the oracle's independent allocation (lines by net, the rest last)
    assert revenue_oracle.largest_remainder(3, [Fraction(100), Fraction(100), Fraction(50)]) == [1, 1, 1]


def test_without_its_siblings_a_line_shares_with_the_rest_of_the_invoice_as_one_claimant():
    # (the release service always passes the invoice's lines; alone, 200.00 of the invoice is "the rest")
    line = schedule_line("il_a", 0, "100.00")
    (change,) = changes_for(line, [refund_fact("100.00")])
    assert change.share == Decimal("33.33")     # 33.333… vs the rest's 66.666…: the rest has the larger remainder
