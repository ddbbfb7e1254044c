"""The ledger's lookup indexes (issue 20): a document is found by its event id, correlation id, the provider's object
id and the ERP reference through keys-only GSIs, and an empty id never breaks a write (DynamoDB refuses "" as an index
key: the whole transaction would fail)."""

from __future__ import annotations

import pytest
from moto import mock_aws

from ledgerlink.errors import OpsError
from ledgerlink.local.aws import create_table
from ledgerlink.store import clients
from ledgerlink.store.ledger import DynamoLedger
from ledgerlink.store.tables import TABLES
from ledgerlink.totals import CounterKey


@pytest.fixture
def ledger(aws_env):
    with mock_aws():
        clients.reset()
        client = clients.client("dynamodb")
        for name in ("ledger", "totals"):
            create_table(client, name, TABLES[name])
        yield DynamoLedger("ledger", totals_table="totals")
        clients.reset()


def record(number: int, *, event: str, object_id: str, correlation: str = "") -> dict:
    return {"document_id": f"doc_{number:032x}", "status": "received", "document_type": "invoice",
            "source_id": "stripe", "source_object": f"invoice:{object_id}:{'paid' if number % 2 else 'finalized'}",
            "event_id": event, "correlation_id": correlation, "entity_id": "us01", "accounting_date": "2026-01-05",
            "currency": "USD", "amount": "20.00", "config_version": 1}


def test_documents_are_found_by_every_id_through_the_indexes(ledger):
    first, second = record(1, event="evt_a", object_id="in_1", correlation="c-1"), record(2, event="evt_b",
                                                                                          object_id="in_1")
    assert ledger.register(first).is_new
    assert ledger.register_batch([second]).complete
    assert ledger.find("event", "evt_a") == [first["document_id"]]
    assert ledger.find("correlation", "c-1") == [first["document_id"]]
    assert "correlation_id" not in ledger.get(second["document_id"])  # the empty id was left out, the write went in
    assert ledger.find("external", "in_1") == sorted([first["document_id"], second["document_id"]])
    assert ledger.find("erp", "books:1") == []
    key = CounterKey.of(first)
    assert ledger.transition(first["document_id"], to="posted", expected=("received",), key=key, erp_ref="books:1",
                             erp_connection="books")
    assert ledger.find("erp", "books:1") == [first["document_id"]]
    # an empty ERP reference is left out instead of failing the posting's write
    assert ledger.transition(second["document_id"], to="posted", expected=("received",), key=CounterKey.of(second),
                             erp_ref="", erp_connection="books")
    assert ledger.get(second["document_id"])["status"] == "posted"
    assert ledger.find("event", "evt_none") == []


def test_a_table_without_the_lookup_indexes_is_scanned_locally_and_named_on_a_stack(aws_env):
    from ledgerlink.cli_support.documents import resolve

    with mock_aws():
        clients.reset()
        client = clients.client("dynamodb")
        for name, key in (("old_ledger", "document_id"), ("old_totals", "pk")):   # a state from before the indexes
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}] + (
                                    [{"AttributeName": "sk", "KeyType": "RANGE"}] if key == "pk" else []),
                                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}] + (
                                    [{"AttributeName": "sk", "AttributeType": "S"}] if key == "pk" else []))
        old = DynamoLedger("old_ledger", totals_table="old_totals")
        document = record(7, event="evt_old", object_id="in_old", correlation="c-old")
        old.register(document)
        assert resolve("in_old", ledger=old, local=True) == ("external", [document["document_id"]])
        assert resolve("c-old", ledger=old, local=True) == ("correlation", [document["document_id"]])
        with pytest.raises(OpsError) as not_searched:
            resolve("evt_old", ledger=old, local=False)
        assert not_searched.value.detail["missing"] == ["event", "correlation", "external", "erp"]
        assert "no index for them yet" in not_searched.value.message
        clients.reset()
