"""Source connectors. Each source is a package with the same shape:

- ``webhook``: ``verify_request`` / ``parse_events`` / optional ``acknowledge`` (the contract is in
  ``webhooks.py``) — stdlib only, because the ingest Lambda imports it on the webhook hot path;
- ``normalize``: ``normalize(event, context)`` → canonical documents (pure; pydantic models);
- optionally ``api``: the vendor API client for sources whose notifications only name an object (Ramp,
  HubSpot, Concur, Adyen reports) or that must be polled (Expensify) — contract in ``api.py``.

Adding a source means adding one package here, its entry below, and its tests.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Kinds that arrive as signed webhooks (ingest serves POST /webhooks/{source} for these only) ...
WEBHOOK_KINDS: tuple[str, ...] = ("stripe", "brex", "adyen", "salesforce", "ramp", "hubspot", "concur")
# ... kinds read by the scheduled poller (no webhooks at all) ...
POLLED_KINDS: tuple[str, ...] = ("expensify",)
# ... kinds whose normalizer needs the vendor's API (fetch the object a notification names, or poll) ...
API_KINDS: tuple[str, ...] = ("ramp", "hubspot", "concur", "adyen", "expensify", "stripe")
# ... and every kind with a normalizer (bank files come from S3, not from a webhook).
SOURCE_KINDS: tuple[str, ...] = (*WEBHOOK_KINDS, *POLLED_KINDS, "bank")


def webhook_module(kind: str) -> ModuleType:
    if kind not in WEBHOOK_KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"ledgerlink.connectors.sources.{kind}.webhook")


def normalize_module(kind: str) -> ModuleType:
    if kind not in SOURCE_KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"ledgerlink.connectors.sources.{kind}.normalize")


def api_module(kind: str) -> ModuleType | None:
    """The kind's API client module (``connectors/sources/api.py`` contract), or None when it needs none."""
    if kind not in API_KINDS:
        return None
    return importlib.import_module(f"ledgerlink.connectors.sources.{kind}.api")
