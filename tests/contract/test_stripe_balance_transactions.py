"""The Stripe balance-transactions client against the local Stripe fake (127.0.0.1), which behaves as Stripe's API
reference documents "List all balance transactions": bearer key, ``limit`` ≤ 100, cursor pagination
(``has_more``, ``starting_after``), ``Stripe-Account`` for a connected account, 429 when throttled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledgerlink.config.sources import ApiAccess, SecretRef, StripeSource
from ledgerlink.connectors.sources.http import SourceApiError, SourceApiUnavailable, UrllibHttp
from ledgerlink.connectors.sources.stripe import api
from ledgerlink.local.fake_apis import FakeSourceApis, generate_credentials

from tests.conftest import contract_json

PAYOUT = "po_1TestManyTransactions01"


def transactions(count: int, prefix: str = "txn") -> list[dict]:
    vendor = contract_json("stripe/balance_transaction_with_fee.json")
    return [{**vendor, "id": f"{prefix}_{i:05d}", "source": f"ch_{i:05d}"} for i in range(count)]


@pytest.fixture
def fake(tmp_path: Path):
    folder = tmp_path / "stripe" / "api" / "balance_transactions"
    (folder / "acct_1Connected0000001").mkdir(parents=True)
    (folder / f"{PAYOUT}.json").write_text(json.dumps({"data": transactions(250)}))
    (folder / "acct_1Connected0000001" / f"{PAYOUT}.json").write_text(json.dumps({"data": transactions(3, "cx")}))
    with FakeSourceApis(tmp_path, credentials={"stripe": generate_credentials("stripe")}) as server:
        yield server


def session(fake: FakeSourceApis, key: str | None = None, sleeps: list | None = None) -> api.StripeApiSession:
    source = StripeSource(id="stripe", kind="stripe", signing_secret=SecretRef(secret_id="s"), default_entity="us01",
                          api=ApiAccess(base_url=fake.url, credentials=SecretRef(secret_id="ledgerlink/stripe/key")))
    return api.StripeApiSession(source, {"api_key": key or fake.credentials["stripe"]["api_key"]}, UrllibHttp(),
                                sleep=(sleeps.append if sleeps is not None else lambda _: None))


def test_every_page_is_read_once_in_order(fake):
    client = session(fake)
    got = client.payout_balance_transactions(PAYOUT)
    # 250 transactions at Stripe's maximum page of 100: three requests, nothing read twice or skipped
    assert [t["id"] for t in got] == [f"txn_{i:05d}" for i in range(250)]
    assert client.calls == 3 == fake.calls("/v1/balance_transactions")


def test_a_connected_accounts_payout_is_read_with_the_stripe_account_header(fake):
    got = session(fake).payout_balance_transactions(PAYOUT, account="acct_1Connected0000001")
    assert [t["id"] for t in got] == ["cx_00000", "cx_00001", "cx_00002"]


def test_throttling_is_retried_with_backoff_then_handed_back_to_the_queue(fake):
    sleeps: list[float] = []
    fake.fail("/v1/balance_transactions", 429, times=2)
    assert len(session(fake, sleeps=sleeps).payout_balance_transactions(PAYOUT)) == 250
    assert sleeps == list(api.RETRY_DELAYS[:2])
    fake.fail("/v1/balance_transactions", 429, times=len(api.RETRY_DELAYS) + 1)
    with pytest.raises(SourceApiUnavailable):   # SQS redelivers the message later
        session(fake).payout_balance_transactions(PAYOUT)


def test_a_wrong_key_is_refused_as_unauthorized_and_an_unknown_payout_as_not_found(fake):
    with pytest.raises(SourceApiError) as refused:
        session(fake, key="rk_test_wrong").payout_balance_transactions(PAYOUT)
    assert refused.value.reason == "source_api_unauthorized"
    with pytest.raises(SourceApiError) as missing:
        session(fake).payout_balance_transactions("po_1DoesNotExist0000000")
    assert missing.value.reason == "source_object_not_found"


def test_only_automatic_payouts_and_refunds_without_ids_of_a_source_with_cash_data_access_are_fetched(fake):
    source = StripeSource(id="stripe", kind="stripe", signing_secret=SecretRef(secret_id="s"), default_entity="us01",
                          api=ApiAccess(base_url=fake.url, credentials=SecretRef(secret_id="k")))
    without = source.model_copy(update={"api": None})
    automatic = {"type": "payout.paid", "data": {"object": {"id": PAYOUT, "automatic": True}}}
    manual = {"type": "payout.paid", "data": {"object": {"id": PAYOUT, "automatic": False}}}
    charge = {"type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}          # newer API: no refund ids
    embedded = {"type": "charge.refunded", "data": {"object": {"id": "ch_1", "refunds": {"data": [{"id": "re_1"}]}}}}
    paid = {"type": "invoice.paid", "data": {"object": {"id": "in_1"}}}
    assert [api.wants(n, source) for n in (automatic, manual, charge, embedded, paid)] == [
        True, False, True, False, False]
    assert api.wants(automatic, without) is False


def test_a_charges_refunds_are_listed_page_by_page(tmp_path: Path):
    # "List all refunds" with the charge filter: 130 refunds at the maximum page of 100 are two requests, each once
    charge = "ch_1QLedgerLinkAcmePay01"
    folder = tmp_path / "stripe" / "api" / "refunds"
    folder.mkdir(parents=True)
    (folder / f"{charge}.json").write_text(json.dumps(
        {"data": [{"id": f"re_{i:04d}", "object": "refund", "amount": 100, "status": "succeeded"} for i in range(130)]}))
    with FakeSourceApis(tmp_path, credentials={"stripe": generate_credentials("stripe")}) as server:
        client = session(server)
        event = json.loads((Path(__file__).parents[2] / "events" / "stripe"
                            / "08-charge.refunded.partial.current-api.json").read_text())
        source = StripeSource(id="stripe", kind="stripe", signing_secret=SecretRef(secret_id="s"),
                              default_entity="us01", api=ApiAccess(base_url=server.url,
                                                                   credentials=SecretRef(secret_id="k")))
        fetched = api.fetch(event, source, client)
        assert [r["id"] for r in fetched["refunds"]] == [f"re_{i:04d}" for i in range(130)]
        assert fetched["charge"] == charge and client.calls == 2 == server.calls("/v1/refunds")
