"""Cash application: settle a bank line against the open item it names — by reference *and* amount.

Pure: given a bank transaction and the posting-ledger records of its candidate documents, return the
transaction with ``applies_to_document_id`` and ``counter_role`` set, or unchanged when nothing matches
(enrich then opens a ``cash_unmatched`` exception). A candidate matches when it is an incoming item of the
same entity and currency that did not end as an exception, and the line's amount is the item's: a payout's
amount exactly; an invoice's total, or at least what is still open on it (the receivables subledger, D92) — the
normalize service then applies only what is open and the rest becomes unapplied cash. A part payment below what
is open is left to a person (it may belong to another invoice).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from ledgerlink.model.documents import BankTransaction
from ledgerlink.model.status import DocumentStatus
from ledgerlink.pipeline.receivables import open_amount

# what a bank credit settles, by the matched document's type
COUNTER_ROLES = {"payout": "payouts_in_transit", "invoice": "receivable"}


def _amount(record: Mapping[str, object]) -> Decimal | None:
    try:
        return Decimal(str(record.get("amount")))
    except (InvalidOperation, ValueError):
        return None


def _settles(record: Mapping[str, object], amount: Decimal) -> bool:
    if _amount(record) == amount:
        return True
    still_open = open_amount(record)   # None for a payout: exact amounts only
    return still_open is not None and still_open > 0 and amount >= still_open


def apply(transaction: BankTransaction, records: Mapping[str, Mapping[str, object] | None]) -> BankTransaction:
    if transaction.counter_role or transaction.amount.amount <= 0:
        return transaction  # debits (fees, transfers out) are not applied here: they become cases
    for document_id in transaction.match_candidates:
        record = records.get(document_id)
        if not record or record.get("status") == DocumentStatus.EXCEPTION:
            continue
        role = COUNTER_ROLES.get(str(record.get("document_type")))
        if (role and record.get("entity_id") == transaction.entity_id
                and record.get("currency") == transaction.currency
                and _settles(record, transaction.amount.amount)):
            return transaction.model_copy(update={"applies_to_document_id": document_id, "counter_role": role,
                                                  "related_document_ids": (document_id,)})
    return transaction
