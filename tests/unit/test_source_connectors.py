"""Brex, Adyen, Salesforce and bank-file connectors: signatures against the vendors' vectors (and their own
libraries where one exists), parsing, normalization, negative cases, and cash application."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import Adyen.util as adyen_util
import pytest
import standardwebhooks

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources import normalize_module
from ledgerlink.connectors.sources.adyen import webhook as adyen
from ledgerlink.connectors.sources.bank.statements import StatementError, parse
from ledgerlink.connectors.sources.base import NormalizeContext, Normalized
from ledgerlink.connectors.sources.brex import webhook as brex
from ledgerlink.connectors.sources.salesforce import webhook as salesforce
from ledgerlink.connectors.sources.webhooks import SignedRequest
from ledgerlink.errors import MalformedPayload, NormalizationError, SignatureInvalid
from ledgerlink.model.documents import BankTransaction, SourceRef
from ledgerlink.model.money import Money
from ledgerlink.pipeline import cash_application, receivables
from ledgerlink.pipeline.enrich import enrich

from tests.conftest import CONTRACTS, EVENTS

ADYEN_KEY = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174"
SW_SECRET, SW_ID, SW_TS = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
SW_BODY = b'{"test": 2432232314}'


def run(kind: str, event: dict[str, Any], config: LedgerLinkConfig, source: str | None = None) -> Normalized:
    ctx = NormalizeContext(config=config, source_id=source or kind, correlation_id="corr-1", archive_key="raw/x")
    return normalize_module(kind).normalize(event, ctx)


def adyen_body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": i} for i in items]}).encode()


# ---- Adyen ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["backslash", "colon", "forwardslash", "mixed"])
def test_adyen_contract_notifications_verify_and_our_signer_agrees_with_adyens_library(name: str) -> None:
    item = json.loads((CONTRACTS / "adyen" / f"{name}_notification.json").read_text())
    adyen.verify(adyen_body(item), [ADYEN_KEY])
    assert adyen.sign(item, ADYEN_KEY) == item["additionalData"]["hmacSignature"]
    assert adyen_util.is_valid_hmac_notification(item, ADYEN_KEY)


def test_adyen_one_forged_item_refuses_the_delivery_and_rotation_accepts_either_key() -> None:
    good = json.loads((CONTRACTS / "adyen" / "mixed_notification.json").read_text())
    forged = {**good, "amount": {"currency": "EUR", "value": 100000}}
    with pytest.raises(SignatureInvalid) as caught:
        adyen.verify(adyen_body(good, forged), [ADYEN_KEY])
    assert caught.value.reason == "signature_mismatch" and caught.value.status == 401
    adyen.verify(adyen_body(good), ["00" * 32, ADYEN_KEY])
    unsigned = {**good, "additionalData": {}}
    with pytest.raises(SignatureInvalid) as caught:
        adyen.verify(adyen_body(unsigned), [ADYEN_KEY])
    assert caught.value.reason == "signature_missing"


def test_adyen_batch_parses_one_event_per_item_and_acknowledges_with_accepted() -> None:
    events = adyen.parse_events((EVENTS / "adyen" / "02-batch.json").read_bytes())
    assert [e.event_type for e in events] == ["AUTHORISATION", "REFUND", "CHARGEBACK", "CANCELLATION",
                                              "REPORT_AVAILABLE"]
    assert len({e.event_id for e in events}) == 5
    assert adyen.acknowledge(1, 0).body == "[accepted]"
    with pytest.raises(MalformedPayload):
        adyen.parse_events(b'{"live": "false"}')


def test_adyen_capture_refund_chargeback_post_and_authorisation_is_not_a_second_sale(example_config) -> None:
    posted: dict[str, list] = {}
    for event in adyen.parse_events((EVENTS / "adyen" / "02-batch.json").read_bytes()) + adyen.parse_events(
            (EVENTS / "adyen" / "01-capture.json").read_bytes()):
        result = run("adyen", event.payload, example_config)
        posted[event.event_type] = [enrich(doc, example_config, config_version=1) for doc in result.documents]
        if event.event_type in ("AUTHORISATION", "CANCELLATION", "REPORT_AVAILABLE"):
            assert result.documents == [] and result.ignored
    # the capture is the sale (a sales receipt, sales: receipt) and its payment: the receivable nets to zero
    receipt, payment = posted["CAPTURE"]
    assert {line.account: line.amount for line in receipt.lines} == {
        "Assets:US01:AccountsReceivable:Orders": Money.of("120.00", "USD"),
        "Income:US01:Revenue:Sales": Money.of("-120.00", "USD")}
    assert {line.account: line.amount for line in payment.lines} == {
        "Assets:US01:Clearing:Adyen": Money.of("120.00", "USD"),
        "Assets:US01:AccountsReceivable:Orders": Money.of("-120.00", "USD")}
    posted = {kind: journals[-1] for kind, journals in posted.items() if journals}
    assert posted["REFUND"].lines[0].account == "Income:US01:Revenue:Refunds"
    assert posted["CHARGEBACK"].lines[0].account == "Expenses:US01:Chargebacks"


def test_with_sales_payment_only_the_capture_only_credits_the_receivable_another_source_booked(example_config):
    source = example_config.source("adyen").model_copy(update={"sales": "payment_only"})
    config = example_config.model_copy(update={"sources": [source if s.id == "adyen" else s
                                                           for s in example_config.sources]})
    (event,) = adyen.parse_events((EVENTS / "adyen" / "01-capture.json").read_bytes())
    (payment,) = run("adyen", event.payload, config).documents
    assert payment.document_type == "payment" and payment.applies_to_document_id is None


def test_adyen_amount_not_in_minor_units_or_unknown_currency_is_an_exception(example_config) -> None:
    item = json.loads((CONTRACTS / "adyen" / "mixed_notification.json").read_text())
    base = {**item, "eventCode": "CAPTURE", "merchantAccountCode": "LedgerLinkDemoECOM"}
    for amount, reason in (({"currency": "EUR", "value": 10.5}, "invalid_amount"),
                           ({"currency": "EUX", "value": 1000}, "invalid_currency")):
        with pytest.raises(NormalizationError) as caught:
            run("adyen", {"NotificationRequestItem": {**base, "amount": amount}}, example_config)
        assert caught.value.reason == reason
    jpy = run("adyen", {"NotificationRequestItem": {**base, "amount": {"currency": "JPY", "value": 1000}}},
              example_config)
    assert jpy.documents[-1].amount == Money.of("1000", "JPY")  # zero-decimal: 1000 minor units = ¥1,000


# ---- Brex (Standard Webhooks) --------------------------------------------------------------------

def test_standard_webhooks_vector_and_the_standardwebhooks_library_agree_with_our_verifier() -> None:
    assert brex.sign(SW_BODY, SW_SECRET, SW_ID, SW_TS) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    headers = brex.signature_headers(SW_BODY, SW_SECRET, SW_ID, SW_TS)
    assert brex.verify(SW_BODY, headers, [SW_SECRET], 300, SW_TS + 10) == SW_ID
    library = standardwebhooks.Webhook(SW_SECRET)
    signed = library.sign(SW_ID, __import__("datetime").datetime.fromtimestamp(SW_TS + 1), SW_BODY.decode())
    brex.verify(SW_BODY, {**headers, "webhook-timestamp": str(SW_TS + 1), "webhook-signature": signed},
                [SW_SECRET], 300, SW_TS)


def test_brex_rotation_expiry_future_forgery_and_missing_headers() -> None:
    other = "whsec_" + base64.b64encode(b"another-secret-of-24-byte").decode()
    headers = brex.signature_headers(SW_BODY, other, SW_ID, SW_TS)
    assert brex.verify(SW_BODY, headers, [SW_SECRET, other], 300, SW_TS) == SW_ID  # two live secrets
    cases = [(headers, [SW_SECRET], SW_TS, "signature_mismatch"),
             (headers, [other], SW_TS + 301, "signature_expired"),
             (headers, [other], SW_TS - 301, "signature_from_future"),
             ({"webhook-id": SW_ID}, [other], SW_TS, "signature_missing"),
             ({**headers, "webhook-signature": "v2,abc"}, [other], SW_TS, "signature_malformed")]
    for given, secrets, now, reason in cases:
        with pytest.raises(SignatureInvalid) as caught:
            brex.verify(SW_BODY, given, secrets, 300, now)
        assert caught.value.reason == reason
    request = SignedRequest("POST", "", headers, SW_BODY)
    with pytest.raises(MalformedPayload):
        brex.parse_request(request)  # the body has no event_type


def test_brex_purchase_posts_decline_compensates_and_first_version_decline_is_recorded(example_config) -> None:
    purchase = json.loads((EVENTS / "brex" / "02-expense-payment-updated.purchase.json").read_text())
    declined = json.loads((EVENTS / "brex" / "03-expense-payment-updated.declined.json").read_text())
    authorized = run("brex", purchase, example_config).documents[0]
    reversal = run("brex", declined, example_config).documents[0]
    assert authorized.amount == Money.of("2499.00", "USD") and reversal.amount == -authorized.amount
    assert reversal.related_document_ids == (authorized.document_id,)
    # a newer version of the same pending expense is the same fact: same document id
    assert run("brex", {**purchase, "version": 3}, example_config).documents[0].document_id == authorized.document_id
    assert run("brex", {**declined, "version": 1}, example_config).ignored[0].reason == "declined_at_authorization"
    with pytest.raises(NormalizationError) as caught:
        run("brex", {**purchase, "amount": {"amount": "24.99", "currency": "USD"}}, example_config)
    assert caught.value.reason == "invalid_amount"


# ---- Salesforce ----------------------------------------------------------------------------------

def test_salesforce_token_auth_ack_and_refusals() -> None:
    salesforce.verify("https://h/v1/webhooks/salesforce?token=s3cret", ["new", "s3cret"])
    for url, reason in (("https://h/x?token=nope", "signature_mismatch"), ("https://h/x", "signature_missing")):
        with pytest.raises(SignatureInvalid) as caught:
            salesforce.verify(url, ["s3cret"])
        assert caught.value.reason == reason
    assert "<Ack>true</Ack>" in salesforce.acknowledge(1, 0).body
    body = (EVENTS / "salesforce" / "01-opportunity.closed-won.xml").read_bytes()
    with pytest.raises(MalformedPayload):
        salesforce.parse_events(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + body[38:])
    with pytest.raises(MalformedPayload):
        salesforce.parse_events(b"<not-xml")
    # an XML declaration naming an encoding expat does not know (found by make fuzz: LookupError → 503) or a
    # multi-byte one it cannot read from bytes is a malformed body, not a storage failure
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    for encoding in (b"TF-8", b"UTF-16"):
        with pytest.raises(MalformedPayload) as caught:
            salesforce.parse_events(body.replace(b'encoding="UTF-8"', b'encoding="' + encoding + b'"', 1))
        assert caught.value.reason == "malformed_xml"


def test_closed_won_opportunity_becomes_customer_and_contract(example_config) -> None:
    events = salesforce.parse_events((EVENTS / "salesforce" / "02-opportunities.batch.xml").read_bytes())
    won, open_deal = (run("salesforce", e.payload, example_config) for e in events)
    customer, contract = won.documents
    assert customer.document_type == "customer_event" and contract.total == Money.of("12000.00", "USD")
    assert contract.related_document_ids == (customer.document_id,)
    assert open_deal.ignored[0].reason == "not_closed_won"
    journal = enrich(contract, example_config, config_version=1)
    assert {line.role for line in journal.lines} == {"contract_backlog", "contract_backlog_offset"}
    payload = events[0].payload
    for change, reason in (({"organization_id": "00D000000000001AAA"}, "organization_mismatch"),
                           ({"fields": {**payload["fields"], "Amount": "12000.005"}}, "invalid_amount")):
        with pytest.raises(NormalizationError) as caught:
            run("salesforce", {**payload, **change}, example_config)
        assert caught.value.reason == reason


# ---- bank files ----------------------------------------------------------------------------------

CAMT = CONTRACTS / "bank" / "camt053"
BAI2 = CONTRACTS / "bank" / "bai2"


@pytest.mark.parametrize("name", ["camt053.v2.minimal.xml", "camt053.v3.xml", "camt053.v4.xml", "camt053.v8.xml"])
def test_camt053_versions_read_the_same_entry(name: str) -> None:
    (line,) = parse((CAMT / name).read_text())
    assert (line.account, line.currency, line.amount, line.booking_date) == (
        "NL26VAYB8060476890", "EUR", "8.85", "2014-12-31")
    assert "4654654654654654" in line.references


def test_bai2_files_parse_and_signs_follow_the_type_codes() -> None:
    lines = parse((BAI2 / "sample1.txt").read_text())
    assert len(lines) == 17 and lines[0].currency == "CAD"
    assert lines[0].minor_units == -2500 and lines[3].minor_units == 203500  # 409 debit, 108 credit
    assert len(parse((BAI2 / "sample3.txt").read_text())) == 26  # several records per line, continuations
    assert "EREF: 1111" in parse((BAI2 / "sample4-continuations-newline-delimited.txt").read_text())[0].reference


@pytest.mark.parametrize("path", [CAMT / "camt053.v2.wrong.xml", BAI2 / "error-parse.txt"])
def test_malformed_bank_files_become_exceptions(path: Path, example_config) -> None:
    with pytest.raises(StatementError):
        parse(path.read_text())
    with pytest.raises(NormalizationError) as caught:
        run("bank", {"content": path.read_text()}, example_config)
    assert caught.value.reason == "malformed_statement"


@pytest.mark.parametrize("amount", ["1e5", "NaN", "Infinity", "-8.85", "8,85", "8.85.1", "0x10", "\u0668"])
def test_a_camt_amount_that_is_not_a_plain_decimal_is_refused(amount: str) -> None:
    # found by tests/fuzz/test_bank_file_fuzz.py: "1e5" was read as 100,000.00
    text = (CAMT / "camt053.v8.xml").read_text()
    assert ">8.85</Amt>" in text
    with pytest.raises(StatementError):
        parse(text.replace(">8.85</Amt>", f">{amount}</Amt>"))


def test_a_camt_file_declaring_an_unknown_encoding_is_malformed_not_a_crash() -> None:
    text = (CAMT / "camt053.v8.xml").read_text()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    for encoding in ("U.", "UTF-16"):
        with pytest.raises(StatementError):
            parse(text.replace('encoding="UTF-8"', f'encoding="{encoding}"', 1))


def test_bank_amount_with_too_many_decimals_is_refused_but_trailing_zeros_are_fine(example_config) -> None:
    five = (CAMT / "camt053.v2.five.decimals.xml").read_text()
    config = example_config.model_copy(update={"sources": [
        s if s.kind != "bank" else s.model_copy(update={"account_entities": {}}) for s in example_config.sources]})
    assert run("bank", {"content": five}, config).documents[0].amount == Money.of("8.85", "EUR")
    with pytest.raises(NormalizationError) as caught:
        run("bank", {"content": five.replace("8.850", "8.855")}, config)
    assert caught.value.reason == "invalid_amount"


def demo_lines(example_config) -> list[BankTransaction]:
    content = (EVENTS / "bank" / "01-camt053.v8.demo.xml").read_text()
    return run("bank", {"content": content}, example_config).documents


def test_cash_application_matches_by_reference_and_amount_only(example_config) -> None:
    credit, automatic, debit = demo_lines(example_config)
    payout = SourceRef(system="stripe", object_type="payout", object_id="po_1LedgerLinkDemoPayout01",
                       version="paid").document_id()
    assert credit.match_candidates == (payout,)
    # the automatic payout's line (18.12) names its own payout, not the manual one
    assert automatic.amount.amount == Decimal("18.12") and payout not in automatic.match_candidates
    record = {"document_type": "payout", "entity_id": "us01", "currency": "USD", "amount": "11.00",
              "status": "posted"}
    matched = cash_application.apply(credit, {payout: record})
    assert (matched.applies_to_document_id, matched.counter_role) == (payout, "payouts_in_transit")
    journal = enrich(matched, example_config, config_version=1)
    assert [(line.role, line.amount.amount) for line in journal.lines] == [
        ("bank", Decimal("11.00")), ("payouts_in_transit", Decimal("-11.00"))]
    assert cash_application.apply(credit, {payout: {**record, "amount": "11.01"}}).counter_role is None
    assert cash_application.apply(credit, {payout: {**record, "currency": "EUR"}}).counter_role is None
    with pytest.raises(Exception) as caught:
        enrich(debit, example_config, config_version=1)
    assert getattr(caught.value, "reason", None) == "cash_unmatched"


def test_an_invoice_matches_its_total_or_at_least_what_is_open_never_a_part_payment(example_config) -> None:
    # a 20.00 invoice with a 5.00 credit note claimed on it (the receivables subledger, D92): 15.00 is open
    (credit, *_) = demo_lines(example_config)
    invoice = SourceRef(system="stripe", object_type="invoice", object_id="in_1", version="finalized").document_id()
    record = {"document_type": "invoice", "entity_id": "us01", "currency": "USD", "amount": "20.00",
              "status": "posted", "receivable_claims": {"doc_cn": "5.00"}}

    def line(amount: str) -> BankTransaction:
        return credit.model_copy(update={"amount": Money(amount, "USD"), "match_candidates": (invoice,)})

    for amount in ("20.00", "15.00", "9999.99"):   # the total, what is open, more than open
        assert cash_application.apply(line(amount), {invoice: record}).counter_role == "receivable", amount
    for amount in ("5.00", "14.99"):               # below what is open and not the total: a person decides
        assert cash_application.apply(line(amount), {invoice: record}).counter_role is None, amount
    # nothing open any more: only the invoice's own total still names it (a duplicate payment → customer credit)
    paid = {**record, "receivable_claims": {"doc_cn": "5.00", "doc_pay": "15.00"}}
    assert cash_application.apply(line("20.00"), {invoice: paid}).counter_role == "receivable"
    assert cash_application.apply(line("30.00"), {invoice: paid}).counter_role is None
    # applied with 20.00 of 9,999.99 open: Dr bank 9,999.99 · Cr receivable 20.00 · Cr customer credit 9,979.99
    split = receivables.split(cash_application.apply(line("9999.99"), {invoice: record}), Decimal("20.00"))
    journal = enrich(split, example_config, config_version=1)
    assert [(entry.role, entry.amount.amount) for entry in journal.lines] == [
        ("bank", Decimal("9999.99")), ("receivable", Decimal("-20.00")), ("customer_credit", Decimal("-9979.99"))]
