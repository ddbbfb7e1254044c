"""Issue 17, defect 5: a zero-total invoice that switches plans at the same price still changes the revenue
schedules — the old plan's unused time (a negative proration line) and the new plan's remaining time (a positive
one) move what is still deferred from the old product's revenue account to the new one's; the receivable is
untouched. The event is the upgrade sample (16) with its amounts edited so that it totals 0. Real handlers and state
machine on moto; every expected figure is worked out by hand next to it."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from ledgerlink import wiring
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.store.revenue import DynamoRevenue

from tests.conftest import event_json
from tests.functional.conftest import config_with
from tests.functional.test_revenue_pipeline import ANNUAL, PERIODS, book_balance, release_all

BUSINESS = "Income:US01:Revenue:Business"
ENTERPRISE = "Income:US01:Revenue:Enterprise"
SWITCH_ID = "in_1QLedgerLinkGlobexSwitch"


def plan_switch() -> dict:
    """16-invoice.paid.upgrade-proration.json as a same-price switch: the new plan's remaining time is billed at the
    7,495.89 credited for the old plan's unused time, so the invoice totals 0 and nothing is paid."""
    event = copy.deepcopy(event_json("stripe/16-invoice.paid.upgrade-proration.json"))
    event["id"] = "evt_1QLedgerLinkGlobexSwitch"
    invoice = event["data"]["object"]
    invoice["id"] = SWITCH_ID
    unused, remaining = invoice["lines"]["data"]
    remaining["amount"] = -unused["amount"]                      # 7,495.89 for 7,495.89
    remaining["pricing"]["unit_amount_decimal"] = str(remaining["amount"])
    for line in (unused, remaining):
        line["invoice"] = SWITCH_ID
    for key in ("total", "subtotal", "amount_paid", "amount_due", "subtotal_excluding_tax", "total_excluding_tax"):
        if key in invoice:
            invoice[key] = 0
    return event


@pytest.fixture
def stack_config():
    return config_with(**{"account_mappings__0__accounts__revenue.prod_ledgerlink_business": BUSINESS,
                          "account_mappings__0__accounts__revenue.prod_ledgerlink_enterprise": ENTERPRISE})


def test_a_zero_total_invoice_that_changes_no_schedule_is_still_ignored_with_its_reason(example_config):
    # the same switch for an entity without a revenue policy: nothing deferred, nothing to move
    no_policy = example_config.model_copy(update={"revenue_recognition": example_config.revenue_recognition
                                                  .model_copy(update={"policies": []})})
    ctx = NormalizeContext(config=no_policy, source_id="stripe", correlation_id="c", archive_key="raw/stripe/x.json")
    result = normalize(plan_switch(), ctx)
    assert result.documents == []
    assert [(item.reason, item.detail) for item in result.ignored] == [
        ("zero_amount_invoice", f"invoice {SWITCH_ID} totals 0 and changes no revenue schedule")]


def test_a_same_price_plan_switch_moves_the_deferred_balance_to_the_new_product(stack):
    # Given the annual Business subscription (12,000.00 over 1 Mar 2026 – 1 Mar 2027, 365 days), paid
    assert stack.send_event(ANNUAL).status == 202
    stack.drain()
    receivable = book_balance(stack, "Assets:US01:AccountsReceivable:Stripe")
    # When it is switched to Enterprise at the same price on 16 Jul 2026 (a zero-total invoice)
    assert stack.send(json.dumps(plan_switch()).encode()).status == 202
    stack.drain()
    (switch,) = [d for d in stack.documents() if d["source_object"].startswith(f"invoice:{SWITCH_ID}")]
    assert switch["status"] == "posted"
    # Then the receivable is untouched (no receivable line: the invoice totals 0, nothing was paid)
    assert book_balance(stack, "Assets:US01:AccountsReceivable:Stripe") == receivable == Decimal("0.00")
    # and the two proration lines are schedule lines of their products over 16 Jul 2026 – 1 Mar 2027 (228 days:
    # 16 in July + Aug 31 + Sep 30 + Oct 31 + Nov 30 + Dec 31 + Jan 31 + Feb 28); 12,000.00 × 228 / 365 =
    # 7,495.890… → 7,495.89, exactly what the annual line still defers from 16 July
    lines = {line.revenue_account: line for line, _ in DynamoRevenue(stack.resources.tables["revenue"])
             .entity_lines("us01") if line.invoice_document_id == switch["document_id"]}
    assert {account: line.billed for account, line in lines.items()} == {BUSINESS: Decimal("-7495.89"),
                                                                         ENTERPRISE: Decimal("7495.89")}
    assert {(line.service_start.isoformat(), line.service_end.isoformat()) for line in lines.values()} == {
        ("2026-07-16", "2027-03-01")}
    # When March – October 2026 are released
    release_all(stack, PERIODS)
    # Then Business recognized 1 Mar – 15 Jul only: 137 days (31+30+31+30+15) × 12,000.00 / 365 = 4,504.109… →
    # 4,504.11 (the annual line through October, 245 days: 8,054.79, less the unused-time line's 108 of 228 days:
    # 3,550.68); Enterprise recognized 16 Jul – 31 Oct: 108 days × 7,495.89 / 228 = 3,550.684… → 3,550.68
    assert book_balance(stack, BUSINESS) == Decimal("-4504.11")
    assert book_balance(stack, ENTERPRISE) == Decimal("-3550.68")
    # and deferred revenue holds the rest of the year: 12,000.00 − 4,504.11 − 3,550.68 = 3,945.21
    assert book_balance(stack, "Liabilities:US01:DeferredRevenue") == Decimal("-3945.21")
    # and the close check ties the book's deferred revenue (and every other balance) to the schedules
    wiring.reset()
    report = wiring.close_check_service().run("us01", "2026-10")
    (deferred,) = [t for t in report.tieouts if t.check == "deferred_revenue"]
    assert (deferred.expected, deferred.booked) == (Decimal("-3945.21"), Decimal("-3945.21"))
    assert report.status == "tied", report.table()
