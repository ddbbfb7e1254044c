"""Ramp: HMAC-signed thin webhooks, transactions and reimbursements fetched from the Ramp API."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=50, webhook=True, api=True, document_types=("card_transaction", "expense_report", "bill", "reversal"))
