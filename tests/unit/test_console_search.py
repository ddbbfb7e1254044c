"""The console's search: ids go to GetItem / the keys-only indexes (no scan), names and amounts scan the ledger,
cases and never-normalized events are found by their ids, and bad queries are refused with a reason."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ledgerlink.model.documents import (
    Bill,
    BillLine,
    ExpenseLine,
    ExpenseReport,
    Fee,
    Invoice,
    Party,
    Payout,
    SourceRef,
)
from ledgerlink.model.money import Money
from ledgerlink.service.search import AmountQuery, amount_query, search

from tests.unit.console_fakes import FakeCases, FakeInbox, FakeLedger, invoice, item

ACME = Party(role="customer", source_id="cus_ACME01", name="Acme Corporation")
GLOBEX = Party(role="customer", source_id="cus_GLOBEX", name="Globex Ltd")
PAPER = Party(role="vendor", source_id="ven_paper", name="Dunder Paper Supply")


def bill(object_id: str, total: str) -> Bill:
    source = SourceRef(system="ramp", object_type="bill", object_id=object_id, source_id="ramp")
    return Bill(document_id=source.document_id(), source=source, entity_id="us01", correlation_id=f"corr-{object_id}",
                occurred_at=datetime(2024, 3, 10, 12, tzinfo=UTC), accounting_date=date(2024, 3, 10), currency="USD",
                party=PAPER, lines=(BillLine(line_id="b1", category="office", amount=Money.of(total, "USD")),),
                total=Money.of(total, "USD"))


def payout() -> Payout:
    source = SourceRef(system="stripe", object_type="payout", object_id="po_1", source_id="stripe")
    return Payout(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="corr-po",
                  occurred_at=datetime(2024, 3, 20, 12, tzinfo=UTC), accounting_date=date(2024, 3, 20),
                  currency="USD", amount=Money.of("970.00", "USD"),
                  fees=(Fee(amount=Money.of("30.00", "USD")),))


def expense() -> ExpenseReport:
    source = SourceRef(system="ramp", object_type="reimbursement", object_id="re_1", source_id="ramp")
    return ExpenseReport(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="corr-re",
                         occurred_at=datetime(2024, 3, 5, 12, tzinfo=UTC), accounting_date=date(2024, 3, 5),
                         currency="USD", employee=Party(role="employee", source_id="emp_acme", name="Acme Fan"),
                         report_id="re_1", total=Money.of("42.00", "USD"),
                         lines=(ExpenseLine(line_id="l1", category="travel", amount=Money.of("42.00", "USD"),
                                            transaction_date=date(2024, 3, 5)),))


ACME_MARCH = invoice("in_acme_mar", "1234.56", party=ACME, on=date(2024, 3, 15), event_id="evt_paid_1")
ACME_FEB = invoice("in_acme_feb", "1234.56", party=ACME, on=date(2024, 2, 15))
ACME_EUR = invoice("in_acme_eur", "1234.56", currency="EUR", party=ACME, on=date(2024, 1, 15))
GLOBEX_INVOICE = invoice("in_globex", "99.00", party=GLOBEX, event_id="evt_paid_1")
PAPER_BILL = bill("bill_1", "250.00")


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger([
        item(ACME_MARCH, status="posted", erp_ref="JE-1001"),
        item(ACME_FEB, status="exception", exception_id="exc_feb"),
        item(ACME_EUR),
        item(GLOBEX_INVOICE, status="posted", erp_ref="JE-1002"),
        item(PAPER_BILL),
        item(payout()),
        item(expense()),
    ])


def run(query: str, ledger: FakeLedger, *, cases: FakeCases | None = None, inbox: FakeInbox | None = None,
        limit: int = 50, sources: tuple[str, ...] = ()):
    return search(query, ledger=ledger, inbox=inbox or FakeInbox(), cases=cases or FakeCases(), limit=limit,
                  sources=sources)


# ---- by id: GetItem and the indexes, never a scan ------------------------------------------------------------

def test_a_document_id_is_one_getitem_and_shows_the_document(ledger: FakeLedger) -> None:
    result = run(ACME_MARCH.document_id, ledger)
    assert result.mode == "id" and "scan" not in ledger.calls
    (hit,) = result.hits
    assert hit.to_dict() == {
        "document_id": ACME_MARCH.document_id, "document_type": "invoice", "entity_id": "us01", "source": "stripe",
        "status": "posted", "amount": "1234.56", "currency": "USD", "accounting_date": "2024-03-15",
        "erp_reference": "JE-1001", "matched_on": "document_id"}


@pytest.mark.parametrize(("query", "matched_on", "expected"), [
    ("evt_paid_1", "event_id", {GLOBEX_INVOICE.document_id, ACME_MARCH.document_id}),   # one event, two documents
    ("corr-in_acme_feb", "correlation_id", {ACME_FEB.document_id}),
    ("in_globex", "external_id", {GLOBEX_INVOICE.document_id}),
    ("JE-1001", "erp_reference", {ACME_MARCH.document_id}),
])
def test_event_correlation_external_and_erp_ids_are_index_queries(ledger: FakeLedger, query: str, matched_on: str,
                                                                   expected: set[str]) -> None:
    result = run(query, ledger)
    assert result.mode == "id" and "scan" not in ledger.calls
    assert {hit.document_id for hit in result.hits} == expected
    assert {hit.matched_on for hit in result.hits} == {matched_on}
    assert result.total == len(expected) and not result.truncated


# ---- by scan: customer / vendor and amounts ------------------------------------------------------------------

def test_a_customer_name_matches_case_insensitively_newest_first(ledger: FakeLedger) -> None:
    result = run("acme corp", ledger)
    assert result.mode == "scan" and ledger.calls.count("scan") == 1
    assert result.scanned == 7
    # the three Acme invoices, newest accounting date first; not the employee whose name has "acme" in it
    assert [hit.document_id for hit in result.hits] == [ACME_MARCH.document_id, ACME_FEB.document_id,
                                                        ACME_EUR.document_id]
    assert {hit.matched_on for hit in result.hits} == {"customer_name"}


def test_a_customer_id_substring_and_a_vendor_name(ledger: FakeLedger) -> None:
    assert [(hit.document_id, hit.matched_on) for hit in run("GLOBEX", ledger).hits] == [
        (GLOBEX_INVOICE.document_id, "customer_id")]
    assert [(hit.document_id, hit.matched_on) for hit in run("dunder paper", ledger).hits] == [
        (PAPER_BILL.document_id, "vendor_name")]


def test_an_employee_is_not_a_customer_or_vendor(ledger: FakeLedger) -> None:
    result = run("emp_acme", ledger)
    assert result.hits == () and result.total == 0 and result.scanned == 7


@pytest.mark.parametrize(("query", "expected"), [
    ("1234.56", [ACME_MARCH, ACME_FEB, ACME_EUR]),        # any currency
    ("1,234.56", [ACME_MARCH, ACME_FEB, ACME_EUR]),       # thousands separators
    ("1234.56 USD", [ACME_MARCH, ACME_FEB]),              # in that currency only
    ("eur 1234.56", [ACME_EUR]),
    ("1234.560", [ACME_MARCH, ACME_FEB, ACME_EUR]),       # equal as a Decimal
    ("1234.57", []),
    ("123456", []),                                       # 1234.56 in minor units is not 1234.56
])
def test_an_amount_matches_the_total_exactly(ledger: FakeLedger, query: str, expected: list[Invoice]) -> None:
    result = run(query, ledger)
    assert [hit.document_id for hit in result.hits] == [document.document_id for document in expected]
    assert all(hit.matched_on == "amount" and hit.amount == "1234.56" for hit in result.hits)


def test_a_payout_is_found_by_its_gross_and_by_what_reached_the_bank(ledger: FakeLedger) -> None:
    # the payout paid 970.00 to the bank after 30.00 of fees: its gross is 1,000.00
    (gross,) = run("1,000.00 USD", ledger).hits
    assert (gross.document_id, gross.matched_on, gross.amount) == (payout().document_id, "gross_amount", "970.00")
    (net,) = run("970", ledger).hits
    assert (net.document_id, net.matched_on) == (payout().document_id, "amount")


@pytest.mark.parametrize(("query", "expected"), [
    ("1,234.56", AmountQuery(Decimal("1234.56"), None)),
    ("-12.5 usd", AmountQuery(Decimal("-12.5"), "USD")),
    ("USD 7", AmountQuery(Decimal(7), "USD")),
    ("1,23.45", None),              # not a thousands grouping
    ("1234.56 XYZ", None),          # not a currency
    ("USD 5 EUR", None),
    ("in_1234", None),
])
def test_what_counts_as_an_amount(query: str, expected: AmountQuery | None) -> None:
    assert amount_query(query) == expected


def test_limit_returns_the_newest_and_says_how_many_matched(ledger: FakeLedger) -> None:
    result = run("acme", ledger, limit=2)
    assert [hit.accounting_date for hit in result.hits] == ["2024-03-15", "2024-02-15"]
    assert result.total == 3 and result.truncated
    assert result.to_dict()["truncated"] is True and len(result.to_dict()["hits"]) == 2


# ---- cases and events ----------------------------------------------------------------------------------------

NORMALIZE_CASE = {"exception_id": "exc_norm", "status": "open", "reason": "invalid_payload",
                  "subject": "stripe#evt_broken", "correlation_id": "corr-broken", "document_id": None,
                  "entity_id": None, "source": "stripe", "opened_at": "2024-03-15T10:00:00+00:00"}
POSTING_CASE = {"exception_id": "exc_feb", "status": "open", "reason": "mapping_missing",
                "subject": ACME_FEB.document_id, "correlation_id": "corr-in_acme_feb",
                "document_id": ACME_FEB.document_id, "entity_id": "us01", "source": "stripe",
                "opened_at": "2024-02-16T09:00:00+00:00"}


def test_an_event_that_never_became_a_document_is_found_by_its_case(ledger: FakeLedger) -> None:
    cases = FakeCases([NORMALIZE_CASE, POSTING_CASE])
    result = run("evt_broken", ledger, cases=cases)
    assert result.hits == () and result.mode == "scan"
    assert [case.to_dict() for case in result.cases] == [{
        "exception_id": "exc_norm", "status": "open", "reason": "invalid_payload", "document_id": None,
        "entity_id": None, "source": "stripe", "correlation_id": "corr-broken",
        "opened_at": "2024-03-15T10:00:00+00:00", "matched_on": "event_id"}]
    assert [case.exception_id for case in run("corr-broken", ledger, cases=cases).cases] == ["exc_norm"]


def test_a_document_id_brings_its_cases_through_the_index_without_scanning_the_cases(ledger: FakeLedger) -> None:
    cases = FakeCases([NORMALIZE_CASE, POSTING_CASE])
    result = run(ACME_FEB.document_id, ledger, cases=cases)
    assert [(case.exception_id, case.matched_on) for case in result.cases] == [("exc_feb", "document_id")]
    assert cases.calls == ["for_document"]


def test_a_name_search_reads_no_cases(ledger: FakeLedger) -> None:
    cases = FakeCases([POSTING_CASE])
    assert run("acme corp", ledger, cases=cases).cases == () and cases.calls == []


def test_an_event_in_the_inbox_without_a_document_is_an_event_hit(ledger: FakeLedger) -> None:
    inbox = FakeInbox([{"source": "stripe", "event_id": "evt_lost", "event_type": "invoice.paid", "status": "pending",
                        "claimed_at": 1_710_496_800, "correlation_id": "corr-lost",
                        "archive_key": "raw/stripe/2024/03/15/evt_lost.json", "last_error": "TransientError at x.py:1",
                        "failed_attempts": 2}])
    result = run("evt_lost", ledger, inbox=inbox, sources=("stripe", "adyen"))
    assert inbox.calls == ["stripe#evt_lost", "adyen#evt_lost"]
    assert [event.to_dict() for event in result.events] == [{
        "source": "stripe", "event_id": "evt_lost", "event_type": "invoice.paid", "status": "pending",
        "outcome": None, "received_at": "2024-03-15T10:00:00+00:00", "correlation_id": "corr-lost",
        "archive_key": "raw/stripe/2024/03/15/evt_lost.json", "document_ids": [],
        "last_error": "TransientError at x.py:1", "matched_on": "event_id"}]
    # an id that found documents does not read the inbox
    inbox.calls.clear()
    run("evt_paid_1", ledger, inbox=inbox, sources=("stripe",))
    assert inbox.calls == []


# ---- refused queries -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "message"), [
    ("", "empty"), ("   \t", "empty"), ("x" * 201, "201 characters long; at most 200"),
])
def test_an_empty_or_too_long_query_is_refused(ledger: FakeLedger, query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run(query, ledger)
    assert ledger.calls == []


def test_a_query_of_200_characters_is_searched(ledger: FakeLedger) -> None:
    assert run("  " + "x" * 200 + "  ", ledger).query == "x" * 200


@pytest.mark.parametrize("limit", [0, 501])
def test_a_limit_out_of_range_is_refused(ledger: FakeLedger, limit: int) -> None:
    with pytest.raises(ValueError, match="limit must be from 1 to 500"):
        run("acme", ledger, limit=limit)
