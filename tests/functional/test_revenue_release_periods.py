"""Issue 17 through the real handlers on moto: a first release after several months have ended releases each
month in its own period (defect 8), closed months catch up into the first open period with a memo saying so,
and a refund over several lines is reclassified to the cent (defect 9). Expected figures come from the
independent oracle (``tests/revenue_oracle.py``), which reads the raw Stripe samples."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledgerlink import clock
from ledgerlink.service.revenue import schedule_report, waterfall_report

from tests import revenue_oracle
from tests.functional.test_revenue_pipeline import (
    ANNUAL,
    PRORATION,
    REFUND,
    STORY,
    USAGE_INVOICE,
    as_decimals,
    book_balance,
    send_all,
    store,
)

DEFERRED = "Liabilities:US01:DeferredRevenue"
MONTHS = ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def month_end(month: str) -> str:
    year, number = (int(part) for part in month.split("-"))
    following = date(year + number // 12, number % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1).isoformat()


def scheduled_release(stack, at: datetime) -> dict:
    """The entity's schedule firing at ``at`` (no period named: the month that ended, and what came before)."""
    with clock.use(clock.FixedClock(at)):
        (entity,) = stack.host.invoke("revenue_release", {"entity": "us01"})["entities"]
    return entity


def release_journals(stack) -> list[dict]:
    """The posted release journals as posted (after the period gate): date, memo, lines."""
    out = []
    for item in stack.documents("posted"):
        if item["source_id"] == "revenue":
            journal = json.loads(item["journal"])
            out.append({"date": item["posted_accounting_date"], "memo": journal.get("memo") or "",
                        "lines": [(line["account"], Decimal(line["amount"]["amount"])) for line in journal["lines"]]})
    return out


def per_date(journals: list[dict], *, reclass: bool) -> dict[str, Decimal]:
    """Per posting date, what release journals moved out of deferred revenue into revenue (``reclass=False``) or
    into the accounts where refunds were booked (``reclass=True``)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for journal in journals:
        for account, amount in journal["lines"]:
            if account != DEFERRED and amount < 0 and ("Refund" in account) == reclass:
                out[journal["date"]] -= amount
    return dict(sorted(out.items()))


def test_a_first_release_after_several_months_posts_each_month_in_its_own_period(stack):
    # Given the revenue story of March..November 2026, never released, and us01's schedule firing on 2 November
    send_all(stack, STORY)
    entity = scheduled_release(stack, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    # Then October (the month that ended) and every month before it were released, one run each, in order
    assert (entity["status"], entity["period"], entity["periods_released"]) == ("released", "2026-10", MONTHS)
    assert len(entity["runs"]) == len(MONTHS)
    # and every release journal is dated on its own month's last day — none of March..September lands in October
    journals = release_journals(stack)
    assert sorted({journal["date"] for journal in journals}) == [month_end(month) for month in MONTHS]
    assert not any("caught up" in journal["memo"] for journal in journals)
    # and each month's revenue is the independent computation's recognition of that month, to the cent
    lines = revenue_oracle.demo_lines([ANNUAL, PRORATION, USAGE_INVOICE], [REFUND])
    expected = revenue_oracle.monthly_recognition(lines, "USD")
    assert per_date(journals, reclass=False) == {month_end(month): expected[month] for month in MONTHS
                                                 if expected.get(month)}
    # and the refund of 10 September is reclassified in September, in full
    assert per_date(journals, reclass=True) == {"2026-09-30": Decimal("1000.00")}
    # and the waterfall shows each month's release in that month, as the oracle does
    report = waterfall_report(store(stack), "us01")["currencies"]["USD"]
    assert as_decimals(report["rows"]) == revenue_oracle.waterfall(lines, "USD", released_through="2026-10")
    assert book_balance(stack, DEFERRED) == -revenue_oracle.deferred_after(lines, "USD", "2026-10")
    # When the schedule fires again (day 2 of the window), nothing more is posted
    postings = len(stack.postings())
    again = scheduled_release(stack, datetime(2026, 11, 3, 8, 0, tzinfo=UTC))
    assert (again["status"], again["journals_posted"], again["periods_released"]) == ("nothing_to_release", [], [])
    assert len(stack.postings()) == postings
    # and a month later only November is released, on its last day
    november = scheduled_release(stack, datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert november["periods_released"] == ["2026-11"]
    assert {journal["date"] for journal in release_journals(stack)} - {month_end(m) for m in MONTHS} == {"2026-11-30"}
    assert per_date(release_journals(stack), reclass=False)["2026-11-30"] == expected["2026-11"]


class TestClosedMonthsCatchUp:
    """us01 closed through 2026-08-31 (policy next_open_period) when its first release runs."""

    @pytest.fixture
    def stack_config(self):
        from tests.functional.conftest import config_with

        return config_with(entities__0__closed_through="2026-08-31")

    def test_closed_months_are_released_with_the_first_open_month_and_its_memo_says_so(self, stack):
        # Given the annual subscription (from 1 March) and its refund of 10 September, never released
        send_all(stack, [ANNUAL, REFUND])
        # When us01's schedule fires on 2 November
        entity = scheduled_release(stack, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
        # Then two runs: September (carrying March..August, which are closed) and October
        assert (entity["status"], entity["periods_released"]) == ("released", ["2026-09", "2026-10"])
        journals = release_journals(stack)
        assert sorted({journal["date"] for journal in journals}) == ["2026-09-30", "2026-10-31"]
        september = [journal for journal in journals if journal["date"] == "2026-09-30"]
        assert september and all("includes closed period(s) 2026-03 to 2026-08, caught up here" in journal["memo"]
                                 for journal in september)
        assert not any("caught up" in journal["memo"] for journal in journals if journal["date"] == "2026-10-31")
        # and September's revenue is March..September's recognition, October's its own (independent figures)
        lines = revenue_oracle.demo_lines([ANNUAL], [REFUND])
        expected = revenue_oracle.monthly_recognition(lines, "USD")
        assert per_date(journals, reclass=False) == {
            "2026-09-30": sum((expected[month] for month in MONTHS[:7]), Decimal(0)),
            "2026-10-31": expected["2026-10"]}
        assert book_balance(stack, DEFERRED) == -revenue_oracle.deferred_after(lines, "USD", "2026-10")
        # and the waterfall shows the catch-up where it was posted: nothing released in the closed months
        released = {row["period"]: Decimal(row["released"])
                    for row in waterfall_report(store(stack), "us01")["currencies"]["USD"]["rows"]}
        assert all(released[month] == 0 for month in MONTHS[:6])
        assert released["2026-09"] == sum((expected[month] for month in MONTHS[:7]), Decimal(0))


# ---- defect 9: a refund over three lines ----------------------------------------------------------------

def three_line_invoice() -> tuple[dict, dict]:
    """The annual invoice as three equal 100.00 lines (300.00), and a refund of 100.00 on 10 September."""
    invoice = json.loads((revenue_oracle.STRIPE / ANNUAL).read_text())
    body = invoice["data"]["object"]
    (line,) = body["lines"]["data"]
    body["lines"]["data"] = []
    for letter in "ABC":
        copied = copy.deepcopy(line)
        copied.update(id=f"il_1QLedgerLinkGlobexBiz{letter}", amount=10000, subtotal=10000)
        copied["pricing"]["unit_amount_decimal"] = "10000"
        body["lines"]["data"].append(copied)
    text = json.dumps(invoice).replace("1200000", "30000")      # total, amount paid, payments: 12,000 → 300
    refund = json.loads((revenue_oracle.STRIPE / REFUND).read_text())
    charge = refund["data"]["object"]
    charge.update(amount=30000, amount_captured=30000, amount_refunded=10000)
    return json.loads(text), refund


def test_a_refund_of_100_over_three_equal_lines_is_reclassified_to_the_cent(stack):
    invoice, refund = three_line_invoice()
    assert stack.send(json.dumps(invoice).encode()).status == 202
    assert stack.send(json.dumps(refund).encode()).status == 202
    stack.drain()
    entity = scheduled_release(stack, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    assert entity["status"] == "released"
    # Then all 100.00 refunded is taken out of deferred revenue (it was 99.99, leaving 0.01 on Refunds)
    assert per_date(release_journals(stack), reclass=True) == {"2026-09-30": Decimal("100.00")}
    assert book_balance(stack, "Income:US01:Revenue:Refunds") == Decimal("0.00")
    # and line by line as the oracle allocates it: 33.34, 33.33, 33.33 in invoice order
    lines = revenue_oracle.demo_lines([invoice], [refund])
    expected = [sum(line.taken.values(), Decimal(0)) for line in lines]
    assert expected == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    invoice_item = next(d for d in stack.documents("posted") if d["document_type"] == "invoice")
    shown = schedule_report(store(stack), invoice_item["document_id"])["schedules"]
    by_line = {item["line_id"]: Decimal(item["reclassified_total"]) for item in shown}
    assert [by_line[line.line] for line in lines] == expected
    # and the book's deferred revenue is what the independent computation leaves deferred after October
    assert book_balance(stack, DEFERRED) == -revenue_oracle.deferred_after(lines, "USD", "2026-10")


def test_a_first_release_interrupted_after_claiming_a_month_resumes_there_and_posts_each_month_once(
        stack, monkeypatch):
    from ledgerlink.errors import TransientError
    from ledgerlink.service.revenue import ReleaseService

    send_all(stack, [ANNUAL, REFUND])
    finish = ReleaseService._finish
    crashed: list[str] = []

    def crash_once_in_may(self, config, version, run, result):  # noqa: ANN001, ANN202
        if run["period"] == "2026-05" and not crashed:
            crashed.append(run["run_id"])
            raise TransientError("ERP unavailable")
        return finish(self, config, version, run, result)

    monkeypatch.setattr(ReleaseService, "_finish", crash_once_in_may)
    # Given a first release that stopped after March and April, with May's run claimed but not posted
    first = scheduled_release(stack, datetime(2026, 11, 2, 8, 0, tzinfo=UTC))
    assert (first["status"], first["periods_released"]) == ("deferred", ["2026-03", "2026-04"])
    # When the schedule fires again
    second = scheduled_release(stack, datetime(2026, 11, 3, 8, 0, tzinfo=UTC))
    # Then May's claimed run is finished (the same run), then June..October, each month once, on its last day
    assert second["runs"][0] == crashed[0]
    assert (second["status"], second["periods_released"]) == ("released", MONTHS[2:])
    journals = release_journals(stack)
    lines = revenue_oracle.demo_lines([ANNUAL], [REFUND])
    expected = revenue_oracle.monthly_recognition(lines, "USD")
    assert per_date(journals, reclass=False) == {month_end(month): expected[month] for month in MONTHS}
    assert book_balance(stack, DEFERRED) == -revenue_oracle.deferred_after(lines, "USD", "2026-10")
