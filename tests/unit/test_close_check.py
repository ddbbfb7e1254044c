"""The month-end close check (D84): booked balances against figures computed from the documents the sources
reported, with the documents named when they differ. Documents come from the real Stripe samples; the "book" is
built here by posting them with the posting rules, then damaged the way a real book drifts."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.service.close_check import CloseCheck, CloseCheckRefused, period_end

from tests.conftest import event_json
from tests.unit.test_stripe_payouts import payout_event, txn


def documents(config, *names, fetched=None):
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="c", archive_key="raw/stripe/x.json")
    out = []
    for name in names:
        event = event_json(f"stripe/{name}") if isinstance(name, str) else name
        if fetched is not None and event.get("type") == "payout.paid":
            event = {"notification": event, "fetched": fetched}
        out += normalize(event, ctx).documents
    return out


class Book:
    def __init__(self, config, docs):
        self.totals = defaultdict(Decimal)
        for document in docs:
            for line in enrich(document, config, config_version=1).lines:
                self.totals[(line.account, line.amount.currency)] += line.amount.amount

    def trial_balance(self, through=None, entity_id=None):
        return dict(self.totals)


def check(config, docs, book, settled=None):
    items = [{"document_id": d.document_id, "entity_id": d.entity_id, "status": "posted",
              "document_type": d.document_type, "accounting_date": d.accounting_date.isoformat(),
              "document": d.model_dump_json()} for d in docs]
    return CloseCheck(config=config, ledger_items=lambda: items, book_for=lambda entity: book,
                      schedules=lambda entity: [], settled_sources=settled or (lambda item: None)
                      ).run("us01", "2022-03")


def row(report, check_name, account, currency="USD"):
    (found,) = [t for t in report.tieouts if (t.check, t.account, t.currency) == (check_name, account, currency)]
    return found


def test_a_book_that_holds_what_the_documents_say_ties_out(example_config):
    # Given the invoice of 20.00 paid, 1.00 refunded, and the automatic payout of 18.12 (the 0.88 fee booked)
    charge = txn("t1", 2000, [("stripe_fee", 88)], source="ch_000000000000000000000000")
    refund = txn("t2", -100, category="refund", source="re_000000000000000000000000")
    docs = documents(example_config, "02-invoice.paid.json", "04-charge.refunded.json", payout_event(1812),
                     fetched={"balance_transactions": [charge, refund]})
    report = check(example_config, docs, Book(example_config, docs))
    # Then every tie-out is at 0.00: clearing relieved of the 19.00 gross, 18.12 in transit, the invoice paid
    assert report.status == "tied", report.table()
    assert row(report, "cash_clearing", "Assets:US01:Clearing:Stripe").booked == Decimal("0.00")
    assert row(report, "payouts_in_transit", "Assets:US01:Clearing:PayoutsInTransit").expected == Decimal("18.12")
    assert row(report, "receivable", "Assets:US01:AccountsReceivable:Stripe").expected == Decimal("0")


def test_a_posting_missing_from_the_book_is_a_difference_that_names_the_documents(example_config):
    docs = documents(example_config, "02-invoice.paid.json", "04-charge.refunded.json")
    book = Book(example_config, docs[:-1])          # the refund never reached the book
    report = check(example_config, docs, book)
    clearing = row(report, "cash_clearing", "Assets:US01:Clearing:Stripe")
    assert (clearing.expected, clearing.booked, clearing.difference) == (Decimal("19.00"), Decimal("20.00"),
                                                                         Decimal("1.00"))
    assert docs[-1].document_id in clearing.documents and report.status == "differences"


def test_an_unbalanced_book_and_a_receivable_below_zero_are_differences(example_config):
    (invoice, payment) = documents(example_config, "02-invoice.paid.json")
    book = Book(example_config, [payment])           # paid, but the invoice was never booked: receivable −20.00
    book.totals[("Income:US01:Revenue:Subscriptions", "USD")] += Decimal("0.01")
    report = check(example_config, [payment], book)
    assert row(report, "trial_balance", "(all accounts)").difference == Decimal("0.01")
    receivable = row(report, "receivable", "Assets:US01:AccountsReceivable:Stripe")
    assert receivable.booked == Decimal("-20.00") and receivable.problems


def test_an_item_a_payout_settled_that_was_never_booked_is_named(example_config):
    charge = txn("t1", 2000, [("stripe_fee", 88)], source="ch_000000000000000000000000")
    docs = documents(example_config, "02-invoice.paid.json", payout_event(1912, status="completed"),
                     fetched={"balance_transactions": [charge]})
    report = check(example_config, docs, Book(example_config, docs),
                   settled=lambda item: ["ch_000000000000000000000000", "ch_neverbooked"]
                   if item["document_type"] == "payout" else None)
    clearing = row(report, "cash_clearing", "Assets:US01:Clearing:Stripe")
    assert clearing.difference == 0 and any("ch_neverbooked" in p for p in clearing.problems)
    assert not any("ch_000000000000000000000000" in p for p in clearing.problems)


@pytest.mark.parametrize(("entity", "period", "reason"), [("us99", "2022-03", "unknown_entity"),
                                                          ("us01", "2022-13", "invalid_period"),
                                                          ("us01", "banana", "invalid_period"),
                                                          ("gb01", "2022-03", "erp_not_readable")])
def test_a_request_it_cannot_check_is_refused_with_a_reason(example_config, entity, period, reason):
    service = CloseCheck(config=example_config, ledger_items=lambda: [],
                         book_for=lambda e: Book(example_config, []) if e == "us01" else None,
                         schedules=lambda e: [])
    with pytest.raises(CloseCheckRefused) as refused:
        service.run(entity, period)
    assert refused.value.reason == reason


def test_the_period_ends_on_its_last_day_leap_years_included():
    assert [period_end(p).isoformat() for p in ("2028-02", "2027-02", "2026-12")] == [
        "2028-02-29", "2027-02-28", "2026-12-31"]


def test_the_command_refuses_a_malformed_period_with_exit_2_and_a_reason(capsys):
    from ledgerlink.cli import main

    assert main(["close-check", "--entity", "us01", "--period", "2026-13"]) == 2
    assert "invalid_period" in capsys.readouterr().err


# ---- customer credit (D87): overpayments are owed to the customer until refunded or applied ----------------------

def overpaid(config, amount_paid):
    event = event_json("stripe/02-invoice.paid.json")
    event["data"]["object"]["amount_paid"] = amount_paid
    return documents(config, event)


def test_an_overpayment_ties_customer_credit_to_the_unapplied_payments_and_leaves_the_receivable_at_zero(
        example_config):
    # Given the 20.00 invoice paid 9,999.99: 20.00 applies to it, 9,979.99 is unapplied (customer credit)
    docs = overpaid(example_config, 999_999)
    assert [d.source.object_type for d in docs] == ["invoice", "invoice_payment", "unapplied_payment"]
    report = check(example_config, docs, Book(example_config, docs))
    assert report.status == "tied", report.table()
    credit = row(report, "customer_credit", "Liabilities:US01:CustomerCredit")
    # Then customer credit = −9,979.99 (a credit balance: 9,999.99 paid − 20.00 applied), nothing consumed it
    assert (credit.expected, credit.booked) == (Decimal("-9979.99"), Decimal("-9979.99"))
    assert credit.documents == [docs[2].document_id]
    assert "nothing consumes customer credit yet" in credit.basis
    # and the receivable is 20.00 billed − 20.00 applied = 0.00, not −9,979.99
    receivable = row(report, "receivable", "Assets:US01:AccountsReceivable:Stripe")
    assert (receivable.expected, receivable.booked) == (Decimal("0"), Decimal("0.00"))
    # the cash is all in clearing: 20.00 + 9,979.99
    assert row(report, "cash_clearing", "Assets:US01:Clearing:Stripe").expected == Decimal("9999.99")


def test_customer_credit_missing_from_the_book_or_a_debit_is_a_difference(example_config):
    docs = overpaid(example_config, 3_000)                 # 30.00 paid on 20.00: 10.00 unapplied
    book = Book(example_config, docs[:2])                  # the unapplied payment never reached the book
    book.totals[("Liabilities:US01:CustomerCredit", "USD")] += Decimal("2.50")   # a stray debit instead
    book.totals[("Assets:US01:Clearing:Stripe", "USD")] -= Decimal("2.50")
    report = check(example_config, docs, book)
    credit = row(report, "customer_credit", "Liabilities:US01:CustomerCredit")
    assert (credit.expected, credit.booked, credit.difference) == (Decimal("-10.00"), Decimal("2.50"),
                                                                   Decimal("12.50"))
    assert credit.status == "difference" and any("is a debit" in p for p in credit.problems)


def test_an_empty_book_says_there_is_nothing_to_tie_out(example_config):
    report = check(example_config, [], Book(example_config, []))
    assert report.tieouts == [] and "nothing posted" in report.table()
