"""Xero connector against a local Xero that enforces the documented behaviour and validates every request
body against Xero's official OpenAPI spec (tests/contracts/xero/xero_accounting.yaml)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from ledgerlink.config.erps import XeroConnection
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.xero import Xero
from ledgerlink.errors import DocumentRejected, RateLimited, TransientError, UncertainOutcome
from ledgerlink.service.posting import post_step

from tests.contract.builders import CUSTOMER, erp_document, journal
from tests.contract.conftest import store_json
from tests.contract.server import FakeClock, MemorySecrets, Request
from tests.contract.xero_server import XeroApp, XeroSpec

TENANT = "2b9f1b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
SECRET_ID = "ledgerlink/erp/xero-demo"
ACCOUNTS = {"090", "200", "400", "610", "820", "260"}


@pytest.fixture(scope="module")
def spec() -> XeroSpec:
    return XeroSpec()


@pytest.fixture
def app(clock: FakeClock, spec: XeroSpec) -> XeroApp:
    return XeroApp(clock, spec, tenant_id=TENANT, client_id="client-1", client_secret="s3cret",
                   refresh_token="refresh-0", accounts=ACCOUNTS)


@pytest.fixture(autouse=True)
def every_body_matches_the_spec(app: XeroApp):
    yield
    assert app.schema_errors == [], "request bodies that do not match Xero's OpenAPI spec"


def connection(url: str, **overrides) -> XeroConnection:
    return XeroConnection.model_validate({
        "id": "xero-demo", "kind": "xero", "tenant_id": TENANT, "credentials": {"secret_id": SECRET_ID},
        "base_url": f"{url}/api.xro/2.0", "token_url": f"{url}/connect/token", **overrides})


@pytest.fixture
def xero(app: XeroApp, serve, context: ConnectorContext, secrets: MemorySecrets) -> Xero:
    server = serve(app)
    store_json(secrets, SECRET_ID, client_id="client-1", client_secret="s3cret", refresh_token="refresh-0")
    connector = BUILDERS["xero"](connection(server.url), context)
    assert isinstance(connector, Xero)
    return connector


def sale(key: str, amount: str = "120.00", on: date = date(2026, 1, 15)):
    return journal(key, [("090", amount), ("200", f"-{amount}")], on=on)


# ---- journals -------------------------------------------------------------------------------------------

def test_a_journal_posts_once_as_a_posted_manual_journal_in_one_call(xero: Xero, app: XeroApp):
    # Given a balanced journal
    entry = sale("j1")
    # When it is posted
    result = xero.post_journal(entry)
    # Then Xero holds exactly one POSTED manual journal with the exact amounts and the external id in its narration
    assert result.created and result.erp_ref.startswith("xero:ManualJournal/")
    (posted,) = app.posted_journals()
    assert f"[{entry.document_id}]" in posted["Narration"]
    assert app.balances() == {"090": Decimal("120.00"), "200": Decimal("-120.00")}
    assert len(app.requests("PUT", "/ManualJournals")) == 1
    # And a second attempt through the post step finds it by external id instead of posting again
    found = xero.find_by_external_id(entry.document_id)
    assert found is not None and found.erp_ref == result.erp_ref
    assert len(app.posted_journals()) == 1


def test_the_spec_enforces_debits_equal_credits(app: XeroApp, spec: XeroSpec):
    # The server's own rule (Xero's example message in the spec): an unbalanced journal is refused per item
    errors, stored = app._journal({"Narration": "x", "Date": "2026-01-15", "JournalLines": [
        {"LineAmount": Decimal("100.00"), "AccountCode": "090"}, {"LineAmount": Decimal("-10.00"), "AccountCode": "200"}]})
    assert errors == ["The total debits (100.00) must equal total credits (-10.00)"] and stored is None
    # and a body that breaks the schema is refused by the validator
    bad = Request("PUT", "/ManualJournals", {"summarizeErrors": "false"}, {"xero-tenant-id": TENANT},
                  json.dumps({"ManualJournals": [{"JournalLines": [{"LineAmount": "1", "AccountCode": 90}]}]}).encode(), "")
    assert len(spec.errors(bad, "/ManualJournals")) == 3


def test_journal_bodies_for_many_shapes_validate_against_the_spec(xero: Xero, app: XeroApp):
    # Given journals with dimensions (tracking), many lines and odd cents
    entries = [journal("shape-1", [("090", "0.01"), ("200", "-0.01")], dimensions={"Region": "North"}),
               journal("shape-2", [("090", "1000000.10"), ("400", "-999999.99"), ("260", "-0.11")]),
               journal("shape-3", [(account, "10.00") for account in ("090", "610", "820")] + [("200", "-30.00")],
                       dimensions={"Region": "South", "Channel": "Web", "Ignored": "third"})]
    # When they are posted in bulk
    results = xero.post_journals(entries)
    # Then every body matched the spec (checked by the autouse fixture) and all posted
    assert all(item.ok for item in results)
    assert app.validated_bodies >= 1 and len(app.posted_journals()) == 3


def test_bulk_posts_fifty_per_call_with_per_item_errors(xero: Xero, app: XeroApp):
    # Given 120 journals, one of which uses an account Xero does not know
    entries = [sale(f"bulk-{i}", "10.00") for i in range(120)]
    entries[61] = journal("bulk-bad", [("999", "10.00"), ("200", "-10.00")])
    # When they are posted in bulk
    results = xero.post_journals(entries)
    # Then three PUTs carried them (50 + 50 + 20) and only the bad one was refused, with Xero's message
    assert len(app.requests("PUT", "/ManualJournals")) == 3
    assert [r.external_id for r in results] == [e.document_id for e in entries]
    bad = results[61]
    assert not bad.ok and bad.reason == "erp_rejected" and "999" in (bad.message or "")
    assert sum(r.ok for r in results) == 119 and len(app.posted_journals()) == 119


def test_a_dropped_connection_after_commit_is_resolved_by_lookup_not_a_second_post(xero: Xero, app: XeroApp):
    # Given Xero commits the journal and then the connection drops before the answer
    app.inject("drop")
    entry = sale("dropped")
    # When the connector posts
    result = xero.post_journal(entry)
    # Then it looked the journal up (outcome uncertain) and found it: one journal, reported as created
    assert result.created
    assert len(app.posted_journals()) == 1
    methods = [(r.method, r.path.rsplit("/", 1)[-1]) for r in app.log if "ManualJournals" in r.path]
    assert methods == [("PUT", "ManualJournals"), ("GET", "ManualJournals")]


def test_a_timeout_after_commit_is_resolved_by_lookup(xero: Xero, app: XeroApp):
    xero.session.http.timeout = 0.2
    app.inject("delay", delay=0.5)
    result = xero.post_journal(sale("slow"))
    assert result.created and len(app.posted_journals()) == 1


def test_a_5xx_before_commit_is_looked_up_then_retried_once_by_the_post_step(xero: Xero, app: XeroApp):
    # Given Xero answers 503 without committing
    app.inject("fail_before")
    entry = sale("retry-me")
    # When the connector posts, the outcome is uncertain and the lookup finds nothing: it raises for a retry
    with pytest.raises(UncertainOutcome):
        xero.post_journal(entry)
    assert app.posted_journals() == []
    # When the state machine retries the post step, it looks up first, then posts once
    state = {"config_version": 1, "journal": entry.model_dump(mode="json")}
    posted = post_step(state, _config_store(), lambda config, connection_id, version: xero)
    assert posted["posting"]["created"] is True and len(app.posted_journals()) == 1
    kinds = [r.method for r in app.log if "ManualJournals" in r.path]
    assert kinds == ["PUT", "GET", "GET", "PUT"]   # never two PUTs without a lookup in between


def test_an_idempotency_key_replay_returns_the_first_answer(xero: Xero, app: XeroApp):
    # Given a journal posted once
    entry = sale("replayed")
    first = xero.post_journal(entry)
    # When the very same request is sent again (a retry that skipped the lookup)
    second = xero._post_chunk([entry])[0]
    # Then Xero replays the stored answer: same journal id, nothing new
    assert second.result is not None and second.result.erp_ref == first.erp_ref
    assert len(app.posted_journals()) == 1


def test_the_limiter_keeps_a_connection_under_sixty_calls_a_minute(xero: Xero, app: XeroApp, clock: FakeClock):
    # Given 130 journals posted one call each (no bulk) as fast as the connector may
    for i in range(130):
        xero.post_journal(sale(f"rate-{i}", "1.00"))
    # Then Xero never had to refuse a call, and no 60-second window saw more than 60 calls
    assert app.rate_limited == 0
    assert app.minute.max_in_any_window() <= 60
    assert len(app.posted_journals()) == 130
    assert sum(clock.slept) > 60   # the limiter waited (on the fake clock) instead of exceeding


def test_a_429_from_xero_is_honoured_with_its_retry_after(app: XeroApp, serve, secrets, clock: FakeClock,
                                                          limiters):
    # Given the app's other tenants used up most of the app-wide minute (10,000 calls across all tenants,
    # which this connection's limiter cannot see): Xero allows only 4 more calls
    app.app_minute.limit = 4
    server = serve(app)
    store_json(secrets, SECRET_ID, client_id="client-1", client_secret="s3cret", refresh_token="refresh-0")
    xero = Xero(connection(server.url), ConnectorContext(secrets=secrets, limiters=limiters, clock_ms=clock.ms,
                                                         sleeper=clock.sleep))
    for i in range(3):
        xero.post_journal(sale(f"r{i}"))
    # When the fourth call meets Xero's 429
    with pytest.raises(RateLimited) as raised:
        xero.post_journal(sale("r3"))
    assert raised.value.retry_after >= 1
    assert app.log[-1].path.endswith("/ManualJournals")
    # Then the connection's limiter holds every caller until Retry-After has passed
    waited_before = sum(clock.slept)
    xero.post_journal(sale("r4"))
    assert sum(clock.slept) - waited_before >= raised.value.retry_after
    assert app.requests()[-1].header("authorization", "").startswith("Bearer ")


def test_limit_headers_stop_the_limiter_before_xero_has_to(app: XeroApp, xero: Xero, clock: FakeClock):
    # Given Xero says the minute allowance is used up (X-MinLimit-Remaining: 0 on the answer)
    # (the tenant's other integrations leave this connection 2 calls a minute)
    app.minute.limit = 2
    # When three journals are posted (plus the organisation lookup: four calls)
    for key in ("h0", "h1", "h2"):
        xero.post_journal(sale(key))
    # Then the limiter waited for the next minute each time Xero reported 0 left, and Xero never said 429
    assert app.rate_limited == 0 and len(app.posted_journals()) == 3
    assert sum(clock.slept) >= 59


def test_refresh_tokens_rotate_and_are_written_back(xero: Xero, app: XeroApp, secrets: MemorySecrets,
                                                    clock: FakeClock):
    # Given a first call (needs an access token)
    xero.post_journal(sale("t1"))
    # Then the rotated refresh token was stored in Secrets Manager at once
    assert len(secrets.writes) == 1
    rotated = json.loads(secrets.values[SECRET_ID])["refresh_token"]
    assert rotated != "refresh-0" and rotated in app.refresh_tokens
    # When the access token expires (30 minutes) the next call refreshes with the rotated token
    clock.advance(1800)
    xero.post_journal(sale("t2"))
    assert len(secrets.writes) == 2 and xero.tokens.refreshes == 2


def test_a_refresh_token_rotated_by_another_lambda_is_reread(app: XeroApp, serve, secrets, clock, limiters):
    server = serve(app)
    store_json(secrets, SECRET_ID, client_id="client-1", client_secret="s3cret", refresh_token="refresh-0")

    class CachedSecrets:
        """Secrets Manager behind a cache that still holds the old value unless asked for a fresh read."""

        def __init__(self) -> None:
            self.stale = secrets.values[SECRET_ID]
            self.fresh_reads = 0

        def get_raw(self, secret_id: str, *, fresh: bool = False) -> str:
            self.fresh_reads += fresh
            return secrets.values[secret_id] if fresh else self.stale

        def put_raw(self, secret_id: str, text: str) -> None:
            secrets.put_raw(secret_id, text)

    cached = CachedSecrets()
    one = Xero(connection(server.url), ConnectorContext(secrets=secrets, limiters=limiters, clock_ms=clock.ms,
                                                        sleeper=clock.sleep))
    one.post_journal(sale("lambda-1"))          # Lambda 1 rotates refresh-0 → refresh-1
    clock.advance(3600)                         # past Xero's 30-minute grace for refresh-0
    two = Xero(connection(server.url), ConnectorContext(secrets=cached, limiters=limiters, clock_ms=clock.ms,
                                                        sleeper=clock.sleep))
    two.post_journal(sale("lambda-2"))          # Lambda 2 tries refresh-0 (cached), is refused, re-reads
    assert cached.fresh_reads == 1 and len(app.posted_journals()) == 2


def test_an_expired_access_token_is_refreshed_once_and_the_call_repeated(xero: Xero, app: XeroApp):
    xero.post_journal(sale("a1"))
    app.access_tokens.clear()                   # Xero revoked/expired every token early
    xero.post_journal(sale("a2"))
    assert len(app.posted_journals()) == 2 and xero.tokens.refreshes == 2


def test_lock_dates_are_the_period_status_and_a_locked_date_is_refused(xero: Xero, app: XeroApp):
    from ledgerlink.config.model import Entity

    app.period_lock = date(2025, 12, 31)
    app.end_of_year_lock = date(2025, 6, 30)
    entity = Entity(id="us01", name="US", base_currency="USD", time_zone="UTC", erp_connection="xero-demo")
    status = xero.period_status(entity, date(2025, 12, 31))
    assert (status.open, status.closed_through, status.source) == (False, date(2025, 12, 31), "erp")
    assert xero.period_status(entity, date(2026, 1, 1)).open
    with pytest.raises(DocumentRejected) as raised:
        xero.post_journal(sale("locked", on=date(2025, 12, 20)))
    assert raised.value.reason == "period_closed" and app.journals == []


def test_a_journal_in_another_currency_than_the_base_is_refused_before_any_write(xero: Xero, app: XeroApp):
    eur = journal("eur", [("090", "10.00"), ("200", "-10.00")], currency="EUR")
    with pytest.raises(DocumentRejected) as raised:
        xero.post_journal(eur)
    assert raised.value.reason == "currency_not_supported" and app.requests("PUT") == []


# ---- parties and documents ----------------------------------------------------------------------------

def test_a_party_is_created_once_and_found_by_contact_number(xero: Xero, app: XeroApp, serve, context):
    first = xero.ensure_party(CUSTOMER)
    again = xero.ensure_party(CUSTOMER)
    assert first == again and len(app.contacts) == 1
    # a new container (no cache) finds the contact instead of creating a second one
    other = Xero(xero.connection, context)
    assert other.ensure_party(CUSTOMER) == first and len(app.contacts) == 1


def test_invoice_credit_and_payment_post_natively_linked_to_each_other(xero: Xero, app: XeroApp):
    # Given an invoice (contact created first: master data first)
    invoice = erp_document("invoice", "inv-1", [("200", "100.00"), ("260", "19.00")])
    assert xero.post_invoice(invoice).created
    (posted,) = app.invoices
    assert posted["Type"] == "ACCREC" and posted["Total"] == Decimal("119.00")
    assert posted["Contact"]["ContactID"] == app.contacts[0]["ContactID"]
    # When a credit note for part of it and a payment of the rest arrive
    credit = erp_document("credit_note", "cn-1", [("200", "19.00")], applies_to=invoice.external_id)
    xero.post_credit(credit)
    payment = erp_document("payment", "pay-1", [], total="100.00", applies_to=invoice.external_id, account="090")
    xero.post_payment(payment)
    # Then the credit is allocated to the invoice and the payment settles the rest
    assert app.credit_notes[0]["RemainingCredit"] == 0
    assert app.invoices[0]["AmountDue"] == 0 and len(app.payments) == 1
    # And each is found by its external id (a retry would not post it again)
    for external_id in (invoice.external_id, credit.external_id, payment.external_id):
        assert xero.find_by_external_id(external_id) is not None


def test_a_payment_before_its_invoice_waits_for_it(xero: Xero, app: XeroApp):
    payment = erp_document("payment", "early", [], total="10.00", applies_to="doc_not_there_yet", account="090")
    with pytest.raises(TransientError) as raised:
        xero.post_payment(payment)
    assert raised.value.reason == "original_pending" and app.payments == []


def test_a_dropped_invoice_post_is_found_not_duplicated(xero: Xero, app: XeroApp):
    invoice = erp_document("invoice", "inv-drop", [("200", "50.00")])
    xero.ensure_party(CUSTOMER)
    app.inject("drop")
    assert xero.post_invoice(invoice).created
    assert len(app.invoices) == 1


def _config_store():
    from ledgerlink.config.model import LedgerLinkConfig

    config = LedgerLinkConfig.model_validate({
        "entities": [{"id": "us01", "name": "US", "base_currency": "USD", "time_zone": "UTC",
                      "erp_connection": "xero-demo"}],
        "erp_connections": [{"id": "xero-demo", "kind": "xero", "tenant_id": TENANT,
                             "credentials": {"secret_id": SECRET_ID}}],
        "sources": [{"id": "stripe", "kind": "stripe", "signing_secret": {"secret_id": "s"}, "default_entity": "us01"}],
    })

    class Store:
        def get(self, version: int) -> LedgerLinkConfig:
            return config

    return Store()
