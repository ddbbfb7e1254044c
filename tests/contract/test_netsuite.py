"""NetSuite connector against a local NetSuite REST web services that verifies token-based authentication
independently and enforces the documented behaviour."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

import pytest

from ledgerlink.config.erps import NetSuiteConnection
from ledgerlink.config.model import Entity
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.netsuite import NetSuite
from ledgerlink.connectors.erps.ratelimit import LimitPolicy, MemoryLimiter
from ledgerlink.errors import DocumentRejected, RateLimited, TransientError

from tests.contract.builders import CUSTOMER, VENDOR, erp_document, journal
from tests.contract.conftest import store_json
from tests.contract.netsuite_server import NetSuiteApp
from tests.contract.server import FakeClock

ACCOUNT = "1234567_SB1"
SECRET_ID = "ledgerlink/erp/netsuite"
CONSUMER = ("ck-0123456789abcdef", "cs-secret-value")
TOKEN = ("tk-abcdef0123456789", "ts-secret-value")
ACCOUNTS = {"58", "4", "112", "220", "310"}
ENTITY = Entity(id="us01", name="US", base_currency="USD", time_zone="UTC", erp_connection="netsuite")
PERIODS = [
    {"id": "10", "periodname": "Nov 2025", "startdate": "2025-11-01", "enddate": "2025-11-30", "closed": "T",
     "alllocked": "T", "arlocked": "T", "aplocked": "T"},
    {"id": "11", "periodname": "Dec 2025", "startdate": "2025-12-01", "enddate": "2025-12-31", "closed": "F",
     "alllocked": "T", "arlocked": "T", "aplocked": "T"},
    {"id": "12", "periodname": "Jan 2026", "startdate": "2026-01-01", "enddate": "2026-01-31", "closed": "F",
     "alllocked": "F", "arlocked": "T", "aplocked": "F"},
    {"id": "13", "periodname": "Feb 2026", "startdate": "2026-02-01", "enddate": "2026-02-28", "closed": "F",
     "alllocked": "F", "arlocked": "F", "aplocked": "F"},
]


@pytest.fixture
def app(clock: FakeClock) -> NetSuiteApp:
    return NetSuiteApp(clock, account=ACCOUNT, consumer=CONSUMER, token=TOKEN, accounts=ACCOUNTS, items={"301", "302"},
                       periods=[dict(p) for p in PERIODS])


def connection(url: str, **overrides) -> NetSuiteConnection:
    return NetSuiteConnection.model_validate({
        "id": "netsuite", "kind": "netsuite", "account_id": ACCOUNT, "credentials": {"secret_id": SECRET_ID},
        "base_url": f"{url}/services/rest", "subsidiary_id": "1", "currency_ids": {"USD": "1"},
        "items": {"310": "301"}, **overrides})


def credentials(secrets, token_secret: str = TOKEN[1]) -> None:
    store_json(secrets, SECRET_ID, consumer_key=CONSUMER[0], consumer_secret=CONSUMER[1], token_id=TOKEN[0],
               token_secret=token_secret)


@pytest.fixture
def netsuite(app: NetSuiteApp, serve, context: ConnectorContext, secrets) -> NetSuite:
    server = serve(app)
    credentials(secrets)
    connector = BUILDERS["netsuite"](connection(server.url), context)
    assert isinstance(connector, NetSuite)
    return connector


def sale(key: str, amount: str = "187.00", on: date = date(2026, 2, 10)):
    return journal(key, [("58", amount), ("4", f"-{amount}")], on=on)


# ---- auth ---------------------------------------------------------------------------------------------

def test_every_request_carries_a_valid_tba_signature(netsuite: NetSuite, app: NetSuiteApp):
    netsuite.post_journal(sale("signed"))
    netsuite.period_status(ENTITY, date(2026, 2, 1))
    assert app.auth_failures == [] and len(app.log) == 2
    header = app.log[0].header("authorization")
    assert header.startswith('OAuth realm="1234567_SB1"') and 'oauth_signature_method="HMAC-SHA256"' in header


def test_a_wrong_token_secret_is_refused_and_becomes_an_auth_case(app: NetSuiteApp, serve, context, secrets):
    server = serve(app)
    credentials(secrets, token_secret="not-the-secret")
    connector = NetSuite(connection(server.url), context)
    with pytest.raises(DocumentRejected) as raised:
        connector.post_journal(sale("forged"))
    assert raised.value.reason == "erp_auth_failed"
    assert app.auth_failures == ["signature mismatch", "signature mismatch"] and app.of("journalentry") == []


# ---- journals -------------------------------------------------------------------------------------------

def test_a_journal_is_upserted_by_external_id(netsuite: NetSuite, app: NetSuiteApp):
    entry = sale("j1")
    result = netsuite.post_journal(entry)
    (posted,) = app.of("journalentry")
    assert result.erp_ref == f"netsuite:journalentry/{posted['id']}" and posted["externalId"] == entry.document_id
    (put,) = app.requests("PUT")
    assert put.path.endswith(f"/record/v1/journalentry/eid:{entry.document_id}")
    assert [(line.get("debit"), line.get("credit")) for line in posted["line"]["items"]] == [
        (Decimal("187.00"), None), (None, Decimal("187.00"))]
    assert posted["subsidiary"] == {"id": "1"} and posted["currency"] == {"id": "1"}
    assert netsuite.find_by_external_id(entry.document_id).erp_ref == result.erp_ref


def test_a_repeated_upsert_updates_the_same_record_never_adds_one(netsuite: NetSuite, app: NetSuiteApp):
    entry = sale("again")
    body = netsuite.journal_body(entry)
    first = netsuite._upsert("journalentry", entry.document_id, body)
    second = netsuite._upsert("journalentry", entry.document_id, body)
    assert first == second and len(app.of("journalentry")) == 1


def test_a_dropped_answer_after_commit_is_resolved_by_lookup(netsuite: NetSuite, app: NetSuiteApp):
    app.inject("drop")
    assert netsuite.post_journal(sale("dropped")).created
    assert len(app.of("journalentry")) == 1
    assert [r.method for r in app.log] == ["PUT", "GET"]


def test_a_timeout_after_commit_is_resolved_by_lookup(netsuite: NetSuite, app: NetSuiteApp):
    netsuite.session.http.timeout = 0.2
    app.inject("delay", delay=0.5)
    assert netsuite.post_journal(sale("slow")).created and len(app.of("journalentry")) == 1


def test_a_large_journal_goes_asynchronously_with_an_idempotency_key(app: NetSuiteApp, serve, context, secrets):
    app.async_polls_to_complete = 3
    server = serve(app)
    credentials(secrets)
    connector = NetSuite(connection(server.url, async_line_threshold=3), context)
    big = journal("big", [("58", "1.00"), ("112", "2.00"), ("220", "3.00"), ("4", "-6.00")], on=date(2026, 2, 3))
    result = connector.post_journal(big)
    (submit,) = app.requests("POST", "/record/v1/journalentry")
    assert submit.header("prefer") == "respond-async" and len(submit.header("x-netsuite-idempotency-key")) == 36
    assert result.created and len(app.of("journalentry")) == 1
    # a resubmission (a retry after an uncertain outcome) is answered with the first job, not run again
    again = connector._post_async("journalentry", big.document_id, connector.journal_body(big))
    assert again.erp_ref == result.erp_ref and len(app.of("journalentry")) == 1 and len(app.jobs) == 1


def test_the_concurrency_share_is_never_exceeded(app: NetSuiteApp, serve, secrets, clock: FakeClock):
    # Given NetSuite allows 2 concurrent requests for this account and holds each request open a moment
    app.max_concurrency = 2
    app.hold = threading.Event()
    server = serve(app)
    credentials(secrets)
    policy = LimitPolicy(max_concurrency=2)
    # (real threads: the limiter waits in real time, briefly, for a slot to free)
    limiter = MemoryLimiter(policy, sleeper=lambda seconds: time.sleep(min(seconds, 0.02)))

    class OneLimiter:
        def for_connection(self, connection_id, policy):
            return limiter

    connector = NetSuite(connection(server.url), ConnectorContext(secrets=secrets, limiters=OneLimiter(),
                                                                  clock_ms=clock.ms))
    errors: list[Exception] = []

    def post(i: int) -> None:
        try:
            connector.post_journal(sale(f"parallel-{i}"))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    threading.Timer(0.15, app.hold.set).start()
    for thread in threads:
        thread.join(timeout=10)
    # Then all six posted and NetSuite never saw more than 2 at once
    assert errors == [] and app.rate_limited == 0 and app.max_in_flight <= 2
    assert len(app.of("journalentry")) == 6


@pytest.mark.parametrize("style", ["429", "400"])
def test_a_concurrency_rejection_is_rate_limiting_not_a_business_error(app: NetSuiteApp, netsuite: NetSuite,
                                                                       style: str):
    app.max_concurrency = 0
    app.rejection_style = style
    with pytest.raises(RateLimited):
        netsuite.post_journal(sale(f"busy-{style}"))
    assert app.of("journalentry") == []


# ---- periods ------------------------------------------------------------------------------------------

def test_closed_and_locked_periods(netsuite: NetSuite, app: NetSuiteApp):
    assert netsuite.period_status(ENTITY, date(2025, 11, 15)).open is False            # closed
    assert netsuite.period_status(ENTITY, date(2025, 12, 15)).open is False            # locked for all
    assert netsuite.period_status(ENTITY, date(2026, 1, 15)).open is True              # A/R lock: journals pass
    assert netsuite.period_status(ENTITY, date(2026, 1, 15), "invoice").open is False  # ... invoices do not
    assert netsuite.period_status(ENTITY, date(2026, 2, 15)).closed_through == date(2025, 12, 31)
    with pytest.raises(DocumentRejected) as raised:
        netsuite.post_journal(sale("locked", on=date(2025, 12, 20)))
    assert raised.value.reason == "period_closed" and app.of("journalentry") == []
    assert len(app.requests("POST", "suiteql")) == 1   # periods are cached


# ---- parties and documents ----------------------------------------------------------------------------

def test_customers_are_upserted_once(netsuite: NetSuite, app: NetSuiteApp, context):
    first = netsuite.ensure_party(CUSTOMER)
    assert NetSuite(netsuite.connection, context).ensure_party(CUSTOMER) == first
    assert len(app.of("customer")) == 1


def test_invoice_and_customer_payment(netsuite: NetSuite, app: NetSuiteApp):
    invoice = erp_document("invoice", "inv-1", [("310", "250.00")], on=date(2026, 2, 2))
    netsuite.post_invoice(invoice)
    payment = erp_document("payment", "pay-1", [], total="250.00", applies_to=invoice.external_id, account="58",
                           on=date(2026, 2, 5))
    netsuite.post_payment(payment)
    (posted,) = app.of("invoice")
    assert posted["amountRemaining"] == 0 and posted["entity"]["id"] == app.of("customer")[0]["id"]
    assert netsuite.find_by_external_id(payment.external_id).erp_ref.startswith("netsuite:customerpayment/")


def test_an_invoice_in_an_ar_locked_period_is_refused(netsuite: NetSuite, app: NetSuiteApp):
    with pytest.raises(DocumentRejected) as raised:
        netsuite.post_invoice(erp_document("invoice", "inv-locked", [("310", "1.00")], on=date(2026, 1, 20)))
    assert raised.value.reason == "period_closed" and app.of("invoice") == []


def test_vendor_bill_credit_and_payment(netsuite: NetSuite, app: NetSuiteApp):
    bill = erp_document("bill", "bill-1", [("112", "80.00")], party=VENDOR, on=date(2026, 2, 2))
    netsuite.post_bill(bill)
    netsuite.post_credit(erp_document("vendor_credit", "vc-1", [("112", "5.00")], party=VENDOR, on=date(2026, 2, 3)))
    netsuite.post_payment(erp_document("vendor_payment", "vp-1", [], total="80.00", party=VENDOR,
                                       applies_to=bill.external_id, account="58", on=date(2026, 2, 4)))
    assert app.of("vendorbill")[0]["amountRemaining"] == 0 and len(app.of("vendorcredit")) == 1


def test_document_lines_need_an_item_mapping(netsuite: NetSuite, app: NetSuiteApp):
    with pytest.raises(DocumentRejected) as raised:
        netsuite.post_invoice(erp_document("invoice", "no-item", [("220", "1.00")], on=date(2026, 2, 2)))
    assert raised.value.reason == "unsupported_document" and app.of("invoice") == []


def test_a_payment_before_its_invoice_waits(netsuite: NetSuite):
    with pytest.raises(TransientError) as raised:
        netsuite.post_payment(erp_document("payment", "early", [], total="1.00", applies_to="doc_nope",
                                           account="58", on=date(2026, 2, 2)))
    assert raised.value.reason == "original_pending"
