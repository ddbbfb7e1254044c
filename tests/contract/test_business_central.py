"""Business Central connector against a local Business Central API v2.0 that enforces the documented behaviour."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledgerlink.config.erps import BusinessCentralConnection
from ledgerlink.config.model import Entity
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.business_central import BusinessCentral
from ledgerlink.connectors.erps.common import short_ref
from ledgerlink.errors import DocumentRejected, RateLimited

from tests.contract.builders import CUSTOMER, VENDOR, erp_document, journal
from tests.contract.business_central_server import BusinessCentralApp
from tests.contract.conftest import store_json
from tests.contract.server import FakeClock

TENANT = "contoso.onmicrosoft.com"
COMPANY = "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1"
JOURNAL = "dd1b6a90-44e3-ea11-bb43-000d3a2feca1"
SECRET_ID = "ledgerlink/erp/bc"
ACCOUNTS = {"10400", "40100", "20600", "61100", "2910"}
ENTITY = Entity(id="us01", name="US", base_currency="USD", time_zone="UTC", erp_connection="bc")


DIMENSIONS = {"DEPARTMENT": {"SALES", "ADM"}, "PROJECT": {"P-100"}}   # the company's dimensions and value codes
DIMENSION_CODES = {"department": "DEPARTMENT", "project": "PROJECT"}


@pytest.fixture
def app(clock: FakeClock) -> BusinessCentralApp:
    return BusinessCentralApp(clock, tenant=TENANT, environment="production", company_id=COMPANY, journal_id=JOURNAL,
                              client_id="entra-app", client_secret="entra-secret", accounts=ACCOUNTS,
                              dimensions=DIMENSIONS)


def connection(url: str, **overrides) -> BusinessCentralConnection:
    return BusinessCentralConnection.model_validate({
        "id": "bc", "kind": "business_central", "tenant_id": TENANT, "company_id": COMPANY, "journal_id": JOURNAL,
        "credentials": {"secret_id": SECRET_ID}, "base_url": f"{url}/v2.0/{TENANT}/production/api/v2.0",
        "token_url": f"{url}/{TENANT}/oauth2/v2.0/token", **overrides})


@pytest.fixture
def connect(app: BusinessCentralApp, serve, context: ConnectorContext, secrets):
    server = serve(app)
    store_json(secrets, SECRET_ID, client_id="entra-app", client_secret="entra-secret")

    def build(**overrides) -> BusinessCentral:
        connector = BUILDERS["business_central"](connection(server.url, **overrides), context)
        assert isinstance(connector, BusinessCentral)
        return connector
    return build


@pytest.fixture
def bc(connect) -> BusinessCentral:
    return connect()


def sale(key: str, amount: str = "1500.00", on: date = date(2026, 1, 15)):
    return journal(key, [("10400", amount), ("40100", f"-{amount}")], on=on)


def test_a_journal_is_lines_plus_post_in_one_transactional_batch(bc: BusinessCentral, app: BusinessCentralApp):
    entry = sale("j1")
    result = bc.post_journal(entry)
    (batch,) = app.requests("POST", "$batch")
    assert batch.header("isolation") == "snapshot"
    operations = batch.json()["requests"]
    assert [op["url"].rsplit("/", 1)[-1] for op in operations] == ["journalLines", "journalLines", "Microsoft.NAV.post"]
    references = {op["body"]["externalDocumentNumber"] for op in operations[:2]}
    assert len(references) == 1 and len(references.pop()) == 20
    assert {(e["accountNumber"], e["amount"]) for e in app.gl_entries} == {("10400", Decimal("1500.00")),
                                                                          ("40100", Decimal("-1500.00"))}
    assert app.state["journal_lines"] == []   # nothing left unposted in the journal batch
    assert bc.find_by_external_id(entry.document_id).erp_ref == result.erp_ref


def test_many_journals_share_batches_of_at_most_100_operations(bc: BusinessCentral, app: BusinessCentralApp):
    entries = [sale(f"m{i}", "10.00") for i in range(120)]   # 240 lines + post actions
    results = bc.post_journals(entries)
    assert all(r.ok for r in results) and len(app.gl_entries) == 240
    assert all(b["operations"] <= 100 and b["transactional"] for b in app.batches)
    assert len(app.batches) == 3   # 49 journals (98 lines + post) per batch


def test_one_bad_document_rolls_its_batch_back_and_the_others_post_in_the_next(bc: BusinessCentral, app):
    entries = [sale(f"ok{i}", "10.00") for i in range(5)]
    entries.insert(2, journal("bad", [("99999", "10.00"), ("40100", "-10.00")]))
    results = bc.post_journals(entries)
    bad = results[2]
    assert not bad.ok and bad.reason == "erp_rejected" and "99999" in bad.message
    assert sum(r.ok for r in results) == 5 and len(app.gl_entries) == 10
    assert [b["operations"] for b in app.batches] == [13, 11]   # all six, rolled back; then the five good ones


def test_a_dropped_answer_after_commit_is_resolved_by_lookup(bc: BusinessCentral, app: BusinessCentralApp):
    app.inject("drop")
    assert bc.post_journal(sale("dropped")).created
    assert len(app.gl_entries) == 2 and len(app.batches) == 1


def test_a_timeout_after_commit_is_resolved_by_lookup(bc: BusinessCentral, app: BusinessCentralApp):
    bc.session.http.timeout = 0.2
    app.inject("delay", delay=0.5)
    assert bc.post_journal(sale("slow")).created and len(app.gl_entries) == 2


def test_allowed_posting_dates_are_the_period_status_and_are_enforced(bc: BusinessCentral, app):
    app.setup = {"allowPostingFrom": "2026-01-01", "allowPostingTo": "2026-12-31"}
    status = bc.period_status(ENTITY, date(2025, 12, 31))
    assert (status.open, status.closed_through) == (False, date(2025, 12, 31))
    assert bc.period_status(ENTITY, date(2026, 3, 1)).open
    with pytest.raises(DocumentRejected) as raised:
        bc.post_journal(sale("old", on=date(2025, 12, 20)))
    assert raised.value.reason == "period_closed" and app.gl_entries == []


def test_a_journal_too_large_for_one_transactional_batch_is_refused(bc: BusinessCentral, app):
    lines = [("10400", "1.00")] * 100 + [("40100", "-100.00")]
    with pytest.raises(DocumentRejected) as raised:
        bc.post_journal(journal("huge", lines))
    assert raised.value.reason == "journal_too_large" and app.batches == []


def _dimensioned(key: str, dimensions: dict[str, str], amount: str = "250.00"):
    return journal(key, [("61100", amount), ("10400", f"-{amount}")], dimensions=dimensions)


def test_mapped_dimensions_are_posted_as_each_lines_dimension_set(connect, app: BusinessCentralApp):
    bc = connect(dimension_codes=DIMENSION_CODES)
    entry = _dimensioned("dims", {"department": "SALES", "project": "P-100", "cost_center": "CC-9"})
    bc.post_journal(entry)
    (batch,) = app.requests("POST", "$batch")
    operations = batch.json()["requests"]
    assert [op["url"].rsplit("/", 1)[-1] for op in operations] == [
        "journalLines", "dimensionSetLines", "dimensionSetLines",
        "journalLines", "dimensionSetLines", "dimensionSetLines", "Microsoft.NAV.post"]
    # each dimension set line names the line created just before it, by the id LedgerLink gave that line
    assert operations[1]["url"].endswith(f"journalLines({operations[0]['body']['id']})/dimensionSetLines")
    line_ids = [op["body"]["id"] for op in operations if op["url"].endswith("/journalLines")]
    assert len(set(line_ids)) == 2 and line_ids == [line["id"] for line in bc.journal_lines(entry)]  # deterministic
    # cost_center has no Business Central code on this connection: not sent
    assert [e["dimensions"] for e in app.gl_entries] == [{"DEPARTMENT": "SALES", "PROJECT": "P-100"}] * 2


def test_without_a_mapping_no_dimension_is_sent(bc: BusinessCentral, app: BusinessCentralApp):
    bc.post_journal(_dimensioned("plain", {"department": "SALES"}))
    (batch,) = app.requests("POST", "$batch")
    assert len(batch.json()["requests"]) == 3 and all(e["dimensions"] == {} for e in app.gl_entries)


def test_a_dimension_value_the_company_lacks_rolls_back_only_its_document(connect, app: BusinessCentralApp):
    bc = connect(dimension_codes=DIMENSION_CODES)
    entries = [_dimensioned("d-ok1", {"department": "ADM"}), _dimensioned("d-bad", {"department": "MARKETING"}),
               _dimensioned("d-ok2", {"project": "P-100"})]
    results = bc.post_journals(entries)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].reason == "dimension_invalid" and "MARKETING" in results[1].message
    assert sorted(e["dimensions"].get("DEPARTMENT", e["dimensions"].get("PROJECT")) for e in app.gl_entries) == [
        "ADM", "ADM", "P-100", "P-100"]
    assert app.state["journal_lines"] == []   # the rolled-back batch left no line behind


def test_a_dimension_value_too_long_for_business_central_is_refused_before_any_request(connect, app):
    bc = connect(dimension_codes=DIMENSION_CODES)
    with pytest.raises(DocumentRejected) as raised:
        bc.post_journal(_dimensioned("long", {"department": "A-DEPARTMENT-NAME-OF-30-CHARS"}))
    assert raised.value.reason == "dimension_invalid" and app.batches == []


def test_dimension_operations_count_towards_the_batch_limit(connect, app: BusinessCentralApp):
    bc = connect(dimension_codes=DIMENSION_CODES)
    both = {"department": "SALES", "project": "P-100"}
    with pytest.raises(DocumentRejected) as raised:   # 34 lines, each with two dimension set lines: 102 operations
        bc.post_journal(journal("wide", [("61100", "1.00")] * 33 + [("10400", "-33.00")], dimensions=both))
    assert raised.value.reason == "journal_too_large" and app.batches == []
    results = bc.post_journals([_dimensioned(f"w{i}", both, "5.00") for i in range(20)])   # 6 operations each
    assert all(r.ok for r in results) and len(app.gl_entries) == 40
    assert [b["operations"] for b in app.batches] == [97, 25]   # 16 journals + post, then 4 + post


def test_dimension_codes_are_business_central_codes():
    with pytest.raises(ValueError, match="dimension_codes"):
        connection("https://bc.example", dimension_codes={"department": "department code"})


def test_429_is_honoured_with_retry_after(bc: BusinessCentral, app: BusinessCentralApp, clock: FakeClock):
    app.window.limit = 1
    bc.post_journal(sale("first"))
    with pytest.raises(RateLimited) as raised:
        bc.post_journal(sale("second"))
    assert raised.value.retry_after >= 1
    clock.advance(300)
    bc.post_journal(sale("third"))
    assert len(app.gl_entries) == 4


def test_client_credentials_tokens_are_fetched_and_renewed(bc: BusinessCentral, app, clock: FakeClock):
    bc.post_journal(sale("t1"))
    clock.advance(3600)
    bc.post_journal(sale("t2"))
    assert bc.tokens.refreshes == 2 and len(app.gl_entries) == 4


def test_invoices_and_bills_are_created_then_posted_for_parties_created_first(bc: BusinessCentral, app):
    invoice = erp_document("invoice", "inv-1", [("40100", "100.00")])
    bc.post_invoice(invoice)
    bill = erp_document("bill", "bill-1", [("61100", "30.00")], party=VENDOR)
    bc.post_bill(bill)
    bc.post_credit(erp_document("credit_note", "cn-1", [("40100", "10.00")], applies_to=invoice.external_id))
    (posted,) = app.documents("salesInvoices")
    assert posted["status"] == "Open" and len(app.state["customers"]) == 1 and len(app.state["vendors"]) == 1
    assert app.documents("purchaseInvoices")[0]["status"] == "Open"
    assert bc.find_by_external_id(invoice.external_id).erp_ref.startswith("bc:salesInvoices/")


def test_a_draft_left_by_a_crashed_attempt_is_posted_not_created_again(bc: BusinessCentral, app):
    # Given an earlier attempt created the invoice (a draft) and the Lambda died before the post action
    invoice = erp_document("invoice", "inv-crash", [("40100", "100.00")])
    app._document(app.state, "salesInvoices", {
        "customerNumber": bc.ensure_party(CUSTOMER), "postingDate": "2026-01-15", "currencyCode": "USD",
        "externalDocumentNumber": short_ref(invoice.external_id, 20),
        "salesInvoiceLines": [{"lineType": "Account", "lineObjectNumber": "40100", "quantity": 1,
                               "unitPrice": Decimal("100.00")}]})
    assert bc.find_by_external_id(invoice.external_id) is None     # a draft is not a posting
    # When the retry posts the invoice
    bc.post_invoice(invoice)
    # Then the draft was posted, not a second invoice created
    (posted,) = app.documents("salesInvoices")
    assert posted["status"] == "Open"


def test_a_customer_payment_posts_on_the_customer_account(bc: BusinessCentral, app: BusinessCentralApp):
    payment = erp_document("payment", "pay-1", [], total="100.00", account="2910")
    bc.post_payment(payment)
    (ledger,) = app.state["customer_ledger"]
    assert ledger["amount"] == Decimal("-100.00")
    assert bc.find_by_external_id(payment.external_id) is not None
