"""Canonical model: Money, parties, documents, journals and deterministic ids."""

import importlib
from typing import Any

_HOME = {
    "DOCUMENT_TYPES": "ledgerlink.model.documents",
    "BankTransaction": "ledgerlink.model.documents",
    "Bill": "ledgerlink.model.documents",
    "BillLine": "ledgerlink.model.documents",
    "CardTransaction": "ledgerlink.model.documents",
    "CreditNote": "ledgerlink.model.documents",
    "Document": "ledgerlink.model.documents",
    "DocumentAdapter": "ledgerlink.model.documents",
    "ExpenseLine": "ledgerlink.model.documents",
    "ExpenseReport": "ledgerlink.model.documents",
    "Fee": "ledgerlink.model.documents",
    "FxConversion": "ledgerlink.model.documents",
    "Invoice": "ledgerlink.model.documents",
    "InvoiceLine": "ledgerlink.model.documents",
    "JournalEntry": "ledgerlink.model.documents",
    "JournalLine": "ledgerlink.model.documents",
    "Party": "ledgerlink.model.documents",
    "Payment": "ledgerlink.model.documents",
    "RevenueSchedule": "ledgerlink.model.documents",
    "RevenueScheduleEntry": "ledgerlink.model.documents",
    "Reversal": "ledgerlink.model.documents",
    "SourceRef": "ledgerlink.model.documents",
    "SubscriptionEvent": "ledgerlink.model.documents",
    "SubscriptionItem": "ledgerlink.model.documents",
    "imbalances": "ledgerlink.model.documents",
    "document_id": "ledgerlink.model.ids",
    "fingerprint": "ledgerlink.model.ids",
    "new_correlation_id": "ledgerlink.model.ids",
    "Claim": "ledgerlink.model.inbox",
    "InboundMessage": "ledgerlink.model.messages",
    "InvalidMessage": "ledgerlink.model.messages",
    "Currency": "ledgerlink.model.money",
    "CurrencyError": "ledgerlink.model.money",
    "Money": "ledgerlink.model.money",
    "currency_exponent": "ledgerlink.model.money",
    "sum_money": "ledgerlink.model.money",
    "CounterKey": "ledgerlink.model.counters",
    "DocumentStateError": "ledgerlink.model.ledger",
    "Lease": "ledgerlink.model.ledger",
    "LedgerItem": "ledgerlink.model.ledger",
    "Posting": "ledgerlink.model.posting",
    "PostingState": "ledgerlink.model.posting",
    "StepError": "ledgerlink.model.posting",
}

__all__ = [
    "DOCUMENT_TYPES", "BankTransaction", "Bill", "BillLine", "CardTransaction", "CreditNote", "Currency", "CurrencyError",
    "Document", "DocumentAdapter", "ExpenseLine", "ExpenseReport", "Fee", "FxConversion", "Invoice", "InvoiceLine",
    "JournalEntry", "JournalLine", "Money", "Party", "Payment", "Reversal", "RevenueSchedule", "RevenueScheduleEntry",
    "CounterKey", "DocumentStateError", "Lease", "LedgerItem", "Posting", "PostingState", "StepError",
    "SourceRef", "SubscriptionEvent", "SubscriptionItem", "currency_exponent", "document_id",
    "fingerprint", "imbalances", "new_correlation_id", "sum_money",
    "Claim", "InboundMessage", "InvalidMessage",   # model.inbox, model.messages
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
