"""Stripe events → canonical documents, against the real payloads in events/stripe and tests/contracts.

Expected amounts are read from the raw payload (minor units) and converted by ISO 4217 exponent;
expected document kinds come from events/stripe/README.md, not from the normalizer's output.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources.base import NormalizeContext, Normalized
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.errors import NormalizationError
from ledgerlink.model.documents import Invoice, Payment
from ledgerlink.model.money import Money

from tests.conftest import EVENTS, contract_json, event_json

# file → (document_type, direction or None) in order; from events/stripe/README.md
EXPECTED_KINDS: dict[str, list[tuple[str, str | None]]] = {
    "01-invoice.finalized.json": [("invoice", None)],
    "02-invoice.paid.json": [("invoice", None), ("payment", "received")],
    "03-invoice.payment_succeeded.json": [("invoice", None), ("payment", "received")],
    "04-charge.refunded.json": [("payment", "refunded")],
    "05-customer.subscription.updated.json": [("subscription_event", None)],
    "06-invoice.paid.current-api.json": [("invoice", None), ("payment", "received")],
    "07-invoice.finalized.jpy.json": [("invoice", None)],
    "08-charge.refunded.partial.current-api.json": [("payment", "refunded")],
    "09-invoice.finalized.closed-period.json": [("invoice", None)],
    "10-payout.paid.json": [("payout", "paid")],
    "11-charge.dispute.created.json": [("payment", "chargeback")],
    "12-credit_note.created.json": [("credit_note", None)],
    "13-invoice.paid.connect-uk.json": [("invoice", None), ("payment", "received")],
    "14-invoice.paid.annual-subscription.json": [("invoice", None), ("payment", "received")],
    "15-customer.subscription.updated.upgrade.json": [("subscription_event", None)],
    "16-invoice.paid.upgrade-proration.json": [("invoice", None), ("payment", "received")],
    "17-charge.refunded.partial.annual.json": [("payment", "refunded")],
    "18-billing.meter_event.api-requests.json": [("usage_batch", None)],
    "19-invoice.paid.api-usage.json": [("invoice", None), ("payment", "received")],
    "20-payout.paid.automatic.json": [("payout", "paid")],
    "21-payout.paid.eur-settled-in-usd.json": [("payout", "paid")],
}


@pytest.fixture
def run(example_config: LedgerLinkConfig) -> Callable[..., Normalized]:
    def _run(event: dict[str, Any], config: LedgerLinkConfig | None = None) -> Normalized:
        ctx = NormalizeContext(config=config or example_config, source_id="stripe",
                               correlation_id="corr-test-0001", archive_key="raw/stripe/2024/01/01/evt.json")
        return normalize(event, ctx)
    return _run


def stripe_event(name: str) -> dict[str, Any]:
    return event_json(f"stripe/{name}")


def config_with(config: LedgerLinkConfig, change: Callable[[dict[str, Any]], None]) -> LedgerLinkConfig:
    data = config.model_dump(mode="json")
    change(data)
    return LedgerLinkConfig.model_validate(data)


def minor_money(obj: dict[str, Any], key: str) -> Money:
    return Money.from_minor(obj[key], obj["currency"])


def rejection(run: Callable[..., Normalized], event: dict[str, Any]) -> NormalizationError:
    with pytest.raises(NormalizationError) as caught:
        run(event)
    return caught.value


# ---- every sample event ---------------------------------------------------------------------------

def test_every_sample_event_has_an_expectation() -> None:
    assert sorted(p.name for p in (EVENTS / "stripe").glob("*.json")) == sorted(EXPECTED_KINDS)


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_sample_event_yields_the_expected_documents(run: Callable[..., Normalized], name: str) -> None:
    # Given a real Stripe event
    event = stripe_event(name)
    obj = event["data"]["object"]
    # When it is normalized
    result = run(event)
    # Then it yields the documents the README describes, in the payload's currency
    kinds = [(doc.document_type, getattr(doc, "direction", None)) for doc in result.documents]
    assert kinds == EXPECTED_KINDS[name]
    for doc in result.documents:
        if isinstance(obj, dict) and obj.get("object") == "list":
            # meter events carry no currency: the usage batch is in the entity's base currency
            assert doc.currency == "USD"
        else:
            # subscriptions of the 2020-08-27 API carry the currency on their items only
            assert doc.currency == (obj.get("currency") or obj["items"]["data"][0]["price"]["currency"]).upper()
        assert doc.source.event_id == event["id"]
        assert doc.source.archive_key == "raw/stripe/2024/01/01/evt.json"
        assert doc.correlation_id == "corr-test-0001"
        assert doc.entity_id == ("gb01" if event.get("account") else "us01")   # Connect account → entity
        if isinstance(doc, Invoice):
            assert doc.total == minor_money(obj, "total")
            assert isinstance(doc.total.amount, Decimal)
            assert doc.party.source_id == obj["customer"]


def test_invoice_events_about_one_invoice_share_one_document_id(run: Callable[..., Normalized]) -> None:
    # finalized, paid and payment_succeeded are three deliveries about one invoice and one payment
    results = [run(stripe_event(name)) for name in
               ("01-invoice.finalized.json", "02-invoice.paid.json", "03-invoice.payment_succeeded.json")]
    assert len({result.documents[0].document_id for result in results}) == 1
    assert len({result.documents[0].source.event_id for result in results}) == 3
    assert results[1].documents[1].document_id == results[2].documents[1].document_id


def test_the_vendor_copy_and_the_sample_normalize_to_the_same_documents(run: Callable[..., Normalized]) -> None:
    # events/stripe/02 is tests/contracts/stripe/events/invoice.paid.json with a unique event id
    ours = run(stripe_event("02-invoice.paid.json"))
    vendor = run(contract_json("stripe/events/invoice.paid.json"))
    assert [d.document_id for d in ours.documents] == [d.document_id for d in vendor.documents]


def test_payment_amount_is_amount_paid_and_points_at_the_invoice(run: Callable[..., Normalized]) -> None:
    event = stripe_event("06-invoice.paid.current-api.json")
    invoice, payment = run(event).documents
    assert isinstance(payment, Payment)
    assert payment.amount == minor_money(event["data"]["object"], "amount_paid")
    assert payment.applies_to_document_id == invoice.document_id
    assert invoice.document_id in payment.related_document_ids
    assert payment.party == invoice.party


def test_zero_decimal_currency_is_not_divided_by_100(run: Callable[..., Normalized]) -> None:
    # 5000 in a JPY payload is ¥5,000 (Stripe: zero-decimal currency), not ¥50.00
    (invoice,) = run(stripe_event("07-invoice.finalized.jpy.json")).documents
    assert invoice.total == Money.of(5000, "JPY")
    assert str(invoice.total) == "5000 JPY"


def test_eur_invoice_with_discount_and_exclusive_tax_ties_out(run: Callable[..., Normalized]) -> None:
    # Given the current-API invoice: 120.00 line, 12.00 discount, 20.52 exclusive tax
    raw = stripe_event("06-invoice.paid.current-api.json")["data"]["object"]
    raw_lines = raw["lines"]["data"]
    expected_lines = sum(line["amount"] for line in raw_lines)
    expected_discounts = sum(d["amount"] for line in raw_lines for d in line["discount_amounts"])
    expected_tax = sum(t["amount"] for t in raw["total_taxes"] if t["tax_behavior"] == "exclusive")
    assert expected_lines - expected_discounts + expected_tax == raw["total"]  # the fixture itself adds up
    # When normalized
    invoice = run(stripe_event("06-invoice.paid.current-api.json")).documents[0]
    assert isinstance(invoice, Invoice)
    # Then the document carries the same pieces, in EUR
    assert sum((line.amount for line in invoice.lines), Money.zero("EUR")) == Money.from_minor(expected_lines, "eur")
    assert sum((line.discount for line in invoice.lines if line.discount), Money.zero("EUR")) == \
        Money.from_minor(expected_discounts, "eur")
    assert invoice.tax_total == Money.from_minor(expected_tax, "eur")
    assert invoice.total == Money.of("128.52", "EUR")
    assert invoice.lines[0].product_id == "prod_ledgerlink_pro"


def test_refund_from_the_embedded_refund_list(run: Callable[..., Normalized]) -> None:
    event = stripe_event("04-charge.refunded.json")
    refund_raw = event["data"]["object"]["refunds"]["data"][0]
    (refund,) = run(event).documents
    assert isinstance(refund, Payment)
    assert refund.direction == "refunded"
    assert refund.amount == Money.from_minor(refund_raw["amount"], refund_raw["currency"])
    assert refund.reference == refund_raw["id"]
    assert refund.source.object_id == refund_raw["id"]


def test_refund_from_the_amount_refunded_delta_links_to_the_invoice(run: Callable[..., Normalized]) -> None:
    # Given the newer API shape: no embedded refunds, amount_refunded went up
    event = stripe_event("08-charge.refunded.partial.current-api.json")
    charge, previous = event["data"]["object"], event["data"]["previous_attributes"]
    # When normalized
    (refund,) = run(event).documents
    # Then the refund is the increase, and it points at the invoice the charge paid (event 06)
    assert refund.amount == Money.from_minor(charge["amount_refunded"] - previous["amount_refunded"], "eur")
    assert refund.amount == Money.of("20.00", "EUR")
    invoice = run(stripe_event("06-invoice.paid.current-api.json")).documents[0]
    assert charge["invoice"] == invoice.source.object_id
    assert refund.applies_to_document_id == invoice.document_id


def test_a_second_partial_refund_is_a_new_document(run: Callable[..., Normalized]) -> None:
    first = stripe_event("08-charge.refunded.partial.current-api.json")
    second = copy.deepcopy(first)
    second["id"] = "evt_second_refund"
    second["data"]["object"]["amount_refunded"] = 5000
    second["data"]["previous_attributes"]["amount_refunded"] = 2000
    (refund_1,), (refund_2,) = run(first).documents, run(second).documents
    assert refund_2.amount == Money.of("30.00", "EUR")
    assert refund_1.document_id != refund_2.document_id


def test_refund_that_did_not_increase_is_ignored(run: Callable[..., Normalized]) -> None:
    event = stripe_event("08-charge.refunded.partial.current-api.json")
    event["data"]["previous_attributes"]["amount_refunded"] = event["data"]["object"]["amount_refunded"]
    result = run(event)
    assert result.documents == []
    assert [item.reason for item in result.ignored] == ["no_new_refund"]


def test_failed_refund_in_the_list_is_ignored_with_a_reason(run: Callable[..., Normalized]) -> None:
    event = stripe_event("04-charge.refunded.json")
    event["data"]["object"]["refunds"]["data"][0]["status"] = "failed"
    result = run(event)
    assert result.documents == []
    assert [item.reason for item in result.ignored] == ["refund_not_settled"]


# ---- accounting date in the entity's time zone ------------------------------------------------------

def utc(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(("instant", "new_york_date"), [
    # 2022-03-15 is after the US DST start (2022-03-13): EDT, UTC-4
    (utc(2022, 3, 15, 2, 30), date(2022, 3, 14)),
    (utc(2022, 3, 15, 4, 0), date(2022, 3, 15)),
    # January: EST, UTC-5
    (utc(2022, 1, 15, 4, 59, 59), date(2022, 1, 14)),
    (utc(2022, 1, 15, 5, 0, 0), date(2022, 1, 15)),
])
def test_accounting_date_is_the_date_in_new_york_not_utc(run: Callable[..., Normalized], instant: int,
                                                         new_york_date: date) -> None:
    # Given an invoice finalized shortly after midnight UTC
    event = stripe_event("01-invoice.finalized.json")
    event["data"]["object"]["status_transitions"]["finalized_at"] = instant
    # When normalized for the example entity (America/New_York)
    (invoice,) = run(event).documents
    # Then the accounting date is the New York calendar date
    assert invoice.occurred_at == datetime.fromtimestamp(instant, tz=UTC)
    assert invoice.accounting_date == new_york_date


def test_accounting_date_follows_the_configured_zone(run: Callable[..., Normalized],
                                                     example_config: LedgerLinkConfig) -> None:
    def tokyo(data: dict[str, Any]) -> None:
        data["entities"][0]["time_zone"] = "Asia/Tokyo"

    event = stripe_event("01-invoice.finalized.json")
    event["data"]["object"]["status_transitions"]["finalized_at"] = utc(2022, 3, 15, 15, 30)  # 00:30 JST on the 16th
    (invoice,) = run(event, config_with(example_config, tokyo)).documents
    assert invoice.accounting_date == date(2022, 3, 16)


def test_connect_account_routes_to_its_entity(run: Callable[..., Normalized],
                                              example_config: LedgerLinkConfig) -> None:
    def add_entity(data: dict[str, Any]) -> None:
        second = {**data["entities"][0], "id": "de01", "time_zone": "Europe/Berlin", "base_currency": "EUR"}
        data["entities"].append(second)
        data["sources"][0]["account_entities"] = {"acct_1DE": "de01"}

    event = stripe_event("01-invoice.finalized.json")
    event["account"] = "acct_1DE"
    (invoice,) = run(event, config_with(example_config, add_entity)).documents
    assert invoice.entity_id == "de01"
    assert invoice.source.account == "acct_1DE"


# ---- the current-API invoice object from stripe/openapi --------------------------------------------

def fixtures3_invoice_event(event_type: str) -> dict[str, Any]:
    invoice = contract_json("stripe/fixtures3.json")["resources"]["invoice"]
    return {"id": "evt_fixtures3_invoice", "object": "event", "type": event_type, "created": 1234567900,
            "data": {"object": invoice}}


def test_current_api_invoice_object_normalizes(run: Callable[..., Normalized]) -> None:
    # Synthetic amounts (SOURCES.md): one line of 1000, total 1000, USD, no tax, no discount
    (invoice,) = run(fixtures3_invoice_event("invoice.finalized")).documents
    assert isinstance(invoice, Invoice)
    assert invoice.total == Money.of("10.00", "USD")
    assert [line.amount for line in invoice.lines] == [Money.of("10.00", "USD")]
    assert invoice.lines[0].line_id == "il_1Pgc6sB7WZ01zgkWFnxLrLCq"
    assert invoice.lines[0].proration is True  # parent.type is invoice_item_details, proration true
    assert invoice.party.source_id == "cus_QXg1o8vcGmoR32"
    # finalized_at is null in the fixture, so effective_at (2009-02-13T23:31:30Z) dates it: 18:31 in New York
    assert invoice.accounting_date == date(2009, 2, 13)


def test_current_api_invoice_paid_with_nothing_paid_yields_no_payment(run: Callable[..., Normalized]) -> None:
    result = run(fixtures3_invoice_event("invoice.paid"))
    assert [doc.document_type for doc in result.documents] == ["invoice"]
    assert [item.reason for item in result.ignored] == ["zero_amount_payment"]


# ---- ignored ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["balance.available", "payment_intent.succeeded"])
def test_unsupported_event_types_are_ignored_with_a_reason(run: Callable[..., Normalized], name: str) -> None:
    result = run(contract_json(f"stripe/events/{name}.json"))
    assert result.documents == []
    assert [(item.reason, item.detail) for item in result.ignored] == [("unsupported_event_type", name)]


def test_zero_total_invoice_is_ignored(run: Callable[..., Normalized]) -> None:
    event = stripe_event("01-invoice.finalized.json")
    invoice = event["data"]["object"]
    invoice["total"] = invoice["subtotal"] = invoice["lines"]["data"][0]["amount"] = 0
    result = run(event)
    assert result.documents == []
    assert [item.reason for item in result.ignored] == ["zero_amount_invoice"]


# ---- broken payloads ----------------------------------------------------------------------------------

def broken(mutate: Callable[[dict[str, Any]], None], name: str = "01-invoice.finalized.json") -> dict[str, Any]:
    event = stripe_event(name)
    mutate(event["data"]["object"])
    return event


@pytest.mark.parametrize(("case", "mutate", "reason"), [
    ("missing total", lambda o: o.pop("total"), "missing_field"),
    ("string total", lambda o: o.update(total="2000"), "missing_field"),
    ("string line amount", lambda o: o["lines"]["data"][0].update(amount="2000"), "missing_field"),
    ("boolean total", lambda o: o.update(total=True), "missing_field"),
    ("unknown currency", lambda o: o.update(currency="xyz"), "invalid_currency"),
    ("lines do not tie out", lambda o: o.update(total=2500), "amounts_inconsistent"),
    ("no customer", lambda o: o.update(customer=None), "missing_field"),
    ("line in another currency", lambda o: o["lines"]["data"][0].update(currency="eur"), "currency_mismatch"),
    ("not an invoice", lambda o: o.update(object="charge"), "unexpected_object"),
])
def test_broken_invoice_raises_normalization_error_with_reason(run: Callable[..., Normalized], case: str,
                                                                mutate: Callable[[dict[str, Any]], None],
                                                                reason: str) -> None:
    error = rejection(run, broken(mutate))
    assert error.reason == reason, case


def test_event_without_data_object_is_a_normalization_error(run: Callable[..., Normalized]) -> None:
    event = stripe_event("01-invoice.finalized.json")
    event["data"] = {"object": "in_123"}
    assert rejection(run, event).reason == "missing_field"


def test_refund_with_string_amount_refunded_is_a_normalization_error(run: Callable[..., Normalized]) -> None:
    event = broken(lambda o: o.update(amount_refunded="2000"), "08-charge.refunded.partial.current-api.json")
    assert rejection(run, event).reason == "missing_field"


def test_normalization_error_names_the_field(run: Callable[..., Normalized]) -> None:
    error = rejection(run, broken(lambda o: o.pop("total")))
    assert error.detail["field"] == "invoice.total"


# ---- truncated line lists -----------------------------------------------------------------------------

def test_truncated_lines_become_one_summary_line_from_the_invoice_totals(run: Callable[..., Normalized]) -> None:
    # Given an invoice whose embedded line list Stripe truncated (has_more)
    event = stripe_event("06-invoice.paid.current-api.json")
    raw = event["data"]["object"]
    raw["lines"]["has_more"] = True
    # When normalized
    invoice = run(event).documents[0]
    # Then one line carries the invoice's own subtotal, discounts and tax, and the memo says why
    assert isinstance(invoice, Invoice)
    (line,) = invoice.lines
    assert line.amount == minor_money(raw, "subtotal")
    assert line.discount == Money.from_minor(sum(d["amount"] for d in raw["total_discount_amounts"]), "eur")
    assert line.tax == Money.from_minor(sum(t["amount"] for t in raw["total_taxes"]), "eur")
    assert invoice.total == minor_money(raw, "total")
    assert invoice.memo is not None and "truncated" in invoice.memo


def test_quote_parent_is_not_read_as_a_subscription() -> None:
    # fixtures3's invoice has parent.type == "quote_details" next to a subscription_details block
    from ledgerlink.connectors.sources.stripe.normalize import _invoice_subscription

    quote = {"parent": {"type": "quote_details", "quote_details": {"quote": "qt_1"},
                        "subscription_details": {"subscription": "sub_1"}}}
    subscription = {"parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_1"}}}
    assert _invoice_subscription(quote) is None
    assert _invoice_subscription(subscription) == "sub_1"
