"""Expensify: no webhooks; approved reports exported by a scheduled poller through the Integration Server."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=80, polled=True, api=True, document_types=("expense_report",))
