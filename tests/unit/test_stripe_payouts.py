"""A Stripe payout posted from its balance transactions (D83): one deposit with Stripe's fees per fee type.

Expected figures come from the vendor's own example (tests/contracts/stripe/balance_transaction_with_fee.json:
amount 2000, fee 88, net 1912, one ``stripe_fee``) and from arithmetic on the amounts written here, never from
LedgerLink's output."""

from __future__ import annotations

import copy
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.errors import NormalizationError
from ledgerlink.pipeline.enrich import enrich

from tests.conftest import contract_json, event_json

PAYOUT = "20-payout.paid.automatic.json"


def txn(txn_id: str, amount: int, fee_details: list[tuple[str, int]] = (), *, category: str = "charge",
        kind: str | None = None, source: str | None = None, currency: str = "usd", **extra: Any) -> dict[str, Any]:
    base = copy.deepcopy(contract_json("stripe/balance_transaction_with_fee.json"))
    fee = sum(amount for _, amount in fee_details)
    base.update(id=txn_id, amount=amount, fee=fee, net=amount - fee, currency=currency,
                fee_details=[{"amount": a, "application": None, "currency": currency, "description": t, "type": t}
                             for t, a in fee_details],
                reporting_category=category, type=kind or category, source=source or f"src_{txn_id}", **extra)
    return base


def payout_event(amount: int, *, currency: str = "usd", status: str = "completed",
                 event_type: str = "payout.paid", account: str | None = None) -> dict[str, Any]:
    event = event_json(f"stripe/{PAYOUT}")
    event["type"] = event_type
    event["data"]["object"].update(amount=amount, currency=currency, reconciliation_status=status)
    if account:
        event["account"] = account
    return event


def run(example_config, event, transactions):
    ctx = NormalizeContext(config=example_config, source_id="stripe", correlation_id="c-1",
                           archive_key="raw/stripe/2022/03/28/evt.json")
    fetched = {"payout": event["data"]["object"]["id"], "balance_transactions": transactions}
    return normalize({"notification": event, "fetched": fetched}, ctx)


def balances(journal) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in journal.lines:
        totals[line.account] += line.amount.amount
    return dict(totals)


def test_the_vendors_example_charge_posts_its_fee_and_relieves_clearing_of_the_gross(example_config):
    # Given the vendor's balance transaction (2000 gross, 88 Stripe fee, 1912 net) paid out alone
    vendor = contract_json("stripe/balance_transaction_with_fee.json")
    payout_txn = txn("txn_payout", -vendor["net"], category="payout", kind="payout",
                     source="po_1LedgerLinkAutoPayout01")
    (payout,) = run(example_config, payout_event(vendor["net"]), [payout_txn, vendor]).documents
    journal = enrich(payout, example_config, config_version=1)
    # Then the bank expects 19.12, Stripe's fee is an expense, and clearing gives up the 20.00 the charge put there
    assert balances(journal) == {"Assets:US01:Clearing:PayoutsInTransit": Decimal("19.12"),
                                 "Expenses:US01:PaymentProcessing:Stripe": Decimal("0.88"),
                                 "Assets:US01:Clearing:Stripe": Decimal("-20.00")}
    assert payout.settled_count == 1


def test_fees_are_booked_per_fee_type_and_refunds_and_disputes_relieve_what_their_events_booked(example_config):
    # Given a payout of: a 100.00 charge (2.90 Stripe fee + 0.50 application fee + 0.29 tax on fees), a 30.00
    # refund, a lost dispute of 10.00 with its 15.00 fee (booked by the dispute event), a -1.25 billing fee
    transactions = [
        txn("t1", 10000, [("stripe_fee", 290), ("application_fee", 50), ("tax", 29)]),
        txn("t2", -3000, category="refund"),
        txn("t3", -1000, [("stripe_fee", 1500)], category="dispute", kind="adjustment"),
        txn("t4", -125, category="fee", kind="stripe_fee"),
    ]
    net = (10000 - 369) - 3000 - 2500 - 125      # 4006: what reaches the bank
    (payout,) = run(example_config, payout_event(net), transactions).documents
    assert {fee.kind: fee.amount.amount for fee in payout.fees} == {
        "processing": Decimal("2.90"), "application": Decimal("0.50"), "tax_on_fees": Decimal("0.29")}
    assert [(a.kind, a.amount.amount) for a in payout.adjustments] == [("fee", Decimal("-1.25"))]
    # clearing held 100.00 − 30.00 − 25.00 (the dispute and its fee): relieved of 45.00
    assert payout.gross.amount == Decimal("45.00")
    assert payout.amount.amount + sum(f.amount.amount for f in payout.fees) - Decimal("-1.25") == Decimal("45.00")


def test_an_adjustment_without_a_mapped_role_is_a_mapping_case_not_a_guess(example_config):
    from ledgerlink.errors import DocumentRejected

    (payout,) = run(example_config, payout_event(9875), [txn("t1", 10000), txn("t2", -125, category="fee",
                                                                            kind="stripe_fee")]).documents
    with pytest.raises(DocumentRejected) as rejected:
        enrich(payout, example_config, config_version=1)
    assert rejected.value.reason == "mapping_missing" and "adjustments.fee" in str(rejected.value)


@pytest.mark.parametrize(("amount", "transactions", "reason"), [
    (1000, [txn("t1", 2000, [("stripe_fee", 88)])], "amounts_inconsistent"),             # 1912 settled, not 1000
    (1912, [{**txn("t1", 2000, [("stripe_fee", 88)]), "net": 1900}], "amounts_inconsistent"),   # amount − fee ≠ net
    (1912, [{**txn("t1", 2000, [("stripe_fee", 88)]), "fee_details": []}], "amounts_inconsistent"),
    (1912, [txn("t1", 2000, [("stripe_fee", 88)], exchange_rate=1.0837)], "settlement_currency_differs"),
    (1912, [txn("t1", 2000, [("stripe_fee", 88)], currency="eur")], "settlement_currency_differs"),
    (1912, [{**txn("t1", 2000, [("stripe_fee", 88)]), "amount": "2000"}], "invalid_amount"),
])
def test_a_payout_that_does_not_add_up_is_a_case(example_config, amount, transactions, reason):
    with pytest.raises(NormalizationError) as refused:
        run(example_config, payout_event(amount), transactions)
    assert refused.value.reason == reason


def test_a_payout_still_being_reconciled_waits_for_reconciliation_completed_which_names_the_same_document(
        example_config):
    transactions = [txn("t1", 2000, [("stripe_fee", 88)])]
    waiting = run(example_config, payout_event(1912, status="in_progress"), transactions)
    assert waiting.documents == [] and [i.reason for i in waiting.ignored] == ["payout_reconciliation_in_progress"]
    (completed,) = run(example_config, payout_event(1912, event_type="payout.reconciliation_completed"),
                       transactions).documents
    (paid,) = run(example_config, payout_event(1912), transactions).documents
    assert completed.document_id == paid.document_id


def test_without_cash_data_a_payout_posts_from_payout_paid_and_reconciliation_completed_is_recorded(example_config):
    ctx = NormalizeContext(config=example_config, source_id="stripe", correlation_id="c-1")
    (payout,) = normalize(payout_event(1812), ctx).documents
    assert payout.fees == () and payout.gross.amount == Decimal("18.12")
    later = normalize(payout_event(1812, event_type="payout.reconciliation_completed"), ctx)
    assert later.documents == [] and [i.reason for i in later.ignored] == ["payout_posted_on_paid"]


def test_a_connected_accounts_payout_posts_to_its_entity(example_config):
    event = payout_event(1912, currency="gbp", account="acct_1LedgerLinkUkLtd01")
    (payout,) = run(example_config, event, [txn("t1", 2000, [("stripe_fee", 88)], currency="gbp")]).documents
    assert payout.entity_id == "gb01" and payout.currency == "GBP"


def test_a_charge_booked_in_eur_and_settled_in_usd_leaves_clearing_in_eur_against_the_fx_account(example_config):
    # Given a 100.00 EUR charge settled in a USD payout at Stripe's rate 1.0837 (108.37 USD, 3.44 USD fee) and a
    # 10.00 EUR refund of it at the same rate (10.84 USD: 10 × 1.0837 = 10.837)
    charge = txn("t1", 10837, [("stripe_fee", 344)], exchange_rate=1.0837,
                 source={"id": "ch_eur", "object": "charge", "amount": 10000, "currency": "eur"})
    refund = txn("t2", -1084, category="refund", exchange_rate=1.0837,
                 source={"id": "re_eur", "object": "refund", "amount": 1000, "currency": "eur", "charge": "ch_eur"})
    (payout,) = run(example_config, payout_event(10837 - 344 - 1084), [charge, refund]).documents
    journal = enrich(payout, example_config, config_version=1)
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in journal.lines:
        totals[(line.account, line.amount.currency)] += line.amount.amount
    # Then the bank expects 94.09 USD (108.37 − 3.44 − 10.84), the fee is booked in USD, the EUR the charge and the
    # refund put on clearing (100.00 − 10.00) leaves it in EUR, and the FX account holds both legs: +90.00 EUR
    # against the 97.53 USD (108.37 − 10.84) they were settled for
    assert totals == {("Assets:US01:Clearing:PayoutsInTransit", "USD"): Decimal("94.09"),
                      ("Expenses:US01:PaymentProcessing:Stripe", "USD"): Decimal("3.44"),
                      ("Assets:US01:Clearing:Stripe", "EUR"): Decimal("-90.00"),
                      ("Income:US01:FX:Realized", "EUR"): Decimal("90.00"),
                      ("Income:US01:FX:Realized", "USD"): Decimal("-97.53")}


def test_a_converted_item_whose_booked_amount_is_unknown_is_a_case(example_config):
    charge = txn("t1", 10837, [("stripe_fee", 344)], exchange_rate=1.0837, source="ch_eur")   # not expanded
    with pytest.raises(NormalizationError) as refused:
        run(example_config, payout_event(10837 - 344), [charge])
    assert refused.value.reason == "settlement_currency_differs"
