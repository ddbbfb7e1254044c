"""Canonical model: Money, parties, documents, journals and deterministic ids."""

from ledgerlink.model.documents import (
    DOCUMENT_TYPES,
    BankTransaction,
    Bill,
    BillLine,
    CardTransaction,
    CreditNote,
    Document,
    DocumentAdapter,
    ExpenseLine,
    ExpenseReport,
    Fee,
    FxConversion,
    Invoice,
    InvoiceLine,
    JournalEntry,
    JournalLine,
    Party,
    Payment,
    RevenueSchedule,
    RevenueScheduleEntry,
    Reversal,
    SourceRef,
    SubscriptionEvent,
    SubscriptionItem,
    imbalances,
)
from ledgerlink.model.ids import document_id, fingerprint, new_correlation_id
from ledgerlink.model.money import Currency, CurrencyError, Money, currency_exponent, sum_money

__all__ = [
    "DOCUMENT_TYPES", "BankTransaction", "Bill", "BillLine", "CardTransaction", "CreditNote", "Currency", "CurrencyError",
    "Document", "DocumentAdapter", "ExpenseLine", "ExpenseReport", "Fee", "FxConversion", "Invoice", "InvoiceLine",
    "JournalEntry", "JournalLine", "Money", "Party", "Payment", "Reversal", "RevenueSchedule", "RevenueScheduleEntry",
    "SourceRef", "SubscriptionEvent", "SubscriptionItem", "currency_exponent", "document_id",
    "fingerprint", "imbalances", "new_correlation_id", "sum_money",
]
