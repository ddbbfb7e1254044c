"""Salesforce outbound messages (SOAP): URL-token authentication, Ack response, closed-won opportunities."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=40, webhook=True, document_types=("contract_event", "customer_event"))
