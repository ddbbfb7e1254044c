"""Validate: balanced, known accounts, open period (or moved per the entity's closed-period policy).

The example entity us01 is closed through 2021-12-31 (config/ledgerlink.example.yaml).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
from ledgerlink.model.money import Money
from ledgerlink.pipeline.validate import validate

RECEIVABLE = "Assets:US01:AccountsReceivable:Stripe"
REVENUE = "Income:US01:Revenue:Subscriptions"


def journal(on: date, *, accounts: tuple[str, str] = (RECEIVABLE, REVENUE), entity: str = "us01",
            memo: str | None = "invoice INV-1") -> JournalEntry:
    source = SourceRef(system="stripe", object_type="invoice", object_id="in_1", version="finalized")
    debit, credit = accounts
    return JournalEntry(
        document_id=source.document_id(), source=source, entity_id=entity, correlation_id="corr-1",
        occurred_at=datetime(on.year, on.month, on.day, 15, tzinfo=UTC), accounting_date=on, currency="USD",
        memo=memo, lines=(JournalLine(account=debit, amount=Money.of("20.00", "USD")),
                          JournalLine(account=credit, amount=Money.of("-20.00", "USD"))),
    )


def with_entity(config: LedgerLinkConfig, **changes: Any) -> LedgerLinkConfig:
    data = config.model_dump(mode="json")
    data["entities"][0].update(changes)
    return LedgerLinkConfig.model_validate(data)


def test_journal_in_an_open_period_passes_unchanged(example_config: LedgerLinkConfig) -> None:
    entry = journal(date(2022, 1, 1))
    assert validate(entry, example_config) == entry


def test_closed_period_with_policy_reject_is_period_closed(example_config: LedgerLinkConfig) -> None:
    # Given an entity that rejects postings into closed periods
    config = with_entity(example_config, closed_period_policy="reject")
    # When a journal dated on the last closed day is validated
    with pytest.raises(DocumentRejected) as caught:
        validate(journal(date(2021, 12, 31)), config)
    # Then it is rejected, naming the entity and the date
    assert caught.value.reason == "period_closed"
    assert caught.value.detail["entity"] == "us01"
    assert caught.value.detail["accounting_date"] == "2021-12-31"


def test_closed_period_with_next_open_period_moves_the_date_and_keeps_the_original(
        example_config: LedgerLinkConfig) -> None:
    # Given the example entity (closed through 2021-12-31, policy next_open_period)
    entry = journal(date(2021, 12, 20))
    # When validated
    moved = validate(entry, example_config)
    # Then it is posted on the first open day, and says why
    assert moved.accounting_date == date(2022, 1, 1)
    assert moved.original_accounting_date == date(2021, 12, 20)
    assert moved.memo is not None
    assert moved.memo.startswith("invoice INV-1")
    assert "2021-12-20" in moved.memo and "closed" in moved.memo
    assert moved.lines == entry.lines


def test_moving_a_journal_is_idempotent(example_config: LedgerLinkConfig) -> None:
    # a retried validate step must not move the journal again or stack memos
    once = validate(journal(date(2021, 12, 20)), example_config)
    assert validate(once, example_config) == once


def test_moved_journal_without_memo_gets_one(example_config: LedgerLinkConfig) -> None:
    moved = validate(journal(date(2021, 6, 1), memo=None), example_config)
    assert moved.memo is not None and moved.memo.startswith("(dated 2021-06-01")


def test_no_closed_through_means_every_date_is_open(example_config: LedgerLinkConfig) -> None:
    config = with_entity(example_config, closed_through=None, closed_period_policy="reject")
    entry = journal(date(1999, 1, 1))
    assert validate(entry, config) == entry


def test_unknown_account_is_rejected_naming_it(example_config: LedgerLinkConfig) -> None:
    entry = journal(date(2022, 3, 1), accounts=(RECEIVABLE, "Income:US01:Revenue:Typo"))
    with pytest.raises(DocumentRejected) as caught:
        validate(entry, example_config)
    assert caught.value.reason == "unknown_account"
    assert caught.value.detail["accounts"] == "Income:US01:Revenue:Typo"


def test_unknown_account_is_checked_before_the_period(example_config: LedgerLinkConfig) -> None:
    config = with_entity(example_config, closed_period_policy="reject")
    entry = journal(date(2021, 1, 1), accounts=("Assets:Nowhere", REVENUE))
    with pytest.raises(DocumentRejected) as caught:
        validate(entry, config)
    assert caught.value.reason == "unknown_account"


def test_unknown_entity_is_rejected(example_config: LedgerLinkConfig) -> None:
    with pytest.raises(DocumentRejected) as caught:
        validate(journal(date(2022, 1, 1), entity="zz99"), example_config)
    assert caught.value.reason == "unknown_entity"


def test_a_journal_that_does_not_balance_is_rejected_even_if_it_got_this_far(example_config: LedgerLinkConfig) -> None:
    # model_construct skips the model's own check: validate must not trust journals from elsewhere
    entry = journal(date(2022, 1, 1))
    lopsided = JournalEntry.model_construct(**{**dict(entry), "lines": (
        JournalLine(account=RECEIVABLE, amount=Money.of("20.00", "USD")),
        JournalLine(account=REVENUE, amount=Money.of("-19.99", "USD")))})
    with pytest.raises(DocumentRejected) as caught:
        validate(lopsided, example_config)
    assert caught.value.reason == "unbalanced_journal"


def test_an_account_of_another_entity_on_the_same_connection_is_unknown(example_config: LedgerLinkConfig) -> None:
    # Given a second entity on the same book with its own chart
    data = example_config.model_dump(mode="json")
    data["entities"].append({**data["entities"][0], "id": "uk01", "name": "UK Ltd", "base_currency": "GBP"})
    data["account_mappings"].append({"entity": "uk01", "source": "*",
                                     "accounts": {"receivable": "Assets:UK01:AccountsReceivable"}})
    config = LedgerLinkConfig.model_validate(data)
    # When a us01 journal uses the uk01 receivable
    with pytest.raises(DocumentRejected) as rejected:
        validate(journal(date(2026, 5, 1), accounts=("Assets:UK01:AccountsReceivable", REVENUE)), config)
    # Then it is refused: each entity posts only into its own accounts
    assert rejected.value.reason == "unknown_account"
