"""Bank statement files: ISO 20022 camt.053 (v2–v8) and BAI2, to bank transactions for cash application."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=90, file_drop=True, document_types=("bank_transaction",))
