"""Enrich: canonical document + account mappings → a balanced journal, or DocumentRejected with a reason.

Accounts below are the ones written in config/ledgerlink.example.yaml; the posting rules are the
double-entry ones stated in pipeline/enrich.py's docstring (Dr receivable / Cr revenue ...).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import (
    CreditNote,
    Document,
    Fee,
    Invoice,
    InvoiceLine,
    JournalEntry,
    Party,
    Payment,
    SourceRef,
    SubscriptionEvent,
)
from ledgerlink.model.money import Money
from ledgerlink.pipeline.enrich import enrich

from tests.conftest import event_json

RECEIVABLE = "Assets:US01:AccountsReceivable:Stripe"
REVENUE = "Income:US01:Revenue:Subscriptions"
REVENUE_PRO = "Income:US01:Revenue:Pro"
DISCOUNTS = "Income:US01:Revenue:Discounts"
TAX = "Liabilities:US01:SalesTaxPayable"
CLEARING = "Assets:US01:Clearing:Stripe"
OUT_OF_BAND = "Assets:US01:Clearing:OutOfBand"
FEES = "Expenses:US01:PaymentProcessing:Stripe"
REFUNDS = "Income:US01:Revenue:Refunds"
WHEN = datetime(2024, 3, 15, 14, 30, tzinfo=UTC)
CUSTOMER = Party(role="customer", source_id="cus_1")


def documents(name: str, config: LedgerLinkConfig) -> list[Document]:
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="corr-enrich-1")
    return normalize(event_json(f"stripe/{name}"), ctx).documents


def without_roles(config: LedgerLinkConfig, *roles: str) -> LedgerLinkConfig:
    data = config.model_dump(mode="json")
    for mapping in data["account_mappings"]:
        for role in roles:
            mapping["accounts"].pop(role, None)
    return LedgerLinkConfig.model_validate(data)


def by_account(entry: JournalEntry) -> dict[str, Money]:
    """Account → signed amount (positive = debit); accounts appear once in these journals."""
    out: dict[str, Money] = {}
    for line in entry.lines:
        assert line.account not in out, f"{line.account} appears twice"
        out[line.account] = line.amount
    return out


def base(object_type: str, object_id: str, **extra: Any) -> dict[str, Any]:
    source = SourceRef(system="stripe", object_type=object_type, object_id=object_id, source_id="stripe")
    return {"document_id": source.document_id(), "source": source, "entity_id": "us01", "correlation_id": "corr-1",
            "occurred_at": WHEN, "accounting_date": WHEN.date(), "currency": "USD", **extra}


def usd(text: str) -> Money:
    return Money.of(text, "USD")


def payment(**extra: Any) -> Payment:
    return Payment(**base("invoice_payment", "in_1", party=CUSTOMER, reference="ch_1",
                          **{"amount": usd("100.00"), **extra}))


# ---- invoices ---------------------------------------------------------------------------------------

def test_invoice_debits_receivable_credits_product_revenue_discount_and_tax(example_config: LedgerLinkConfig) -> None:
    # Given the EUR invoice: 120.00 Pro line, 12.00 discount, 20.52 tax, total 128.52
    invoice = documents("06-invoice.paid.current-api.json", example_config)[0]
    # When enriched with the example mappings (which map revenue.prod_ledgerlink_pro and discounts)
    entry = enrich(invoice, example_config, config_version=7)
    # Then each piece lands on its own account with the right side
    assert by_account(entry) == {
        RECEIVABLE: Money.of("128.52", "EUR"),
        REVENUE_PRO: Money.of("-120.00", "EUR"),
        DISCOUNTS: Money.of("12.00", "EUR"),
        TAX: Money.of("-20.52", "EUR"),
    }
    assert {line.role for line in entry.lines} == {"receivable", "revenue.prod_ledgerlink_pro", "discounts", "tax"}
    assert entry.document_id == invoice.document_id
    assert entry.mapping_version == 7
    assert entry.correlation_id == invoice.correlation_id


def test_unmapped_product_falls_back_to_revenue(example_config: LedgerLinkConfig) -> None:
    # events/stripe/01's line is for prod_00000000000000, which has no revenue.<product> mapping
    invoice = documents("01-invoice.finalized.json", example_config)[0]
    entry = enrich(invoice, example_config, config_version=1)
    assert by_account(entry) == {RECEIVABLE: usd("20.00"), REVENUE: usd("-20.00")}
    assert {line.role for line in entry.lines} == {"receivable", "revenue"}


def test_discounts_are_netted_into_revenue_when_not_mapped(example_config: LedgerLinkConfig) -> None:
    config = without_roles(example_config, "discounts")
    invoice = documents("06-invoice.paid.current-api.json", config)[0]
    entry = enrich(invoice, config, config_version=1)
    assert by_account(entry) == {
        RECEIVABLE: Money.of("128.52", "EUR"),
        REVENUE_PRO: Money.of("-108.00", "EUR"),
        TAX: Money.of("-20.52", "EUR"),
    }


def test_inclusive_tax_is_taken_out_of_revenue(example_config: LedgerLinkConfig) -> None:
    lines = (InvoiceLine(line_id="l1", amount=usd("119.00"), inclusive_tax=usd("19.00")),)
    invoice = Invoice(**base("invoice", "in_incl"), party=CUSTOMER, lines=lines, total=usd("119.00"))
    entry = enrich(invoice, example_config, config_version=1)
    assert by_account(entry) == {RECEIVABLE: usd("119.00"), REVENUE: usd("-100.00"), TAX: usd("-19.00")}


def test_credit_note_is_the_mirror_of_an_invoice(example_config: LedgerLinkConfig) -> None:
    lines = (InvoiceLine(line_id="l1", amount=usd("50.00"), tax=usd("5.00")),)
    note = CreditNote(**base("credit_note", "cn_1"), party=CUSTOMER, lines=lines, total=usd("55.00"))
    entry = enrich(note, example_config, config_version=1)
    assert by_account(entry) == {RECEIVABLE: usd("-55.00"), REVENUE: usd("50.00"), TAX: usd("5.00")}


# ---- payments and refunds ------------------------------------------------------------------------------

def test_payment_debits_clearing_and_credits_receivable(example_config: LedgerLinkConfig) -> None:
    entry = enrich(payment(), example_config, config_version=1)
    assert by_account(entry) == {CLEARING: usd("100.00"), RECEIVABLE: usd("-100.00")}


def test_payment_fees_are_split_out_of_clearing(example_config: LedgerLinkConfig) -> None:
    # dj-stripe's balance transaction fixture: 20.00 gross, 0.88 fee, 19.12 net
    entry = enrich(payment(amount=usd("20.00"), fees=(Fee(amount=usd("0.88")),)), example_config, config_version=1)
    assert by_account(entry) == {CLEARING: usd("19.12"), FEES: usd("0.88"), RECEIVABLE: usd("-20.00")}


def test_out_of_band_payment_goes_to_its_own_clearing_account(example_config: LedgerLinkConfig) -> None:
    entry = enrich(payment(method="out_of_band"), example_config, config_version=1)
    assert by_account(entry) == {OUT_OF_BAND: usd("100.00"), RECEIVABLE: usd("-100.00")}


def test_stripe_paid_out_of_band_flag_reaches_the_journal(example_config: LedgerLinkConfig) -> None:
    event = event_json("stripe/02-invoice.paid.json")
    event["data"]["object"]["paid_out_of_band"] = True
    ctx = NormalizeContext(config=example_config, source_id="stripe", correlation_id="corr-enrich-2")
    paid = normalize(event, ctx).documents[1]
    assert OUT_OF_BAND in by_account(enrich(paid, example_config, config_version=1))


def test_refund_debits_refunds_and_credits_clearing(example_config: LedgerLinkConfig) -> None:
    (refund,) = documents("08-charge.refunded.partial.current-api.json", example_config)
    entry = enrich(refund, example_config, config_version=1)
    assert by_account(entry) == {REFUNDS: Money.of("20.00", "EUR"), CLEARING: Money.of("-20.00", "EUR")}
    assert entry.related_document_ids == refund.related_document_ids


# ---- rejections -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "make"), [
    ("tax", lambda cfg: documents("06-invoice.paid.current-api.json", cfg)[0]),
    ("receivable", lambda cfg: documents("01-invoice.finalized.json", cfg)[0]),
    ("cash_clearing", lambda cfg: documents("02-invoice.paid.json", cfg)[1]),
    ("refunds", lambda cfg: documents("04-charge.refunded.json", cfg)[0]),
])
def test_missing_role_is_rejected_as_mapping_missing_naming_the_role(example_config: LedgerLinkConfig, role: str,
                                                                     make: Callable[[LedgerLinkConfig], Document]
                                                                     ) -> None:
    # Given a configuration that lacks one role the document needs
    config = without_roles(example_config, role)
    # When the document is enriched
    with pytest.raises(DocumentRejected) as caught:
        enrich(make(config), config, config_version=1)
    # Then the rejection names the role and tells how to fix it
    assert caught.value.reason == "mapping_missing"
    assert caught.value.detail["role"] == role
    assert caught.value.detail["entity"] == "us01"
    assert role in caught.value.detail["suggested_fix"]


def test_missing_revenue_role_names_the_generic_role_when_no_product_role_exists(
        example_config: LedgerLinkConfig) -> None:
    config = without_roles(example_config, "revenue")
    invoice = documents("01-invoice.finalized.json", config)[0]
    with pytest.raises(DocumentRejected) as caught:
        enrich(invoice, config, config_version=1)
    assert caught.value.reason == "mapping_missing"
    # the most specific role (revenue.<the line's Stripe product>) is the one named; revenue is its fallback
    product = event_json("stripe/01-invoice.finalized.json")["data"]["object"]["lines"]["data"][0]["price"]["product"]
    assert caught.value.detail["role"] == f"revenue.{product}"


def test_unknown_entity_is_rejected(example_config: LedgerLinkConfig) -> None:
    invoice = documents("01-invoice.finalized.json", example_config)[0]
    stray = invoice.model_copy(update={"entity_id": "zz99"})
    with pytest.raises(DocumentRejected) as caught:
        enrich(stray, example_config, config_version=1)
    assert caught.value.reason == "unknown_entity"
    assert caught.value.detail["entity"] == "zz99"


def test_document_without_posting_rule_is_rejected(example_config: LedgerLinkConfig) -> None:
    event = SubscriptionEvent(**base("subscription", "sub_1"), action="updated", subscription_id="sub_1",
                              party=CUSTOMER, status="active")
    with pytest.raises(DocumentRejected) as caught:
        enrich(event, example_config, config_version=1)
    assert caught.value.reason == "no_posting_rule"


def test_rejection_message_is_json_with_the_reason() -> None:
    # Step Functions sees str(exc) as errorMessage; the reason must survive as data, not prose
    error = DocumentRejected("no account", reason="mapping_missing", role="tax")
    assert json.loads(str(error)) == {"reason": "mapping_missing", "message": "no account", "role": "tax"}
