"""The ledger item's ``document`` and ``journal`` are stored zlib-compressed (binary attributes) and read back as the
same JSON text: DynamoDB bills every write by the whole item's size, and those two attributes are most of it. Items
written before, with the text itself, still read; the exactly-once paths (conditions, ALL_OLD answers, counters) are
the same."""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from moto import mock_aws

from ledgerlink.local.aws import create_table
from ledgerlink.model.status import DocumentStatus
from ledgerlink.store import clients
from ledgerlink.store.control_totals import DynamoControlTotals
from ledgerlink.store.ledger import DocumentStateError, DynamoLedger
from ledgerlink.store.tables import TABLES
from ledgerlink.totals import CounterKey

LEDGER, TOTALS = "ledger", "totals"


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoLedger]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        clients.reset()
        client = clients.client("dynamodb")
        for name in (LEDGER, TOTALS):   # the table shapes the stack deploys (the ledger's GSIs included)
            create_table(client, name, TABLES[name])
        yield DynamoLedger(LEDGER, totals_table=TOTALS)
        clients.reset()


def document_text(number: int) -> str:
    """A canonical invoice as normalize writes it (pydantic's compact JSON), three lines: ≈1.2 KB."""
    lines = [{"line_id": f"il_{number}_{n}", "description": f"Pro plan seat {n} (Nov 2026)", "quantity": "1",
              "unit_price": {"amount": "20.00", "currency": "USD"}, "amount": {"amount": "20.00", "currency": "USD"},
              "tax": {"amount": "0.00", "currency": "USD"}, "product_id": f"prod_{n}", "revenue": None}
             for n in range(3)]
    return json.dumps({
        "document_id": f"doc_{number:032x}", "document_type": "invoice", "entity_id": "us01",
        "accounting_date": "2026-11-24", "currency": "USD", "reference": f"INV-{number:05d}",
        "source": {"system": "stripe", "object_type": "invoice", "object_id": f"in_{number}", "version": "paid",
                   "event_id": f"evt_{number}", "source_id": "stripe"},
        "party": {"role": "customer", "source_id": f"cus_{number}", "name": "Acme Ltd", "email": "ap@acme.test"},
        "lines": lines, "total": {"amount": "60.00", "currency": "USD"}, "memo": "Pro plan, three seats",
    }, separators=(",", ":"))


def journal_text(number: int) -> str:
    """The posted journal as the post step writes it (``json.dumps`` compact): ≈1 KB."""
    lines = [{"account": account, "debit": debit, "credit": credit, "currency": "USD", "memo": f"INV-{number:05d}",
              "dimensions": {"entity": "us01", "source": "stripe", "product": f"prod_{n}"}}
             for n, (account, debit, credit) in enumerate([("1200", "60.00", "0"), ("4000", "0", "20.00"),
                                                           ("4000", "0", "20.00"), ("4000", "0", "20.00")])]
    return json.dumps({"document_id": f"doc_{number:032x}", "entity_id": "us01", "accounting_date": "2026-11-24",
                       "currency": "USD", "lines": lines, "rate": "1", "reference": f"INV-{number:05d}"},
                      separators=(",", ":"))


def record(number: int, **extra: Any) -> dict[str, Any]:
    return {"document_id": f"doc_{number:032x}", "status": "received", "document_type": "invoice",
            "source_id": "stripe", "source_object": f"invoice:in_{number}:paid", "event_id": f"evt_{number}",
            "correlation_id": f"c-{number}", "entity_id": "us01", "accounting_date": "2026-11-24",
            "currency": "USD", "amount": "60.00", "config_version": 1, "document": document_text(number), **extra}


def post(ledger: DynamoLedger, item: dict[str, Any], journal: str) -> bool:
    return ledger.transition(item["document_id"], to=DocumentStatus.POSTED, expected=("received", "exception"),
                             key=CounterKey.of(item), remove=("lease_until", "lease_holder"),
                             erp_ref=f"books:{item['document_id'][-4:]}", erp_connection="books", journal=journal)


def raw(document_id: str) -> dict[str, Any]:
    """The item as DynamoDB holds it (the low-level client's answer, attribute types included)."""
    return clients.client("dynamodb").get_item(TableName=LEDGER, Key={"document_id": {"S": document_id}},
                                               ConsistentRead=True)["Item"]


# DynamoDB's item size: each attribute's name (UTF-8 bytes) plus its value — a string's UTF-8 bytes, a binary's raw
# bytes, a number 1 byte per two significant digits plus 1, a boolean or null 1, a map or list 3 plus its elements
# (a map element's name too) and 1 byte each.
def value_size(attribute: dict[str, Any]) -> int:
    (kind, content), = attribute.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "B":
        return len(content)
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(nested) + 1 for name, nested in content.items())
    if kind == "L":
        return 3 + sum(value_size(nested) + 1 for nested in content)
    raise AssertionError(f"unexpected attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(attribute) for name, attribute in item.items())


def write_units(size: int) -> int:
    return math.ceil(size / 1024)


def test_a_registered_and_posted_document_reads_back_identical_and_is_stored_compressed(ledger):
    item, journal = record(1), journal_text(1)
    assert ledger.register(item).is_new
    assert post(ledger, item, journal)
    # the readers answer the text as it was given
    stored = ledger.get(item["document_id"])
    assert stored is not None
    assert (stored["document"], stored["journal"]) == (item["document"], journal)
    assert isinstance(stored["document"], str) and isinstance(stored["journal"], str)
    typed = ledger.read(item["document_id"])
    assert typed is not None
    assert (typed.document, typed.journal, typed.status) == (item["document"], journal, DocumentStatus.POSTED)
    assert typed.document_json() == json.loads(item["document"])
    # DynamoDB holds binary attributes: the zlib stream of the UTF-8 text
    held = raw(item["document_id"])
    assert set(held["document"]) == {"B"} and set(held["journal"]) == {"B"}
    assert zlib.decompress(held["document"]["B"]).decode("utf-8") == item["document"]
    assert zlib.decompress(held["journal"]["B"]).decode("utf-8") == journal
    # and the item is smaller than the one with the text: fewer write units on every later update
    as_text = {**held, "document": {"S": item["document"]}, "journal": {"S": journal}}
    assert item_size(held) < item_size(as_text)
    assert item_size(as_text) - item_size(held) == (len(item["document"].encode()) + len(journal.encode())
                                                    - len(held["document"]["B"]) - len(held["journal"]["B"]))
    assert write_units(item_size(held)) < write_units(item_size(as_text))
    # the counters moved as before: received once, then posted
    counted = DynamoControlTotals(TOTALS).documents("us01", "2026-11-24")[("stripe", "USD")]
    assert (counted["received_count"], counted["posted_count"], counted["posted_amount"]) == (1, 1, Decimal("60.00"))


def test_a_batch_registration_and_an_update_write_them_compressed_too(ledger):
    first, second = record(2), record(3)
    outcome = ledger.register_batch([first, second])
    assert outcome.complete and sorted(outcome.registered) == sorted([first["document_id"], second["document_id"]])
    journal = journal_text(2)
    ledger.update(first["document_id"], journal=journal, note="checked")
    for item in (first, second):
        held = raw(item["document_id"])
        assert set(held["document"]) == {"B"}
        assert zlib.decompress(held["document"]["B"]).decode() == item["document"]
    assert set(raw(first["document_id"])["journal"]) == {"B"} and "journal" not in raw(second["document_id"])
    stored = ledger.get(first["document_id"])
    assert stored is not None and (stored["document"], stored["journal"], stored["note"]) == (
        first["document"], journal, "checked")


def test_an_item_written_before_with_the_text_reads_back_the_same(ledger):
    document, journal = document_text(4), journal_text(4)
    document_id = f"doc_{4:032x}"
    clients.client("dynamodb").put_item(TableName=LEDGER, Item={
        "document_id": {"S": document_id}, "status": {"S": "posted"}, "entity_id": {"S": "us01"},
        "accounting_date": {"S": "2026-11-24"}, "currency": {"S": "USD"}, "amount": {"S": "60.00"},
        "source_id": {"S": "stripe"}, "day_key": {"S": "us01#2026-11-24"}, "event_id": {"S": "evt_4"},
        "erp_ref": {"S": "books:old"}, "document": {"S": document}, "journal": {"S": journal}})
    stored = ledger.get(document_id)
    assert stored is not None and (stored["document"], stored["journal"]) == (document, journal)
    typed = ledger.read(document_id)
    assert typed is not None and (typed.document, typed.journal) == (document, journal)
    assert [(i["document"], i["journal"]) for i in ledger.scan()] == [(document, journal)]
    assert [(i["document"], i["journal"]) for i in ledger.on_day("us01", "2026-11-24")] == [(document, journal)]
    assert list(ledger.scan_projected(("document_id", "document"))) == [{"document_id": document_id,
                                                                         "document": document}]
    # a later write that sets the journal stores it compressed; the old document stays text and both still read
    newer = journal_text(40)
    ledger.update(document_id, journal=newer)
    held = raw(document_id)
    assert set(held["document"]) == {"S"} and set(held["journal"]) == {"B"}
    stored = ledger.get(document_id)
    assert stored is not None and (stored["document"], stored["journal"]) == (document, newer)


def test_the_refused_writes_report_the_status_from_the_old_item(ledger):
    item, journal = record(5), journal_text(5)
    assert ledger.register(item).is_new
    # a second registration is cancelled on its condition: the old item's status comes back
    again = ledger.register(item)
    assert (again.is_new, again.status) == (False, "received")
    assert post(ledger, item, journal)
    # a retried posted transition finds the item posted (ALL_OLD of the cancelled transaction): nothing counted twice
    assert post(ledger, item, journal) is False
    # a transition from a status it does not expect names the status the item has
    with pytest.raises(DocumentStateError) as refused:
        ledger.transition(item["document_id"], to=DocumentStatus.IGNORED, expected=("exception",),
                          key=CounterKey.of(item))
    assert refused.value.actual == "posted"
    # the post step's refused lease answers the posted item, its stored result readable as text
    lease = ledger.take_lease(item["document_id"], holder="post-2", seconds=60)
    assert not lease.taken
    assert (lease.record.status, lease.record.document, lease.record.journal) == (
        DocumentStatus.POSTED, item["document"], journal)
    counted = DynamoControlTotals(TOTALS).documents("us01", "2026-11-24")[("stripe", "USD")]
    assert (counted["received_count"], counted["posted_count"], counted["ignored_count"]) == (1, 1, 0)


def test_every_reader_answers_the_text(ledger):
    items = [record(number) for number in (6, 7, 8)]
    assert ledger.register_batch(items).complete
    journal = journal_text(6)
    assert post(ledger, items[0], journal)
    by_id = {item["document_id"]: item["document"] for item in items}
    projected = list(ledger.scan_projected(("document_id", "status", "document", "journal")))
    assert {i["document_id"]: i["document"] for i in projected} == by_id
    assert [i["journal"] for i in projected if "journal" in i] == [journal]
    assert {i["document_id"]: i["document"] for i in ledger.on_day("us01", "2026-11-24")} == by_id
    assert {i["document_id"]: i["document"] for i in ledger.scan()} == by_id
    assert ledger.find("event", "evt_7") == [items[1]["document_id"]]
    assert ledger.find("erp", f"books:{items[0]['document_id'][-4:]}") == [items[0]["document_id"]]
    wanted = [items[2]["document_id"], "doc_missing", items[0]["document_id"]]
    assert [(i["document_id"], i["document"], i.get("journal")) for i in ledger.get_many(wanted)] == [
        (items[2]["document_id"], items[2]["document"], None), (items[0]["document_id"], items[0]["document"], journal)]


def test_get_many_reads_in_batches_and_keeps_the_order_and_repeats_it_was_given(ledger) -> None:
    """BatchGetItem takes at most 100 keys per request (moto enforces it): 111 distinct ids, one asked twice and one
    missing, come back in the order asked, the repeat repeated, the missing one left out. (DynamoDB also refuses a key
    twice in one request; moto does not, so that the store asks each key once is not checked here.)"""
    items = [record(number) for number in range(149)]
    assert ledger.register_batch(items).complete
    ids = [item["document_id"] for item in items]
    wanted = [ids[120], *ids[:100], "doc_missing", ids[120], *ids[100:110]]
    assert [item["document_id"] for item in ledger.get_many(wanted)] == [
        ids[120], *ids[:100], ids[120], *ids[100:110]]
