"""The console's reconciliation pages' services on the local stack (moto): the calendar and the day view read the
reports the real reconciler wrote to the reports bucket, and the close check drills down through the real Beancount
book (and the close-check API returns the same drill-down)."""

from __future__ import annotations

from datetime import date

from ledgerlink import wiring
from ledgerlink.service.recon_calendar import calendar, close_drilldown, day
from ledgerlink.store.reports import S3Reports

from tests.functional.conftest import Stack
from tests.functional.test_governance import ops

DAY = "2022-03-26"   # the business date of the samples (America/New_York)


def reconcile(entities: list[str] | None) -> None:
    wiring.reset()
    wiring.reconciler().run(DAY, entities)


def test_the_calendar_and_the_day_show_a_posting_the_book_lost(stack: Stack) -> None:
    # Given a paid 20.00 invoice (the invoice and its payment posted), reconciled for us01: balanced
    assert stack.send_event("02-invoice.paid.json").status == 202
    stack.drain()
    reconcile(["us01"])
    reports = S3Reports(stack.resources.reports_bucket)
    (balanced,) = [c for c in calendar(reports, entity="us01", month="2022-03", today=date(2022, 3, 31)).days
                   if c.date == DAY]
    assert (balanced.status, balanced.scope) == ("balanced", "us01")
    # When the book loses the payment's posting and every entity is reconciled again
    (payment,) = [d for d in stack.documents("posted") if d["document_type"] == "payment"]
    (victim,) = [p for p in stack.postings() if p.stem == payment["document_id"]]
    victim.unlink()
    reconcile(None)
    # Then the day is a difference of 20.00 USD in the calendar, the days before it unchecked, the ones after future
    month = calendar(reports, entity="us01", month="2022-03", today=date(2022, 3, 27))
    cells = {cell.date: cell for cell in month.days}
    assert (cells[DAY].status, cells[DAY].scope, cells[DAY].amounts) == ("difference", "all", {"USD": "20.00"})
    assert cells["2022-03-25"].status == "not_checked" and cells["2022-03-28"].status == "future"
    assert month.counts == {"balanced": 0, "difference": 1, "not_checked": 26, "future": 4}
    # and the day names the lost document, with the control totals per source
    found = day(reports, entity="us01", business_date=DAY)
    (item,) = found.items
    assert (item.kind, item.document_ids, item.amount, item.currency) == (
        "missing_in_erp", [payment["document_id"]], "20.00", "USD")
    (stripe,) = found.sources
    assert (stripe.source, stripe.counts["received"], stripe.counts["posted"]) == ("stripe", 2, 2)
    # and the month-end close drills down from the clearing difference to that payment, booked 0
    report = wiring.close_check_service().run("us01", "2022-03")
    clearing = close_drilldown(report, "cash_clearing/Assets:US01:Clearing:Stripe/USD")
    assert clearing.items[0]["document_id"] == payment["document_id"]
    assert (clearing.items[0]["expected"], clearing.items[0]["booked"]) == ("20.00", "0")
    # and the close-check API returns the same drill-down in each tie-out
    status, answer = ops(stack, "GET", "/close-check?entity=us01&period=2022-03")
    assert status == 200
    (row,) = [t for t in answer["tieouts"] if t["name"] == clearing.name]
    assert row["drilldown"] == clearing.items and row["drilldown_count"] == clearing.count
