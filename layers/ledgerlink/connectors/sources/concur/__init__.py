"""SAP Concur: RSA-signed Event Subscription Service events; approved expense reports fetched from Expense v4."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=70, webhook=True, api=True, document_types=("expense_report",))
