"""QuickBooks Online connector against a local QuickBooks that enforces the documented behaviour."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledgerlink.config.erps import QuickBooksConnection
from ledgerlink.config.model import Entity
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.quickbooks import QuickBooksOnline
from ledgerlink.errors import DocumentRejected, RateLimited, TransientError

from tests.contract.builders import VENDOR, erp_document, journal
from tests.contract.conftest import store_json
from tests.contract.quickbooks_server import QuickBooksApp
from tests.contract.server import FakeClock

REALM = "9130357012345678"
SECRET_ID = "ledgerlink/erp/qbo"
ACCOUNTS = {"35", "79", "80", "33", "7"}
ENTITY = Entity(id="us01", name="US", base_currency="USD", time_zone="UTC", erp_connection="qbo")


@pytest.fixture
def app(clock: FakeClock) -> QuickBooksApp:
    return QuickBooksApp(clock, realm_id=REALM, client_id="intuit-client", client_secret="intuit-secret",
                         refresh_token="AB11-refresh", accounts=ACCOUNTS, items={"1", "2"},
                         classes={"5000000000000123"}, departments={"2"})


def connection(url: str, **overrides) -> QuickBooksConnection:
    return QuickBooksConnection.model_validate({
        "id": "qbo", "kind": "quickbooks_online", "realm_id": REALM, "credentials": {"secret_id": SECRET_ID},
        "base_url": url, "token_url": f"{url}/oauth2/v1/tokens/bearer", "items": {"79": "1", "80": "2"},
        **overrides})


@pytest.fixture
def qbo(app: QuickBooksApp, serve, context: ConnectorContext, secrets) -> QuickBooksOnline:
    server = serve(app)
    store_json(secrets, SECRET_ID, client_id="intuit-client", client_secret="intuit-secret",
               refresh_token="AB11-refresh")
    connector = BUILDERS["quickbooks_online"](connection(server.url), context)
    assert isinstance(connector, QuickBooksOnline)
    return connector


def sale(key: str, amount: str = "120.00", on: date = date(2026, 1, 15)):
    return journal(key, [("35", amount), ("79", f"-{amount}")], on=on)


def entries(app: QuickBooksApp) -> list[dict]:
    return app.of("JournalEntry")


# ---- journals -------------------------------------------------------------------------------------------

def test_a_journal_posts_once_with_its_requestid_and_a_short_doc_number(qbo: QuickBooksOnline, app: QuickBooksApp):
    entry = sale("j1")
    result = qbo.post_journal(entry)
    (posted,) = entries(app)
    assert result.erp_ref == f"qbo:JournalEntry/{posted['Id']}"
    (write,) = app.requests("POST", "/journalentry")
    assert write.query["requestid"] == entry.document_id
    assert len(posted["DocNumber"]) <= 21 and entry.document_id in posted["PrivateNote"]
    assert {(line["JournalEntryLineDetail"]["PostingType"], line["Amount"]) for line in posted["Line"]} == {
        ("Debit", Decimal("120.00")), ("Credit", Decimal("120.00"))}
    assert qbo.find_by_external_id(entry.document_id).erp_ref == result.erp_ref


def test_dimensions_become_class_and_department_references(qbo: QuickBooksOnline, app: QuickBooksApp):
    entry = journal("dims", [("35", "50.00"), ("79", "-50.00")],
                    dimensions={"class": "5000000000000123", "location": "2", "project": "apollo"})
    qbo.post_journal(entry)
    (posted,) = entries(app)
    details = [line["JournalEntryLineDetail"] for line in posted["Line"]]
    assert {d["ClassRef"]["value"] for d in details} == {"5000000000000123"}
    assert {d["DepartmentRef"]["value"] for d in details} == {"2"}
    # an id QuickBooks does not know is its own refusal, nothing posted
    with pytest.raises(DocumentRejected) as raised:
        qbo.post_journal(journal("dims-bad", [("35", "5.00"), ("79", "-5.00")], dimensions={"class": "999"}))
    assert "Class 999" in str(raised.value)
    assert len(entries(app)) == 1


def test_batches_carry_at_most_thirty_items_with_per_item_faults(qbo: QuickBooksOnline, app: QuickBooksApp):
    journals = [sale(f"b{i}", "5.00") for i in range(65)]
    journals[40] = journal("bad-account", [("999", "5.00"), ("79", "-5.00")])
    results = qbo.post_journals(journals)
    batches = app.requests("POST", "/batch")
    assert [len(r.json()["BatchItemRequest"]) for r in batches] == [30, 30, 5]
    assert all(len(r.query["requestid"]) <= 36 for r in batches)
    assert not results[40].ok and results[40].reason == "erp_rejected" and "2500" in results[40].message
    assert sum(r.ok for r in results) == 64 and len(entries(app)) == 64


def test_a_requestid_replay_returns_the_stored_answer(qbo: QuickBooksOnline, app: QuickBooksApp):
    body = qbo.journal_entry(sale("replay"))
    first = qbo._create("JournalEntry", body, "req-1")
    second = qbo._create("JournalEntry", body, "req-1")
    assert first["Id"] == second["Id"] and len(entries(app)) == 1


def test_with_an_unreliable_requestid_the_lookup_still_prevents_a_duplicate(clock, serve, context, secrets):
    # Given a QuickBooks that does not honour requestid (reported in the field) and drops the answer after commit
    app = QuickBooksApp(clock, realm_id=REALM, client_id="intuit-client", client_secret="intuit-secret",
                        refresh_token="AB11-refresh", accounts=ACCOUNTS, requestid_reliable=False)
    server = serve(app)
    store_json(secrets, SECRET_ID, client_id="intuit-client", client_secret="intuit-secret",
               refresh_token="AB11-refresh")
    qbo = QuickBooksOnline(connection(server.url), context)
    # (a blind retry with the same requestid would create a second entry here)
    body = qbo.journal_entry(sale("blind"))
    qbo._create("JournalEntry", body, "same")
    qbo._create("JournalEntry", body, "same")
    assert len(entries(app)) == 2
    app.records.clear()
    # When the connector's post loses its answer
    app.inject("drop")
    entry = sale("dropped")
    result = qbo.post_journal(entry)
    # Then it looked the entry up by DocNumber instead of posting again
    assert result.created and len(entries(app)) == 1
    assert [r.method for r in app.log if r.path.endswith(("/journalentry", "/query"))][-2:] == ["POST", "GET"]


def test_a_timeout_after_commit_is_resolved_by_lookup(qbo: QuickBooksOnline, app: QuickBooksApp):
    qbo.session.http.timeout = 0.2
    app.inject("delay", delay=0.5)
    assert qbo.post_journal(sale("slow")).created and len(entries(app)) == 1


def test_an_uncertain_batch_is_resolved_item_by_item(qbo: QuickBooksOnline, app: QuickBooksApp):
    app.inject("fail_after")   # 500 after the batch committed
    results = qbo.post_journals([sale(f"u{i}") for i in range(3)])
    assert all(r.ok for r in results) and len(entries(app)) == 3


def test_a_429_means_wait_sixty_seconds_for_every_caller(qbo: QuickBooksOnline, app: QuickBooksApp, clock):
    app.minute.limit = 1   # the realm's other apps used the rest of its minute
    qbo.post_journal(sale("t0"))
    with pytest.raises(RateLimited) as raised:
        qbo.post_journal(sale("t1"))
    assert raised.value.retry_after == 60
    before = sum(clock.slept)
    qbo.post_journal(sale("t2"))
    assert sum(clock.slept) - before >= 59


def test_the_limiter_keeps_under_ten_calls_a_second(qbo: QuickBooksOnline, app: QuickBooksApp):
    for i in range(40):
        qbo.post_journal(sale(f"fast-{i}", "1.00"))
    assert app.rate_limited == 0 and app.second.max_in_any_window() <= 10 and len(entries(app)) == 40


def test_the_books_closing_date_is_the_period_status_and_is_enforced(qbo: QuickBooksOnline, app: QuickBooksApp):
    app.book_close = date(2025, 12, 31)
    assert qbo.period_status(ENTITY, date(2025, 12, 31)).open is False
    assert qbo.period_status(ENTITY, date(2026, 1, 1)).open is True
    with pytest.raises(DocumentRejected) as raised:
        qbo.post_journal(sale("closed", on=date(2025, 12, 15)))
    assert raised.value.reason == "period_closed"
    (result,) = qbo.post_journals([sale("closed-bulk", on=date(2025, 11, 1))])
    assert result.reason == "period_closed" and entries(app) == []


def test_an_expired_token_is_refreshed_and_the_call_repeated(qbo: QuickBooksOnline, app: QuickBooksApp, clock):
    qbo.post_journal(sale("a1"))
    clock.advance(3600)
    app.access_tokens.clear()
    qbo.post_journal(sale("a2"))
    assert len(entries(app)) == 2 and qbo.tokens.refreshes == 2


# ---- parties and documents ----------------------------------------------------------------------------

def test_customers_are_created_once_then_found_by_display_name(qbo, app, context):
    invoice = erp_document("invoice", "inv-1", [("79", "100.00"), ("80", "8.00")])
    qbo.post_invoice(invoice)
    QuickBooksOnline(qbo.connection, context).post_invoice(erp_document("invoice", "inv-2", [("79", "1.00")]))
    assert len(app.of("Customer")) == 1 and len(app.of("Invoice")) == 2


def test_invoice_then_payment_linked_and_found_by_external_id(qbo: QuickBooksOnline, app: QuickBooksApp):
    invoice = erp_document("invoice", "inv-p", [("79", "100.00")])
    qbo.post_invoice(invoice)
    payment = erp_document("payment", "pay-p", [], total="100.00", applies_to=invoice.external_id, account="35")
    qbo.post_payment(payment)
    (posted,) = app.of("Invoice")
    assert posted["Balance"] == 0
    assert qbo.find_by_external_id(payment.external_id).erp_ref.startswith("qbo:Payment/")


def test_bill_vendor_credit_and_bill_payment(qbo: QuickBooksOnline, app: QuickBooksApp):
    bill = erp_document("bill", "bill-1", [("7", "40.00")], party=VENDOR)
    qbo.post_bill(bill)
    qbo.post_credit(erp_document("vendor_credit", "vc-1", [("7", "5.00")], party=VENDOR))
    qbo.post_payment(erp_document("vendor_payment", "bp-1", [], total="40.00", party=VENDOR,
                                  applies_to=bill.external_id, account="35"))
    assert len(app.of("Vendor")) == 1 and app.of("Bill")[0]["Balance"] == 0 and len(app.of("VendorCredit")) == 1


def test_an_invoice_line_without_an_item_mapping_is_refused_before_any_write(qbo, app):
    with pytest.raises(DocumentRejected) as raised:
        qbo.post_invoice(erp_document("invoice", "no-item", [("33", "1.00")]))
    assert raised.value.reason == "unsupported_document" and app.of("Invoice") == []


def test_a_payment_before_its_invoice_waits(qbo: QuickBooksOnline):
    with pytest.raises(TransientError) as raised:
        qbo.post_payment(erp_document("payment", "early", [], total="1.00", applies_to="doc_missing", account="35"))
    assert raised.value.reason == "original_pending"
