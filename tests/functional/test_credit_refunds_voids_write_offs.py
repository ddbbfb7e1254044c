"""Issue 17, defects 1 and 3 end to end (real handlers and state machine on moto, the Beancount book): a credit note
paid out by a refund reduces revenue once, whichever event arrives first; a void reverses the invoice and its
schedule; a write-off is an impairment that a later payment recovers. Every expected figure is worked out by hand
next to it (D89)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from ledgerlink import wiring

from tests.conftest import event_json
from tests.functional.test_revenue_pipeline import ANNUAL, book_balance, release_all

RECEIVABLE = "Assets:US01:AccountsReceivable:Stripe"
REVENUE = "Income:US01:Revenue:Subscriptions"
REFUNDS = "Income:US01:Revenue:Refunds"
CLEARING = "Assets:US01:Clearing:Stripe"
BAD_DEBT = "Expenses:US01:BadDebt"
DEFERRED = "Liabilities:US01:DeferredRevenue"
INVOICE = "in_1LedgerLinkCreditRefund01"
CHARGE = "ch_1LedgerLinkCreditRefund01"
REFUND = "re_1LedgerLinkCreditRefund01"


def _event(name: str, event_id: str, event_type: str) -> dict:
    event = copy.deepcopy(event_json(f"stripe/{name}"))
    event["id"], event["type"] = event_id, event_type
    return event


def paid_invoice() -> dict:
    """02-invoice.paid.json as invoice INVOICE paid by charge CHARGE: 20.00, no tax, revenue recognized when billed."""
    event = _event("02-invoice.paid.json", "evt_1LedgerLinkCreditRefundInv", "invoice.paid")
    invoice = event["data"]["object"]
    invoice["id"], invoice["charge"] = INVOICE, CHARGE
    return event


def credit_note_with_refund() -> dict:
    """12-credit_note.created.json as a post-payment credit note of all 20.00 of INVOICE, paid out by refund REFUND."""
    event = _event("12-credit_note.created.json", "evt_1LedgerLinkCreditRefundCn", "credit_note.created")
    note = event["data"]["object"]
    line = note["lines"]["data"][0]
    line.update(amount=2000, invoice_line_item="il_000000000000000000000000", tax_rates=[])
    note["lines"]["data"] = [line]
    note.update(invoice=INVOICE, type="post_payment", amount=2000, subtotal=2000, subtotal_excluding_tax=2000,
                total=2000, customer="cus_00000000000000", effective_at=1648483200, created=1648483200,
                refunds=[{"amount_refunded": 2000, "refund": REFUND, "type": "refund"}],
                post_payment_amount=2000, pre_payment_amount=0)
    return event


def charge_refunded() -> dict:
    """04-charge.refunded.json as the 20.00 refund REFUND of CHARGE, which paid INVOICE."""
    event = _event("04-charge.refunded.json", "evt_1LedgerLinkCreditRefundCh", "charge.refunded")
    charge = event["data"]["object"]
    charge.update(id=CHARGE, invoice=INVOICE, amount=2000, amount_refunded=2000, refunded=True,
                  customer="cus_00000000000000")
    (refund,) = charge["refunds"]["data"]
    refund.update(id=REFUND, amount=2000, charge=CHARGE, created=1648483200)
    return event


def send(stack, event: dict) -> None:
    assert stack.send(json.dumps(event).encode()).status == 202
    stack.drain()


def close_check(stack, period: str):  # noqa: ANN201
    """The month-end close check of us01 (D84), whose expected figures come from the documents."""
    wiring.reset()
    return wiring.close_check_service().run("us01", period)


@pytest.mark.parametrize("order", ["credit note first", "refund first"])
def test_a_credit_note_paid_out_by_a_refund_reduces_revenue_once_in_either_order(stack, order):
    # Given a paid 20.00 invoice
    send(stack, paid_invoice())
    # When its credit note (refund REFUND) and the refund itself arrive, in either order
    events = [credit_note_with_refund(), charge_refunded()]
    for event in events if order == "credit note first" else events[::-1]:
        send(stack, event)
    assert {d["status"] for d in stack.documents()} == {"posted"}
    # Then revenue is reduced once: +20.00 billed − 20.00 credited = 0.00 (book: credit-normal, so 0.00)
    assert book_balance(stack, REVENUE) == Decimal("0.00")
    # and not again as a refund: Dr 20.00 (refund) − Cr 20.00 (the refund pays out the note) = 0.00
    assert book_balance(stack, REFUNDS) == Decimal("0.00")
    # the receivable: +20.00 invoice − 20.00 paid − 20.00 credited + 20.00 paid back = 0.00, never negative
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")
    # cash: +20.00 received − 20.00 refunded = 0.00 (no fee: the invoice event carries none)
    assert book_balance(stack, CLEARING) == Decimal("0.00")
    report = close_check(stack, "2022-03")
    assert report.status == "tied", report.table()


def open_invoice(event_type: str, event_id: str, **transitions: int) -> dict:
    """01-invoice.finalized.json as a 300.00 invoice that is still open (nothing paid), with its status for
    ``event_type`` and the given ``status_transitions``."""
    event = _event("01-invoice.finalized.json", event_id, event_type)
    invoice = event["data"]["object"]
    invoice["id"] = "in_1LedgerLinkOpenInvoice300"
    invoice["lines"]["data"][0].update(amount=30000, unit_amount=30000)
    invoice.update(total=30000, subtotal=30000, amount_due=30000, amount_paid=0, amount_remaining=30000,
                   paid=False, charge=None,
                   status={"invoice.finalized": "open", "invoice.voided": "void", "invoice.paid": "paid",
                           "invoice.marked_uncollectible": "uncollectible"}[event_type])
    invoice["status_transitions"].update({"paid_at": None, **transitions})
    return event


def test_a_voided_invoice_leaves_nothing_in_receivables_or_revenue(stack):
    # Given a finalized, unpaid 300.00 invoice
    send(stack, open_invoice("invoice.finalized", "evt_1LedgerLinkVoidFinal"))
    assert book_balance(stack, RECEIVABLE) == Decimal("300.00")
    # When it is voided two days later (28 Mar 2022)
    send(stack, open_invoice("invoice.voided", "evt_1LedgerLinkVoided", voided_at=1648483200))
    (void,) = [d for d in stack.documents() if d["document_type"] == "reversal"]
    assert void["status"] == "posted"
    assert void["posted_accounting_date"] == "2022-03-28"      # dated the day it was voided
    # Then 300.00 − 300.00 = 0.00 in receivables and in revenue
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")
    assert book_balance(stack, REVENUE) == Decimal("0.00")
    assert close_check(stack, "2022-03").status == "tied"


def test_a_write_off_then_a_late_payment_leaves_receivable_and_bad_debt_at_zero(stack):
    # Given a finalized, unpaid 300.00 invoice, marked uncollectible on 28 Mar 2022
    send(stack, open_invoice("invoice.finalized", "evt_1LedgerLinkWoFinal"))
    send(stack, open_invoice("invoice.marked_uncollectible", "evt_1LedgerLinkWoMarked", marked_uncollectible_at=1648483200))
    # Then the receivable is written off to bad debt (300.00 − 300.00 = 0.00; bad debt 300.00) and revenue stays
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")
    assert book_balance(stack, BAD_DEBT) == Decimal("300.00")
    assert book_balance(stack, REVENUE) == Decimal("-300.00")
    assert close_check(stack, "2022-03").status == "tied"       # receivable expected 300.00 − 300.00 = 0.00
    # When the customer pays it after all (5 Apr 2022)
    paid = open_invoice("invoice.paid", "evt_1LedgerLinkWoPaid", marked_uncollectible_at=1648483200,
                        paid_at=1649174400)
    paid["data"]["object"].update(amount_paid=30000, amount_remaining=0, paid=True, charge="ch_1LedgerLinkWoPaid")
    send(stack, paid)
    assert {d["status"] for d in stack.documents()} == {"posted"}
    # Then the write-off is recovered first: receivable 0.00 + 300.00 recovered − 300.00 paid = 0.00,
    # bad debt 300.00 − 300.00 = 0.00, cash 300.00, and the revenue stays 300.00
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")
    assert book_balance(stack, BAD_DEBT) == Decimal("0.00")
    assert book_balance(stack, CLEARING) == Decimal("300.00")
    assert book_balance(stack, REVENUE) == Decimal("-300.00")
    report = close_check(stack, "2022-04")
    (receivable,) = [t for t in report.tieouts if t.check == "receivable"]
    assert (receivable.expected, receivable.booked) == (Decimal("0.00"), Decimal("0.00"))
    assert report.status == "tied", report.table()


def test_a_voided_annual_invoice_stops_its_schedule_and_reverses_what_was_released(stack):
    # Given the annual 12,000.00 subscription invoice (1 Mar 2026 – 1 Mar 2027) finalized and not paid
    finalized = _event(ANNUAL, "evt_1LedgerLinkAnnualFinal", "invoice.finalized")
    finalized["data"]["object"].update(status="open", amount_paid=0, amount_remaining=1200000, paid=False)
    send(stack, finalized)
    # and March–May released: 12,000.00 × (31 + 30 + 31) / 365 = 3,024.657… → 3,024.66 recognized
    release_all(stack, ["2026-03", "2026-04", "2026-05"])
    assert book_balance(stack, DEFERRED) == Decimal("-8975.34")     # −12,000.00 + 3,024.66
    # When it is voided on 16 Jun 2026
    voided = copy.deepcopy(finalized)
    voided.update(id="evt_1LedgerLinkAnnualVoided", type="invoice.voided")
    voided["data"]["object"].update(status="void")
    voided["data"]["object"]["status_transitions"]["voided_at"] = 1781625600
    send(stack, voided)
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")       # 12,000.00 − 12,000.00
    release_all(stack, ["2026-06", "2026-07"])
    # Then nothing is deferred any more and no revenue is left from it: the reversal took the 12,000.00 deferral
    # back (−8,975.34 + 12,000.00 = 3,024.66) and June's release reversed the 3,024.66 recognized (→ 0.00)
    assert book_balance(stack, DEFERRED) == Decimal("0.00")
    revenue = sum((book_balance(stack, account) for account in (REVENUE, "Income:US01:Revenue:Pro")), Decimal(0))
    assert revenue == Decimal("0.00")
    report = close_check(stack, "2026-07")
    assert report.status == "tied", report.table()
