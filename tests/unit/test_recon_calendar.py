"""The reconciliation calendar and its day view read the reports the daily reconciliation writes. The reports here are
written by the real reconciler (fake totals, ledger and ERP) into an in-memory bucket, so the calendar reads the
keys and JSON shape reconciliation actually produces; the expected figures are stated by hand from the fakes."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config import load_config_file
from ledgerlink.errors import OpsError
from ledgerlink.service.recon_calendar import at_stake, calendar, day
from ledgerlink.service.reconcile import Difference, EntityReport, Reconciler, ReconciliationReport

from tests.conftest import EXAMPLE_CONFIG

CONFIG = load_config_file(EXAMPLE_CONFIG)
TODAY = date(2026, 11, 10)
NOON = 1_793_880_000.0   # an instant on 2026-11-05 (UTC): the generated_at of a run (its order is what matters)


class MemoryReports:
    """The reports bucket: put (the reconciler), keys and get (the calendar), with the calls counted."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.listings: list[str] = []
        self.gets: list[str] = []

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def keys(self, prefix: str) -> list[str]:
        self.listings.append(prefix)
        return sorted(key for key in self.objects if key.startswith(prefix))

    def get(self, key: str) -> bytes:
        self.gets.append(key)
        return self.objects[key]


class Totals:
    """Three 10.00 USD stripe documents per entity-day, all posted."""

    def events(self, day: str) -> dict[str, Any]:
        return {}

    def documents(self, entity_id: str, day: str) -> dict[tuple[str, str], dict[str, Decimal]]:
        return {("stripe", "USD"): {"received_count": Decimal(3), "posted_count": Decimal(3),
                                    "received_amount": Decimal("30.00"), "posted_amount": Decimal("30.00")}}

    def put_summary(self, record: dict[str, Any]) -> None:
        pass


class Ledger:
    def on_day(self, entity_id: str, day: str) -> list[dict[str, Any]]:
        return [{"document_id": f"doc_{entity_id}_{n}", "status": "posted", "erp_ref": f"ref_{n}",
                 "correlation_id": f"c{n}", "currency": "USD", "amount": "10.00"} for n in range(3)]


class Erp:
    """A book listing what it holds per entity; ``lists=False``: a connector that cannot list its postings."""

    def __init__(self, held: dict[str, list[int]], *, lists: bool = True) -> None:
        self.held = held
        self.lists = lists

    def as_reader(self) -> None:
        return None

    def as_day_lister(self) -> Erp | None:
        return self if self.lists else None

    def posted_count(self, entity_id: str, day: str) -> int:
        return len(self.posted_on(entity_id, day))

    def posted_on(self, entity_id: str, day: str) -> list[str]:
        return [f"doc_{entity_id}_{n}" for n in self.held.get(entity_id, [0, 1, 2])]


def reconcile(reports: MemoryReports, business_date: str, entities: list[str] | None, erp: Erp,
              at: float = NOON) -> None:
    Reconciler(config=lambda: (1, CONFIG), totals=Totals(), inbox=None, ledger=Ledger(),
               connectors=lambda config, connection_id, version: erp, reports=reports,
               clock=lambda: at).run(business_date, entities)


ALL_HELD = Erp({})
US01_LOST_ONE = Erp({"us01": [0, 2]})


@pytest.fixture
def november() -> MemoryReports:
    reports = MemoryReports()
    reconcile(reports, "2026-11-02", ["us01"], ALL_HELD)                         # us01's own run: balanced
    reconcile(reports, "2026-11-03", None, US01_LOST_ONE)                        # all entities: us01 lost doc 1
    reconcile(reports, "2026-11-04", ["us01"], US01_LOST_ONE, at=NOON)           # us01 lost one ...
    reconcile(reports, "2026-11-04", None, ALL_HELD, at=NOON + 3600)             # ... an hour later all agree
    reconcile(reports, "2026-11-06", ["us01"], Erp({}, lists=False))             # the ERP side not checked
    reconcile(reports, "2026-12-01", ["us01"], US01_LOST_ONE)                    # another month
    reports.gets.clear()
    return reports


def test_the_calendar_has_a_cell_per_day_from_one_listing_and_one_read_per_report(november: MemoryReports):
    month = calendar(november, entity="us01", month="2026-11", today=TODAY)
    cells = {cell.date: cell for cell in month.days}
    assert len(month.days) == 30
    assert cells["2026-11-02"].status == "balanced" and cells["2026-11-02"].scope == "us01"
    assert (cells["2026-11-03"].status, cells["2026-11-03"].scope) == ("difference", "all")
    assert cells["2026-11-03"].difference_count == 1 and cells["2026-11-03"].kinds == {"missing_in_erp": 1}
    assert cells["2026-11-03"].amounts == {"USD": "10.00"}            # the one lost 10.00 document
    assert cells["2026-11-03"].report_key == "reports/reconciliation/2026-11-03/all"
    assert (cells["2026-11-04"].status, cells["2026-11-04"].scope) == ("balanced", "all")   # the newer run counts
    assert cells["2026-11-06"].status == "not_checked" and "cannot list postings" in str(cells["2026-11-06"].reason)
    assert [d for d, c in cells.items() if c.status == "not_checked" and c.report_key is None] == [
        "2026-11-01", "2026-11-05", "2026-11-07", "2026-11-08", "2026-11-09", "2026-11-10"]
    assert all(cells[f"2026-11-{n:02d}"].status == "future" for n in range(11, 31))
    assert month.counts == {"balanced": 2, "difference": 1, "not_checked": 7, "future": 20}
    # one listing for the month; a GET per report that covers us01 (two on the 4th), none per missing day
    assert november.listings == ["reports/reconciliation/2026-11-"]
    assert len(november.gets) == 5 and month.reports_read == 5
    assert all(key.endswith(".json") for key in november.gets)


def test_an_all_entities_report_covers_each_entity_with_its_own_section(november: MemoryReports):
    month = calendar(november, entity="gb01", month="2026-11", today=TODAY)
    cells = {cell.date: cell for cell in month.days}
    assert (cells["2026-11-03"].status, cells["2026-11-03"].scope) == ("balanced", "all")   # only us01 lost one
    assert cells["2026-11-02"].status == "not_checked"                 # us01's own run says nothing about gb01
    assert month.to_dict()["days"][2] == {
        "date": "2026-11-03", "status": "balanced", "difference_count": 0, "event_difference_count": 0, "kinds": {},
        "amounts": {}, "unpriced_count": 0, "reason": None, "report_key": "reports/reconciliation/2026-11-03/all",
        "scope": "all", "generated_at": cells["2026-11-03"].generated_at}


def test_the_day_names_each_difference_with_its_documents_amount_and_a_sentence(november: MemoryReports):
    found = day(november, entity="us01", business_date="2026-11-03")
    assert (found.status, found.scope) == ("difference", "all")
    (item,) = found.items
    assert (item.kind, item.document_ids, item.erp_refs, item.amount, item.currency) == (
        "missing_in_erp", ["doc_us01_1"], ["ref_1"], "10.00", "USD")
    assert "doc_us01_1" in item.sentence and "ref_1" in item.sentence
    (stripe,) = found.sources
    assert stripe.to_dict() == {"source": "stripe", "currency": "USD", "received_count": 3, "received_amount": "30.00",
                                "posted_count": 3, "posted_amount": "30.00", "exception_count": 0,
                                "exception_amount": "0.00", "ignored_count": 0, "ignored_amount": "0.00",
                                "in_flight_count": 0, "in_flight_amount": "0.00"}
    assert found.erp["erp_posted"] == 2 and found.erp["ledger_posted"] == 3
    assert november.listings[-1] == "reports/reconciliation/2026-11-03/"


def test_a_day_without_a_report_is_not_checked_or_future():
    reports = MemoryReports()
    assert day(reports, entity="us01", business_date="2026-11-09").status == "not_checked"
    assert day(reports, entity="us01", business_date="2026-11-11", today=TODAY).status == "future"
    assert reports.gets == []


def write(reports: MemoryReports, business_date: str, report: ReconciliationReport, scope: str = "us01") -> None:
    key = f"reports/reconciliation/{business_date}/{scope}"
    report.report_key = key
    reports.put(key + ".json", json.dumps(report.to_dict(), default=str).encode(), "application/json")


def test_what_is_at_stake_is_summed_per_currency_and_event_differences_count_on_every_entity():
    reports = MemoryReports()
    changed = Difference("changed_in_erp", {"document_id": "doc_a", "erp_ref": "J1", "difference_currency": "EUR",
                                            "difference": {"1100": "7.50", "4000": "-7.50"}})
    duplicate = Difference("unexpected_in_erp", {"document_id": "doc_b", "reason": "duplicate", "count": 3,
                                                 "erp_refs": ["I1", "I2", "I3"], "amount": "1500", "currency": "JPY"})
    lost = Difference("event_not_processed", {"source": "stripe", "event_id": "evt_1", "claimed_at": 1_793_880_000,
                                              "archive_key": "raw/stripe/evt_1.json"})
    write(reports, "2026-11-05", ReconciliationReport(
        business_date="2026-11-05", generated_at="2026-11-06T01:00:00+00:00", events={}, event_differences=[lost],
        entities=[EntityReport("us01", differences=[changed, duplicate])]))
    cell = next(c for c in calendar(reports, entity="us01", month="2026-11", today=TODAY).days if c.date == "2026-11-05")
    # 7.50 EUR moved between accounts; two extra copies of a 1,500 JPY invoice; the lost event has no amount
    assert cell.amounts == {"EUR": "7.50", "JPY": "3000"}
    assert (cell.difference_count, cell.event_difference_count, cell.unpriced_count) == (3, 1, 1)
    items = day(reports, entity="us01", business_date="2026-11-05").items
    assert [(i.kind, i.scope) for i in items] == [("changed_in_erp", "entity"), ("unexpected_in_erp", "entity"),
                                                 ("event_not_processed", "events")]
    assert items[2].event_ids == ["evt_1"] and "2026-11-05T" in items[2].sentence
    assert items[1].erp_refs == ["I1", "I2", "I3"] and "3 times" in items[1].sentence


@pytest.mark.parametrize(("kind", "detail", "stake"), [
    ("missing_in_erp", {"amount": "-20.00", "currency": "USD"}, ("USD", Decimal("20.00"))),
    ("changed_in_erp", {"difference": {"total": "-4.00"}, "difference_currency": "GBP"}, ("GBP", Decimal("4.00"))),
    ("changed_in_erp", {"difference": {"total": "-4.00"}}, None),          # a report written before currencies
    ("counters_inconsistent", {"source": "stripe", "currency": "USD", "received": 1}, None),
])
def test_at_stake(kind: str, detail: dict[str, Any], stake: tuple[str, Decimal] | None):
    assert at_stake(kind, detail) == stake


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "banana", "2026-11-01"])
def test_a_malformed_month_is_refused_with_a_reason(month: str):
    with pytest.raises(OpsError) as refused:
        calendar(MemoryReports(), entity="us01", month=month, today=TODAY)
    assert (refused.value.reason, refused.value.status) == ("invalid_month", 400)


def test_an_unreadable_report_reads_as_no_report():
    reports = MemoryReports()
    reports.put("reports/reconciliation/2026-11-02/us01.json", b"{not json", "application/json")
    found = day(reports, entity="us01", business_date="2026-11-02")
    assert found.status == "not_checked" and found.report_key is None


def test_a_read_back_difference_carries_the_documents_amount_and_the_currency_of_its_change():
    from ledgerlink.connectors.erps.readback import ErpRecord
    from ledgerlink.service.reconcile import compare_readback, readback_expectations

    class Reader:
        readback_key = staticmethod(lambda document_id: document_id)
        readback_kind = staticmethod(lambda erp_ref: "journal")

    on = date(2026, 1, 15)
    journal = {"lines": [{"account": "1100", "amount": {"amount": "10.00", "currency": "EUR"}},
                         {"account": "4000", "amount": {"amount": "-10.00", "currency": "EUR"}}]}
    items = [{"document_id": "doc_a", "status": "posted", "erp_ref": "J1", "journal": json.dumps(journal),
              "posted_accounting_date": on.isoformat(), "currency": "EUR", "amount": "10"}]
    expected = readback_expectations(Reader(), items, "api")     # type: ignore[arg-type]
    held = ErpRecord(erp_ref="J1", kind="journal", key="doc_a", on=on,
                     lines=(("1100", Decimal("12.00")), ("4000", Decimal("-12.00"))))
    (changed,) = compare_readback(expected, [held], day=on, owned=set(), elsewhere=lambda key: False)
    assert changed.kind == "changed_in_erp"
    assert (changed.detail["amount"], changed.detail["currency"], changed.detail["difference_currency"]) == (
        "10.00", "EUR", "EUR")
    assert at_stake(changed.kind, changed.detail) == ("EUR", Decimal("2.00"))   # 2.00 moved on each side
    (lost,) = compare_readback(expected, [], day=on, owned=set(), elsewhere=lambda key: False)
    assert (lost.kind, at_stake(lost.kind, lost.detail)) == ("missing_in_erp", ("EUR", Decimal("10.00")))
