"""FX gains and losses end to end (issue 17, defect 6; D90): the real handlers and state machine on moto, us01
converting to USD.

The sample EUR invoice (06: 120.00 less 12.00 discount + 20.52 tax = 128.52 EUR) is finalized on 1 November 2026
(New York) at 1.0837: receivable 128.52 × 1.0837 = 139.277124 → 139.28 USD, tax 20.52 × 1.0837 = 22.237524 → 22.24.

- Paid on 15 November at 1.1000: cash 128.52 × 1.1 = 141.372 → 141.37; the receivable is relieved at 139.28, so it
  ends at 0.00, and 141.37 − 139.28 = 2.09 is a realized gain (a credit on Income:US01:FX:GainLoss).
- Left open at the end of November, closing rate 1.0950: receivable 128.52 × 1.0950 = 140.7294 → 140.73, +1.45;
  tax 20.52 × 1.0950 = 22.4694 → 22.47, −0.23; unrealized gain 1.22, dated 30 November, reversed on 1 December.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import yaml

from ledgerlink.config.loader import parse_config_text

from tests.conftest import EVENTS, EXAMPLE_CONFIG
from tests.functional.conftest import Stack

INVOICE = "06-invoice.paid.current-api.json"
PAID_AT = 1794790800   # 2026-11-16 01:00 UTC = 15 November in New York


@pytest.fixture
def stack_config():
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["entities"][0]["foreign_currency"] = "convert_to_base"
    data["fx_rates"] = [
        {"from_currency": "EUR", "to_currency": "USD", "rate": rate, "valid_from": day, "source": "ECB reference rate"}
        for rate, day in (("1.0837", "2026-11-01"), ("1.1000", "2026-11-10"), ("1.0950", "2026-11-30"))]
    data["account_mappings"][1]["accounts"]["fx_rounding"] = "Expenses:US01:FX:Rounding"
    return parse_config_text(yaml.safe_dump(data), origin="fx-gains-config")


def send(stack: Stack, *, paid: bool) -> None:
    event = json.loads((EVENTS / "stripe" / INVOICE).read_text())
    if paid:
        event["data"]["object"]["status_transitions"]["paid_at"] = PAID_AT
    else:
        event["type"] = "invoice.finalized"
    assert stack.send(json.dumps(event).encode()).status == 202
    stack.drain()


def balances(stack: Stack, *, through: str | None = None) -> dict[str, Decimal]:
    from datetime import date

    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.store.books import FileBookStore

    book = BeancountBook(stack.config.connection("books"), FileBookStore(stack.book_dir))
    held = book.trial_balance(date.fromisoformat(through) if through else None)
    return {account: amount for (account, currency), amount in held.items() if currency == "USD"}


def test_a_eur_invoice_paid_at_another_rate_closes_its_receivable_and_books_the_realized_gain(stack):
    send(stack, paid=True)
    assert {d["status"] for d in stack.documents() if d["document_type"] in ("invoice", "payment")} == {"posted"}
    held = balances(stack)
    assert held["Assets:US01:AccountsReceivable:Stripe"] == 0
    assert held["Assets:US01:Clearing:Stripe"] == Decimal("141.37")
    assert held["Income:US01:FX:GainLoss"] == Decimal("-2.09")
    assert held["Liabilities:US01:SalesTaxPayable"] == Decimal("-22.24")


def test_an_open_eur_receivable_is_revalued_by_the_release_schedule_once_and_reversed_the_next_day(stack):
    send(stack, paid=False)
    first = stack.host.invoke("revenue_release", {"entity": "us01", "period": "2026-11"})
    again = stack.host.invoke("revenue_release", {"entity": "us01", "period": "2026-11"})

    (entity,) = first["fx_revaluation"]["entities"]
    assert entity["status"] == "revalued" and first["fx_revaluation"]["journals_posted"] == 2
    assert again["fx_revaluation"]["entities"][0]["status"] == "already_revalued"
    assert again["fx_revaluation"]["journals_posted"] == 0
    november = balances(stack, through="2026-11-30")
    assert november["Assets:US01:AccountsReceivable:Stripe"] == Decimal("140.73")    # 139.28 + 1.45
    assert november["Liabilities:US01:SalesTaxPayable"] == Decimal("-22.47")         # −22.24 − 0.23
    assert november["Income:US01:FX:Unrealized"] == Decimal("-1.22")
    december = balances(stack)
    assert december["Assets:US01:AccountsReceivable:Stripe"] == Decimal("139.28")
    assert december.get("Income:US01:FX:Unrealized", Decimal(0)) == 0
