"""The embedded ERP: a Beancount book in a FileBookStore. Beancount's own loader and bean-check judge it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data as bc

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.erps.beancount import MAIN_FILE, BeancountBook, posting_name
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
from ledgerlink.model.money import Money
from ledgerlink.pipeline.enrich import enrich, postable
from ledgerlink.pipeline.validate import validate
from ledgerlink.store.books import FileBookStore

from tests.conftest import EVENTS, event_json

BEAN_CHECK = Path(sys.executable).parent / "bean-check"


@pytest.fixture
def book(tmp_path: Path, example_config: LedgerLinkConfig) -> BeancountBook:
    connection = example_config.connection("books")
    book = BeancountBook(connection, FileBookStore(tmp_path / "main"))
    book.ensure_accounts(example_config.all_accounts["books"], {"USD"}, config_version=1)
    return book


def journals(name: str, config: LedgerLinkConfig) -> list[JournalEntry]:
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id=f"corr-{name[:2]}",
                           archive_key=f"raw/stripe/{name}")
    docs = normalize(event_json(f"stripe/{name}"), ctx).documents
    return [validate(enrich(doc, config, config_version=1), config) for doc in docs if postable(doc.document_type)]


def all_sample_journals(config: LedgerLinkConfig) -> list[JournalEntry]:
    # the journals of entities whose ERP is this book (the example's gb01 posts to a legacy GL file)
    return [entry for path in sorted((EVENTS / "stripe").glob("*.json")) for entry in journals(path.name, config)
            if config.entity(entry.entity_id).erp_connection == "books"]


def beancount_load(book: BeancountBook) -> tuple[list[Any], list[Any]]:
    entries, errors, _ = loader.load_file(str(Path(book.store.location()) / MAIN_FILE))
    return entries, errors


def transactions(book: BeancountBook) -> list[bc.Transaction]:
    entries, errors = beancount_load(book)
    assert errors == []
    return [entry for entry in entries if isinstance(entry, bc.Transaction)]


def manual_journal(object_id: str = "j1", *, memo: str | None = None, line_memo: str | None = None,
                   dimensions: dict[str, str] | None = None) -> JournalEntry:
    source = SourceRef(system="manual", object_type="journal", object_id=object_id)
    return JournalEntry(
        document_id=source.document_id(), source=source, entity_id="us01", correlation_id="corr-manual",
        occurred_at=datetime(2024, 5, 1, tzinfo=UTC), accounting_date=date(2024, 5, 1), currency="USD", memo=memo,
        lines=(JournalLine(account="Assets:US01:Clearing:Stripe", amount=Money.of("10.00", "USD"),
                           memo=line_memo, dimensions=dimensions or {}),
               JournalLine(account="Income:US01:Revenue:Subscriptions", amount=Money.of("-10.00", "USD"))),
    )


# ---- exactly once -------------------------------------------------------------------------------------

def test_posting_the_same_journal_twice_creates_one_file(book: BeancountBook, example_config: LedgerLinkConfig) -> None:
    # Given one invoice journal
    (entry,) = journals("01-invoice.finalized.json", example_config)
    # When it is posted twice (a retry, a replay)
    first = book.post_journal(entry)
    second = book.post_journal(entry)
    # Then the second finds the first: one file, one transaction
    assert (first.created, second.created) == (True, False)
    assert first.erp_ref == second.erp_ref
    assert book.posting_names() == [posting_name(entry.document_id)]
    assert len(transactions(book)) == 1


def test_find_by_external_id(book: BeancountBook, example_config: LedgerLinkConfig) -> None:
    (entry,) = journals("01-invoice.finalized.json", example_config)
    assert book.find_by_external_id(entry.document_id) is None
    posted = book.post_journal(entry)
    found = book.find_by_external_id(entry.document_id)
    assert found is not None
    assert found.erp_ref == posted.erp_ref
    assert found.created is False


@pytest.mark.parametrize("external_id", ["../escape", "a/b", "doc x", "", "doc_1;rm", "x" * 129])
def test_external_ids_that_are_not_file_safe_are_refused(book: BeancountBook, external_id: str) -> None:
    with pytest.raises(ValueError, match="not file-safe"):
        posting_name(external_id)
    with pytest.raises(ValueError):
        book.find_by_external_id(external_id)


def test_journal_on_an_account_the_book_has_not_opened_is_refused(book: BeancountBook) -> None:
    entry = manual_journal()
    stray = entry.model_copy(update={"lines": (
        JournalLine(account="Assets:Unknown", amount=Money.of("10.00", "USD")), entry.lines[1])})
    with pytest.raises(ValueError, match="not opened"):
        book.post_journal(stray)
    assert book.posting_names() == []


# ---- Beancount's own checker ----------------------------------------------------------------------------

def test_the_book_with_every_sample_passes_beancount_loader(book: BeancountBook,
                                                            example_config: LedgerLinkConfig) -> None:
    # Given every sample event posted (duplicates included, as the demo would)
    entries = all_sample_journals(example_config)
    for entry in entries:
        book.post_journal(entry)
    # When Beancount loads the book
    txns = transactions(book)
    # Then it has no errors and one transaction per distinct document
    assert len(txns) == len({entry.document_id for entry in entries})


def test_bean_check_executable_accepts_the_book(book: BeancountBook, example_config: LedgerLinkConfig) -> None:
    for entry in all_sample_journals(example_config):
        book.post_journal(entry)
    completed = subprocess.run([str(BEAN_CHECK), str(Path(book.store.location()) / MAIN_FILE)],
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_bean_check_would_catch_a_broken_book(book: BeancountBook) -> None:
    # the checker used above can fail: an unbalanced transaction written by hand is reported
    book.store.create(f"postings/{'x' * 8}.beancount",
                      '2024-01-01 * "broken"\n  Assets:US01:Clearing:Stripe  1.00 USD\n'
                      '  Income:US01:Revenue:Subscriptions  -2.00 USD\n')
    _, errors = beancount_load(book)
    assert errors


# ---- traceability -----------------------------------------------------------------------------------------

def test_transaction_metadata_traces_back_to_the_document_and_the_webhook(book: BeancountBook,
                                                                          example_config: LedgerLinkConfig) -> None:
    (entry,) = journals("09-invoice.finalized.closed-period.json", example_config)
    book.post_journal(entry)
    (txn,) = transactions(book)
    assert txn.meta["document_id"] == entry.document_id
    assert txn.meta["correlation_id"] == entry.correlation_id
    assert txn.meta["event_id"] == entry.source.event_id
    assert txn.meta["archive_key"] == "raw/stripe/09-invoice.finalized.closed-period.json"
    assert txn.meta["original_date"] == "2021-12-20"  # the closed period moved it
    assert txn.date == date(2022, 1, 1)
    assert entry.document_id in txn.links


def test_refund_links_to_the_invoice_it_compensates(book: BeancountBook, example_config: LedgerLinkConfig) -> None:
    (refund,) = journals("08-charge.refunded.partial.current-api.json", example_config)
    book.post_journal(refund)
    (txn,) = transactions(book)
    assert set(refund.related_document_ids) <= set(txn.links)


def test_quotes_backslashes_and_newlines_in_memos_are_escaped(book: BeancountBook) -> None:
    # Given memos a customer could have typed
    narration = 'Refund for "Pro" plan\nsecond line \\ end'
    entry = manual_journal(memo=narration, line_memo='line "memo"\twith tab')
    # When posted
    book.post_journal(entry)
    # Then Beancount reads the same words back (newlines and tabs collapse to spaces)
    (txn,) = transactions(book)
    assert txn.narration == 'Refund for "Pro" plan second line \\ end'
    assert txn.postings[0].meta["memo"] == 'line "memo" with tab'


def test_line_dimensions_become_valid_posting_metadata(book: BeancountBook) -> None:
    # Dimension names come from other systems: spaces, capitals, leading digits
    entry = manual_journal(dimensions={"Cost Center": "R&D", "1st-project": "apollo"})
    book.post_journal(entry)
    (txn,) = transactions(book)
    values = {value for key, value in txn.postings[0].meta.items() if key not in ("filename", "lineno")}
    assert values == {"R&D", "apollo"}


# ---- reporting ------------------------------------------------------------------------------------------

def test_trial_balance_sums_per_account_and_currency(book: BeancountBook, example_config: LedgerLinkConfig) -> None:
    # invoice 20.00 USD, its payment 20.00 USD, and a 1.00 USD refund (events 02 and 04)
    for name in ("02-invoice.paid.json", "04-charge.refunded.json"):
        for entry in journals(name, example_config):
            book.post_journal(entry)
    balance = book.trial_balance()
    assert balance[("Assets:US01:AccountsReceivable:Stripe", "USD")] == 0
    assert balance[("Assets:US01:Clearing:Stripe", "USD")] == Money.of("19.00", "USD").amount
    assert balance[("Income:US01:Revenue:Subscriptions", "USD")] == Money.of("-20.00", "USD").amount
    assert balance[("Income:US01:Revenue:Refunds", "USD")] == Money.of("1.00", "USD").amount
    assert sum(balance.values()) == 0


def test_trial_balance_agrees_with_beancount(book: BeancountBook, example_config: LedgerLinkConfig) -> None:
    for entry in all_sample_journals(example_config):
        book.post_journal(entry)
    ours = {key: value for key, value in book.trial_balance().items() if value != 0}
    theirs: dict[tuple[str, str], Any] = {}
    for txn in transactions(book):
        for posting in txn.postings:
            key = (posting.account, posting.units.currency)
            theirs[key] = theirs.get(key, 0) + posting.units.number
    assert ours == {key: value for key, value in theirs.items() if value != 0}


def test_ensure_accounts_only_adds(book: BeancountBook) -> None:
    before = book.opened_accounts().copy()
    assert book.ensure_accounts({"Expenses:US01:New"}, {"USD"}, config_version=2) is True
    assert book.opened_accounts() == before | {"Expenses:US01:New"}
    assert book.ensure_accounts({"Expenses:US01:New"}, {"USD"}, config_version=2) is False
