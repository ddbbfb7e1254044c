"""Each tie-out of the close check drills down to the documents behind its expected and booked figures. The book
here is built per document from the real Stripe samples and the posting rules (as the Beancount book holds one posting
file per document), then damaged; the expected parts are stated by hand from the samples' amounts."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from ledgerlink.errors import OpsError
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.service.close_check import DRILLDOWN_LIMIT, CloseCheck, drilldown
from ledgerlink.service.recon_calendar import close_drilldown

from tests.unit.test_close_check import Book, documents

CLEARING = "cash_clearing/Assets:US01:Clearing:Stripe/USD"


class DocumentBook:
    """A book that knows which document each posting belongs to (``close_check.DocumentBook``)."""

    def __init__(self, config, docs):
        self.balances: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        for document in docs:
            for line in enrich(document, config, config_version=1).lines:
                held = self.balances[(line.account, line.amount.currency)]
                held[document.document_id] = held.get(document.document_id, Decimal(0)) + line.amount.amount

    def trial_balance(self, through=None, entity_id=None):
        raise AssertionError("a book with document balances is read once, per document")

    def document_balances(self, through=None, entity_id=None):
        return {key: dict(value) for key, value in self.balances.items()}


def run(config, docs, book):
    items = [{"document_id": d.document_id, "entity_id": d.entity_id, "status": "posted",
              "document_type": d.document_type, "accounting_date": d.accounting_date.isoformat(),
              "document": d.model_dump_json()} for d in docs]
    return CloseCheck(config=config, ledger_items=lambda: items, book_for=lambda entity: book,
                      schedules=lambda entity: []).run("us01", "2022-03")


def test_a_posting_missing_from_the_book_is_the_first_document_of_the_drilldown(example_config):
    invoice, payment, refund = documents(example_config, "02-invoice.paid.json", "04-charge.refunded.json")
    report = run(example_config, [invoice, payment, refund], DocumentBook(example_config, [invoice, payment]))
    found = close_drilldown(report, CLEARING)
    # clearing: the 20.00 payment is booked, the 1.00 refund is not
    assert (found.expected, found.booked, found.difference, found.count) == ("19.00", "20.00", "1.00", 2)
    assert found.items == [
        {"document_id": refund.document_id, "expected": "-1.00", "booked": "0", "difference": "1.00"},
        {"document_id": payment.document_id, "expected": "20.00", "booked": "20.00", "difference": "0.00"}]
    assert found.document_ids == [refund.document_id, payment.document_id] and not found.truncated
    # the same from the report's JSON (what the close-check API returns)
    assert close_drilldown(report.to_dict(), CLEARING) == found


def test_the_report_json_keeps_its_keys_and_adds_the_drilldown(example_config):
    docs = documents(example_config, "02-invoice.paid.json")
    row = run(example_config, docs, DocumentBook(example_config, docs)).to_dict()["tieouts"][0]
    assert {"check", "account", "currency", "expected", "booked", "difference", "status", "basis", "problems",
            "documents"} < set(row)
    assert row["name"] == f"{row['check']}/{row['account']}/{row['currency']}" and "drilldown_count" in row


def test_the_trial_balance_drills_down_to_the_postings_that_do_not_balance(example_config):
    invoice, payment = documents(example_config, "02-invoice.paid.json")
    book = DocumentBook(example_config, [invoice, payment])
    book.balances[("Income:US01:Revenue:Subscriptions", "USD")][payment.document_id] = Decimal("0.01")
    found = close_drilldown(run(example_config, [invoice, payment], book), "trial_balance")
    assert found.difference == "0.01"
    assert found.items == [{"document_id": payment.document_id, "expected": "0", "booked": "0.01",
                            "difference": "0.01"}]


def test_a_book_that_cannot_name_documents_drills_down_to_the_expected_side_only(example_config):
    docs = documents(example_config, "02-invoice.paid.json", "04-charge.refunded.json")
    found = close_drilldown(run(example_config, docs, Book(example_config, docs)), CLEARING)
    assert {item["booked"] for item in found.items} == {None} and found.count == 2
    assert sorted(item["expected"] for item in found.items) == ["-1.00", "20.00"]


def test_an_unknown_or_ambiguous_tie_out_is_refused_with_the_names_there_are(example_config):
    docs = documents(example_config, "02-invoice.paid.json")
    report = run(example_config, docs, DocumentBook(example_config, docs))
    for name in ("cash_clearing/Assets:US01:Nowhere/USD", "no_such_check"):
        with pytest.raises(OpsError) as refused:
            close_drilldown(report, name)
        assert (refused.value.status, refused.value.reason) == (404, "unknown_tie_out")
        assert CLEARING in refused.value.detail["names"]


def test_the_drilldown_is_limited_and_puts_the_largest_differences_first():
    expected = {f"doc_{n:04d}": Decimal(n) for n in range(DRILLDOWN_LIMIT + 100)}
    booked = dict(expected) | {"doc_0007": Decimal(0), "doc_0300": Decimal(1)}
    items, count = drilldown(expected, booked)
    assert count == DRILLDOWN_LIMIT + 100 and len(items) == DRILLDOWN_LIMIT
    assert [(i.document_id, i.difference) for i in items[:2]] == [("doc_0300", Decimal(-299)),
                                                                  ("doc_0007", Decimal(-7))]
    assert items[2].document_id == "doc_0000" and items[2].difference == 0
