"""What each document claims on what is open on its invoice (the receivables subledger, D92). Figures by hand."""

from __future__ import annotations

import copy
from decimal import Decimal

from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.pipeline.receivables import claim_of, open_amount

from tests.conftest import event_json


def _documents(config, event):  # noqa: ANN001, ANN202
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="c", archive_key="raw/stripe/x.json")
    return normalize(event, ctx).documents


def test_payments_credits_write_offs_and_voids_claim_and_pay_outs_and_recoveries_give_back(example_config):
    invoice, payment = _documents(example_config, event_json("stripe/02-invoice.paid.json"))   # 20.00 USD
    assert claim_of(invoice) is None
    assert claim_of(payment) == (invoice.document_id, Decimal("20.00"))
    note = copy.deepcopy(event_json("stripe/12-credit_note.created.json"))
    note["data"]["object"].update(type="post_payment", refunds=[{"amount_refunded": 1690, "refund": "re_1"}])
    credit, paid_out = _documents(example_config, note)
    assert claim_of(credit) == (credit.original_document_id, Decimal("16.90"))
    assert claim_of(paid_out) == (paid_out.applies_to_document_id, Decimal("-16.90"))   # Dr receivable
    refund = _documents(example_config, event_json("stripe/04-charge.refunded.json"))[0]
    assert claim_of(refund) is None       # a refund of a paid invoice moves cash, not what the customer owes
    overpaid = copy.deepcopy(event_json("stripe/02-invoice.paid.json"))
    overpaid["data"]["object"]["amount_paid"] = 2500
    *_, unapplied = _documents(example_config, overpaid)
    assert unapplied.source.object_type == "unapplied_payment" and claim_of(unapplied) is None


def test_what_is_open_is_the_total_less_every_claim():
    record = {"document_type": "invoice", "amount": "20.00",
              "receivable_claims": {"a": "5.00", "b": "12.00", "c": "-2.50"}}
    assert open_amount(record) == Decimal("5.50")                 # 20.00 − 5.00 − 12.00 + 2.50
    assert open_amount(record, excluding="b") == Decimal("17.50")
    assert open_amount({"document_type": "invoice", "amount": "20.00"}) == Decimal("20.00")
    assert open_amount({"document_type": "payout", "amount": "20.00"}) is None


def test_a_void_claims_the_total_a_write_off_what_it_wrote_off_and_a_recovery_gives_it_back(example_config):
    from tests.unit.test_credit_refunds_voids_write_offs import _invoice_event  # a 300.00 USD invoice

    invoice, void = _documents(example_config, _invoice_event("invoice.voided", "void", voided_at=1648483200))
    assert claim_of(void, Decimal("300.00")) == (invoice.document_id, Decimal("300.00"))
    assert claim_of(void) is None        # the invoice's total unknown: nothing is guessed
    _, write_off = _documents(example_config, _invoice_event(
        "invoice.marked_uncollectible", "uncollectible", marked_uncollectible_at=1648483200))
    assert claim_of(write_off) == (invoice.document_id, Decimal("300.00"))
    paid = _invoice_event("invoice.paid", "paid", marked_uncollectible_at=1648483200, paid_at=1649174400)
    paid["data"]["object"].update(amount_paid=30000, amount_remaining=0)
    _, recovery, payment = _documents(example_config, paid)
    # 300.00 − 300.00 written off + 300.00 recovered − 300.00 paid = 0.00 open
    assert [claim_of(recovery)[1], claim_of(payment)[1]] == [Decimal("-300.00"), Decimal("300.00")]
