"""Revenue schedules by construction: whatever the line and its changes (upgrades as proration lines, credit
notes, refunds, cancellations, voids), recognized + taken out = billed to the minor unit; the schedule is a
function of the set of facts (order and duplicates do not matter); period-by-period releases with facts
arriving late post everything exactly once, each run in its own period."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlink.pipeline.revenue import RevenueFact, ScheduleLine, changes_for, line_schedule
from ledgerlink.pipeline.revenue_release import LineState, line_delta
from ledgerlink.pipeline.revenue_schedule import (
    Change,
    compute,
    next_period,
    period_of,
    periods_between,
)

EXPONENT = {"USD": 2, "JPY": 0, "BHD": 3}
KINDS = ("credit_note", "refund", "cancellation", "void")


def minor(currency: str) -> Decimal:
    return Decimal(1).scaleb(-EXPONENT[currency])


@st.composite
def lines_and_facts(draw):  # noqa: ANN001, ANN201
    currency = draw(st.sampled_from(sorted(EXPONENT)))
    units = draw(st.integers(min_value=-5_000_000, max_value=50_000_000).filter(lambda n: n != 0))
    billed = Decimal(units) * minor(currency)
    start = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 400)))
    end = start + timedelta(days=draw(st.integers(1, 800)))
    line = ScheduleLine(
        schedule_id="sch_1", entity_id="us01", source_id="stripe", invoice_document_id="doc_inv", line_id="il_1",
        currency=currency, billed=billed, service_start=start, service_end=end,
        deferred_account="Liabilities:Deferred", revenue_account="Income:Revenue", weight=abs(billed),
        invoice_net=abs(billed) * 2, invoice_total=abs(billed) * 2 + minor(currency) * 7, billed_on=start,
        subscription_id="sub_1")
    facts = []
    for number in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(KINDS))
        effective = start + timedelta(days=draw(st.integers(-40, (end - start).days + 40)))
        amount = Decimal(draw(st.integers(1, abs(units) * 2 + 10))) * minor(currency) if kind in (
            "credit_note", "refund") else Decimal(0)
        facts.append(RevenueFact(
            fact_id=f"fact_{number}", kind=kind, entity_id="us01", document_id=f"doc_{number}",
            effective_date=effective, currency=currency, amount=amount,
            account="Income:Refunds" if kind == "refund" else "Income:Credits",
            invoice_document_id="doc_inv", subscription_id="sub_1",
            line_id=draw(st.sampled_from([None, "il_1"])) if kind == "credit_note" else None))
    seed = draw(st.integers(0, 2**32))
    return line, facts, seed


@settings(max_examples=300, deadline=None)
@given(lines_and_facts())
def test_recognized_plus_taken_out_is_billed_to_the_minor_unit(case):
    line, facts, _ = case
    schedule = line_schedule(line, facts)
    taken = sum((t.amount for t in schedule.taken), Decimal(0))
    assert schedule.total + taken == line.billed
    for amount in [*schedule.entries.values(), *(t.amount for t in schedule.taken)]:
        assert amount == amount.quantize(minor(line.currency))
    # credits and refunds only take out what was still deferred, never more than the line (or its share)
    for t in schedule.taken:
        if t.change.kind in ("credit_note", "refund"):
            assert Decimal(0) <= t.amount <= t.change.share
            assert t.amount <= max(line.billed, Decimal(0))


@settings(max_examples=200, deadline=None)
@given(lines_and_facts())
def test_the_schedule_is_the_same_whatever_the_order_and_however_often_facts_arrive(case):
    line, facts, seed = case
    shuffled = facts + facts[: len(facts) // 2]
    random.Random(seed).shuffle(shuffled)
    assert line_schedule(line, shuffled) == line_schedule(line, facts)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**9), st.integers(0, 366), st.integers(1, 1200), st.sampled_from(sorted(EXPONENT)))
def test_each_period_is_within_one_minor_unit_of_the_exact_ratable_amount(units, offset, days, currency):
    billed = Decimal(units) * minor(currency)
    start = date(2026, 1, 1) + timedelta(days=offset)
    end = start + timedelta(days=days)
    schedule = compute(billed, start, end, currency)
    assert list(schedule.entries) == periods_between(period_of(start), period_of(end - timedelta(days=1)))
    for period, amount in schedule.entries.items():
        first = max(start, date.fromisoformat(period + "-01"))
        stop = min(end, date.fromisoformat(next_period(period) + "-01"))
        exact = Fraction(billed) * (stop - first).days / days
        assert abs(Fraction(amount) - exact) <= Fraction(minor(currency))
    assert schedule.total == billed


def test_an_annual_line_with_a_partial_refund_takes_the_refund_out_of_the_remaining_days_only():
    # 12,000.00 over 2026-03-10 .. 2027-03-10 (365 days); 1,000.00 refunded on 2026-09-10
    schedule = compute(Decimal("12000.00"), date(2026, 3, 10), date(2027, 3, 10), "USD",
                       [Change("r1", "refund", date(2026, 9, 10), Decimal("1000.00"), "Income:Refunds")])
    # March..August are untouched: 175 days (22 + 30 + 31 + 30 + 31 + 31) of 12,000/365 each
    through_august = sum(amount for period, amount in schedule.entries.items() if period <= "2026-08")
    assert through_august == (Decimal(12000) * 175 / 365).quantize(Decimal("0.01"))
    assert [t.amount for t in schedule.taken] == [Decimal("1000.00")]
    assert schedule.total == Decimal("11000.00")


def test_a_cancellation_without_refund_recognizes_the_rest_on_the_day_it_ends():
    schedule = compute(Decimal("1200.00"), date(2026, 1, 1), date(2027, 1, 1), "USD",
                       [Change("c1", "cancellation", date(2026, 4, 15))])
    assert schedule.entries["2026-04"] > Decimal("100.00") * 3          # April takes everything left
    assert all(amount == 0 for period, amount in schedule.entries.items() if period > "2026-04")
    assert schedule.total == Decimal("1200.00") and schedule.taken == ()


@settings(max_examples=150, deadline=None)
@given(lines_and_facts())
def test_monthly_releases_with_late_facts_post_everything_once_in_the_period_being_released(case):
    line, facts, seed = case
    rng = random.Random(seed)
    # Given facts that become known at random periods (possibly long after they took effect)
    known_from = {fact.fact_id: period_of(fact.effective_date) for fact in facts}
    for fact in facts:
        if rng.random() < 0.5:
            known_from[fact.fact_id] = rng.choice(periods_between(known_from[fact.fact_id], "2029-12"))
    full = line_schedule(line, facts)
    last = max([*full.entries, *(period_of(t.change.effective_date) for t in full.taken),
                *known_from.values()])
    state = LineState()
    # When every period is released in turn, each run seeing only the facts known by then; a run posts one
    # delta, in its own period (a change reaching into a released period is caught up there)
    for period in periods_between(min(full.entries), last):
        known_schedule = line_schedule(line, [fact for fact in facts if known_from[fact.fact_id] <= period])
        delta = line_delta(line, known_schedule, state, period)
        released = dict(state.released)
        released[period] = released.get(period, Decimal(0)) + delta.revenue
        reclassed = dict(state.reclassed)
        for fact, (account, amount) in delta.reclass.items():
            reclassed[fact] = (account, reclassed.get(fact, (account, Decimal(0)))[1] + amount)
        state = LineState(released=released, reclassed=reclassed)
        # Then after each run the posted totals are exactly what the schedule of the known facts says through
        # that period: late facts are self-corrected, nothing is lost or posted twice
        assert state.released_total == known_schedule.recognized_through(period)
        assert {fact: amount for fact, (_, amount) in state.reclassed.items() if amount} == {
            fact: amount for fact, amount in known_schedule.reclass_through(period).items() if amount}
    # And in the end exactly the full schedule was released and reclassified, nothing twice
    assert state.released_total == full.total
    assert state.reclassed_total == sum((t.amount for t in full.taken if t.reclass), Decimal(0))
    assert line_delta(line, full, state, last).is_zero()


def test_changes_for_ignores_other_invoices_entities_and_currencies():
    line = ScheduleLine(
        schedule_id="s", entity_id="us01", source_id="stripe", invoice_document_id="doc_inv", line_id="il_1",
        currency="USD", billed=Decimal("100.00"), service_start=date(2026, 1, 1), service_end=date(2026, 2, 1),
        deferred_account="L", revenue_account="R", weight=Decimal("100.00"), invoice_net=Decimal("100.00"),
        invoice_total=Decimal("100.00"), billed_on=date(2026, 1, 1))

    def fact(**overrides):  # noqa: ANN003, ANN202
        values = {"fact_id": "f", "kind": "refund", "entity_id": "us01", "document_id": "d",
                  "effective_date": date(2026, 1, 10), "currency": "USD", "amount": Decimal("10.00"),
                  "account": "Income:Refunds", "invoice_document_id": "doc_inv"} | overrides
        return RevenueFact(**values)

    assert len(changes_for(line, [fact()])) == 1
    assert changes_for(line, [fact(invoice_document_id="other")]) == []
    assert changes_for(line, [fact(entity_id="gb01")]) == []
    assert changes_for(line, [fact(currency="EUR")]) == []
