"""Configuration model (pydantic) and YAML loader with line-numbered errors.

Names are resolved on first use (PEP 562): a Lambda that imports ``ledgerlink.config.model`` does not
also import the file loader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledgerlink.config.loader import config_hash, config_json_schema, load_config_file, parse_config_text
    from ledgerlink.config.model import (
        AccountMapping,
        AdyenSource,
        ApiAccess,
        BankSource,
        BeancountConnection,
        BrexSource,
        ConcurSource,
        Entity,
        ExpensifySource,
        HubSpotSource,
        LedgerLinkConfig,
        PostingPolicy,
        RampSource,
        SalesforceSource,
        SecretRef,
        StoredConfig,
        StripeSource,
    )

_LOADER = frozenset({"config_hash", "config_json_schema", "load_config_file", "parse_config_text"})

__all__ = [
    "AccountMapping", "AdyenSource", "ApiAccess", "BankSource", "BeancountConnection", "BrexSource", "ConcurSource",
    "Entity", "ExpensifySource", "HubSpotSource", "LedgerLinkConfig", "PostingPolicy", "RampSource",
    "SalesforceSource", "SecretRef", "StoredConfig", "StripeSource", "config_hash", "config_json_schema",
    "load_config_file", "parse_config_text",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module("ledgerlink.config.loader" if name in _LOADER else "ledgerlink.config.model")
    return getattr(module, name)
