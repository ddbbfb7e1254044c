"""HubSpot: signature v3 webhooks; closed-won deals fetched from the CRM API become customer + contract events."""
