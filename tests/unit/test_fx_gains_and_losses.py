"""Realized FX (issue 17, defect 6): a converted document that settles a foreign-currency invoice relieves its
receivable and tax at the rate the invoice booked them, and the difference goes to ``fx_gain_loss``.

Figures by hand (entity us01, base USD; the invoice 181.60 EUR = 160.00 net + 21.60 tax):

- invoice at 1.0837: receivable 181.60 × 1.0837 = 196.79992 → 196.80; revenue 160.00 × 1.0837 = 173.392 → 173.39;
  tax 21.60 × 1.0837 = 23.40792 → 23.41 (173.39 + 23.41 = 196.80: no rounding line);
- paid at 1.1000: cash 181.60 × 1.1000 = 199.76. Before the fix the receivable was credited 199.76 and ended at
  196.80 − 199.76 = −2.96. The issue's 2.96 = 181.60 × (1.1000 − 1.0837) = 2.96008 → 2.96: the EUR bought more USD
  than was booked for them, a **gain** (a credit on fx_gain_loss); the receivable ends at 0.00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected, TransientError
from ledgerlink.model.documents import (
    CreditNote,
    Invoice,
    InvoiceLine,
    JournalEntry,
    Party,
    Payment,
    SourceRef,
)
from ledgerlink.model.money import Money
from ledgerlink.service.posting import enrich_step

INVOICE_DAY, PAID_DAY = date(2026, 3, 10), date(2026, 4, 8)


def config(foreign_currency: str = "convert_to_base", paid_rate: str = "1.1000") -> LedgerLinkConfig:
    return LedgerLinkConfig.model_validate({
        "entities": [{"id": "us01", "name": "US", "base_currency": "USD", "time_zone": "America/New_York",
                      "erp_connection": "books", "foreign_currency": foreign_currency}],
        "erp_connections": [{"id": "books", "kind": "beancount"}],
        "sources": [{"id": "stripe", "kind": "stripe", "signing_secret": {"secret_id": "s"}, "default_entity": "us01"}],
        "account_mappings": [{"entity": "us01", "accounts": {
            "receivable": "Assets:AR", "revenue": "Income:Sales", "tax": "Liabilities:Tax",
            "cash_clearing": "Assets:Clearing", "fx_rounding": "Expenses:FX:Rounding",
            "fx_gain_loss": "Income:FX:Realized"}}],
        "fx_rates": [{"from_currency": "EUR", "to_currency": "USD", "rate": "1.0837", "valid_from": "2026-03-01",
                      "source": "ECB reference rate"},
                     {"from_currency": "EUR", "to_currency": "USD", "rate": paid_rate, "valid_from": "2026-04-01",
                      "source": "ECB reference rate"}],
    })


class Versions:
    def __init__(self, cfg: LedgerLinkConfig) -> None:
        self.cfg = cfg

    def get(self, version: int) -> LedgerLinkConfig:
        return self.cfg


class Ledger:
    """The posting ledger as the enrich step reads it (by document id)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, document_id: str) -> dict[str, Any] | None:
        return self.items.get(document_id)

    def posted(self, state: dict[str, Any]) -> JournalEntry:
        journal = JournalEntry.model_validate(state["journal"])
        self.items[journal.document_id] = {"status": "posted", "journal": journal.model_dump_json(),
                                           "document": Invoice.model_validate(state["document"]).model_dump_json()
                                           if state["document"]["document_type"] == "invoice" else None}
        return journal


def eur(value: str) -> Money:
    return Money.of(value, "EUR")


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 15, tzinfo=UTC)


PARTY = Party(role="customer", source_id="cus_eur")


def invoice() -> Invoice:
    source = SourceRef(system="stripe", object_type="invoice", object_id="in_eur", version="finalized",
                       source_id="stripe")
    return Invoice(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="c",
                   occurred_at=at(INVOICE_DAY), accounting_date=INVOICE_DAY, currency="EUR", party=PARTY,
                   lines=(InvoiceLine(line_id="il_1", amount=eur("160.00"), tax=eur("21.60")),), total=eur("181.60"))


def payment(amount: str = "181.60") -> Payment:
    source = SourceRef(system="stripe", object_type="invoice_payment", object_id="in_eur", version="paid",
                       source_id="stripe")
    return Payment(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="c",
                   occurred_at=at(PAID_DAY), accounting_date=PAID_DAY, currency="EUR", party=PARTY,
                   amount=eur(amount), applies_to_document_id=invoice().document_id)


def credit_note() -> CreditNote:
    source = SourceRef(system="stripe", object_type="credit_note", object_id="cn_eur", source_id="stripe")
    return CreditNote(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="c",
                      occurred_at=at(PAID_DAY), accounting_date=PAID_DAY, currency="EUR", party=PARTY,
                      lines=(InvoiceLine(line_id="cnl_1", amount=eur("80.00"), tax=eur("10.80")),),
                      total=eur("90.80"), original_document_id=invoice().document_id)


def enrich(document: Any, cfg: LedgerLinkConfig, ledger: Ledger | None) -> dict[str, Any]:
    state = {"document_id": document.document_id, "config_version": 1, "document": document.model_dump(mode="json")}
    return enrich_step(state, Versions(cfg), ledger)


def by_role(*journals: JournalEntry) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for journal in journals:
        for line in journal.lines:
            assert line.amount.currency == "USD"
            totals[line.role or ""] = totals.get(line.role or "", Decimal(0)) + line.amount.amount
    return totals


def posted_invoice(cfg: LedgerLinkConfig) -> tuple[Ledger, JournalEntry]:
    ledger = Ledger()
    return ledger, ledger.posted(enrich(invoice(), cfg, ledger))


def test_the_issue_case_booked_at_1_0837_paid_at_1_1000_leaves_no_receivable_and_a_realized_gain_of_2_96():
    cfg = config()
    ledger, booked = posted_invoice(cfg)
    assert by_role(booked) == {"receivable": Decimal("196.80"), "revenue": Decimal("-173.39"),
                               "tax": Decimal("-23.41")}

    paid = JournalEntry.model_validate(enrich(payment(), cfg, ledger)["journal"])

    assert by_role(paid) == {"cash_clearing": Decimal("199.76"), "receivable": Decimal("-196.80"),
                             "fx_gain_loss": Decimal("-2.96")}   # a credit: a gain
    assert by_role(booked, paid)["receivable"] == Decimal("0.00")
    gain = next(line for line in paid.lines if line.role == "fx_gain_loss")
    assert gain.account == "Income:FX:Realized" and "1.0837" in (gain.memo or "") and "1.1" in (gain.memo or "")
    # the foreign-currency amounts are kept on the receivable and tax lines
    originals = {line.role: line.original_amount for line in (*booked.lines, *paid.lines) if line.role != "fx_gain_loss"}
    assert originals["tax"] == eur("-21.60") and originals["cash_clearing"] == eur("181.60")
    assert [line.original_amount for line in paid.lines if line.role == "receivable"] == [eur("-181.60")]


def test_paid_at_a_lower_rate_the_difference_is_a_realized_loss():
    # 181.60 at 1.0500 = 190.68; booked 196.80: loss 6.12 = 181.60 × (1.0837 − 1.0500) = 6.11992 → 6.12
    cfg = config(paid_rate="1.0500")
    ledger, booked = posted_invoice(cfg)
    paid = JournalEntry.model_validate(enrich(payment(), cfg, ledger)["journal"])
    assert by_role(paid) == {"cash_clearing": Decimal("190.68"), "receivable": Decimal("-196.80"),
                             "fx_gain_loss": Decimal("6.12")}   # a debit: a loss
    assert by_role(booked, paid)["receivable"] == 0


def test_a_partial_payment_relieves_its_share_of_the_booked_amount_and_the_rest_closes_it_exactly():
    # 100.00 of 181.60 relieves its share of the booked 196.80: 196.80 × 100/181.60 = 108.3700… → 108.37; cash
    # 100.00 × 1.1 = 110.00, gain 1.63. The other 81.60: 196.80 × 81.60/181.60 = 88.4299… → 88.43, cash 89.76,
    # gain 1.33. 108.37 + 88.43 = 196.80: the receivable ends at 0.00.
    cfg = config()
    ledger, booked = posted_invoice(cfg)
    first = JournalEntry.model_validate(enrich(payment("100.00"), cfg, ledger)["journal"])
    assert by_role(first) == {"cash_clearing": Decimal("110.00"), "receivable": Decimal("-108.37"),
                              "fx_gain_loss": Decimal("-1.63")}
    rest = payment("81.60")
    second = JournalEntry.model_validate(enrich(rest, cfg, ledger)["journal"])
    assert by_role(second) == {"cash_clearing": Decimal("89.76"), "receivable": Decimal("-88.43"),
                               "fx_gain_loss": Decimal("-1.33")}
    assert by_role(booked, first, second)["receivable"] == 0


def test_a_credit_note_relieves_receivable_and_tax_at_the_booked_rate():
    # half the invoice credited at 1.1000: revenue 80.00 → 88.00, tax 10.80 → 11.88, receivable 90.80 → 99.88.
    # At the booked rate: receivable 196.80 over (90.80, 90.80) → 98.40; tax 23.41 over (10.80, 10.80) → 11.71
    # (the odd cent to the earlier part). Realized: (−98.40 + 99.88) + (11.71 − 11.88) = 1.31, a gain.
    cfg = config()
    ledger, _ = posted_invoice(cfg)
    credited = JournalEntry.model_validate(enrich(credit_note(), cfg, ledger)["journal"])
    assert by_role(credited) == {"revenue": Decimal("88.00"), "tax": Decimal("11.71"),
                                 "receivable": Decimal("-98.40"), "fx_gain_loss": Decimal("-1.31")}


def test_paid_at_the_booked_rate_there_is_no_fx_line():
    cfg = config(paid_rate="1.0837")
    ledger, _ = posted_invoice(cfg)
    paid = JournalEntry.model_validate(enrich(payment(), cfg, ledger)["journal"])
    assert by_role(paid) == {"cash_clearing": Decimal("196.80"), "receivable": Decimal("-196.80")}


def test_a_payment_whose_invoice_is_not_posted_yet_waits_and_one_in_a_case_is_a_case():
    cfg = config()
    with pytest.raises(TransientError) as waiting:
        enrich(payment(), cfg, Ledger())
    assert waiting.value.reason == "fx_booked_rate_pending"
    ledger = Ledger()
    ledger.items[invoice().document_id] = {"status": "exception"}
    with pytest.raises(DocumentRejected) as refused:
        enrich(payment(), cfg, ledger)
    assert refused.value.reason == "fx_booked_rate_unknown"


def test_an_entity_that_posts_foreign_documents_as_is_reads_nothing_and_books_no_fx():
    paid = JournalEntry.model_validate(enrich(payment(), config("post_as_is"), None)["journal"])
    assert {(line.role, str(line.amount)) for line in paid.lines} == {("cash_clearing", "181.60 EUR"),
                                                                      ("receivable", "-181.60 EUR")}
