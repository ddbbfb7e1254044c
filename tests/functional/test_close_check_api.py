"""The close check on the ops API (GET /close-check), through the real ops handler on moto: the same tie-outs as
``ledgerlink close-check``, and a refusal with a reason for what it cannot check."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.functional.test_governance import ops


def test_the_close_check_ties_a_paid_and_partly_refunded_invoice(stack):
    # Given a 20.00 USD invoice paid and 1.00 refunded (March 2022)
    for name in ("01-invoice.finalized.json", "02-invoice.paid.json", "04-charge.refunded.json"):
        assert stack.send_event(name).status == 202
    stack.drain()
    # When finance ops asks for the March close
    status, report = ops(stack, "GET", "/close-check?entity=us01&period=2022-03")
    # Then every tie-out is at 0.00: 19.00 left in Stripe clearing (20.00 − 1.00), nothing open on the invoice
    assert status == 200 and report["status"] == "tied", report
    rows = {(row["check"], row["account"], row["currency"]): row for row in report["tieouts"]}
    clearing = rows[("cash_clearing", "Assets:US01:Clearing:Stripe", "USD")]
    assert (Decimal(clearing["expected"]), Decimal(clearing["booked"])) == (Decimal("19.00"), Decimal("19.00"))
    assert Decimal(rows[("receivable", "Assets:US01:AccountsReceivable:Stripe", "USD")]["booked"]) == 0


@pytest.mark.parametrize(("query", "reason"), [("entity=us01&period=2022-13", "invalid_period"),
                                               ("entity=us99&period=2022-03", "unknown_entity"),
                                               ("entity=gb01&period=2022-03", "erp_not_readable"),
                                               ("period=2022-03", "unknown_entity")])
def test_a_close_check_it_cannot_do_is_refused_with_a_reason(stack, query, reason):
    status, answer = ops(stack, "GET", f"/close-check?{query}")
    assert (status, answer["reason"]) == (400, reason)
