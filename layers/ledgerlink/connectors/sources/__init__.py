"""Source connectors. Each source is one package here, ``connectors/sources/<kind>/``, with the same shape:

- ``__init__.py``: ``TRAITS = SourceTraits(...)`` (``traits.py``) — how its events arrive, what they become;
- ``webhook.py``: ``verify_request`` / ``parse_events`` / optional ``acknowledge`` (the contract is in
  ``webhooks.py``) — stdlib only, because the ingest Lambda imports it on the webhook hot path;
- ``normalize.py``: ``normalize(event, context)`` → canonical documents (pure; pydantic models);
- ``config.py``: ``MODEL``, the pydantic model of its entry in ``sources:`` (``ledgerlink.config.sources`` builds
  the ``Source`` union from these);
- optionally ``api.py``: the vendor API client for sources whose notifications only name an object (Ramp,
  HubSpot, Concur, Adyen reports) or that must be polled (Expensify) — contract in ``api.py``;
- ``local.py``: ``LOCAL``, what the local stack needs to play the vendor (a request signer, a fresh secret, API
  credentials; contract in ``local_stack.py``), and optionally ``fake_api.py``: ``FAKE_API``, the vendor API routes
  the local stack's HTTP fake answers.

Adding a source means adding one package here and its tests (``docs/adding-a-source.md``): the kinds below are
discovered, not listed.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from ledgerlink.connectors.sources.traits import SourceTraits


def _discover() -> dict[str, SourceTraits]:
    """Every sub-package that declares ``TRAITS``, by kind (the package name), in ``TRAITS.order``."""
    found: dict[str, SourceTraits] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if not info.ispkg:
            continue
        traits = getattr(importlib.import_module(f"{__name__}.{info.name}"), "TRAITS", None)
        if isinstance(traits, SourceTraits):
            found[info.name] = traits
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


SOURCES: dict[str, SourceTraits] = _discover()
# Kinds that arrive as signed webhooks (ingest serves POST /webhooks/{source} for these only) ...
WEBHOOK_KINDS: tuple[str, ...] = tuple(kind for kind, traits in SOURCES.items() if traits.webhook)
# ... kinds read by the scheduled poller (no webhooks at all) ...
POLLED_KINDS: tuple[str, ...] = tuple(kind for kind, traits in SOURCES.items() if traits.polled)
# ... kinds whose normalizer needs the vendor's API (fetch the object a notification names, or poll) ...
API_KINDS: tuple[str, ...] = tuple(kind for kind, traits in SOURCES.items() if traits.api)
# ... kinds whose files are dropped in S3 ...
FILE_DROP_KINDS: tuple[str, ...] = tuple(kind for kind, traits in SOURCES.items() if traits.file_drop)
# ... and every kind with a normalizer.
SOURCE_KINDS: tuple[str, ...] = tuple(SOURCES)


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


def package_module(kind: str, name: str) -> ModuleType | None:
    """Module ``name`` of the kind's package (``config``, ``local``, ``fake_api``), or None when it has none."""
    if kind not in SOURCES:
        raise KeyError(kind)
    try:
        return importlib.import_module(f"ledgerlink.connectors.sources.{kind}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"ledgerlink.connectors.sources.{kind}.{name}":
            raise
        return None
