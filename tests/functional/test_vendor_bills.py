"""Master data first, end to end: Ramp Bill Pay webhooks → ingest → SQS → normalize (the bill fetched from the Ramp
API fake) → post-document (master data → enrich → validate → post) → QuickBooks Online (the contract server on
127.0.0.1, which refuses a bill whose vendor it does not know and logs every request in order)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ledgerlink.config.loader import parse_config_text
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.local.aws import store_api_credentials
from ledgerlink.local.fake_apis import FakeSourceApis, generate_credentials
from ledgerlink.local.runtime import with_api_base_url
from ledgerlink.local.signers import sign
from ledgerlink.store import clients
from ledgerlink.store.parties import DynamoParties

from tests.conftest import EVENTS, EXAMPLE_CONFIG
from tests.contract.quickbooks_server import QuickBooksApp
from tests.contract.server import ContractServer, FakeClock
from tests.functional.conftest import SECRET, Stack

REALM = "9130357846921456"
SECRET_ID = "ledgerlink/erp/qbo-functional"
VENDOR = "e2b7c1d4-8f3a-4b6e-9d5c-1a2b3c4d5e6f"
ACCOUNTS = {"expense": "60", "expense.hosting": "61", "expense.saas": "62", "accounts_payable": "33",
            "card_liability": "34", "employee_payable": "35"}


@pytest.fixture(scope="module")
def ramp_credentials() -> dict[str, str]:
    return generate_credentials("ramp")


@pytest.fixture(scope="module")
def ramp_api(ramp_credentials) -> Iterator[FakeSourceApis]:
    with FakeSourceApis(EVENTS, credentials={"ramp": ramp_credentials}) as fake:
        yield fake


class RunningClock(FakeClock):
    """The contract server's clock runs with the test (monotonic seconds from ``start``).

    A FakeClock stands still unless a test advances it, so QuickBooks' 10-requests-per-second window would
    count every request of the test as one second, and a run that happened to need an eleventh request (two
    executions racing for the new vendor) was throttled for Intuit's 60 s and timed out."""

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self._started = time.monotonic()

    def now(self) -> float:
        return super().now() + (time.monotonic() - self._started)


@pytest.fixture
def quickbooks() -> Iterator[tuple[QuickBooksApp, ContractServer]]:
    app = QuickBooksApp(RunningClock(1_767_225_600.0), realm_id=REALM, client_id="functional",
                        client_secret="functional-secret", refresh_token="refresh-functional",
                        accounts=set(ACCOUNTS.values()))
    server = ContractServer(app).start()
    yield app, server
    server.stop()


def qbo_config(url: str, ramp_url: str, *, policy: str) -> LedgerLinkConfig:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["erp_connections"].append({"id": "qbo-us", "kind": "quickbooks_online", "realm_id": REALM,
                                    "credentials": {"secret_id": SECRET_ID}, "base_url": url,
                                    "token_url": f"{url}/oauth2/v1/tokens/bearer"})
    data["entities"][0]["erp_connection"] = "qbo-us"
    data["account_mappings"] = [{"entity": "us01", "source": "ramp", "accounts": ACCOUNTS}] + [
        mapping for mapping in data["account_mappings"] if mapping["entity"] != "us01"]
    data["master_data"] = [{"source": "ramp", "role": "vendor", "policy": policy}]
    return with_api_base_url(parse_config_text(yaml.safe_dump(data), origin="qbo-bills"), ramp_url)


@pytest.fixture
def stack_config(quickbooks, ramp_api, request) -> LedgerLinkConfig:
    return qbo_config(quickbooks[1].url, ramp_api.url, policy=getattr(request, "param", "create"))


@pytest.fixture
def connected(stack: Stack, ramp_credentials) -> Stack:
    """The stack with the QuickBooks and Ramp API credentials in (moto's) Secrets Manager."""
    clients.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=json.dumps(
        {"client_id": "functional", "client_secret": "functional-secret", "refresh_token": "refresh-functional"}))
    store_api_credentials(stack.config, {"ramp": ramp_credentials})
    return stack


def deliver(stack: Stack, *samples: str) -> None:
    for sample in samples:
        signed = sign("ramp", (EVENTS / "ramp" / sample).read_bytes(), SECRET, url="https://hooks.example.com/webhooks/ramp")
        assert stack.webhook(signed.body, {**signed.headers, "Host": "hooks.example.com"}, source="ramp").status == 202


def bills(stack: Stack) -> list[dict[str, Any]]:
    return [item for item in stack.documents() if item["document_type"] == "bill"]


def test_two_bills_of_a_new_vendor_create_it_once_in_quickbooks_before_either_bill(connected, quickbooks):
    app, _ = quickbooks
    # Given two approved bills of the same vendor, unknown to QuickBooks, arriving in one batch
    deliver(connected, "06-bills.approved.json", "08-bills.approved.json")
    # When the batch is normalized and both executions run
    connected.drain()
    # Then the vendor was created exactly once, and before either bill reached QuickBooks
    writes = [request.path.rsplit("/", 1)[-1] for request in app.requests("POST") if "/v3/company/" in request.path]
    assert writes.count("vendor") == 1 and writes.count("bill") == 2
    assert writes.index("vendor") < writes.index("bill")
    (vendor,) = app.of("Vendor")
    assert vendor["DisplayName"] == f"Northwind Hosting LLC [{VENDOR}]"
    assert {bill["VendorRef"]["value"] for bill in app.of("Bill")} == {vendor["Id"]}
    assert sorted(sum(line["Amount"] for line in bill["Line"]) for bill in app.of("Bill")) == [425, 1840]
    # and both documents are posted as native bills, with the cross-reference kept for the next bill
    assert {item["status"] for item in bills(connected)} == {"posted"} and len(bills(connected)) == 2
    assert all(item["erp_ref"].startswith("qbo:Bill/") for item in bills(connected))
    parties = DynamoParties(connected.resources.tables["parties"])
    assert parties.erp_id("vendor", "ramp", VENDOR, "qbo-us") == vendor["Id"]
    assert connected.exceptions.list("open") == []


def test_ready_to_sync_after_approval_and_an_archived_bill_post_once_then_reverse(connected, quickbooks):
    app, _ = quickbooks
    deliver(connected, "06-bills.approved.json", "07-bills.ready_to_sync.json")
    connected.drain()
    assert len(app.of("Bill")) == 1 and len(bills(connected)) == 1
    # the archived bill is undone by a vendor credit of the same vendor that mirrors the bill's expense lines
    deliver(connected, "10-bills.archived.json")
    connected.drain()
    (reversal,) = [item for item in connected.documents() if item["document_type"] == "reversal"]
    assert reversal["status"] == "posted" and reversal["erp_ref"].startswith("qbo:VendorCredit/")
    (credit,) = app.of("VendorCredit")
    (vendor,) = app.of("Vendor")   # the vendor the bill created, not a second one
    assert credit["VendorRef"]["value"] == vendor["Id"] == app.of("Bill")[0]["VendorRef"]["value"]
    assert {line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]: line["Amount"] for line in credit["Line"]} \
        == {"61": 1500, "62": 340}
    assert app.of("JournalEntry") == []


@pytest.mark.parametrize("stack_config", ["wait"], indirect=True)
def test_with_the_wait_policy_an_unknown_vendor_opens_master_data_missing_and_nothing_posts(connected, quickbooks):
    app, _ = quickbooks
    # Given the vendor must be announced by a master-data event first, and none came
    deliver(connected, "06-bills.approved.json", "08-bills.approved.json")
    # When the executions have waited their bounded time
    connected.drain(timeout=120)
    # Then each bill is an exception case for finance ops, and QuickBooks saw no write at all
    cases = connected.exceptions.list("open")
    assert sorted(case["reason"] for case in cases) == ["master_data_missing"] * 2
    assert {item["status"] for item in bills(connected)} == {"exception"}
    assert app.requests("POST", "/v3/company/") == [] and app.of("Vendor") == [] and app.of("Bill") == []


def test_a_vendor_claim_is_held_by_one_execution_until_its_lease_runs_out(connected):
    parties = DynamoParties(connected.resources.tables["parties"])
    assert parties.claim_creation("vendor", "ramp", VENDOR, "qbo-us", owner="doc-1")
    assert not parties.claim_creation("vendor", "ramp", VENDOR, "qbo-us", owner="doc-2")
    assert parties.claim_creation("vendor", "ramp", VENDOR, "qbo-us", owner="doc-1")       # its own retry
    assert parties.claim_creation("vendor", "ramp", "other-vendor", "qbo-us", owner="doc-2")
    assert parties.claim_creation("vendor", "ramp", VENDOR, "books", owner="doc-2")         # per connection
    assert parties.claim_creation("customer", "ramp", "c1", "qbo-us", owner="doc-3", lease_seconds=-1)
    assert parties.claim_creation("customer", "ramp", "c1", "qbo-us", owner="doc-4")        # lease ran out
