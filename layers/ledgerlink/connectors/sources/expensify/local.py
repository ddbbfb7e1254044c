"""Expensify for the local stack: no webhooks (polled); Integration Server partner credentials."""

from __future__ import annotations

from ledgerlink.connectors.sources.local_stack import LocalSource

LOCAL = LocalSource(new_credentials=lambda token: {"partnerUserID": "aa_ledgerlink_" + token[:8],
                                                   "partnerUserSecret": token})
