"""Canonical documents: invariants enforced at construction, deterministic ids, JSON round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ledgerlink.model.documents import (
    DOCUMENT_TYPES,
    BankTransaction,
    Bill,
    BillLine,
    CardTransaction,
    ContractEvent,
    ContractLine,
    CreditNote,
    CustomerEvent,
    DocumentAdapter,
    ExpenseLine,
    ExpenseReport,
    Fee,
    Invoice,
    InvoiceLine,
    JournalEntry,
    JournalLine,
    Party,
    Payment,
    Payout,
    RevenueSchedule,
    RevenueScheduleEntry,
    Reversal,
    SourceRef,
    SubscriptionEvent,
    SubscriptionItem,
    UsageBatch,
    UsageRecord,
    WriteOff,
    imbalances,
)
from ledgerlink.model.money import Money

WHEN = datetime(2024, 3, 15, 14, 30, tzinfo=UTC)


def usd(text: str) -> Money:
    return Money.of(text, "USD")


def base(object_type: str, object_id: str, *, currency: str = "USD", event_id: str = "evt_1",
         version: str = "1") -> dict[str, Any]:
    source = SourceRef(system="test", object_type=object_type, object_id=object_id, version=version,
                       event_id=event_id, source_id="test")
    return {"document_id": source.document_id(), "source": source, "entity_id": "us01",
            "correlation_id": "corr-1", "occurred_at": WHEN, "accounting_date": WHEN.date(), "currency": currency}


CUSTOMER = Party(role="customer", source_id="cus_1", name="Acme", country="DE")


def invoice(total: str = "118.00", **overrides: Any) -> Invoice:
    # 100 + 20 - 10 discount + 8 tax = 118
    lines = (
        InvoiceLine(line_id="l1", amount=usd("100"), discount=usd("10"), tax=usd("8"), product_id="prod_1"),
        InvoiceLine(line_id="l2", amount=usd("20")),
    )
    fields = {**base("invoice", "in_1"), "party": CUSTOMER, "number": "INV-1", "lines": lines, "total": usd(total)}
    return Invoice(**{**fields, **overrides})


def journal(*amounts: tuple[str, str, str], **overrides: Any) -> JournalEntry:
    lines = tuple(JournalLine(account=account, amount=Money.of(amount, currency))
                  for account, amount, currency in amounts)
    return JournalEntry(**{**base("journal", "j1"), "lines": lines, **overrides})


# ---- invoices and credit notes --------------------------------------------------------------------

def test_invoice_total_ties_out_to_lines_minus_discounts_plus_tax() -> None:
    doc = invoice("118.00")
    assert doc.total == usd("118")
    assert doc.tax_total == usd("8")


@pytest.mark.parametrize("wrong_total", ["120.00", "110.00", "117.99", "126.00"])
def test_invoice_whose_total_does_not_tie_out_is_refused(wrong_total: str) -> None:
    with pytest.raises(ValidationError, match="but total is"):
        invoice(wrong_total)


def test_inclusive_tax_does_not_add_to_the_total() -> None:
    lines = (InvoiceLine(line_id="l1", amount=usd("119"), inclusive_tax=usd("19")),)
    doc = Invoice(**base("invoice", "in_2"), party=CUSTOMER, lines=lines, total=usd("119"))
    assert doc.total == usd("119")


def test_invoice_amounts_must_be_in_the_document_currency() -> None:
    lines = (InvoiceLine(line_id="l1", amount=Money.of("10", "EUR")),)
    with pytest.raises(ValidationError, match="EUR on a USD document"):
        Invoice(**base("invoice", "in_3"), party=CUSTOMER, lines=lines, total=Money.of("10", "EUR"))


def test_invoice_needs_at_least_one_line() -> None:
    with pytest.raises(ValidationError):
        Invoice(**base("invoice", "in_4"), party=CUSTOMER, lines=(), total=usd("0"))


def test_credit_note_ties_out_like_an_invoice() -> None:
    lines = (InvoiceLine(line_id="l1", amount=usd("50")),)
    with pytest.raises(ValidationError, match="but total is"):
        CreditNote(**base("credit_note", "cn_1"), party=CUSTOMER, lines=lines, total=usd("40"))


# ---- ids ------------------------------------------------------------------------------------------

def test_document_id_comes_from_the_source_reference_not_the_event() -> None:
    # Given the same invoice told by two different deliveries
    first = invoice(**base("invoice", "in_1", event_id="evt_first"))
    second = invoice(**base("invoice", "in_1", event_id="evt_second"))
    # Then both are the same document
    assert first.source.event_id != second.source.event_id
    assert first.document_id == second.document_id
    # and a new version of the same object is a new document
    assert invoice(**base("invoice", "in_1", version="2")).document_id != first.document_id


def test_document_id_that_does_not_match_the_source_is_refused() -> None:
    other = SourceRef(system="test", object_type="invoice", object_id="in_other").document_id()
    with pytest.raises(ValidationError, match="does not match its source"):
        invoice(document_id=other)


# ---- payments -------------------------------------------------------------------------------------

def test_payment_amount_must_be_positive_and_net_subtracts_fees() -> None:
    payment = Payment(**base("payment", "py_1"), amount=usd("20.00"), fees=(Fee(amount=usd("0.88")),))
    assert payment.net == usd("19.12")
    for amount in ("0", "-5"):
        with pytest.raises(ValidationError, match="positive"):
            Payment(**base("payment", "py_2"), amount=usd(amount))


# ---- journals -------------------------------------------------------------------------------------

def test_journal_that_balances_per_currency_is_accepted_even_with_two_currencies() -> None:
    entry = journal(("Assets:Bank:USD", "100.00", "USD"), ("Equity:FX", "-100.00", "USD"),
                    ("Equity:FX", "92.00", "EUR"), ("Assets:Bank:EUR", "-92.00", "EUR"))
    assert imbalances(entry.lines) == {}
    assert entry.totals_by_currency() == {"USD": usd("100"), "EUR": Money.of("92", "EUR")}


def test_journal_that_only_nets_to_zero_across_currencies_is_refused() -> None:
    # +100 USD and -100 EUR sum to 0 as numbers, but each currency is off by 100
    with pytest.raises(ValidationError, match="does not balance"):
        journal(("Assets:Bank:USD", "100.00", "USD"), ("Assets:Bank:EUR", "-100.00", "EUR"))


def test_unbalanced_single_currency_journal_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"off by 0\.01 USD"):
        journal(("Assets:Cash", "10.01", "USD"), ("Income:Sales", "-10.00", "USD"))


def test_journal_needs_a_debit_and_a_credit_and_no_zero_lines() -> None:
    with pytest.raises(ValidationError):
        journal(("Assets:Cash", "10", "USD"))  # one line
    with pytest.raises(ValidationError, match="must not be zero"):
        journal(("Assets:Cash", "0", "USD"), ("Income:Sales", "0", "USD"))


# ---- revenue schedules ----------------------------------------------------------------------------

def schedule(*entries: str, billed: str = "120.00") -> RevenueSchedule:
    return RevenueSchedule(
        **base("revenue_schedule", "il_1"), invoice_document_id=invoice().document_id, line_id="l1",
        billed=usd(billed), service_start=date(2024, 1, 1), service_end=date(2024, 3, 31),
        entries=tuple(RevenueScheduleEntry(period=f"2024-0{n + 1}", amount=usd(amount))
                      for n, amount in enumerate(entries)),
    )


def test_revenue_schedule_entries_must_sum_to_the_billed_amount() -> None:
    assert len(schedule("40.00", "40.00", "40.00").entries) == 3
    with pytest.raises(ValidationError, match="sum to"):
        schedule("40.00", "40.00", "39.99")


def test_revenue_schedule_service_period_must_not_run_backwards() -> None:
    with pytest.raises(ValidationError, match="service_end before service_start"):
        RevenueSchedule(**base("revenue_schedule", "il_2"), invoice_document_id="doc_x", line_id="l1",
                        billed=usd("10"), service_start=date(2024, 2, 1), service_end=date(2024, 1, 1),
                        entries=(RevenueScheduleEntry(period="2024-01", amount=usd("10")),))


# ---- bills ------------------------------------------------------------------------------------------

VENDOR = Party(role="vendor", source_id="ven_1", name="Acme Supplies")


def bill(*amounts: str, total: str | None = None, party: Party = VENDOR) -> Bill:
    amounts = amounts or ("300.00", "120.50")
    return Bill(**base("bill", "bill_1"), party=party, number="INV-77",
                lines=tuple(BillLine(line_id=f"b{n}", category="software", amount=usd(amount))
                            for n, amount in enumerate(amounts)),
                total=usd(total or str(sum(Decimal(a) for a in amounts))), due_date=date(2024, 4, 1))


def test_bill_lines_must_sum_to_the_total() -> None:
    assert bill().total == usd("420.50")
    with pytest.raises(ValidationError, match="bill lines sum to"):
        bill("300.00", "120.50", total="420.49")


def test_bill_is_owed_to_a_vendor_with_positive_lines_in_its_currency() -> None:
    with pytest.raises(ValidationError, match="must be a vendor"):
        bill(party=CUSTOMER)
    with pytest.raises(ValidationError, match="must be positive"):
        bill("300.00", "-20.00")
    with pytest.raises(ValidationError, match="amount in EUR"):
        Bill(**base("bill", "bill_2"), party=VENDOR, total=usd("10"),
             lines=(BillLine(line_id="b0", category="x", amount=Money.of("10", "EUR")),))


# ---- one of each: JSON round trip through the discriminated union ---------------------------------

def one_of_each() -> list[Any]:
    employee = Party(role="employee", source_id="emp_1")
    return [
        invoice(),
        CreditNote(**base("credit_note", "cn_1"), party=CUSTOMER, lines=(InvoiceLine(line_id="l1", amount=usd("5")),),
                   total=usd("5"), original_document_id=invoice().document_id, reason="goodwill"),
        Payment(**base("payment", "py_1"), party=CUSTOMER, amount=usd("118.00"), fees=(Fee(amount=usd("3.72")),),
                applies_to_document_id=invoice().document_id, method="card", reference="ch_1"),
        ExpenseReport(**base("expense_report", "er_1"), employee=employee, report_id="R-1",
                      lines=(ExpenseLine(line_id="e1", category="travel", amount=usd("42.50"), tax=usd("3.50"),
                                         transaction_date=date(2024, 3, 1), dimensions={"project": "apollo"}),),
                      total=usd("42.50")),
        CardTransaction(**base("card_transaction", "ct_1"), cardholder=employee, merchant="Coffee Co",
                        merchant_category_code="5814", amount=usd("-4.20")),
        SubscriptionEvent(**base("subscription_event", "sub_1"), action="updated", subscription_id="sub_1",
                          party=CUSTOMER, status="active",
                          items=(SubscriptionItem(item_id="si_1", unit_amount=usd("10"), interval="month",
                                                  quantity=Decimal("2.5")),)),
        schedule("40.00", "40.00", "40.00"),
        BankTransaction(**base("bank_transaction", "bt_1", currency="EUR"), bank_account="DE89370400440532013000",
                        amount=Money.of("-12.34", "EUR"), booking_date=date(2024, 3, 15), reference="INV-1"),
        Payout(**base("payout", "po_1"), amount=usd("96.28"), fees=(Fee(kind="payout", amount=usd("1.00")),),
               destination="ba_1", arrival_date=date(2024, 3, 16), reference="po_1"),
        CustomerEvent(**base("customer_event", "001A"), party=CUSTOMER, external_ids={"salesforce_account": "001A"}),
        ContractEvent(**base("contract_event", "006A"), contract_id="006A", party=CUSTOMER, total=usd("1200.00"),
                      lines=(ContractLine(line_id="oli1", product_id="pro", amount=usd("1200.00")),),
                      start_date=date(2024, 3, 1), end_date=date(2025, 2, 28)),
        journal(("Assets:Bank:USD", "100.00", "USD"), ("Equity:FX", "-100.00", "USD"),
                ("Equity:FX", "92.00", "EUR"), ("Assets:Bank:EUR", "-92.00", "EUR")),
        Reversal(**base("reversal", "in_1_void"), original_document_id=invoice().document_id, reason="void",
                 reverse_on="original_date"),
        UsageBatch(**base("usage_batch", "mtr_batch_1"), event_name="api_requests",
                   records=(UsageRecord(identifier="mev_1", customer="cus_1", value=Decimal("12.5"), timestamp=WHEN),)),
        bill(),
        WriteOff(**base("write_off", "in_1_written_off"), original_document_id=invoice().document_id, party=CUSTOMER,
                 amount=usd("5")),
    ]


def test_one_of_each_covers_every_document_type() -> None:
    assert sorted(doc.document_type for doc in one_of_each()) == sorted(DOCUMENT_TYPES)


@pytest.mark.parametrize("doc", one_of_each(), ids=lambda doc: doc.document_type)
def test_document_round_trips_through_json(doc: Any) -> None:
    # Given a document serialized the way it travels (ledger item, Step Functions input)
    text = doc.model_dump_json()
    # When the union adapter reads it back
    back = DocumentAdapter.validate_json(text)
    # Then it is the same document of the same class, amounts exact
    assert type(back) is type(doc)
    assert back == doc
    assert DocumentAdapter.validate_python(doc.model_dump(mode="json")) == doc


def test_unknown_document_type_is_refused_by_the_adapter() -> None:
    data = invoice().model_dump(mode="json")
    data["document_type"] = "purchase_order"
    with pytest.raises(ValidationError):
        DocumentAdapter.validate_python(data)


def test_documents_refuse_unknown_fields() -> None:
    data = invoice().model_dump(mode="json")
    data["colour"] = "blue"
    with pytest.raises(ValidationError, match="colour"):
        DocumentAdapter.validate_python(data)


def test_journal_line_with_more_decimals_than_the_currency_is_refused() -> None:
    # 0.005 USD would be rounded when written to the ERP, and the journal would no longer balance there
    with pytest.raises(ValueError, match="decimal places"):
        JournalLine(account="Assets:Cash", amount=Money.of("0.005", "USD"))
