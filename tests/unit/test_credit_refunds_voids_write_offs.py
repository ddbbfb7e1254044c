"""Issue 17, defects 1 and 3 (D89), unit level: what the Stripe events become, the posting rules, and the schedule.
Every expected figure is worked out by hand next to it."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.model.documents import CREDIT_NOTE_REFUND, Reversal, TaxShare, WriteOff
from ledgerlink.model.money import Money
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.revenue import RevenueFact, ScheduleLine, changes_for

from tests.conftest import event_json


def _normalize(config, event):  # noqa: ANN001, ANN202
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="c", archive_key="raw/stripe/x.json")
    return normalize(event, ctx)


def _invoice_event(event_type: str, status: str, **transitions: int) -> dict:
    event = copy.deepcopy(event_json("stripe/01-invoice.finalized.json"))
    event["type"] = event_type
    invoice = event["data"]["object"]
    invoice["lines"]["data"][0]["amount"] = 30000
    invoice.update(status=status, total=30000, subtotal=30000, amount_due=30000, amount_paid=0,
                   amount_remaining=30000)
    invoice["status_transitions"].update(transitions)
    return event


def test_the_pre_payment_sample_credit_note_pays_out_no_refund(example_config):
    # 12-credit_note.created.json is a pre_payment note: its (placeholder) refunds list is not a payout
    result = _normalize(example_config, event_json("stripe/12-credit_note.created.json"))
    assert [document.document_type for document in result.documents] == ["credit_note"]


def test_a_post_payment_credit_note_names_the_refund_that_pays_it_out(example_config):
    event = copy.deepcopy(event_json("stripe/12-credit_note.created.json"))
    event["data"]["object"].update(type="post_payment",
                                   refunds=[{"amount_refunded": 1690, "refund": "re_1Abc", "type": "refund"}])
    note, payout = _normalize(example_config, event).documents
    assert payout.source.object_type == CREDIT_NOTE_REFUND and payout.direction == "refunded"
    assert payout.amount == Money("16.90", "USD")                    # 1690 minor units, all of the note's 16.90
    refunded = copy.deepcopy(event_json("stripe/04-charge.refunded.json"))
    refunded["data"]["object"]["refunds"]["data"][0]["id"] = "re_1Abc"
    (refund,) = _normalize(example_config, refunded).documents
    assert payout.refund_document_id == refund.document_id            # the refund charge.refunded posts
    assert payout.applies_to_document_id == note.original_document_id


def test_a_credit_note_paying_out_more_than_its_total_is_a_case(example_config):
    event = copy.deepcopy(event_json("stripe/12-credit_note.created.json"))
    event["data"]["object"].update(type="post_payment",
                                   refunds=[{"amount_refunded": 1691, "refund": "re_1Abc", "type": "refund"}])
    try:
        _normalize(example_config, event)
    except Exception as exc:  # noqa: BLE001 - the reason is what matters
        assert getattr(exc, "reason", None) == "amounts_inconsistent"
    else:
        raise AssertionError("a 16.91 payout of a 16.90 credit note was accepted")


def test_the_refund_paying_out_a_credit_note_charges_the_customer_not_revenue_or_tax(example_config):
    # a 119.00 refund of which 19.00 is its tax share (D88): the refund itself posts Dr refunds 100.00 · Dr tax 19.00
    # · Cr cash 119.00; paying out a credit note, the mirror of its contra lines goes against the receivable
    event = copy.deepcopy(event_json("stripe/12-credit_note.created.json"))
    event["data"]["object"].update(type="post_payment", currency="usd",
                                   refunds=[{"amount_refunded": 1190, "refund": "re_1Abc", "type": "refund"}])
    (_, payout) = _normalize(example_config, event).documents
    payout = payout.model_copy(update={"amount": Money("119.00", "USD"),
                                       "refunded_tax": (TaxShare(amount=Money("19.00", "USD")),)})
    journal = enrich(payout, example_config, config_version=1)
    lines = {(line.role, line.amount.amount) for line in journal.lines}
    assert lines == {("receivable", Decimal("119.00")), ("refunds", Decimal("-100.00")), ("tax", Decimal("-19.00"))}


def test_a_void_is_the_invoice_and_a_reversal_dated_the_day_it_was_voided(example_config):
    # voided_at 1648483200 = 2022-03-28 16:00 UTC = 12:00 in New York
    invoice, void = _normalize(example_config, _invoice_event("invoice.voided", "void", voided_at=1648483200)).documents
    assert isinstance(void, Reversal) and void.reason == "void" and void.amount is None
    assert void.original_document_id == invoice.document_id and void.accounting_date == date(2022, 3, 28)


def test_marked_uncollectible_writes_off_what_is_open_to_bad_debt(example_config):
    event = _invoice_event("invoice.marked_uncollectible", "uncollectible", marked_uncollectible_at=1648483200)
    invoice, write_off = _normalize(example_config, event).documents
    assert isinstance(write_off, WriteOff) and write_off.amount == Money("300.00", "USD")
    journal = enrich(write_off, example_config, config_version=1)
    assert {(line.account, line.amount.amount) for line in journal.lines} == {
        ("Expenses:US01:BadDebt", Decimal("300.00")), ("Assets:US01:AccountsReceivable:Stripe", Decimal("-300.00"))}


def test_a_payment_of_a_written_off_invoice_recovers_the_write_off_first(example_config):
    event = _invoice_event("invoice.paid", "paid", marked_uncollectible_at=1648483200, paid_at=1649174400)
    event["data"]["object"].update(amount_paid=30000, amount_remaining=0)
    invoice, recovery, payment = _normalize(example_config, event).documents
    assert isinstance(recovery, WriteOff) and recovery.direction == "recovered"
    assert recovery.amount == payment.amount == Money("300.00", "USD")
    journal = enrich(recovery, example_config, config_version=1)
    assert {(line.role, line.amount.amount) for line in journal.lines} == {
        ("receivable", Decimal("300.00")), ("bad_debt", Decimal("-300.00"))}


def test_a_payment_of_an_invoice_never_written_off_recovers_nothing(example_config):
    documents = _normalize(example_config, event_json("stripe/02-invoice.paid.json")).documents
    assert [d.document_type for d in documents] == ["invoice", "payment"]


def _line() -> ScheduleLine:
    return ScheduleLine(
        schedule_id="s", entity_id="us01", source_id="stripe", invoice_document_id="doc_inv", line_id="il_1",
        currency="USD", billed=Decimal("1200.00"), service_start=date(2026, 1, 1), service_end=date(2027, 1, 1),
        deferred_account="L", revenue_account="R", weight=Decimal("1200.00"), invoice_net=Decimal("1200.00"),
        invoice_total=Decimal("1200.00"), billed_on=date(2026, 1, 1))


def _fact(**values) -> RevenueFact:  # noqa: ANN003
    return RevenueFact(**({"entity_id": "us01", "effective_date": date(2026, 3, 1), "currency": "USD",
                           "invoice_document_id": "doc_inv"} | values))


def test_a_credited_amount_leaves_the_schedule_once_not_again_for_the_refund_that_pays_it_out():
    credit = _fact(fact_id="cn:l1", kind="credit_note", document_id="cn", amount=Decimal("100.00"), account="R",
                   line_id="il_1")
    refund = _fact(fact_id="stripe:refund:re_1:1", kind="refund", document_id="stripe:refund:re_1:1",
                   amount=Decimal("100.00"), account="Income:Refunds", net_of_tax=True)
    payout = _fact(fact_id="po", kind="credit_refund", document_id="po", amount=Decimal("100.00"),
                   refund_document_id="stripe:refund:re_1:1")
    # in any order: only the credit note's 100.00 is taken out
    for facts in ([credit, refund, payout], [payout, refund, credit]):
        assert [(c.kind, c.share) for c in changes_for(_line(), facts)] == [("credit_note", Decimal("100.00"))]
    # a refund of 150.00 of which 100.00 paid out the note: the other 50.00 is a refund like any other
    bigger = refund.model_copy(update={"amount": Decimal("150.00")})
    assert sorted((c.kind, c.share) for c in changes_for(_line(), [credit, bigger, payout])) == [
        ("credit_note", Decimal("100.00")), ("refund", Decimal("50.00"))]
