"""Paddle Billing: ``Paddle-Signature`` verification and completed transactions → invoice and payment."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=100, webhook=True, document_types=("invoice", "payment"))
