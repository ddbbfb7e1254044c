"""Reconciliation reads back every API ERP (issue 19): each connector lists an entity-day from its local contract
server the way that ERP pages and filters, and the Reconciler compares it with the ledger per document.

For every ERP: a clean day; a journal deleted (voided / reversed) in the ERP; one edited (amount and account); one
posted by hand twice; a document made by hand in an account LedgerLink owns; paging across several pages; a 429 in
the middle of a listing; the read-back's share of the daily API budget. Expected differences are worked out here
from what the test changed, not from the code under test."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config.erps import ConnectionLimitsConfig
from ledgerlink.connectors.erps import BUILDERS
from ledgerlink.connectors.erps.common import short_ref
from ledgerlink.connectors.erps.readback import BudgetShareReached, ReadbackBudget

from tests.contract import readback as rb
from tests.contract.builders import journal
from tests.contract.business_central_server import BusinessCentralApp
from tests.contract.conftest import store_json
from tests.contract.netsuite_server import NetSuiteApp
from tests.contract.quickbooks_server import QuickBooksApp
from tests.contract.server import FakeClock
from tests.contract.xero_server import XeroApp, XeroSpec

DAY = date(2026, 1, 15)
D = Decimal


@dataclass
class Erp:
    """One ERP under test: its app, connection, two owned accounts plus a third, and how a person changes it."""

    name: str
    kind: str
    accounts: tuple[str, str, str]      # debit account, credit account, another owned account

    def app(self, clock: FakeClock) -> Any:
        raise NotImplementedError

    def connection(self, url: str) -> dict[str, Any]:
        raise NotImplementedError

    def credentials(self, secrets: Any) -> None:
        raise NotImplementedError

    # what a person does in the ERP
    def delete(self, app: Any, erp_ref: str) -> None:
        raise NotImplementedError

    def edit(self, app: Any, erp_ref: str, amount: Decimal, account: str) -> None:
        """Debit line → ``amount``; credit line → ``-amount`` on ``account``."""
        raise NotImplementedError

    def post_twice_by_hand(self, app: Any, erp_ref: str) -> None:
        raise NotImplementedError

    def hand_made(self, app: Any, debit: str, credit: str, amount: Decimal) -> None:
        raise NotImplementedError


class XeroErp(Erp):
    spec = None

    def app(self, clock):
        XeroErp.spec = XeroErp.spec or XeroSpec()
        return XeroApp(clock, XeroErp.spec, tenant_id="2b9f1b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b", client_id="c",
                       client_secret="s", refresh_token="r0", accounts=set(self.accounts) | {"610"})

    def connection(self, url):
        return {"id": "xero-us", "kind": "xero", "tenant_id": "2b9f1b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                "credentials": {"secret_id": "xero"}, "base_url": f"{url}/api.xro/2.0",
                "token_url": f"{url}/connect/token"}

    def credentials(self, secrets):
        store_json(secrets, "xero", client_id="c", client_secret="s", refresh_token="r0")

    def _journal(self, app, erp_ref):
        return next(j for j in app.journals if j["ManualJournalID"] == erp_ref.rsplit("/", 1)[-1])

    def delete(self, app, erp_ref):
        self._journal(app, erp_ref)["Status"] = "VOIDED"      # a posted manual journal is voided in Xero

    def edit(self, app, erp_ref, amount, account):
        lines = self._journal(app, erp_ref)["JournalLines"]
        lines[0]["LineAmount"] = amount
        lines[1].update(LineAmount=-amount, AccountCode=account)

    def post_twice_by_hand(self, app, erp_ref):
        app.journals.append({**copy.deepcopy(self._journal(app, erp_ref)), "ManualJournalID": str(uuid.uuid4())})

    def hand_made(self, app, debit, credit, amount):
        app.journals.append({"ManualJournalID": str(uuid.uuid4()), "Narration": "accrual entered by hand",
                             "Date": DAY.isoformat(), "Status": "POSTED",
                             "JournalLines": [{"AccountCode": debit, "LineAmount": amount},
                                              {"AccountCode": credit, "LineAmount": -amount}]})


class QuickBooksErp(Erp):
    def app(self, clock):
        return QuickBooksApp(clock, realm_id="9130357012345678", client_id="i", client_secret="s",
                             refresh_token="r", accounts=set(self.accounts) | {"7"})

    def connection(self, url):
        return {"id": "qbo-us", "kind": "quickbooks_online", "realm_id": "9130357012345678",
                "credentials": {"secret_id": "qbo"}, "base_url": url, "token_url": f"{url}/oauth2/v1/tokens/bearer"}

    def credentials(self, secrets):
        store_json(secrets, "qbo", client_id="i", client_secret="s", refresh_token="r")

    def _entry(self, app, erp_ref):
        return next(r for r in app.of("JournalEntry") if r["Id"] == erp_ref.rsplit("/", 1)[-1])

    def delete(self, app, erp_ref):
        app.of("JournalEntry").remove(self._entry(app, erp_ref))   # a deleted entity is no longer queried

    def edit(self, app, erp_ref, amount, account):
        lines = self._entry(app, erp_ref)["Line"]
        lines[0]["Amount"] = amount
        lines[1]["Amount"] = amount
        lines[1]["JournalEntryLineDetail"]["AccountRef"]["value"] = account

    def post_twice_by_hand(self, app, erp_ref):
        app._ids += 1
        app.of("JournalEntry").append({**copy.deepcopy(self._entry(app, erp_ref)), "Id": str(app._ids)})

    def hand_made(self, app, debit, credit, amount):
        app._ids += 1
        app.of("JournalEntry").append({"Id": str(app._ids), "TxnDate": DAY.isoformat(), "DocNumber": "ACC-1", "Line": [
            {"Amount": amount, "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": debit}}},
            {"Amount": amount, "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": credit}}}]})


class NetSuiteErp(Erp):
    consumer = ("ck-0123456789abcdef", "cs-secret-value")
    token = ("tk-abcdef0123456789", "ts-secret-value")

    def app(self, clock):
        return NetSuiteApp(clock, account="1234567_SB1", consumer=self.consumer, token=self.token,
                           accounts=set(self.accounts) | {"310"}, concurrency=50)

    def connection(self, url):
        return {"id": "netsuite-us", "kind": "netsuite", "account_id": "1234567_SB1",
                "credentials": {"secret_id": "ns"}, "base_url": f"{url}/services/rest", "currency_ids": {"USD": "1"}}

    def credentials(self, secrets):
        store_json(secrets, "ns", consumer_key=self.consumer[0], consumer_secret=self.consumer[1],
                   token_id=self.token[0], token_secret=self.token[1])

    def _record(self, app, erp_ref):
        return app.records["journalentry"][erp_ref.rsplit("/", 1)[-1]]

    def delete(self, app, erp_ref):
        del app.records["journalentry"][erp_ref.rsplit("/", 1)[-1]]

    def edit(self, app, erp_ref, amount, account):
        items = self._record(app, erp_ref)["line"]["items"]
        items[0]["debit"] = amount
        items[1].update(credit=amount, account={"id": account})

    def post_twice_by_hand(self, app, erp_ref):
        # "Make Copy": a new record with the same memo (which names the document); external ids stay unique
        app._ids += 1
        copied = {**copy.deepcopy(self._record(app, erp_ref)), "id": str(app._ids), "externalId": None}
        app.records["journalentry"][str(app._ids)] = copied

    def hand_made(self, app, debit, credit, amount):
        app._ids += 1
        app.records["journalentry"][str(app._ids)] = {
            "id": str(app._ids), "externalId": None, "tranDate": DAY.isoformat(), "memo": "accrual by hand",
            "line": {"items": [{"account": {"id": debit}, "debit": amount},
                               {"account": {"id": credit}, "credit": amount}]}}


class BusinessCentralErp(Erp):
    def app(self, clock):
        return BusinessCentralApp(clock, tenant="contoso.onmicrosoft.com", environment="production",
                                  company_id="a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1",
                                  journal_id="dd1b6a90-44e3-ea11-bb43-000d3a2feca1", client_id="e",
                                  client_secret="s", accounts=set(self.accounts) | {"2910"})

    def connection(self, url):
        tenant = "contoso.onmicrosoft.com"
        return {"id": "bc-us", "kind": "business_central", "tenant_id": tenant,
                "company_id": "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1", "journal_id": "dd1b6a90-44e3-ea11-bb43-000d3a2feca1",
                "credentials": {"secret_id": "bc"}, "base_url": f"{url}/v2.0/{tenant}/production/api/v2.0",
                "token_url": f"{url}/{tenant}/oauth2/v2.0/token"}

    def credentials(self, secrets):
        store_json(secrets, "bc", client_id="e", client_secret="s")

    def _entries(self, app, erp_ref):
        return [e for e in app.gl_entries if e["documentNumber"] == erp_ref.removeprefix("bc:")]

    def _entry(self, account, amount, number):
        return {"id": str(uuid.uuid4()), "entryNumber": 0, "postingDate": DAY.isoformat(), "documentNumber": number,
                "documentType": " ", "accountNumber": account, "amount": amount,
                "debitAmount": max(amount, D(0)), "creditAmount": max(-amount, D(0))}

    def delete(self, app, erp_ref):
        # posted G/L entries cannot be deleted in Business Central: the transaction is reversed (same document number)
        for entry in self._entries(app, erp_ref):
            app.gl_entries.append(self._entry(entry["accountNumber"], -entry["amount"], entry["documentNumber"]))

    def edit(self, app, erp_ref, amount, account):
        debit, credit = self._entries(app, erp_ref)
        debit.update(amount=amount, debitAmount=amount)
        credit.update(amount=-amount, creditAmount=amount, accountNumber=account)

    def post_twice_by_hand(self, app, erp_ref):
        app.gl_entries.extend({**copy.deepcopy(e), "id": str(uuid.uuid4())} for e in self._entries(app, erp_ref))

    def hand_made(self, app, debit, credit, amount):
        app.gl_entries.extend([self._entry(debit, amount, "G00042"), self._entry(credit, -amount, "G00042")])


ERPS = [XeroErp("xero", "xero", ("090", "200", "400")),
        QuickBooksErp("quickbooks", "quickbooks_online", ("35", "79", "80")),
        NetSuiteErp("netsuite", "netsuite", ("58", "4", "112")),
        BusinessCentralErp("business_central", "business_central", ("10400", "40100", "20600"))]


@pytest.fixture(params=ERPS, ids=[erp.name for erp in ERPS])
def erp(request) -> Erp:
    return request.param


@pytest.fixture
def world(erp: Erp, clock: FakeClock, serve, context, secrets):
    """(erp, app, connector builder, config)."""
    app = erp.app(clock)
    server = serve(app)
    if isinstance(app, BusinessCentralApp):
        app.base_url = server.url
    erp.credentials(secrets)
    connection = erp.connection(server.url)
    debit, credit, other = erp.accounts
    config = rb.config_for(connection, {"receivable": debit, "revenue": credit, "fees.processing": other})

    def connector(**overrides):
        return BUILDERS[erp.kind](config.connection(connection["id"]).model_copy(update=overrides), context)

    return app, connector, config


def sale(erp: Erp, key: str, amount: str = "120.00"):
    debit, credit, _ = erp.accounts
    return journal(key, [(debit, amount), (credit, f"-{amount}")], on=DAY)


def post(erp: Erp, connector, keys: list[str]) -> list[dict[str, Any]]:
    items = []
    for key in keys:
        entry = sale(erp, key)
        result = connector.post_journal(entry)
        items.append(rb.posted_item(entry, result.erp_ref, connector.connection_id))
    return items


def test_a_clean_day_balances_and_reads_each_listing_once(erp, world, limiters):
    app, build, config = world
    connector = build()
    items = post(erp, connector, ["a", "b", "c"])
    before, granted = len(app.log), limiters.built[connector.connection_id].granted
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    assert report.differences == []
    assert report.erp["checked"] is True
    (check,) = report.erp["connections"]
    assert (check["ledger_posted"], check["erp_posted"], check["erp_calls"]) == (3, 3, 1)
    assert len(app.log) - before == 1      # one page, not one call per document
    # through the connection's shared limiter, the one posting uses
    assert limiters.built[connector.connection_id].granted - granted == 1


def test_a_journal_deleted_in_the_erp_is_missing(erp, world):
    app, build, config = world
    connector = build()
    items = post(erp, connector, ["a", "b"])
    erp.delete(app, items[1]["erp_ref"])
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    assert [(d.kind, d.detail["document_id"]) for d in report.differences] == [
        ("missing_in_erp", items[1]["document_id"])]
    assert report.differences[0].detail["connection"] == connector.connection_id


def test_an_edited_amount_and_account_is_changed_with_the_difference(erp, world):
    app, build, config = world
    connector = build()
    items = post(erp, connector, ["a"])
    debit, credit, other = erp.accounts
    erp.edit(app, items[0]["erp_ref"], D("130.00"), other)
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    (difference,) = report.differences
    assert difference.kind == "changed_in_erp"
    # posted: debit +120, credit -120; held: debit +130, other -130
    assert {a: D(v) for a, v in difference.detail["difference"].items()} == {
        debit: D("10.00"), credit: D("120.00"), other: D("-130.00")}


def test_a_journal_posted_twice_by_hand_is_a_duplicate(erp, world):
    app, build, config = world
    connector = build()
    items = post(erp, connector, ["a", "b"])
    erp.post_twice_by_hand(app, items[0]["erp_ref"])
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    (difference,) = report.differences
    assert (difference.kind, difference.detail["reason"], difference.detail["count"]) == (
        "unexpected_in_erp", "duplicate", 2)
    assert difference.detail["document_id"] == items[0]["document_id"]


def test_a_journal_made_by_hand_in_an_owned_account_is_unexpected(erp, world):
    app, build, config = world
    connector = build()
    items = post(erp, connector, ["a"])
    debit, _, _ = erp.accounts
    outside = {"xero": "610", "quickbooks": "7", "netsuite": "310", "business_central": "2910"}[erp.name]
    erp.hand_made(app, debit, outside, D("50.00"))
    erp.hand_made(app, outside, outside, D("5.00"))   # nothing LedgerLink owns: not its business
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    (difference,) = report.differences
    assert (difference.kind, difference.detail["reason"], difference.detail["accounts"]) == (
        "unexpected_in_erp", "not_made_by_ledgerlink", [debit])


def test_a_listing_pages_through_several_pages(erp, world):
    app, build, config = world
    connector = build()
    connector.readback_page_size = 2
    items = post(erp, connector, [f"p{n}" for n in range(5)])
    erp.delete(app, items[3]["erp_ref"])
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    assert [(d.kind, d.detail["document_id"]) for d in report.differences] == [
        ("missing_in_erp", items[3]["document_id"])]
    (check,) = report.erp["connections"]
    # pages of 2: Xero lists the 5 journals (the voided one too) and says pageCount 3; QuickBooks 4 entries, then a
    # short page; NetSuite 8 GL rows (2 a journal), hasMore false on the 4th; Business Central 12 G/L entries (the
    # reversal adds 2), then an empty page
    assert check["erp_calls"] == {"xero": 3, "quickbooks": 3, "netsuite": 4, "business_central": 7}[erp.name]


def test_a_429_in_the_middle_of_a_listing_waits_and_reads_on(erp, world, clock):
    app, build, config = world
    connector = build()
    connector.readback_page_size = 2
    items = post(erp, connector, [f"p{n}" for n in range(5)])
    path = {"xero": "/ManualJournals", "quickbooks": "/query", "netsuite": "/suiteql",
            "business_central": "generalLedgerEntries"}[erp.name]
    app.throttle(path, after=1, retry_after=7)
    slept = len(clock.slept)
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    assert app.throttled_answers == 1        # the second page was refused once ...
    assert report.differences == [] and report.erp["checked"] is True      # ... and the listing went on
    waited = sum(clock.slept[slept:])
    assert waited >= (60 if erp.name == "quickbooks" else 7)   # Intuit sends no Retry-After: 60 s


def test_the_budget_share_stops_the_listing_and_the_day_is_not_checked(erp, world, limiters):
    app, build, config = world
    # a daily budget of 40 calls, 10 % of it for reading back: 4 calls a rolling day
    connector = build(limits=ConnectionLimitsConfig(daily_budget=40))
    connector.readback_page_size = 2
    items = post(erp, connector, [f"p{n}" for n in range(9)])     # 5 or more pages of 2
    before = len(app.log)
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    assert report.erp["checked"] is False
    assert "budget share reached" in report.erp["reason"]
    assert report.differences == []
    assert len(app.log) - before == 4          # 4 pages read, the fifth never sent
    assert report.erp["connections"][0]["erp_calls"] == 4
    # the share is counted in the connection's shared limiters, so the next run of the day has nothing left
    assert limiters.built[f"{connector.connection_id}#readback"].granted == 4
    with pytest.raises(BudgetShareReached):
        connector.readback_budget().spend()


def test_an_unreachable_erp_is_not_checked_and_says_why(erp, world, serve):
    app, build, config = world
    connector = build()
    items = post(erp, connector, ["a"])
    connector.session.http.base_url = "http://127.0.0.1:9"   # nothing listens: the request is never sent
    report = rb.reconcile(config, connector, items, DAY.isoformat())
    assert report.erp["checked"] is False and "ERP unreachable" in report.erp["reason"]
    assert report.differences == []


def test_the_share_defaults_to_ten_percent_of_the_daily_budget():
    budget = ReadbackBudget.for_connection(None, type("C", (), {"id": "c", "limits": None,
                                                                "readback_budget_share": D("0.10")})(), 5000)
    assert budget.allowance == 500
    assert ReadbackBudget.for_connection(None, type("C", (), {"id": "c", "limits": None})(), None).allowance is None


def test_keys_are_what_each_erp_holds():
    document_id = "doc_" + "ab" * 16
    # every API connector names a document by its id, Business Central by its 20-character reference
    from ledgerlink.connectors.erps.business_central import BusinessCentral
    from ledgerlink.connectors.erps.xero import Xero

    assert Xero.readback_key(document_id) == document_id
    assert BusinessCentral.readback_key(document_id) == short_ref(document_id, 20)
