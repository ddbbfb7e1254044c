"""Period-end FX revaluation (issue 17, defect 6; D90): open foreign-currency balances restated at the closing rate
on the period's last day, reversed on the first day of the next, once per entity and period.

Figures by hand (us01, base USD): an invoice of 181.60 EUR (160.00 net + 21.60 tax) booked at 1.0837 and still
open at the end of March 2026 carries receivable 196.80 USD (181.60 × 1.0837 = 196.79992) and tax −23.41 USD
(21.60 × 1.0837 = 23.40792). At the closing rate 1.0950: receivable 181.60 × 1.0950 = 198.852 → 198.85, +2.05; tax
21.60 × 1.0950 = 23.652 → 23.65, −0.24 (the liability grows). Unrealized FX = 2.05 − 0.24 = 1.81, a gain (credit).
Revenue is not monetary: it is not revalued.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.erps.base import PeriodStatus, PostResult
from ledgerlink.model.documents import JournalEntry
from ledgerlink.pipeline.fx_revaluation import OpenBalance, open_balances, revaluation_journal
from ledgerlink.service.fx_revaluation import FxRevaluationService, InvalidRevaluationRequest
from ledgerlink.store.ledger import Registration

from tests.unit.test_fx_gains_and_losses import config as fx_config
from tests.unit.test_fx_gains_and_losses import enrich, invoice, payment


def config(closing: str | None = "1.0950") -> LedgerLinkConfig:
    data = fx_config().model_dump(mode="json")
    data["account_mappings"][0]["accounts"]["fx_unrealized"] = "Income:FX:Unrealized"
    if closing is not None:
        data["fx_rates"].append({"from_currency": "EUR", "to_currency": "USD", "rate": closing,
                                 "valid_from": "2026-03-31", "source": "ECB reference rate"})
    return LedgerLinkConfig.model_validate(data)


class Active:
    def __init__(self, cfg: LedgerLinkConfig) -> None:
        self.cfg = cfg

    def active(self) -> tuple[int, LedgerLinkConfig]:
        return 1, self.cfg

    def get(self, version: int) -> LedgerLinkConfig:
        return self.cfg


class Ledger:
    """The posting ledger: register (create-if-absent), transition, get, scan."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def register(self, record: dict[str, Any]) -> Registration:
        existing = self.items.get(record["document_id"])
        if existing is not None:
            return Registration(is_new=False, status=existing["status"])
        self.items[record["document_id"]] = dict(record)
        return Registration(is_new=True, status=record["status"])

    def transition(self, document_id: str, *, to: str, expected: tuple[str, ...], key: Any, **attributes: Any) -> bool:
        assert self.items[document_id]["status"] in expected
        self.items[document_id].update(status=to, **attributes)
        return True

    def get(self, document_id: str) -> dict[str, Any] | None:
        return self.items.get(document_id)

    def scan(self) -> list[dict[str, Any]]:
        return list(self.items.values())

    def post(self, state: dict[str, Any]) -> JournalEntry:
        journal = JournalEntry.model_validate(state["journal"])
        self.items[journal.document_id] = {"document_id": journal.document_id, "status": "posted",
                                           "journal": journal.model_dump_json()}
        return journal


class Book:
    """An ERP that finds what it posted by external id."""

    def __init__(self) -> None:
        self.journals: dict[str, JournalEntry] = {}

    def period_status(self, entity: Any, day: date) -> PeriodStatus:
        return PeriodStatus(open=True, closed_through=None, source="erp")

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        return PostResult(external_id, False) if external_id in self.journals else None

    def post_journal(self, journal: JournalEntry) -> PostResult:
        self.journals[journal.document_id] = journal
        return PostResult(journal.document_id, True)


class Cases:
    def __init__(self) -> None:
        self.opened: list[dict[str, Any]] = []

    def open(self, **kwargs: Any) -> tuple[str, bool]:
        self.opened.append(kwargs)
        return f"exc-{len(self.opened)}", True

    def resolve(self, *args: Any, **kwargs: Any) -> bool:
        return True


def setup(cfg: LedgerLinkConfig, *, paid: bool = False, running: LedgerLinkConfig | None = None,
          today: datetime = datetime(2026, 4, 2, 8, tzinfo=UTC)) -> tuple[FxRevaluationService, Ledger, Book, Cases]:
    """The invoice (and its payment) posted with ``cfg``; the job runs with ``running`` (default ``cfg``) on ``today``."""
    ledger, book, cases = Ledger(), Book(), Cases()
    ledger.post(enrich(invoice(), cfg, ledger))          # 10 March: open 181.60 EUR
    if paid:
        ledger.post(enrich(payment(), cfg, ledger))      # 8 April: settled (after the March period end)
    service = FxRevaluationService(config=Active(running or cfg), ledger=ledger, connectors=lambda *args: book,
                                   exceptions=cases, clock=lambda: today)
    return service, ledger, book, cases


def lines(journal: JournalEntry) -> dict[str, Decimal]:
    return {line.account: line.amount.amount for line in journal.lines}


def test_the_arithmetic_per_account_and_currency():
    balances = [OpenBalance("Assets:AR", "receivable", "EUR", Decimal("181.60"), Decimal("196.80")),
                OpenBalance("Liabilities:Tax", "tax", "EUR", Decimal("-21.60"), Decimal("-23.41"))]
    journal = revaluation_journal("us01", "2026-03", date(2026, 3, 31), "USD", balances, {"EUR": Decimal("1.0950")},
                                  ("fx_unrealized", "Income:FX:Unrealized"))
    assert journal is not None and journal.accounting_date == date(2026, 3, 31)
    assert lines(journal) == {"Assets:AR": Decimal("2.05"), "Liabilities:Tax": Decimal("-0.24"),
                              "Income:FX:Unrealized": Decimal("-1.81")}
    at_carried_rate = revaluation_journal("us01", "2026-03", date(2026, 3, 31), "USD", balances[:1],
                                          {"EUR": Decimal("1.0837")}, ("fx_unrealized", "Income:FX:Unrealized"))
    assert at_carried_rate is None


def test_an_open_181_60_eur_receivable_is_revalued_on_the_last_day_and_reversed_on_the_first_of_the_next():
    service, ledger, book, _ = setup(config())
    balances = open_balances([JournalEntry.model_validate_json(item["journal"]) for item in ledger.scan()],
                             entity_id="us01", base="USD", through=date(2026, 3, 31))
    assert [(b.account, b.original, b.carried) for b in balances] == [
        ("Assets:AR", Decimal("181.60"), Decimal("196.80")), ("Liabilities:Tax", Decimal("-21.60"), Decimal("-23.41"))]

    report = service.run(entity_id="us01")   # on 2 April: March is the period that ended

    (entity,) = report["entities"]
    assert entity["status"] == "revalued" and entity["period"] == "2026-03" and report["journals_posted"] == 2
    revaluation, reversal = (book.journals[document_id] for document_id in entity["journals_posted"])
    assert revaluation.accounting_date == date(2026, 3, 31) and reversal.accounting_date == date(2026, 4, 1)
    assert lines(revaluation) == {"Assets:AR": Decimal("2.05"), "Liabilities:Tax": Decimal("-0.24"),
                                  "Income:FX:Unrealized": Decimal("-1.81")}
    assert lines(reversal) == {account: -amount for account, amount in lines(revaluation).items()}
    assert {ledger.items[d]["status"] for d in entity["journals_posted"]} == {"posted"}


def test_a_second_run_of_the_same_entity_and_period_posts_nothing():
    service, _, book, _ = setup(config())
    first = service.run(entity_id="us01", period="2026-03")
    again = service.run(entity_id="us01", period="2026-03")
    assert first["journals_posted"] == 2 and again["journals_posted"] == 0
    assert again["entities"][0]["status"] == "already_revalued" and len(book.journals) == 2


def test_a_run_that_stopped_after_the_revaluation_posts_only_its_reversal():
    service, ledger, book, _ = setup(config())
    service.run(entity_id="us01", period="2026-03")
    revaluation_id, reversal_id = sorted(book.journals, key=lambda d: "reversal" in d)
    del book.journals[reversal_id], ledger.items[reversal_id]
    again = service.run(entity_id="us01", period="2026-03")
    assert again["entities"][0]["journals_posted"] == [revaluation_id, reversal_id]
    assert lines(book.journals[reversal_id]) == {a: -v for a, v in lines(book.journals[revaluation_id]).items()}


def test_a_missing_period_end_rate_is_a_case_with_a_reason_and_posts_nothing():
    no_rates = LedgerLinkConfig.model_validate({**config().model_dump(mode="json"), "fx_rates": []})
    service, _, book, cases = setup(config(), running=no_rates)   # the rates were removed after the invoice posted

    report = service.run(entity_id="us01", period="2026-03")

    assert report["entities"][0]["status"] == "rate_missing" and report["journals_posted"] == 0 and not book.journals
    (case,) = cases.opened
    assert case["reason"] == "fx_rate_missing" and "EUR->USD" in case["message"] and "2026-03-31" in case["message"]
    assert "fx_rates" in case["suggested_fix"]


def test_an_entity_without_foreign_balances_posts_nothing_and_says_so():
    # paid in April, the receivable is closed, but the invoice's tax (owed to the authority) is still open in EUR:
    # the end of April has a balance to revalue; the end of February (before the invoice) has none
    service, _, book, _ = setup(config(), paid=True, today=datetime(2026, 5, 2, 8, tzinfo=UTC))
    april = service.run(entity_id="us01", period="2026-04")["entities"][0]
    assert april["status"] == "revalued" and april["balances"] == 1
    book.journals.clear()
    report = service.run(entity_id="us01", period="2026-02")
    (entity,) = report["entities"]
    assert entity["status"] == "no_foreign_balances" and "no open foreign-currency" in entity["detail"]
    assert not book.journals


def test_a_period_not_over_is_refused_and_an_unknown_entity_is_an_invalid_request():
    service, _, book, _ = setup(config())
    assert service.run(entity_id="us01", period="2026-04")["entities"][0]["status"] == "refused"
    with pytest.raises(InvalidRevaluationRequest):
        service.run(entity_id="xx99")
    assert not book.journals
