"""Adyen standard notifications: per-item HMAC, ``[accepted]`` acknowledgement, payments to documents."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=30, webhook=True, api=True, document_types=("invoice", "payment", "payout"))
