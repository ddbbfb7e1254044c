"""Source connectors. Each source is a package with the same shape:

- ``webhook``: ``verify_request`` / ``parse_events`` / optional ``acknowledge`` (the contract is in
  ``webhooks.py``) — stdlib only, because the ingest Lambda imports it on the webhook hot path;
- ``normalize``: ``normalize(event, context)`` → canonical documents (pure; pydantic models).

Adding a source means adding one package here, its entry below, and its tests.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SOURCE_KINDS: tuple[str, ...] = ("stripe",)


def webhook_module(kind: str) -> ModuleType:
    if kind not in SOURCE_KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"ledgerlink.connectors.sources.{kind}.webhook")


def normalize_module(kind: str) -> ModuleType:
    if kind not in SOURCE_KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"ledgerlink.connectors.sources.{kind}.normalize")
