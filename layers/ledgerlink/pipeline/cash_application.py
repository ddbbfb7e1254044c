"""Cash application: settle a bank line against the open item it names — by reference *and* amount.

Pure: given a bank transaction and the posting-ledger records of its candidate documents, return the
transaction with ``applies_to_document_id`` and ``counter_role`` set, or unchanged when nothing matches
(enrich then opens a ``cash_unmatched`` exception). A candidate matches when it is an incoming item of the
same entity and currency whose amount equals the line's, and it did not end as an exception.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerlink.model.documents import BankTransaction

# what a bank credit settles, by the matched document's type
COUNTER_ROLES = {"payout": "payouts_in_transit", "invoice": "receivable"}


def _amount(record: dict[str, Any]) -> Decimal | None:
    try:
        return Decimal(str(record.get("amount")))
    except (InvalidOperation, ValueError):
        return None


def apply(transaction: BankTransaction, records: dict[str, dict[str, Any] | None]) -> BankTransaction:
    if transaction.counter_role or transaction.amount.amount <= 0:
        return transaction  # debits (fees, transfers out) are not applied here: they become cases
    for document_id in transaction.match_candidates:
        record = records.get(document_id)
        if not record or record.get("status") == "exception":
            continue
        role = COUNTER_ROLES.get(str(record.get("document_type")))
        if (role and record.get("entity_id") == transaction.entity_id
                and record.get("currency") == transaction.currency
                and _amount(record) == transaction.amount.amount):
            return transaction.model_copy(update={"applies_to_document_id": document_id, "counter_role": role,
                                                  "related_document_ids": (document_id,)})
    return transaction
