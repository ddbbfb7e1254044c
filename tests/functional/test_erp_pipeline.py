"""An API ERP behind the real pipeline: webhook → normalize → state machine → post Lambda → Xero (the contract
server on 127.0.0.1), with the credentials in Secrets Manager and the limiter in DynamoDB (moto); then the
summarized path through the flush Lambda, in one bulk request."""

from __future__ import annotations

import json

import pytest
import yaml

from ledgerlink.config.loader import parse_config_text
from ledgerlink.store import clients

from tests.conftest import EXAMPLE_CONFIG
from tests.contract.server import ContractServer, FakeClock
from tests.contract.xero_server import XeroApp, XeroSpec

TENANT = "2b9f1b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
SECRET_ID = "ledgerlink/erp/xero-functional"
ACCOUNTS = {"receivable": "1100", "revenue": "4000", "revenue.prod_ledgerlink_pro": "4010", "discounts": "4090",
            "tax": "2200", "cash_clearing": "1050", "cash_out_of_band": "1060", "fees.processing": "6100",
            "refunds": "4020"}


@pytest.fixture(scope="module")
def spec() -> XeroSpec:
    return XeroSpec()


@pytest.fixture
def xero(spec):
    import time

    # Xero's clock: the real one (the post Lambda signs and limits with wall-clock time)
    clock = FakeClock(time.time())
    app = XeroApp(clock, spec, tenant_id=TENANT, client_id="functional", client_secret="functional-secret",
                  refresh_token="refresh-functional", accounts=set(ACCOUNTS.values()))
    server = ContractServer(app).start()
    yield app, server
    server.stop()
    assert app.schema_errors == []


def xero_config(url: str, *, summarized: bool = False):
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["erp_connections"].append({"id": "xero-us", "kind": "xero", "tenant_id": TENANT,
                                    "credentials": {"secret_id": SECRET_ID}, "base_url": f"{url}/api.xro/2.0",
                                    "token_url": f"{url}/connect/token"})
    data["entities"][0]["erp_connection"] = "xero-us"
    data["account_mappings"] = [{"entity": "us01", "source": "stripe", "accounts": ACCOUNTS}] + [
        mapping for mapping in data["account_mappings"] if mapping["entity"] != "us01"]
    data.pop("revenue_recognition", None)  # transport to Xero is under test here, not deferral (its own tests)
    if summarized:
        for policy in data["posting_policies"]:
            policy["mode"] = "summarized"
    return parse_config_text(yaml.safe_dump(data), origin="xero-functional")


@pytest.fixture
def stack_config(xero, request):
    return xero_config(xero[1].url, summarized=getattr(request, "param", False))


@pytest.fixture
def credentials(stack):
    clients.client("secretsmanager").create_secret(Name=SECRET_ID, SecretString=json.dumps(
        {"client_id": "functional", "client_secret": "functional-secret", "refresh_token": "refresh-functional"}))


def test_a_paid_invoice_posts_two_manual_journals_to_xero_once(stack, xero, credentials):
    app, _ = xero
    assert stack.send_event("02-invoice.paid.json").status == 202
    stack.drain()
    posted = stack.documents("posted")
    assert {d["erp_connection"] for d in posted} == {"xero-us"} and len(posted) == 2
    assert len(app.posted_journals()) == 2
    assert all(d["erp_ref"].startswith("xero:ManualJournal/") for d in posted)
    # the rotated refresh token was written back to Secrets Manager
    stored = json.loads(clients.client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"])
    assert stored["refresh_token"] != "refresh-functional" and stored["refresh_token"] in app.refresh_tokens
    # the limiter's state is in DynamoDB: every call Xero saw was counted there
    item = clients.client("dynamodb").get_item(TableName=stack.resources.tables["limiter"],
                                               Key={"connection_id": {"S": "xero-us"}})["Item"]
    assert sum(int(v["N"]) for v in item["hours"]["M"].values()) == len(app.log) - len(app.requests("POST", "token"))


@pytest.mark.parametrize("stack_config", [True], indirect=True)
def test_summarized_documents_reach_xero_in_one_bulk_request_at_the_flush(stack, xero, credentials):
    app, _ = xero
    for name in ("02-invoice.paid.json", "06-invoice.paid.current-api.json"):
        stack.send_event(name)
    stack.drain()
    assert app.requests("PUT") == [] and {d["status"] for d in stack.documents()} == {"summarized"}
    report = stack.host.invoke("flush", {"through": "2100-12-31"})
    # EUR documents cannot be a Xero manual journal (base currency only): their buckets become exception cases
    usd, eur = [d for d in stack.documents() if d["currency"] == "USD"], [d for d in stack.documents()
                                                                         if d["currency"] == "EUR"]
    assert {d["status"] for d in usd} == {"posted"} and {d["status"] for d in eur} == {"exception"}
    assert report["posted"] == 2 and report["exceptions"] == 2
    (bulk,) = app.requests("PUT", "/ManualJournals")
    assert len(bulk.json()["ManualJournals"]) == 2 and len(app.posted_journals()) == 2
    assert {c["reason"] for c in stack.exceptions.list("open")} == {"currency_not_supported"}
