"""Ramp, HubSpot, SAP Concur, Expensify and the Adyen settlement report: signatures against the vendors' schemes
(and HubSpot's own library as an independent check), normalization of the fetched objects, both amount
representations and the wrong-exponent cases, out-of-order and negative cases. No network: API objects come from
the fixtures in ``events/<source>/api/``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hubspot.utils.signature import Signature as HubSpotSignature

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources import api_module, normalize_module
from ledgerlink.connectors.sources import rsa as stdlib_rsa
from ledgerlink.connectors.sources.adyen import api as adyen_api
from ledgerlink.connectors.sources.adyen.settlement import parse_report
from ledgerlink.connectors.sources.base import NormalizeContext, Normalized, load_exact
from ledgerlink.connectors.sources.concur import api as concur_api
from ledgerlink.connectors.sources.concur import webhook as concur
from ledgerlink.connectors.sources.expensify import api as expensify_api
from ledgerlink.connectors.sources.http import HttpResponse, SourceApiError, SourceApiUnavailable, checked
from ledgerlink.connectors.sources.hubspot import webhook as hubspot
from ledgerlink.connectors.sources.ramp import webhook as ramp
from ledgerlink.connectors.sources.webhooks import SignedRequest
from ledgerlink.errors import MalformedPayload, NormalizationError, SignatureInvalid
from ledgerlink.model.money import Money
from ledgerlink.pipeline.enrich import enrich

from tests.conftest import EVENTS

RAMP_TXN = "3aa9eed1-c793-4b52-a502-e7f2a7e4c1b2"
RAMP_REIMBURSEMENT = "8bc2e447-f894-4d23-9c15-2e8f7b6a3c1d"
HUBSPOT_DEAL = "18273645901"
CONCUR_REPORT = "CB899F7D9F73420A8D8B"
# SAP Concur's published ESS public key (developer.concur.com, "Event Subscription Service v4")
CONCUR_PUBLISHED_KEY = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxS1LsXrEWEEMPooLHa4r
osCAnmkO3HaBAk0YcsDMR6hQeuQNLqRWP65TpbfTbKWmZ22Hzep3Ekhs1qvSZgI+
iq/bnVeDhkcD+LqVQGP+7fyE0E0bO96FOzMmtbRet4wAiiE9+uw5GmZfg+fRG3yI
y2N5u5p7VHJ1RwNugrIUQjhrLvZc+lhqR/aKTxQCQ5CGAgLZIcr3FIWCWrSBMK3d
Wy3KI+qe3ZX0STrCCNxl2UFnuuAa2RZZ2j4QtWHlNkyK+UEup+cGkvpc1XrT7anL
HlbTP6jE7MqB5sJ9r2EEzrJzJZjD13UqlzvI61tTC8SKpuk5AEaSsUV7RKlKUCjB
8wIDAQAB
-----END PUBLIC KEY-----"""


def run(kind: str, event: dict[str, Any], config: LedgerLinkConfig, source: str | None = None) -> Normalized:
    ctx = NormalizeContext(config=config, source_id=source or kind, correlation_id="corr-1", archive_key="raw/x")
    return normalize_module(kind).normalize(event, ctx)


def sample(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text())


def fixture_text(relative: str) -> str:
    return (EVENTS / relative).read_text()


def reason_of(call: Any) -> str:
    with pytest.raises((NormalizationError, SignatureInvalid, MalformedPayload)) as caught:
        call()
    return caught.value.reason


def lines_of(document: Any, config: LedgerLinkConfig) -> dict[str, Decimal]:
    journal = enrich(document, config, config_version=1)
    totals: dict[str, Decimal] = {}
    for line in journal.lines:
        totals[line.account] = totals.get(line.account, Decimal(0)) + line.amount.amount
    return totals


# ---- Ramp: signature ------------------------------------------------------------------------------

RAMP_SECRET = "ramp-subscription-secret-0123456789"  # noqa: S105 - a test fixture


def ramp_body(**changes: Any) -> bytes:
    event = {**sample("ramp/01-transactions.cleared.json"),
             "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"), **changes}
    return json.dumps(event).encode()


def test_ramp_signature_is_the_hex_hmac_sha256_of_the_raw_body_under_either_header_name() -> None:
    body = ramp_body()
    documented = hmac.new(RAMP_SECRET.encode(), body, hashlib.sha256).hexdigest()  # Ramp docs' own recipe
    assert ramp.sign(body, RAMP_SECRET) == documented
    for header in ("x-ramp-signature", "x-ramp-webhook-signature"):
        ramp.verify(body, {header: documented.upper()}, ["old-secret", RAMP_SECRET], 86_400, time.time())


def test_ramp_refuses_forged_tampered_expired_future_and_malformed_signatures() -> None:
    now = time.time()
    body = ramp_body()
    good = {"x-ramp-signature": ramp.sign(body, RAMP_SECRET)}
    old = ramp_body(created_at="2024-05-01T00:00:00Z")
    future = ramp_body(created_at=datetime.fromtimestamp(now + 3600, UTC).isoformat())
    cases = [
        (body, {"x-ramp-signature": ramp.sign(body, "attacker")}, "signature_mismatch"),
        (body.replace(b"transactions.cleared", b"transactions.clearer"), good, "signature_mismatch"),
        (old, {"x-ramp-signature": ramp.sign(old, RAMP_SECRET)}, "signature_expired"),      # a replay
        (future, {"x-ramp-signature": ramp.sign(future, RAMP_SECRET)}, "signature_from_future"),
        (body, {}, "signature_missing"),
        (body, {"x-ramp-signature": "not-hex"}, "signature_malformed"),
    ]
    for given, headers, reason in cases:
        assert reason_of(lambda g=given, h=headers: ramp.verify(g, h, [RAMP_SECRET], 86_400, now)) == reason
    malformed = b'{"id": "e1", "type": '
    assert reason_of(lambda: ramp.verify(malformed, {"x-ramp-signature": ramp.sign(malformed, RAMP_SECRET)},
                                         [RAMP_SECRET], 86_400, now)) == "malformed_json"


def test_ramp_parse_needs_an_id_and_a_type_and_accepts_the_subscription_challenge() -> None:
    (event,) = ramp.parse_events(ramp_body())
    assert (event.event_id, event.event_type) == ("a461a658-8d78-4e66-b1fd-9c818bcfea6b", "transactions.cleared")
    assert reason_of(lambda: ramp.parse_events(b'{"type": "transactions.cleared"}')) == "missing_event_id"
    (challenge,) = ramp.parse_events(b'{"challenge": "abc123"}')
    assert challenge.event_type == "webhooks.verification"
    ramp.verify(b'{"challenge": "abc123"}', {"x-ramp-signature": ramp.sign(b'{"challenge": "abc123"}', "s")}, ["s"],
                300, time.time())


# ---- Ramp: normalization --------------------------------------------------------------------------

def dumps_exact(obj: Any) -> str:
    """JSON with Decimals written as numbers (what the vendor API sent), never as strings or floats."""
    text = json.dumps(obj, default=lambda value: f"@@{value}@@")
    return re.sub(r'"@@([^@]+)@@"', r"\1", text)


def ramp_event(notification: str, name: str, obj: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    note = sample(f"ramp/{notification}")
    folder = "transactions" if name == "transaction" else "reimbursements"
    fetched = obj if obj is not None else load_exact(fixture_text(f"ramp/api/{folder}/{note['object']['id']}.json"))
    return {"notification": note, "fetched": {name: dumps_exact({**fetched, **changes})}}


def raw_ramp(notification: str, name: str, text: str) -> dict[str, Any]:
    return {"notification": sample(f"ramp/{notification}"), "fetched": {name: text}}


def test_ramp_cleared_transaction_reads_the_major_unit_amount_exactly_and_posts_to_the_card(example_config) -> None:
    result = run("ramp", ramp_event("01-transactions.cleared.json", "transaction"), example_config)
    (card,) = result.documents
    assert card.amount == Money.of("90.00", "USD") and isinstance(card.amount.amount, Decimal)
    assert card.category == "saas" and card.merchant_category_code == "5734"
    assert card.dimensions == {"original_amount": "83.15 EUR"}   # minor units of the original currency
    assert card.accounting_date == date(2024, 5, 2)               # 15:30 UTC is still May 2 in New York
    assert lines_of(card, example_config) == {"Expenses:US01:Software": Decimal("90.00"),
                                              "Liabilities:US01:CreditCards:Ramp": Decimal("-90.00")}
    # transactions.ready_to_sync names the same transaction: the same document, posted once
    again = run("ramp", ramp_event("02-transactions.ready_to_sync.json", "transaction"), example_config)
    assert again.documents[0].document_id == card.document_id


@pytest.mark.parametrize(("changes", "reason"), [
    ({"amount": 9000}, "amounts_inconsistent"),                 # minor units where major units belong (100x)
    ({"amount": Decimal("90.123")}, "invalid_amount"),          # more decimals than USD has
    ({"amount": "90.00"}, "invalid_amount"),                    # a string is not the documented number
    ({"currency_code": "USS"}, "invalid_currency"),
])
def test_ramp_transaction_amount_in_the_wrong_representation_is_an_exception(example_config, changes, reason) -> None:
    event = ramp_event("01-transactions.cleared.json", "transaction", **changes)
    assert reason_of(lambda: run("ramp", event, example_config)) == reason


def test_ramp_line_item_amounts_must_be_integer_minor_units_and_jpy_has_no_decimals(example_config) -> None:
    text = fixture_text(f"ramp/api/transactions/{RAMP_TXN}.json").replace('"amount": 4000,', '"amount": 40.0,')
    assert reason_of(lambda: run("ramp", raw_ramp("01-transactions.cleared.json", "transaction", text),
                                 example_config)) == "invalid_amount"
    yen = load_exact(fixture_text(f"ramp/api/transactions/{RAMP_TXN}.json"))
    yen.update(amount=5000, currency_code="JPY", line_items=[{"amount": {"amount": 5000, "currency_code": "JPY"}}])
    (card,) = run("ramp", ramp_event("01-transactions.cleared.json", "transaction", yen), example_config).documents
    assert card.amount == Money.of("5000", "JPY")                 # 5000 major = 5000 minor for a 0-decimal currency
    yen.update(amount=Decimal("50.5"))
    assert reason_of(lambda: run("ramp", ramp_event("01-transactions.cleared.json", "transaction", yen),
                                 example_config)) == "invalid_amount"


def test_ramp_transaction_not_cleared_yet_and_not_final_events_are_recorded_not_posted(example_config) -> None:
    pending = run("ramp", ramp_event("01-transactions.cleared.json", "transaction", state="PENDING"), example_config)
    assert pending.documents == [] and pending.ignored[0].reason == "not_cleared"
    authorized = run("ramp", {"notification": sample("ramp/04-transactions.authorized.json"), "fetched": None},
                     example_config)
    assert authorized.ignored[0].reason == "not_final"
    bills = run("ramp", {"notification": sample("ramp/05-bills.created.json"), "fetched": None}, example_config)
    assert bills.ignored[0].reason == "not_approved"   # a bill is owed once approved (tests/unit/test_ramp_bills.py)


def test_ramp_reimbursement_becomes_an_expense_report_owed_to_the_employee(example_config) -> None:
    (report,) = run("ramp", ramp_event("03-reimbursements.ready_to_sync.json", "reimbursement"),
                    example_config).documents
    assert report.total == Money.of("484.46", "USD") and report.reimbursable
    assert [(line.category, line.amount) for line in report.lines] == [
        ("travel", Money.of("434.46", "USD")), ("meals", Money.of("50.00", "USD"))]
    assert lines_of(report, example_config) == {"Expenses:US01:Travel": Decimal("434.46"),
                                                "Expenses:US01:Meals": Decimal("50.00"),
                                                "Liabilities:US01:EmployeeReimbursements": Decimal("-484.46")}


def test_ramp_reimbursement_cross_checks_payor_and_payee_amounts_and_skips_repayments(example_config) -> None:
    wrong_payee = {"payee_amount": {"amount": 4844600, "currency_code": "USD"}}   # 100x: the wrong exponent
    for changes, reason in ((wrong_payee, "amounts_inconsistent"), ({"amount": 48446}, "amounts_inconsistent")):
        assert reason_of(lambda c=changes: run("ramp", ramp_event("03-reimbursements.ready_to_sync.json",
                                                                  "reimbursement", **c), example_config)) == reason
    for changes, reason in (({"direction": "USER_TO_BUSINESS"}, "unsupported_reimbursement_direction"),
                            ({"state": "REJECTED"}, "not_approved")):
        ignored = run("ramp", ramp_event("03-reimbursements.ready_to_sync.json", "reimbursement", **changes),
                      example_config)
        assert ignored.documents == [] and ignored.ignored[0].reason == reason


# ---- HubSpot: signature v3 ------------------------------------------------------------------------

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"  # noqa: S105 - the vector of tests/contracts/SOURCES.md


def test_hubspot_v3_vector_and_hubspots_own_library_agree_with_our_signer() -> None:
    body = b"{'example_field':'example_value'}"
    expected = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="
    assert hubspot.sign(HUBSPOT_SECRET, "POST", "https://www.example.com/webhook_uri", body, 15000000) == expected
    assert HubSpotSignature.get_signature(HUBSPOT_SECRET, body.decode(), "v3", "https://www.example.com/webhook_uri",
                                          "POST", "15000000") == expected
    # and with a fresh timestamp, HubSpot's validator accepts what we sign and we accept what it computes
    now_ms = int(time.time() * 1000)
    url = "https://hooks.example.com/v1/webhooks/hubspot"
    ours = hubspot.sign(HUBSPOT_SECRET, "POST", url, body, now_ms)
    assert HubSpotSignature.is_valid(ours, HUBSPOT_SECRET, body.decode(), url, "POST", "v3", str(now_ms))
    theirs = HubSpotSignature.get_signature(HUBSPOT_SECRET, body.decode(), "v3", url, "POST", str(now_ms))
    request = SignedRequest("POST", url, {"x-hubspot-signature-v3": theirs,
                                          "x-hubspot-request-timestamp": str(now_ms)}, body)
    hubspot.verify(request, ["other-secret", HUBSPOT_SECRET], 300, time.time())


def test_hubspot_refuses_old_future_forged_and_incomplete_requests_and_decodes_the_documented_characters() -> None:
    body = json.dumps(sample("hubspot/01-deal.propertyChange.batch.json")).encode()
    url = "https://hooks.example.com/v1/webhooks/hubspot"
    now = time.time()

    def request(timestamp_ms: int, secret: str = HUBSPOT_SECRET, signed_url: str = url, called: str = url,
                data: bytes = body) -> SignedRequest:
        return SignedRequest("POST", called, {k.lower(): v for k, v in hubspot.signature_headers(
            secret, "POST", signed_url, body, timestamp_ms).items()}, data)

    fresh = int(now * 1000)
    cases = [(request(fresh - 301_000), "signature_expired"), (request(fresh + 301_000), "signature_from_future"),
             (request(fresh, secret="attacker"), "signature_mismatch"),
             (request(fresh, data=body.replace(b"closedwon", b"closedlost")), "signature_mismatch"),
             (request(fresh, signed_url=url + "?x=1"), "signature_mismatch"),
             (SignedRequest("POST", url, {}, body), "signature_missing"),
             (SignedRequest("POST", url, {"x-hubspot-signature-v3": "a", "x-hubspot-request-timestamp": "soon"}, body),
              "signature_malformed")]
    for given, reason in cases:
        assert reason_of(lambda g=given: hubspot.verify(g, [HUBSPOT_SECRET], 300, now)) == reason
    hubspot.verify(request(fresh, signed_url=url + "?portal=a:b", called=url + "?portal=a%3Ab"), [HUBSPOT_SECRET],
                   300, now)


def test_hubspot_batch_parses_one_stable_event_per_change() -> None:
    body = (EVENTS / "hubspot" / "01-deal.propertyChange.batch.json").read_bytes()
    first, second = hubspot.parse_events(body)
    assert first.event_id == "24251877-2764051-3816279340-18273645901-1714737600000" != second.event_id
    assert [e.event_id for e in hubspot.parse_events(body)] == [first.event_id, second.event_id]  # a retry: same ids
    assert hubspot.BODY_IS_EVENT is False  # each message carries one event object, not the array
    assert reason_of(lambda: hubspot.parse_events(b"[]")) == "missing_event_object"
    assert reason_of(lambda: hubspot.parse_events(b'[{"subscriptionType": "deal.creation"}]')) == "missing_event_id"


# ---- HubSpot: normalization -----------------------------------------------------------------------

def hubspot_event(deal: dict[str, Any] | None = None, position: int = 0) -> dict[str, Any]:
    note = sample("hubspot/01-deal.propertyChange.batch.json")[position]
    text = json.dumps(deal) if deal is not None else fixture_text(f"hubspot/api/deals/{HUBSPOT_DEAL}.json")
    return {"notification": note, "fetched": {"deal": text}}


def test_hubspot_closed_won_deal_becomes_customer_and_contract_events(example_config) -> None:
    customer, contract = run("hubspot", hubspot_event(), example_config).documents
    assert customer.party.source_id == "9155227761" and customer.external_ids == {"hubspot_company": "9155227761"}
    assert contract.total == Money.of("36000.00", "USD") and contract.contract_id == HUBSPOT_DEAL
    assert contract.related_document_ids == (customer.document_id,)
    assert lines_of(contract, example_config) == {"Assets:US01:Memo:ContractBacklog": Decimal("36000.00"),
                                                  "Liabilities:US01:Memo:ContractBacklog": Decimal("-36000.00")}
    assert not api_module("hubspot").wants(sample("hubspot/01-deal.propertyChange.batch.json")[1],
                                           example_config.source("hubspot"))
    other = run("hubspot", {"notification": sample("hubspot/01-deal.propertyChange.batch.json")[1], "fetched": None},
                example_config)
    assert other.ignored[0].reason == "not_closed_won"


def test_hubspot_deal_reopened_since_the_event_is_recorded_and_bad_amounts_are_refused(example_config) -> None:
    deal = json.loads(fixture_text(f"hubspot/api/deals/{HUBSPOT_DEAL}.json"))
    reopened = {**deal, "properties": {**deal["properties"], "dealstage": "contractsent", "hs_is_closed_won": "false"}}
    assert run("hubspot", hubspot_event(reopened), example_config).ignored[0].reason == "not_closed_won"
    for amount, currency, reason in (("36000.005", "USD", "invalid_amount"), ("5000.5", "JPY", "invalid_amount"),
                                     ("3.6e4", "USD", "invalid_amount"), ("36000", "XXY", "invalid_amount")):
        changed = {**deal, "properties": {**deal["properties"], "amount": amount, "deal_currency_code": currency}}
        assert reason_of(lambda c=changed: run("hubspot", hubspot_event(c), example_config)) == reason
    orphan = {**deal, "associations": {}}
    assert reason_of(lambda: run("hubspot", hubspot_event(orphan), example_config)) == "missing_field"
    contact_only = {**deal, "associations": {"contacts": {"results": [{"id": "51"}]}}}
    customer, _ = run("hubspot", hubspot_event(contact_only), example_config).documents
    assert customer.party.source_id == "contact:51"


# ---- SAP Concur: RSA signature --------------------------------------------------------------------

@pytest.fixture(scope="module")
def concur_keys() -> tuple[Any, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, public


def concur_body(**changes: Any) -> bytes:
    event = {**sample("concur/01-statusChanged.approved.json"),
             "timeStamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"), **changes}
    return json.dumps(event).encode()


def rsa_sign(key: Any, body: bytes, scheme: Any = None) -> str:
    return base64.b64encode(key.sign(body, scheme or padding.PKCS1v15(), hashes.SHA256())).decode()


def test_our_stdlib_rsa_verifier_agrees_with_the_cryptography_library(concur_keys) -> None:
    key, public = concur_keys
    body = concur_body()
    parsed = stdlib_rsa.load_public_key(public)
    assert parsed.n == key.public_key().public_numbers().n and parsed.e == 65537
    assert stdlib_rsa.verify_sha256(parsed, body, base64.b64decode(rsa_sign(key, body)))
    assert not stdlib_rsa.verify_sha256(parsed, body + b" ", base64.b64decode(rsa_sign(key, body)))
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    assert not stdlib_rsa.verify_sha256(parsed, body, base64.b64decode(rsa_sign(key, body, pss)))
    pkcs1 = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    assert stdlib_rsa.load_public_key(pkcs1) == parsed
    published = stdlib_rsa.load_public_key(CONCUR_PUBLISHED_KEY)  # production verifies with SAP Concur's key
    assert published.n.bit_length() == 2048 and published.e == 65537


def test_concur_signature_rotation_and_refusals(concur_keys) -> None:
    key, public = concur_keys
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = time.time()
    body = concur_body()
    concur.verify(body, rsa_sign(key, body), [CONCUR_PUBLISHED_KEY, public], 259_200, now)  # two live keys
    old = concur_body(timeStamp="2024-05-01T00:00:00Z")
    future = concur_body(timeStamp=datetime.fromtimestamp(now + 3600, UTC).isoformat())
    cases = [(body, rsa_sign(other, body), "signature_mismatch"), (body + b"\n", rsa_sign(key, body), "signature_mismatch"),
             (old, rsa_sign(key, old), "signature_expired"), (future, rsa_sign(key, future), "signature_from_future"),
             (body, None, "signature_missing"), (body, "!!not base64!!", "signature_malformed")]
    for given, header, reason in cases:
        assert reason_of(lambda g=given, h=header: concur.verify(g, h, [public], 259_200, now)) == reason
    assert reason_of(lambda: concur.verify(body, rsa_sign(key, body), ["not a key"], 300, now)) == "signature_unverifiable"
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(ValueError):
        stdlib_rsa.load_public_key(small)


# ---- SAP Concur: normalization --------------------------------------------------------------------

def concur_event(report: str | None = None, expenses: str | None = None, **facts: Any) -> dict[str, Any]:
    note = sample("concur/01-statusChanged.approved.json")
    note["facts"].update(facts)
    return {"notification": note, "fetched": {
        "report": report or fixture_text(f"concur/api/reports/{CONCUR_REPORT}.json"),
        "expenses": expenses or fixture_text(f"concur/api/expenses/{CONCUR_REPORT}.json")}}


def test_concur_approved_report_posts_the_employee_side_and_the_company_card_side(example_config) -> None:
    employee, card = run("concur", concur_event(), example_config).documents
    assert (employee.reimbursable, employee.total) == (True, Money.of("25.00", "USD"))
    assert (card.reimbursable, card.total) == (False, Money.of("500.00", "USD"))
    assert employee.document_id != card.document_id and employee.report_id == card.report_id == CONCUR_REPORT
    assert lines_of(employee, example_config) == {"Expenses:US01:Meals": Decimal("25.00"),
                                                  "Liabilities:US01:EmployeeReimbursements": Decimal("-25.00")}
    assert lines_of(card, example_config) == {"Expenses:US01:OfficeSupplies": Decimal("500.00"),
                                              "Liabilities:US01:CreditCards:Corporate": Decimal("-500.00")}
    assert employee.accounting_date == date(2024, 5, 3)


def test_concur_amounts_are_exact_decimals_in_the_report_currency(example_config) -> None:
    expenses = fixture_text(f"concur/api/expenses/{CONCUR_REPORT}.json")

    def lunch(value: str, currency: str = "USD") -> str:
        items = load_exact(expenses)
        items[0]["approvedAmount"] = {"value": Decimal(value), "currencyCode": currency}
        return dumps_exact(items)

    for text, reason in ((lunch("25.125"), "invalid_amount"),            # three decimals in USD: never rounded
                         (lunch("25.00", "EUR"), "currency_mismatch"),    # not the report's currency
                         (lunch("26.00"), "amounts_inconsistent")):       # lines ≠ the report's approvedAmount
        assert reason_of(lambda t=text: run("concur", concur_event(expenses=t), example_config)) == reason
    personal = json.loads(expenses)
    personal[0]["isPersonalExpense"] = True
    (card,) = run("concur", concur_event(expenses=json.dumps(personal)), example_config).documents
    assert card.total == Money.of("500.00", "USD")


def test_concur_events_out_of_order_and_unsupported_types_are_recorded(example_config) -> None:
    sent_back = fixture_text(f"concur/api/reports/{CONCUR_REPORT}.json").replace('"A_APPR"', '"A_RESU"')
    assert run("concur", concur_event(report=sent_back), example_config).ignored[0].reason == "report_not_approved"
    pending = {"notification": sample("concur/02-statusChanged.pending.json"), "fetched": None}
    assert not api_module("concur").wants(pending["notification"], example_config.source("concur"))
    assert run("concur", pending, example_config).ignored[0].reason == "not_approved"
    created = {"notification": sample("concur/03-reportCreated.json"), "fetched": None}
    assert run("concur", created, example_config).ignored[0].reason == "unsupported_event_type"


def test_concur_reports_are_read_from_the_configured_host_never_the_payloads() -> None:
    note = sample("concur/01-statusChanged.approved.json")
    note["facts"]["href"] = note["facts"]["href"].replace("us.api.concursolutions.com", "attacker.example")
    assert concur_api.report_path(note).startswith("/expensereports/v4/users/")
    note["facts"]["href"] = "https://us.api.concursolutions.com/../../admin"
    with pytest.raises(SourceApiError) as caught:
        concur_api.report_path(note)
    assert caught.value.reason == "missing_field"


# ---- Expensify ------------------------------------------------------------------------------------

def expensify_reports() -> list[dict[str, Any]]:
    return sample("expensify/api/reports.json")


def test_expensify_reports_split_reimbursable_and_card_expenses_and_read_amounts_as_cents(example_config) -> None:
    first, second = expensify_reports()
    (travel,) = run("expensify", first, example_config).documents
    assert travel.total == Money.of("312.50", "USD") and travel.reimbursable
    assert [line.amount for line in travel.lines] == [Money.of("187.50", "USD"), Money.of("125.00", "USD")]  # CAD→USD
    employee, card = run("expensify", second, example_config).documents
    assert (employee.total, card.total) == (Money.of("250.00", "USD"), Money.of("1299.00", "USD"))
    assert lines_of(card, example_config) == {"Expenses:US01:Conferences": Decimal("1299.00"),
                                              "Liabilities:US01:CreditCards:Corporate": Decimal("-1299.00")}


def test_expensify_cents_are_hundredths_for_every_currency_and_never_rounded(example_config) -> None:
    report = expensify_reports()[0]
    yen = {**report, "currency": "JPY", "total": 500000, "transactions": [
        {**report["transactions"][0], "currency": "JPY", "amount": 500000, "convertedAmount": 500000}]}
    (document,) = run("expensify", yen, example_config).documents
    assert document.total == Money.of("5000", "JPY")
    for changes, reason in (({"total": 500050, "transactions": [{**yen["transactions"][0], "convertedAmount": 500050}]},
                             "invalid_amount"),                                  # ¥5,000.50 does not exist
                            ({"total": "312.50"}, "invalid_amount"),              # already in major units
                            ({"total": 31251}, "amounts_inconsistent")):          # lines do not add up
        base = yen if changes.get("transactions") else report
        assert reason_of(lambda b=base, c=changes: run("expensify", {**b, **c}, example_config)) == reason
    assert reason_of(lambda: run("expensify", {"transactions": []}, example_config)) == "missing_field"


class ScriptedSession:
    """Answers the Integration Server's two jobs like Expensify (a file name, then the file)."""

    def __init__(self, reports: list[dict[str, Any]]) -> None:
        self.reports = reports
        self.jobs: list[dict[str, Any]] = []

    def job(self, job: dict[str, Any], *, what: str, **fields: str) -> str:
        self.jobs.append({**job, **fields})
        if job["type"] == "file":
            assert "template" in fields and "reports as report" in fields["template"]
            return "exportabc.json"
        return json.dumps(self.reports)


def test_expensify_poll_reads_from_the_mark_minus_the_overlap_and_orders_by_approval(example_config) -> None:
    source = example_config.source("expensify")
    session = ScriptedSession(list(reversed(expensify_reports())) + [{"reportName": "no id"}])
    events = expensify_api.poll(source, session, "2024-05-03")
    assert session.jobs[0]["inputSettings"]["filters"] == {"startDate": "2024-01-01", "approvedAfter": "2024-05-02"}
    assert session.jobs[0]["inputSettings"]["reportState"] == "APPROVED,REIMBURSED"
    assert [(e.event_type, e.position) for e in events] == [("report.malformed", ""), ("report.approved", "2024-05-02"),
                                                             ("report.approved", "2024-05-03")]
    assert events[1].event_id == "R00Q6qHd8lYt:2024-05-02T14:01:10"
    assert expensify_api.query_after(source, None) == date(2023, 12, 31)  # before any poll: from start_date


# ---- Adyen settlement report ----------------------------------------------------------------------

REPORT = EVENTS / "adyen" / "api" / "settlement_detail_report_batch_7.csv"


def adyen_report_event(text: str | None = None) -> dict[str, Any]:
    item = sample("adyen/02-batch.json")["notificationItems"][-1]
    return {"notification": {"live": "false", **item},
            "fetched": {"report": text if text is not None else REPORT.read_text()}}


def test_settlement_report_posts_the_payout_fees_and_the_gross_cleared(example_config) -> None:
    (payout,) = run("adyen", adyen_report_event(), example_config).documents
    assert payout.document_type == "payout" and payout.amount == Money.of("90.00", "USD")
    assert [(fee.kind, fee.amount) for fee in payout.fees] == [("processing", Money.of("2.50", "USD")),
                                                               ("other", Money.of("2.50", "USD"))]
    assert payout.gross == Money.of("95.00", "USD")   # captured 120.00 − refunded 25.00
    assert lines_of(payout, example_config) == {"Assets:US01:Clearing:PayoutsInTransit": Decimal("90.00"),
                                                "Expenses:US01:PaymentProcessing:Adyen": Decimal("5.00"),
                                                "Assets:US01:Clearing:Adyen": Decimal("-95.00")}
    assert payout.accounting_date == date(2024, 5, 15)  # 05:00 in Amsterdam is still the 15th in New York


@pytest.mark.parametrize(("change", "reason"), [
    (("USD,90.00,,,,,,,,7", "USD,91.00,,,,,,,,7"), "amounts_inconsistent"),     # the batch does not net to zero
    (("USD,,117.60", "USD,,117.605"), "invalid_amount"),                         # more decimals than USD has
    (("visa,2024-05-14 16:10:00,CET,Settled,8535296650153318,USD", "visa,2024-05-14 16:10:00,CET,Settled,"
      "8535296650153318,EUR"), "fx_settlement_unsupported"),
    (("Net Debit (NC)", "Net Debit"), "malformed_report"),
])
def test_settlement_reports_that_do_not_add_up_are_exceptions(example_config, change, reason) -> None:
    text = REPORT.read_text().replace(*change)
    assert reason_of(lambda: run("adyen", adyen_report_event(text), example_config)) == reason


# One row of every record type Adyen's Settlement details report documents for a batch (gross rows: the payment
# life cycle; net-only rows: costs and corrections; MerchantPayout: the bank transfer). Figures chosen here; the
# expected payout and costs are summed by hand in the test, not read from the parser.
EVERY_TYPE = """Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,\
Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),\
Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,\
Modification Merchant Reference,Batch Number
C,LedgerLinkDemoECOM,P1,O1,visa,2024-05-20 10:00:00,CET,Settled,M1,USD,,500.00,1,USD,,490.00,1.00,2.00,3.00,4.00,v,,9
C,LedgerLinkDemoECOM,P2,O2,visa,2024-05-20 10:00:00,CET,SettledBulk,M2,USD,,100.00,1,USD,,98.00,,2.00,,,v,,9
C,LedgerLinkDemoECOM,P3,O3,visa,2024-05-20 10:00:00,CET,Refunded,M3,USD,40.00,,1,USD,40.50,,,0.50,,,v,,9
C,LedgerLinkDemoECOM,P4,O4,visa,2024-05-20 10:00:00,CET,RefundedReversed,M4,USD,,10.00,1,USD,,10.00,,,,,v,,9
C,LedgerLinkDemoECOM,P5,O5,visa,2024-05-20 10:00:00,CET,Chargeback,M5,USD,60.00,,1,USD,60.00,,,,,,v,,9
C,LedgerLinkDemoECOM,P5,O5,visa,2024-05-21 10:00:00,CET,ChargebackReversed,M6,USD,,60.00,1,USD,,60.00,,,,,v,,9
C,LedgerLinkDemoECOM,P6,O6,visa,2024-05-21 10:00:00,CET,SecondChargeback,M7,USD,20.00,,1,USD,20.00,,,,,,v,,9
C,LedgerLinkDemoECOM,,,,2024-05-21 10:00:00,CET,Fee,Monthly fee,,,,,USD,5.00,,,,,,,,9
C,LedgerLinkDemoECOM,,,,2024-05-21 10:00:00,CET,MiscCosts,Terminal rental,,,,,USD,3.00,,,,,,,,9
C,LedgerLinkDemoECOM,,,,2024-05-21 10:00:00,CET,InvoiceDeduction,Invoice 1234,,,,,USD,7.00,,,,,,,,9
C,LedgerLinkDemoECOM,,,,2024-05-21 10:00:00,CET,DepositCorrection,Deposit release,,,,,USD,,25.00,,,,,,,9
C,LedgerLinkDemoECOM,,,,2024-05-22 05:00:00,CET,MerchantPayout,batch 9,,,,,USD,547.50,,,,,,,,9
"""


def test_every_record_type_of_a_settlement_batch_is_accounted_for(example_config) -> None:
    (payout,) = run("adyen", adyen_report_event(EVERY_TYPE), example_config).documents
    # the rows' nets: 490 + 98 − 40.50 + 10 − 60 + 60 − 20 − 5 − 3 − 7 + 25 = 547.50, the MerchantPayout
    assert payout.amount == Money.of("547.50", "USD")
    # gross through clearing: 500 + 100 − 40 + 10 − 60 + 60 − 20 = 550.00; transaction costs 10 + 2 + 0.50 = 12.50;
    # net-only rows: fee 5 + misc 3 + invoice deduction 7 − deposit correction 25 = −10.00
    assert payout.gross == Money.of("550.00", "USD")
    assert {fee.kind: fee.amount for fee in payout.fees} == {"processing": Money.of("12.50", "USD"),
                                                             "other": Money.of("-10.00", "USD")}
    assert sum(lines_of(payout, example_config).values()) == 0


def test_report_download_is_only_for_settlement_reports_on_adyen_hosts(example_config) -> None:
    source = example_config.source("adyen")
    note = adyen_report_event()["notification"]
    assert api_module("adyen").wants(note, source)
    assert not api_module("adyen").wants(note, source.model_copy(update={"reports": None}))
    without = run("adyen", {"notification": note, "fetched": None},
                  example_config.model_copy(update={"sources": [
                      s.model_copy(update={"reports": None}) if s.kind == "adyen" else s
                      for s in example_config.sources]}))
    assert without.ignored[0].reason == "settlement_report_not_downloaded"
    for url in ("https://ca-test.adyen.com.attacker.example/reports/download/x.csv", "http://ca-test.adyen.com/reports/"
                "download/x.csv", "https://ca-test.adyen.com/reports/download/../../admin",
                "https://ca-test.adyen.com/other/x.csv"):
        with pytest.raises(SourceApiError) as caught:
            adyen_api.report_path(url)
        assert caught.value.reason == "untrusted_report_url"
    assert adyen_api.report_path(note["NotificationRequestItem"]["reason"]).endswith("settlement_detail_report_batch_7.csv")


def test_parse_report_sums_per_merchant_account_batch_and_currency() -> None:
    (batch,) = parse_report(REPORT.read_text())
    assert (batch.merchant_account, batch.batch_number, batch.currency) == ("LedgerLinkDemoECOM", "7", "USD")
    assert (batch.payout, batch.transaction_costs, batch.other_costs, batch.gross) == (
        Decimal("90.00"), Decimal("2.50"), Decimal("2.50"), Decimal("95.00"))


# ---- the HTTP client's status mapping -------------------------------------------------------------

@pytest.mark.parametrize(("status", "error", "reason"), [
    (429, SourceApiUnavailable, "source_api_unavailable"), (503, SourceApiUnavailable, "source_api_unavailable"),
    (401, SourceApiError, "source_api_unauthorized"), (403, SourceApiError, "source_api_unauthorized"),
    (404, SourceApiError, "source_object_not_found"), (422, SourceApiError, "source_api_rejected"),
])
def test_vendor_api_statuses_map_to_retry_or_exception(status, error, reason) -> None:
    assert checked(HttpResponse(200, b"{}"), what="x").status == 200
    with pytest.raises(error) as caught:
        checked(HttpResponse(status, b""), what="Ramp transaction")
    assert caught.value.reason == reason


def test_fixture_files_the_tests_rely_on_exist() -> None:
    for path in (f"ramp/api/transactions/{RAMP_TXN}.json", f"ramp/api/reimbursements/{RAMP_REIMBURSEMENT}.json",
                 f"hubspot/api/deals/{HUBSPOT_DEAL}.json", f"concur/api/reports/{CONCUR_REPORT}.json",
                 f"concur/api/expenses/{CONCUR_REPORT}.json", "expensify/api/reports.json"):
        assert Path(EVENTS / path).is_file(), path


def test_the_webhook_path_stays_stdlib_for_every_webhook_kind() -> None:
    # Given a fresh interpreter (the ingest Lambda's cold start), When ingest and every webhook module load,
    # Then neither pydantic nor the API clients come with them (D2: the hot path imports no pydantic)
    import subprocess
    import sys

    code = ("import sys\nfrom ledgerlink.connectors.sources import WEBHOOK_KINDS, webhook_module\n"
            "import ledgerlink.service.ingest\n[webhook_module(kind) for kind in WEBHOOK_KINDS]\n"
            "print(sorted(m for m in sys.modules if m == 'pydantic' or m.endswith('.api') or m.endswith('.normalize')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_a_fetched_object_that_is_not_json_is_an_exception_case_not_a_crash(example_config) -> None:
    for kind, event in (("ramp", raw_ramp("01-transactions.cleared.json", "transaction", "<html>502</html>")),
                        ("hubspot", {"notification": sample("hubspot/01-deal.propertyChange.batch.json")[0],
                                     "fetched": {"deal": '{"id": 1, "properties": '}}),
                        ("concur", concur_event(report="NaN")),
                        ("adyen", adyen_report_event("not,a,settlement,report\n1,2,3,4"))):
        assert reason_of(lambda k=kind, e=event: run(k, e, example_config)) in ("malformed_payload", "malformed_report")


def test_api_credentials_are_read_as_a_json_object_and_can_be_forgotten() -> None:
    from ledgerlink.store.secrets import SecretsManagerSecrets

    class Client:
        calls = 0

        def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 - boto3's parameter name
            Client.calls += 1
            return {"SecretString": '{"client_id": "id", "client_secret": "s"}' if SecretId == "json" else "whsec_x"}

    secrets = SecretsManagerSecrets(client=Client())
    assert secrets.get_json("json") == {"client_id": "id", "client_secret": "s"}
    assert secrets.get_json("plain") == {} and secrets.get("plain") == ["whsec_x"]
    secrets.get_json("json")
    assert Client.calls == 2  # cached
    secrets.forget("json")
    secrets.get_json("json")
    assert Client.calls == 3
