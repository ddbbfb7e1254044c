"""`documents list` reads through the ledger's indexes on a deployed stack and refuses a whole-table scan there;
pages are cut by (business date, document id) so the cursor of one page gives exactly the rest."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledgerlink.cli_support.args import UsageError
from ledgerlink.cli_support.documents import SUMMARY_KEYS, Filters, list_documents, summary
from ledgerlink.errors import OpsError


def item(number: int, day: str, *, status: str = "posted", amount: str = "10.00", source: str = "stripe"):
    return {"document_id": f"doc_{number:032x}", "day_key": f"us01#{day}", "status": status, "amount": amount,
            "source_id": source, "entity_id": "us01", "currency": "USD", "event_id": f"evt_{number}",
            "source_object": f"invoice:in_{number}:finalized", "pk": "x", "lease_until": 1}


class Ledger:
    """The ledger's read surface, in memory: counts which kind of read was used."""

    def __init__(self, items):
        self.items = items
        self.reads = []

    def scan(self):
        self.reads.append("scan")
        return list(self.items)

    def on_day(self, entity, day):
        self.reads.append(f"day {day}")
        return [i for i in self.items if i["day_key"] == f"{entity}#{day}"]

    def get(self, document_id):
        return next((i for i in self.items if i["document_id"] == document_id), None)

    def get_many(self, ids):
        return [self.get(i) for i in ids if self.get(i)]

    def find(self, kind, reference):
        self.reads.append(f"index {kind}")
        attribute = {"event": "event_id", "correlation": "correlation_id", "external": "external_id",
                     "erp": "erp_ref"}[kind]
        return sorted(i["document_id"] for i in self.items if i.get(attribute) == reference)


ITEMS = [item(3, "2026-01-02"), item(1, "2026-01-01", amount="99.50"), item(2, "2026-01-01", status="exception"),
         item(4, "2026-01-03", source="adyen")]


def test_a_deployed_stack_never_scans_the_ledger():
    ledger = Ledger(ITEMS)
    with pytest.raises(UsageError) as refused:
        list_documents(ledger, Filters(status="posted"), local=False, limit=10)
    assert refused.value.reason == "scan_refused" and ledger.reads == []
    page = list_documents(ledger, Filters(entity="us01", first=date(2026, 1, 1), last=date(2026, 1, 2)),
                          local=False, limit=10)
    assert ledger.reads == ["day 2026-01-01", "day 2026-01-02"]
    assert [d["document_id"][-1] for d in page.documents] == ["1", "2", "3"]
    page = list_documents(ledger, Filters(reference="evt_4"), local=False, limit=10)
    assert page.matched_by == "event" and [d["document_id"][-1] for d in page.documents] == ["4"]
    with pytest.raises(OpsError):
        list_documents(ledger, Filters(reference="evt_none"), local=False, limit=10)
    with pytest.raises(UsageError) as too_long:
        list_documents(ledger, Filters(entity="us01", first=date(2024, 1, 1), last=date(2026, 1, 1)), local=False,
                       limit=10)
    assert too_long.value.reason == "range_too_long"


def test_pages_follow_each_other_without_gaps_or_repeats():
    ledger = Ledger(ITEMS)
    seen, after = [], None
    while True:
        page = list_documents(ledger, Filters(), local=True, limit=1, after=after)
        seen += [d["document_id"] for d in page.documents]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert [s[-1] for s in seen] == ["1", "2", "3", "4"]


def test_filters_and_the_documented_record():
    ledger = Ledger(ITEMS)
    keep = list_documents(ledger, Filters(min_amount=Decimal("50"), status="posted"), local=True, limit=10)
    assert [d["document_id"][-1] for d in keep.documents] == ["1"]
    assert [d["document_id"][-1] for d in list_documents(ledger, Filters(source="adyen"), local=True,
                                                          limit=10).documents] == ["4"]
    record = summary(ITEMS[0])
    assert tuple(record) == SUMMARY_KEYS and "pk" not in record and "lease_until" not in record
    assert (record["business_date"], record["external_id"], record["amount"]) == ("2026-01-02", "in_3", "10.00")
