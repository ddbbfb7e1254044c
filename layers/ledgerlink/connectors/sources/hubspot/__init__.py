"""HubSpot: signature v3 webhooks; closed-won deals fetched from the CRM API become customer + contract events."""

from ledgerlink.connectors.sources.traits import SourceTraits

TRAITS = SourceTraits(order=60, webhook=True, api=True, document_types=("contract_event", "customer_event"))
