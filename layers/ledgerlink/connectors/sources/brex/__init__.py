"""Brex: Standard Webhooks signatures and card expense events."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=20, webhook=True, document_types=("card_transaction",))
