"""What depends on "now", with the machine's clock moved: the period-end release, the daily reconciliation's
window, signature tolerances, closed periods and the local stack end to end. Expected dates come from the moved
clock read independently here (``datetime.now`` in the entity's zone), never from LedgerLink's clock."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ledgerlink import clock, wiring
from ledgerlink.connectors.sources import webhook_module
from ledgerlink.connectors.sources.webhooks import SignedRequest
from ledgerlink.errors import SignatureInvalid
from ledgerlink.local.secrets import generate
from ledgerlink.local.signers import sign, verification_value

from tests import revenue_oracle
from tests.conftest import EVENTS, EXAMPLE_CONFIG
from tests.functional.test_revenue_pipeline import (
    ANNUAL,
    PRORATION,
    REFUND,
    STORY,
    USAGE_INVOICE,
    book_balance,
)

NEW_YORK, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")


def month_end(month: str) -> str:
    first_of_next = date.fromisoformat(month + "-28") + timedelta(days=4)
    return (first_of_next.replace(day=1) - timedelta(days=1)).isoformat()


def month_before(day: date) -> str:
    last = day.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def test_the_release_posts_the_month_that_ended_in_each_entitys_zone(moved_clock, stack):
    # Given the revenue story (annual subscription, upgrade, partial refund, usage) delivered now
    for name in STORY:
        assert stack.send_event(name).status == 202, name
    stack.drain()
    # When each entity's schedule runs the release without naming a period
    report = stack.host.invoke("revenue_release", {})
    # Then each entity released the month that had ended where it keeps its books (New York and London can
    # disagree late at night on a month's last day)
    periods = {entity["entity_id"]: entity["period"] for entity in report["entities"]}
    assert periods == {"us01": month_before(datetime.now(NEW_YORK).date()),
                       "gb01": month_before(datetime.now(LONDON).date())}
    assert {entity["entity_id"]: entity["status"] for entity in report["entities"]}["us01"] == "released"
    # and the book's deferred revenue is what an independent computation leaves deferred after that month
    lines = revenue_oracle.demo_lines([ANNUAL, PRORATION, USAGE_INVOICE], [REFUND])
    assert book_balance(stack, "Liabilities:US01:DeferredRevenue") == -revenue_oracle.deferred_after(
        lines, "USD", periods["us01"])
    # and this first release posted every month with revenue in its own period, dated on its last day (issue 17)
    months = [month for month, amount in revenue_oracle.monthly_recognition(lines, "USD").items()
              if amount and month <= periods["us01"]]
    us01 = next(entity for entity in report["entities"] if entity["entity_id"] == "us01")
    assert us01["periods_released"] == months
    dates = {item["posted_accounting_date"] for item in stack.documents("posted") if item["source_id"] == "revenue"}
    assert dates == {month_end(month) for month in months}
    # and running it again posts nothing
    postings = len(stack.postings())
    again = stack.host.invoke("revenue_release", {})
    assert [entity["journals_posted"] for entity in again["entities"]] == [[], []]
    assert len(stack.postings()) == postings


def test_the_daily_reconciliation_checks_yesterday_in_the_entitys_zone(moved_clock, stack):
    # Given an invoice and its payment received now
    for name in ("01-invoice.finalized.json", "02-invoice.paid.json"):
        assert stack.send_event(name).status == 202
    stack.drain()
    # When the entity's daily schedule runs without a date
    scheduled = stack.host.invoke("reconcile", {"entity": "us01"})
    # Then it reconciled yesterday in New York, whatever the date is in UTC
    assert scheduled["business_date"] == (datetime.now(NEW_YORK).date() - timedelta(days=1)).isoformat()
    # and the events are counted on their UTC receipt day, which balances
    wiring.reset()
    today = wiring.reconciler().run(datetime.now(UTC).date().isoformat(), ["us01"])
    assert today.status == "balanced", today.differences
    assert today.events["stripe"] == {"received": 2, "processed": 2, "ignored": 0, "exception": 0}


def test_an_invoice_dated_in_a_closed_period_lands_on_the_first_open_day_whatever_today_is(moved_clock, stack):
    # Given us01 closed through 2021-12-31 with the next_open_period policy, an invoice of December 2021
    assert stack.send_event("09-invoice.finalized.closed-period.json").status == 202
    stack.drain()
    # Then it posted on 2022-01-01, the first open day — not on today's date
    (invoice,) = [item for item in stack.documents("posted") if item["document_type"] == "invoice"]
    assert (invoice["accounting_date"], invoice["posted_accounting_date"]) == ("2021-12-20", "2022-01-01")


SIGNED_AT_TIME = {"stripe": "01-invoice.finalized.json", "brex": "01-expense-payment-updated.purchase.json",
                  "ramp": "01-transactions.cleared.json", "hubspot": "02-deal.creation.json",
                  "concur": "01-statusChanged.approved.json"}
TOLERANCE = 300


@pytest.mark.parametrize("kind", sorted(SIGNED_AT_TIME))
def test_a_signature_made_now_verifies_and_one_older_than_the_tolerance_does_not(moved_clock, kind):
    secret = generate(kind)
    body = (EVENTS / kind / SIGNED_AT_TIME[kind]).read_bytes()
    url = f"https://hooks.example.test/webhooks/{kind}"

    def verify(signed):
        request = SignedRequest("POST", url, {k.lower(): v for k, v in signed.headers.items()}, signed.body)
        webhook_module(kind).verify_request(request, [verification_value(kind, secret)], TOLERANCE, clock.epoch())

    # Given the provider signs with the machine's clock (moved) — Then LedgerLink's clock agrees: accepted
    verify(sign(kind, body, secret, url=url, now=int(time.time())))
    # and a request signed just past the tolerance is refused as stale, not as forged
    with pytest.raises(SignatureInvalid) as refused:
        verify(sign(kind, body, secret, url=url, now=int(time.time()) - TOLERANCE - 30))
    assert refused.value.reason == "signature_expired"


@pytest.mark.slow
def test_the_local_stack_posts_and_releases_on_the_machines_date(moved_clock, tmp_path):
    """``ledgerlink local up`` runs on the real clock: what it receives is dated by it end to end."""
    from ledgerlink.local.demo import post
    from ledgerlink.local.runtime import LocalOptions, LocalRuntime
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger

    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=tmp_path / "state", port=0,
                                        secrets_default_file=tmp_path / "secrets.json", flush_interval_seconds=0))
    runtime.start()
    try:
        assert isinstance(clock.current(), clock.SystemClock)
        url = runtime.webhook_url("stripe")
        body = (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes()
        signed = sign("stripe", body, runtime.secrets["stripe"].values[0], now=int(time.time()))
        status, answer = post(url, signed.body, signed.headers)
        assert status == 202, answer
        assert runtime.wait_idle(timeout=60)
        inbox = DynamoInbox(runtime.resources.tables["inbox"], totals_table=runtime.resources.tables["totals"])
        (claim,) = inbox.scan()
        today = datetime.now(UTC)
        assert datetime.fromtimestamp(int(claim["claimed_at"]), UTC).date() == today.date()
        assert f"/{today:%Y/%m/%d}/" in claim["archive_key"]
        release = runtime.release(entity="us01")
        assert [entity["period"] for entity in release["entities"]] == [month_before(datetime.now(NEW_YORK).date())]
        ledger = DynamoLedger(runtime.resources.tables["ledger"], totals_table=runtime.resources.tables["totals"])
        assert {(item["document_type"], item["status"]) for item in ledger.scan()} == {("invoice", "posted"),
                                                                                 ("payment", "posted")}
    finally:
        runtime.stop()
