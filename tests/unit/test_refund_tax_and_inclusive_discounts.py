"""Issue 17, defects 2 and 4, on the real Stripe samples.

Defect 2: a refund of a taxed invoice reverses its share of the tax (D88): Dr refunds (net share) · Dr tax (tax
share) · Cr cash_clearing, the share being the refund's proportion of the invoice total, split by largest remainder.
Defect 4: a discount on a tax-inclusive line is booked net of the tax it contains, like the revenue it reduces.
Every expected figure below is worked out by hand in the comment next to it."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.errors import TransientError
from ledgerlink.model.documents import Document, JournalEntry
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.revenue import Facts, line_schedule
from ledgerlink.service.close_check import CloseCheck
from ledgerlink.service.posting import enrich_step

from tests.conftest import event_json

INVOICE = "06-invoice.paid.current-api.json"          # 120.00 − 12.00 discount + 20.52 VAT = 128.52 EUR, paid
REFUND = "08-charge.refunded.partial.current-api.json"  # 20.00 EUR of its charge refunded
TAX = "Liabilities:US01:SalesTaxPayable"
REFUNDS = "Income:US01:Revenue:Refunds"
CLEARING = "Assets:US01:Clearing:Stripe"


def documents(config: Any, *events: dict[str, Any]) -> list[Document]:
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="c", archive_key="raw/stripe/x.json")
    return [document for event in events for document in normalize(event, ctx).documents]


class Ledger:
    """The posting ledger as the enrich step reads it: each registered document's JSON by id."""

    def __init__(self, docs: list[Document]) -> None:
        self.items = {d.document_id: {"document_id": d.document_id, "entity_id": d.entity_id, "status": "posted",
                                      "document_type": d.document_type, "accounting_date": d.accounting_date.isoformat(),
                                      "document": d.model_dump_json()} for d in docs}

    def get(self, document_id: str) -> dict[str, Any] | None:
        return self.items.get(document_id)


class Store:
    def __init__(self, config: Any) -> None:
        self.config = config

    def get(self, version: int) -> Any:
        return self.config


def step(config: Any, doc: Document, ledger: Ledger) -> dict[str, Any]:
    state = json.loads(json.dumps({"document_id": doc.document_id, "correlation_id": "c", "source_id": "stripe",
                                   "archive_key": "raw/stripe/x.json", "config_version": 1,
                                   "document": doc.model_dump(mode="json")}))
    return enrich_step(state, Store(config), ledger)


def by_account(journal: JournalEntry) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in journal.lines:
        totals[line.account] += line.amount.amount
    return dict(totals)


def inclusive(event: dict[str, Any], *, gross: int, discount: int, tax: int) -> dict[str, Any]:
    """The invoice of ``event`` with its one line priced tax-inclusive (new API shape: ``taxes[].tax_behavior``)."""
    event = copy.deepcopy(event)
    invoice = event["data"]["object"]
    (line,) = invoice["lines"]["data"]
    line["amount"] = line["subtotal"] = gross
    line["discount_amounts"] = [{"amount": discount, "discount": "di_1"}] if discount else []
    line["taxes"] = [{**line["taxes"][0], "amount": tax, "tax_behavior": "inclusive",
                      "taxable_amount": gross - discount - tax}]
    invoice["total_taxes"] = [{**invoice["total_taxes"][0], "amount": tax, "tax_behavior": "inclusive"}]
    invoice["total_discount_amounts"] = line["discount_amounts"]
    invoice["subtotal"] = gross
    invoice["total"] = invoice["amount_due"] = invoice["amount_paid"] = gross - discount
    return event


# ---- defect 2: the tax share of a refund ------------------------------------------------------------------

def test_a_partial_refund_of_a_taxed_invoice_gives_back_its_share_of_the_vat(example_config):
    invoice, _payment, refund = documents(example_config, event_json(f"stripe/{INVOICE}"), event_json(f"stripe/{REFUND}"))
    state = step(example_config, refund, Ledger([invoice]))
    journal = JournalEntry.model_validate(state["journal"])
    # net 128.52 − 20.52 = 108.00; 20.00 over (108.00, 20.52): exact 16.8067… and 3.1932… → floors 16.80 + 3.19
    # = 19.99, the cent left goes to the larger remainder (net .67 > tax .32) → refunds 16.81, tax 3.19
    assert by_account(journal) == {REFUNDS: Decimal("16.81"), TAX: Decimal("3.19"), CLEARING: Decimal("-20.00")}
    assert [line.memo for line in journal.lines if line.account == TAX] == ["refund tax (standard_rated)"]
    # the schedule takes only the net share out of deferral: the fact holds 16.81, and the invoice's one deferred
    # line (108.00 net of its discount, the whole net) takes all of it
    (change,) = Facts.model_validate(state["revenue"]).changes
    assert (change.kind, change.amount, change.net_of_tax) == ("refund", Decimal("16.81"), True)


def test_the_reclassified_share_is_the_net_share_not_the_refund(example_config):
    invoice, _payment, refund = documents(example_config, event_json(f"stripe/{INVOICE}"), event_json(f"stripe/{REFUND}"))
    billed = Facts.model_validate(step(example_config, invoice, Ledger([]))["revenue"])
    refunded = Facts.model_validate(step(example_config, refund, Ledger([invoice]))["revenue"])
    (line,) = billed.lines
    schedule = line_schedule(line, refunded.changes, billed.lines)
    # 108.00 deferred over 1 Nov – 1 Dec 2026; the refund of 9 Nov takes its net share 16.81 out of the 22 days
    # still deferred, never the 3.19 of VAT (which left tax payable)
    assert line.billed == Decimal("108.00")
    assert sum(taken.amount for taken in schedule.taken) == Decimal("16.81")


def test_a_refund_of_a_tax_inclusive_invoice_takes_its_tax_out_of_the_inclusive_amount(example_config):
    # 120.00 incl. 19 % VAT: tax 120.00 × 19 / 119 = 19.16 (Stripe's rounding), net 100.84; total 120.00
    event = inclusive(event_json(f"stripe/{INVOICE}"), gross=12000, discount=0, tax=1916)
    refund_event = copy.deepcopy(event_json(f"stripe/{REFUND}"))
    refund_event["data"]["object"]["amount_refunded"] = 5000
    invoice, _payment, refund = documents(example_config, event, refund_event)
    journal = JournalEntry.model_validate(step(example_config, refund, Ledger([invoice]))["journal"])
    # 50.00 over (100.84, 19.16): exact 42.0166… and 7.9833… → floors 42.01 + 7.98 = 49.99, the cent to the
    # larger remainder (.67 > .33) → refunds 42.02, tax 7.98
    assert by_account(journal) == {REFUNDS: Decimal("42.02"), TAX: Decimal("7.98"), CLEARING: Decimal("-50.00")}


def test_a_refund_that_arrives_before_its_invoice_waits_instead_of_guessing(example_config):
    invoice, _payment, refund = documents(example_config, event_json(f"stripe/{INVOICE}"), event_json(f"stripe/{REFUND}"))
    with pytest.raises(TransientError) as raised:
        step(example_config, refund, Ledger([]))
    assert raised.value.reason == "refunded_invoice_pending"
    assert raised.value.detail["original"] == invoice.document_id


def test_a_refund_of_an_untaxed_invoice_stays_in_refunds(example_config):
    invoice, _payment, refund = documents(example_config, event_json("stripe/02-invoice.paid.json"),
                                          event_json("stripe/04-charge.refunded.json"))
    journal = JournalEntry.model_validate(step(example_config, refund, Ledger([invoice]))["journal"])
    # the 20.00 USD invoice has no tax: the 1.00 refund is all contra-revenue
    assert by_account(journal) == {REFUNDS: Decimal("1.00"), CLEARING: Decimal("-1.00")}


class Book:
    def __init__(self, journals: list[JournalEntry]) -> None:
        self.totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for journal in journals:
            for line in journal.lines:
                self.totals[(line.account, line.amount.currency)] += line.amount.amount

    def trial_balance(self, through: Any = None, entity_id: Any = None) -> dict[tuple[str, str], Decimal]:
        return dict(self.totals)


def test_the_close_check_ties_tax_payable_to_tax_invoiced_less_tax_refunded(example_config):
    docs = documents(example_config, event_json(f"stripe/{INVOICE}"), event_json(f"stripe/{REFUND}"))
    ledger = Ledger(docs)
    journals = [JournalEntry.model_validate(step(example_config, doc, ledger)["journal"]) for doc in docs]
    service = CloseCheck(config=example_config, ledger_items=lambda: list(ledger.items.values()),
                         book_for=lambda entity: Book(journals), schedules=lambda entity: [])
    (tax,) = [t for t in service.run("us01", "2026-11").tieouts if t.check == "tax"]
    # VAT invoiced 20.52, refunded 3.19 → 17.33 still payable (a credit balance)
    assert (tax.expected, tax.booked, tax.status) == (Decimal("-17.33"), Decimal("-17.33"), "tied")
    assert tax.basis == "tax invoiced − tax credited − tax refunded"


# ---- defect 4: discounts on tax-inclusive lines -----------------------------------------------------------

def test_a_discount_on_a_tax_inclusive_line_is_booked_net_of_its_tax(example_config):
    # 159.50 incl. tax (150.00 net at 19/300 = 6.333… %), 15.95 off (15.00 net + 0.95 tax): the customer pays
    # 143.55, whose tax is 143.55 × 19 / 319 = 8.55 (Stripe's figure); net of tax 135.00
    event = inclusive(event_json(f"stripe/{INVOICE}"), gross=15950, discount=1595, tax=855)
    invoice = documents(example_config, event)[0]
    accounts = by_account(enrich(invoice, example_config, config_version=1))   # the posting rule, before deferral
    # revenue 159.50 − 8.55 − 0.95 (the tax inside the discount) = 150.00; discount 15.95 over (135.00, 8.55)
    # → exact 15.0000 and 0.9500 → 15.00; tax 8.55; receivable 143.55 unchanged (143.55 + 15.00 = 150.00 + 8.55)
    assert accounts == {"Assets:US01:AccountsReceivable:Stripe": Decimal("143.55"),
                        "Income:US01:Revenue:Discounts": Decimal("15.00"),
                        "Income:US01:Revenue:Pro": Decimal("-150.00"), TAX: Decimal("-8.55")}


def test_a_discount_on_an_exclusive_tax_line_is_unchanged(example_config):
    invoice = documents(example_config, event_json(f"stripe/{INVOICE}"))[0]
    accounts = by_account(enrich(invoice, example_config, config_version=1))   # the posting rule, before deferral
    # 120.00 list, 12.00 off, 20.52 VAT on top: nothing inside the discount to take out
    assert accounts["Income:US01:Revenue:Discounts"] == Decimal("12.00")
    assert accounts["Income:US01:Revenue:Pro"] == Decimal("-120.00")
