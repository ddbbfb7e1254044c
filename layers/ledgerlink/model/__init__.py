"""Canonical model: Money, parties, documents, journals and deterministic ids."""

import importlib
from typing import Any

_HOME = {
    "Bucket": "ledgerlink.model.buckets",
    "BucketMember": "ledgerlink.model.buckets",
    "BucketScope": "ledgerlink.model.buckets",
    "BucketStatus": "ledgerlink.model.buckets",
    "Contribution": "ledgerlink.model.buckets",
    "MemberLine": "ledgerlink.model.buckets",
    "Membership": "ledgerlink.model.buckets",
    "SummaryLine": "ledgerlink.model.buckets",
    "line_key": "ledgerlink.model.buckets",
    "Decision": "ledgerlink.model.ratelimit",
    "LimiterState": "ledgerlink.model.ratelimit",
    "LimitPolicy": "ledgerlink.model.ratelimit",
    "decide": "ledgerlink.model.ratelimit",
    "Facts": "ledgerlink.model.revenue",
    "LineDelta": "ledgerlink.model.revenue",
    "LineDeltaJson": "ledgerlink.model.revenue",
    "LineState": "ledgerlink.model.revenue",
    "ReleaseRun": "ledgerlink.model.revenue",
    "RevenueFact": "ledgerlink.model.revenue",
    "ScheduleLine": "ledgerlink.model.revenue",
    "TieOut": "ledgerlink.model.revenue",
    "UsageTie": "ledgerlink.model.revenue",
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
    "Currency": "ledgerlink.model.money",
    "CurrencyError": "ledgerlink.model.money",
    "Money": "ledgerlink.model.money",
    "currency_exponent": "ledgerlink.model.money",
    "sum_money": "ledgerlink.model.money",
}

__all__ = [
    "Bucket", "BucketMember", "BucketScope", "BucketStatus", "Contribution", "MemberLine", "Membership",
    "SummaryLine", "line_key", "Decision", "LimiterState", "LimitPolicy", "decide", "Facts", "LineDelta",
    "LineDeltaJson", "LineState", "ReleaseRun", "RevenueFact", "ScheduleLine", "TieOut", "UsageTie",
    "DOCUMENT_TYPES", "BankTransaction", "Bill", "BillLine", "CardTransaction", "CreditNote", "Currency", "CurrencyError",
    "Document", "DocumentAdapter", "ExpenseLine", "ExpenseReport", "Fee", "FxConversion", "Invoice", "InvoiceLine",
    "JournalEntry", "JournalLine", "Money", "Party", "Payment", "Reversal", "RevenueSchedule", "RevenueScheduleEntry",
    "SourceRef", "SubscriptionEvent", "SubscriptionItem", "currency_exponent", "document_id",
    "fingerprint", "imbalances", "new_correlation_id", "sum_money",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
