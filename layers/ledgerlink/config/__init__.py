"""Configuration model (pydantic) and YAML loader with line-numbered errors."""

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

__all__ = [
    "AccountMapping", "AdyenSource", "ApiAccess", "BankSource", "BeancountConnection", "BrexSource", "ConcurSource",
    "Entity", "ExpensifySource", "HubSpotSource", "LedgerLinkConfig", "PostingPolicy", "RampSource",
    "SalesforceSource", "SecretRef", "StoredConfig", "StripeSource", "config_hash", "config_json_schema",
    "load_config_file", "parse_config_text",
]
