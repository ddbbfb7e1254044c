"""Paddle Billing, the source added as the worked example of docs/adding-a-source.md: Paddle-Signature
verification (good, rotated, tampered, stale, malformed), parsing, and normalization to an invoice and its payment
with figures worked out by hand from the sample."""

from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

import pytest
import yaml

from ledgerlink.config import LedgerLinkConfig, parse_config_text
from ledgerlink.connectors.sources import normalize_module, webhook_module
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.webhooks import SignedRequest
from ledgerlink.errors import MalformedPayload, NormalizationError, SignatureInvalid
from ledgerlink.model.money import Money

from tests.conftest import EVENTS

SECRET = "pdl_ntfset_01hv8x2a0test_0123456789abcdef"
NOW = 1_712_917_130
SAMPLE = (EVENTS / "paddle" / "01-transaction.completed.json").read_bytes()
PADDLE_SOURCE = {"id": "paddle", "kind": "paddle", "default_entity": "us01",
                 "signing_secret": {"secret_id": "ledgerlink/paddle/webhook-secret-key"}}
PADDLE_MAPPING = {"entity": "us01", "source": "paddle", "accounts": {
    "receivable": "Assets:US01:AccountsReceivable:Paddle", "revenue": "Income:US01:Revenue:Paddle",
    "tax": "Liabilities:US01:SalesTaxPayable", "discounts": "Income:US01:Revenue:Discounts",
    "cash_clearing": "Assets:US01:Clearing:Paddle", "fees.processing": "Expenses:US01:PaymentProcessing:Paddle"}}


def with_paddle(text: str) -> str:
    """The example configuration with a Paddle source and its mapping row added."""
    data = yaml.safe_load(text)
    data["sources"].append(PADDLE_SOURCE)
    data["account_mappings"].append(PADDLE_MAPPING)
    return yaml.safe_dump(data)


@pytest.fixture(scope="module")
def config() -> LedgerLinkConfig:
    from tests.conftest import EXAMPLE_CONFIG

    return parse_config_text(with_paddle(EXAMPLE_CONFIG.read_text()), origin="paddle")


def header(body: bytes, secret: str = SECRET, ts: int = NOW) -> str:
    # computed here from the documented scheme, not with the module under test
    digest = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return f"ts={ts};h1={digest}"


def verify(signature: str | None, secrets: tuple[str, ...] = (SECRET,), now: int = NOW) -> None:
    headers = {"paddle-signature": signature} if signature is not None else {}
    webhook_module("paddle").verify_request(SignedRequest("POST", "https://x/webhooks/paddle", headers, SAMPLE),
                                            list(secrets), 300, now)


def reason(call: Any) -> str:
    with pytest.raises((SignatureInvalid, MalformedPayload, NormalizationError)) as caught:
        call()
    return str(caught.value.reason)


# ---- verification ------------------------------------------------------------------------------

def test_a_body_signed_with_the_secret_key_is_accepted() -> None:
    verify(header(SAMPLE))


def test_the_local_signer_produces_what_the_verifier_accepts() -> None:
    from ledgerlink.local.signers import sign

    signed = sign("paddle", SAMPLE, SECRET, now=NOW)
    verify(signed.headers["Paddle-Signature"])


def test_during_a_rotation_either_h1_and_either_configured_secret_verify() -> None:
    other = header(SAMPLE, "pdl_ntfset_old").split(";")[1]
    verify(f"{header(SAMPLE)};{other}")
    verify(f"{header(SAMPLE, 'pdl_ntfset_old')}", secrets=(SECRET, "pdl_ntfset_old"))


@pytest.mark.parametrize(("signature", "expected"), [
    (None, "signature_missing"),
    ("h1=abc", "signature_malformed"),
    ("ts=now;h1=" + "0" * 64, "signature_malformed"),
])
def test_a_missing_or_malformed_header_is_refused(signature: str | None, expected: str) -> None:
    assert reason(lambda: verify(signature)) == expected


def test_a_wrong_secret_or_a_tampered_body_is_a_mismatch() -> None:
    assert reason(lambda: verify(header(SAMPLE, "pdl_ntfset_someone_else"))) == "signature_mismatch"
    assert reason(lambda: verify(header(SAMPLE.replace(b"7370", b"1")))) == "signature_mismatch"


def test_a_signed_time_outside_the_window_is_refused() -> None:
    assert reason(lambda: verify(header(SAMPLE, ts=NOW - 301))) == "signature_expired"
    assert reason(lambda: verify(header(SAMPLE, ts=NOW + 301))) == "signature_from_future"


def test_no_configured_secret_cannot_verify() -> None:
    assert reason(lambda: verify(header(SAMPLE), secrets=())) == "signature_unverifiable"


def test_parse_keeps_the_event_id_for_deduplication() -> None:
    (event,) = webhook_module("paddle").parse_events(SAMPLE)
    assert (event.event_id, event.event_type) == ("evt_01hv8x2acma5cmw4d1m4vxrq3x", "transaction.completed")
    assert event.created == 1_712_917_129
    assert reason(lambda: webhook_module("paddle").parse_events(b'{"event_type": "x"}')) == "missing_event_id"


# ---- normalization -----------------------------------------------------------------------------

def run(event: dict[str, Any], config: LedgerLinkConfig) -> Any:
    ctx = NormalizeContext(config=config, source_id="paddle", correlation_id="corr-1", archive_key="raw/p")
    return normalize_module("paddle").normalize(event, ctx)


def usd(amount: str) -> Money:
    return Money.of(Decimal(amount), "USD")


def test_a_completed_transaction_is_an_invoice_and_its_payment(config: LedgerLinkConfig) -> None:
    result = run(json.loads(SAMPLE), config)
    invoice, payment = result.documents
    # 49.00 + 2 x 10.00 = 69.00 of lines, less a 2.00 discount, plus 10 % tax on 49.00 and on 18.00 = 6.70
    assert [line.amount for line in invoice.lines] == [usd("49.00"), usd("20.00")]
    assert [line.discount for line in invoice.lines] == [None, usd("2.00")]
    assert [line.tax for line in invoice.lines] == [usd("4.90"), usd("1.80")]
    assert invoice.total == usd("73.70") and invoice.tax_total == usd("6.70")
    assert (invoice.entity_id, invoice.party.source_id, invoice.number) == (
        "us01", "ctm_01hv6y1jedq4p1n0yqn5ba3ky4", "325-10566")
    assert str(invoice.accounting_date) == "2024-04-12"
    # the customer paid the total; Paddle kept 4.19 as its fee (earnings 62.81 = 73.70 - 6.70 - 4.19)
    assert payment.amount == usd("73.70") and [(f.kind, f.amount) for f in payment.fees] == [("processing", usd("4.19"))]
    assert payment.applies_to_document_id == invoice.document_id and payment.method == "card"
    assert payment.document_id != invoice.document_id


def test_the_same_transaction_twice_gives_the_same_document_ids(config: LedgerLinkConfig) -> None:
    first, second = run(json.loads(SAMPLE), config), run(json.loads(SAMPLE), config)
    assert [d.document_id for d in first.documents] == [d.document_id for d in second.documents]


def test_other_event_types_are_recorded_as_ignored(config: LedgerLinkConfig) -> None:
    result = run(json.loads((EVENTS / "paddle" / "02-subscription.created.json").read_bytes()), config)
    assert result.documents == [] and [i.reason for i in result.ignored] == ["unsupported_event_type"]


def test_line_items_that_do_not_add_up_to_the_total_are_refused(config: LedgerLinkConfig) -> None:
    event = json.loads(SAMPLE)
    event["data"]["details"]["totals"]["total"] = "7371"
    assert reason(lambda: run(event, config)) == "invalid_amount"
    event["data"]["details"]["line_items"][0]["totals"]["subtotal"] = "49.00"
    assert reason(lambda: run(event, config)) == "invalid_amount"
    del event["data"]["customer_id"]
    event["data"]["details"]["totals"]["total"], event["data"]["details"]["line_items"][0]["totals"]["subtotal"] = (
        "7370", "4900")
    assert reason(lambda: run(event, config)) == "missing_field"
