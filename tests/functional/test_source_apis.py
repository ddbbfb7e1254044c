"""Sources whose notifications only name the object, and sources without webhooks, end to end on moto with the
HTTP fakes of the vendor APIs: webhook → ingest → SQS → normalize (fetch) → post-document → book; the poller;
vendor outages, refused credentials, replays, and the bank-file Lambda fed by EventBridge."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ledgerlink.config.loader import parse_config_text
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.local.aws import store_api_credentials
from ledgerlink.local.fake_apis import FakeSourceApis, generate_credentials
from ledgerlink.local.functions import FunctionError
from ledgerlink.local.http_front import api_gateway_event
from ledgerlink.local.runtime import with_api_base_url
from ledgerlink.local.signers import sign
from ledgerlink.ops.replay import Replayer
from ledgerlink.store import clients
from ledgerlink.store.archive import S3Archive, fetched_key
from ledgerlink.store.config_store import DynamoConfigStore
from ledgerlink.store.cursors import DynamoCursors
from ledgerlink.store.queue import SqsQueue

from tests.conftest import EVENTS, EXAMPLE_CONFIG
from tests.functional.conftest import SECRET, Reply, Stack

KINDS = ("ramp", "hubspot", "concur", "adyen", "expensify")
HOST = "hooks.example.com"


@pytest.fixture(scope="module")
def credentials() -> dict[str, dict[str, str]]:
    return {kind: generate_credentials(kind) for kind in KINDS}


@pytest.fixture(scope="module")
def vendor(credentials) -> Iterator[FakeSourceApis]:
    with FakeSourceApis(EVENTS, credentials=credentials) as fake:
        yield fake


@pytest.fixture
def stack_config(vendor) -> LedgerLinkConfig:
    return with_api_base_url(parse_config_text(EXAMPLE_CONFIG.read_text(), origin=str(EXAMPLE_CONFIG)), vendor.url)


@pytest.fixture
def apis(stack: Stack, vendor: FakeSourceApis, credentials) -> FakeSourceApis:
    """The stack with each source's API credentials stored in (moto's) Secrets Manager, as an operator would."""
    store_api_credentials(stack.config, {source.id: credentials[source.kind] for source in stack.config.sources
                                         if source.kind in KINDS})
    vendor.requests.clear()
    vendor.expensify_reports = json.loads((EVENTS / "expensify" / "api" / "reports.json").read_text())
    return vendor


def deliver(stack: Stack, kind: str, sample: str, *, secret: str = SECRET) -> Any:
    body = (EVENTS / kind / sample).read_bytes()
    signed = sign(kind, body, secret, url=f"https://{HOST}/webhooks/{kind}")
    headers = {**signed.headers, "Host": HOST}
    if kind == "adyen":  # answers the plain-text "[accepted]" Adyen requires, not JSON
        event = api_gateway_event("POST", f"/webhooks/{kind}", headers, signed.body, "198.51.100.7")
        response = stack.host.invoke("ingest", event)
        return Reply(response["statusCode"], {"raw": response["body"]}, response["headers"])
    return stack.webhook(signed.body, headers, source=kind)


def posted(stack: Stack, source: str) -> list[dict[str, Any]]:
    return [item for item in stack.documents("posted") if item["source_id"] == source]


# ---- Ramp ---------------------------------------------------------------------------------------------

def test_a_thin_ramp_notification_is_fetched_archived_and_posted_once(stack, apis):
    # Given Ramp notifies a cleared transaction, then the same transaction's ready_to_sync, and retries the first
    first = deliver(stack, "ramp", "01-transactions.cleared.json")
    second = deliver(stack, "ramp", "02-transactions.ready_to_sync.json")
    retry = deliver(stack, "ramp", "01-transactions.cleared.json")
    assert (first.status, second.status, retry.status) == (202, 202, 200)
    stack.drain()
    # Then the transaction was fetched (token once per container) and posted once, to the card liability
    (card,) = posted(stack, "ramp")
    assert (card["document_type"], card["amount"], card["currency"]) == ("card_transaction", "90.00", "USD")
    assert apis.calls("/developer/v1/token") == 1 and apis.calls("/developer/v1/transactions/") == 2
    text = "".join(path.read_text() for path in stack.postings())
    assert "Liabilities:US01:CreditCards:Ramp" in text and "-90.00 USD" in text
    # And what was fetched is archived next to the notification
    claim = stack.inbox.get("ramp", "a461a658-8d78-4e66-b1fd-9c818bcfea6b")
    fetched = json.loads(stack.archived(fetched_key(claim["archive_key"], claim["event_id"])))
    assert json.loads(fetched["transaction"])["id"] == "3aa9eed1-c793-4b52-a502-e7f2a7e4c1b2"


def test_forged_expired_and_malformed_ramp_requests_are_refused_before_anything_is_stored(stack, apis):
    body = (EVENTS / "ramp" / "01-transactions.cleared.json").read_bytes()
    assert deliver(stack, "ramp", "01-transactions.cleared.json", secret="attacker").body["reason"] == \
        "signature_mismatch"
    old = stack.webhook(body, {"X-Ramp-Signature": sign("ramp", body, SECRET).headers["X-Ramp-Signature"]},
                        source="ramp")  # the sample's own created_at, signed as is: a replay of a 2024 event
    assert (old.status, old.body["reason"]) in ((401, "signature_expired"), (401, "signature_mismatch"))
    stale = json.dumps({**json.loads(body), "created_at": "2024-05-03T12:00:00Z"}).encode()
    from ledgerlink.connectors.sources.ramp.webhook import signature_header
    expired = stack.webhook(stale, signature_header(stale, SECRET), source="ramp")
    assert (expired.status, expired.body["reason"]) == (401, "signature_expired")
    garbage = b'{"id": 1'
    malformed = stack.webhook(garbage, signature_header(garbage, SECRET), source="ramp")
    assert (malformed.status, malformed.body["reason"]) == (400, "malformed_json")
    assert stack.queue_depth() == 0 and apis.requests == []


def test_a_vendor_outage_is_retried_and_refused_credentials_open_a_case(stack, apis):
    apis.fail("/developer/v1/transactions/", 503, times=1)
    assert deliver(stack, "ramp", "01-transactions.cleared.json").status == 202
    messages = stack.receive()
    failed, _ = stack.deliver(messages)  # the fetch hit the outage: the message stays in the queue
    assert failed == 1 and stack.documents() == []
    time.sleep(1.1)  # the functional queue's visibility timeout
    stack.drain()
    assert len(posted(stack, "ramp")) == 1 and not stack.exceptions.list("open")
    # refused credentials: an exception case naming the archived notification, not a retry loop
    secret_id = stack.config.source("ramp").api.credentials.secret_id
    clients.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"client_id": "wrong", "client_secret": "wrong"}))
    from ledgerlink import wiring
    wiring.reset()  # a fresh container: the cached session and secret are gone
    assert deliver(stack, "ramp", "03-reimbursements.ready_to_sync.json").status == 202
    stack.drain()
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "source_api_unauthorized" and case["archive_key"].startswith("raw/ramp/")


def test_a_replay_of_a_fetched_event_uses_the_archived_object(stack, apis):
    deliver(stack, "ramp", "03-reimbursements.ready_to_sync.json")
    stack.drain()
    (report,) = posted(stack, "ramp")
    calls = apis.calls("/developer/v1/reimbursements/")
    tables = stack.resources.tables
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger
    tool = Replayer(config=DynamoConfigStore(tables["config"]).active, archive=S3Archive(stack.resources.archive_bucket),
                    ledger=DynamoLedger(tables["ledger"], totals_table=tables["totals"]),
                    inbox=DynamoInbox(tables["inbox"], totals_table=tables["totals"]),
                    queue=SqsQueue(stack.resources.inbound_queue_url))
    # replaying the date range re-runs the event: nothing new posts, and the vendor is not called again
    today = time.strftime("%Y-%m-%d", time.gmtime())
    from datetime import date
    plan = tool.plan_range(date.fromisoformat(today), date.fromisoformat(today), source_id="ramp")
    assert [m["event_type"] for m in plan.messages] == ["reimbursements.ready_to_sync"]
    tool.execute(plan)
    stack.drain()
    assert apis.calls("/developer/v1/reimbursements/") == calls
    assert [item["document_id"] for item in posted(stack, "ramp")] == [report["document_id"]]


# ---- HubSpot --------------------------------------------------------------------------------------------

def test_a_hubspot_closed_won_deal_is_fetched_and_booked_once(stack, apis):
    # the v3 signature covers the URL HubSpot called: https://<Host>/webhooks/hubspot (the stage path on AWS)
    reply = deliver(stack, "hubspot", "01-deal.propertyChange.batch.json")
    assert reply.status == 202 and len(reply.body["event_ids"]) == 2
    assert deliver(stack, "hubspot", "01-deal.propertyChange.batch.json").body["status"] == "duplicate"
    stack.drain()
    (contract,) = posted(stack, "hubspot")
    assert (contract["document_type"], contract["amount"]) == ("contract_event", "36000.00")
    assert [item["document_type"] for item in stack.documents("ignored") if item["source_id"] == "hubspot"] == [
        "customer_event"]
    assert apis.calls("/crm/v3/objects/deals/") == 1  # only the closed-won change needed the deal
    other_host = sign("hubspot", (EVENTS / "hubspot" / "02-deal.creation.json").read_bytes(), SECRET,
                      url="https://evil.example.com/webhooks/hubspot")
    refused = stack.webhook(other_host.body, {**other_host.headers, "Host": HOST}, source="hubspot")
    assert (refused.status, refused.body["reason"]) == (401, "signature_mismatch")


# ---- SAP Concur -----------------------------------------------------------------------------------------

def test_a_concur_approved_report_is_verified_with_rsa_fetched_and_posted(stack, apis):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    clients.client("secretsmanager").put_secret_value(
        SecretId=stack.config.source("concur").signing_secret.secret_id, SecretString=public)
    assert deliver(stack, "concur", "01-statusChanged.approved.json", secret=private).status == 202
    assert deliver(stack, "concur", "02-statusChanged.pending.json", secret=private).status == 202
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    assert deliver(stack, "concur", "03-reportCreated.json", secret=forged).status == 401
    stack.drain()
    assert sorted((item["document_type"], item["amount"]) for item in posted(stack, "concur")) == [
        ("expense_report", "25.00"), ("expense_report", "500.00")]
    assert apis.calls("/oauth2/v0/token") == 1 and apis.calls("/expensereports/v4/") == 2  # report + expenses


# ---- Adyen REPORT_AVAILABLE -----------------------------------------------------------------------------

def test_an_adyen_settlement_report_is_downloaded_and_posts_the_payout(stack, apis):
    hmac_key = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174"  # Adyen keys are hex
    clients.client("secretsmanager").put_secret_value(
        SecretId=stack.config.source("adyen").signing_secret.secret_id, SecretString=hmac_key)
    assert deliver(stack, "adyen", "01-capture.json", secret=hmac_key).status == 200
    assert deliver(stack, "adyen", "02-batch.json", secret=hmac_key).status == 200
    stack.drain()
    payouts = [item for item in posted(stack, "adyen") if item["document_type"] == "payout"]
    assert [(item["amount"], item["currency"]) for item in payouts] == [("90.00", "USD")]
    assert apis.calls("/reports/download/MerchantAccount/LedgerLinkDemoECOM/") == 1
    text = "".join(path.read_text() for path in stack.postings())
    assert "Assets:US01:Clearing:PayoutsInTransit" in text and "Expenses:US01:PaymentProcessing:Adyen" in text


# ---- Expensify (polled) ---------------------------------------------------------------------------------

def test_expensify_is_polled_past_a_high_water_mark_and_reads_nothing_twice(stack, apis):
    first = stack.host.invoke("poll", {"source": "expensify"})["polled"][0]
    assert (first["accepted"], first["cursor_after"]) == (2, "2024-05-03")
    stack.drain()
    assert sorted(item["amount"] for item in posted(stack, "expensify")) == ["1299.00", "250.00", "312.50"]
    cursors = DynamoCursors(stack.resources.tables["cursors"])
    assert cursors.get("expensify") == "2024-05-03"
    # a report approved later on the mark's day, and the next poll: only the new report is enqueued
    late = {**apis.expensify_reports[0], "reportID": "R00LateSameDay", "approved": "2024-05-03 22:15:00"}
    apis.expensify_reports.append(late)
    second = stack.host.invoke("poll", {})["polled"][0]
    assert (second["accepted"], second["duplicates"], second["cursor_after"]) == (1, 1, "2024-05-03")
    stack.drain()
    assert len(posted(stack, "expensify")) == 4


def test_a_poll_that_crashes_before_enqueueing_moves_no_mark(stack, apis, monkeypatch):
    monkeypatch.setattr(SqsQueue, "send", lambda self, message, correlation_id: (_ for _ in ()).throw(
        ConnectionError("SQS unavailable")))
    with pytest.raises(Exception, match="SQS unavailable"):
        stack.host.invoke("poll", {"source": "expensify"})
    assert DynamoCursors(stack.resources.tables["cursors"]).get("expensify") is None
    monkeypatch.undo()
    # within the claim lease the pending claims hold the mark back; the vendor is asked again next time
    again = stack.host.invoke("poll", {"source": "expensify"})["polled"][0]
    assert again["accepted"] == 1 and again["held"] == 1  # the first report's claim was taken by the crashed run


def test_wrong_expensify_credentials_fail_the_run_and_keep_the_mark(stack, apis):
    secret_id = stack.config.source("expensify").api.credentials.secret_id
    clients.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"partnerUserID": "x", "partnerUserSecret": "y"}))
    with pytest.raises(Exception, match="source_api_unauthorized|responseCode 407"):
        stack.host.invoke("poll", {"source": "expensify"})
    assert DynamoCursors(stack.resources.tables["cursors"]).get("expensify") is None


# ---- replay of every kind of archived event -------------------------------------------------------------

def test_every_source_kind_can_be_replayed_from_the_archive_without_posting_twice(stack, apis):
    from datetime import date

    from ledgerlink.connectors.sources.brex.webhook import signature_headers
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger

    brex_secret = "whsec_" + __import__("base64").b64encode(b"functional-brex-secret-24b").decode()
    clients.client("secretsmanager").put_secret_value(
        SecretId=stack.config.source("brex").signing_secret.secret_id, SecretString=brex_secret)
    brex_body = (EVENTS / "brex" / "02-expense-payment-updated.purchase.json").read_bytes()
    assert stack.webhook(brex_body, signature_headers(brex_body, brex_secret, "msg_replay_1", int(time.time())),
                         source="brex").status == 202                 # event id in a header (Standard Webhooks)
    assert deliver(stack, "hubspot", "02-deal.creation.json").status == 202   # a one-event array (BODY_IS_EVENT)
    stack.host.invoke("poll", {"source": "expensify"})                 # polled items
    body = (EVENTS / "bank" / "01-camt053.v8.demo.xml").read_bytes()
    clients.client("s3").put_object(Bucket=stack.resources.archive_bucket, Key="bank-inbox/bank/a.xml", Body=body)
    stack.host.invoke("bank_file", {"source": "aws.s3", "detail": {"object": {"key": "bank-inbox/bank/a.xml"}}})
    stack.drain()
    before = {item["document_id"]: item["status"] for item in stack.documents()}
    cases = sorted(case["exception_id"] for case in stack.exceptions.list("open"))  # the two unmatched bank lines
    tables = stack.resources.tables
    tool = Replayer(config=DynamoConfigStore(tables["config"]).active, archive=S3Archive(stack.resources.archive_bucket),
                    ledger=DynamoLedger(tables["ledger"], totals_table=tables["totals"]),
                    inbox=DynamoInbox(tables["inbox"], totals_table=tables["totals"]),
                    queue=SqsQueue(stack.resources.inbound_queue_url))
    today = date.fromisoformat(time.strftime("%Y-%m-%d", time.gmtime()))
    plan = tool.plan_range(today, today)
    by_source = {(m["source"], m["event_id"]) for m in plan.messages}
    assert {source for source, _ in by_source} == {"brex", "hubspot", "expensify", "bank"}
    assert ("brex", "msg_replay_1") in by_source
    for message in plan.messages:  # each re-sent body is what the receiving step enqueued: a JSON object
        assert isinstance(json.loads(message["body"]), dict), message["source"]
    tool.execute(plan)
    stack.drain()
    assert {item["document_id"]: item["status"] for item in stack.documents()} == before
    assert sorted(case["exception_id"] for case in stack.exceptions.list("open")) == cases  # no new case


# ---- bank files through EventBridge ---------------------------------------------------------------------

def test_a_bank_file_event_from_eventbridge_is_received_once(stack, apis):
    body = (EVENTS / "bank" / "01-camt053.v8.demo.xml").read_bytes()
    key = "bank-inbox/bank/statement 2022-03-28.xml"
    clients.client("s3").put_object(Bucket=stack.resources.archive_bucket, Key=key, Body=body)
    event = {"version": "0", "source": "aws.s3", "detail-type": "Object Created",
             "detail": {"bucket": {"name": stack.resources.archive_bucket}, "object": {"key": key,
                                                                                      "size": len(body)}}}
    first = stack.host.invoke("bank_file", event)["files"]
    again = stack.host.invoke("bank_file", event)["files"]
    assert [f["outcome"] for f in first + again] == ["accepted", "duplicate"]
    stack.drain()
    # the statement's three booked lines (two payout credits, a fee debit); the pending line is not a document
    assert [item["document_type"] for item in stack.documents() if item["source_id"] == "bank"] == [
        "bank_transaction"] * 3


def test_a_bank_file_whose_enqueue_fails_is_released_and_received_on_the_retry(stack, apis, monkeypatch):
    body = (EVENTS / "bank" / "01-camt053.v8.demo.xml").read_bytes()
    key = "bank-inbox/bank/statement-retried.xml"
    clients.client("s3").put_object(Bucket=stack.resources.archive_bucket, Key=key, Body=body)
    event = {"source": "aws.s3", "detail": {"bucket": {"name": stack.resources.archive_bucket},
                                            "object": {"key": key, "size": len(body)}}}
    # Given SQS refuses the message once (throttled) after the file was claimed and archived
    with monkeypatch.context() as patch, pytest.raises(FunctionError, match="sqs down"):
        patch.setattr(clients.client("sqs"), "send_message",
                      lambda **kwargs: (_ for _ in ()).throw(ConnectionError("sqs down")))
        stack.host.invoke("bank_file", event)
    # When the invocation is retried (S3 / EventBridge → Lambda retries a failed asynchronous invocation)
    again = stack.host.invoke("bank_file", event)["files"]
    # Then the file is received, not answered "duplicate" for a claim nothing enqueued
    assert [f["outcome"] for f in again] == ["accepted"]
    stack.drain()
    assert len([item for item in stack.documents() if item["source_id"] == "bank"]) == 3


def test_events_folder_has_api_fixtures_for_every_api_source() -> None:
    for kind in KINDS:
        assert any((EVENTS / kind / "api").iterdir()), kind
    assert Path(EVENTS / "expensify" / "README.md").exists()
