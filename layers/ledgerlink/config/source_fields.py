"""What source configuration models share: API access, account routing, amount ceilings, the common fields.

Each source kind's model lives in its package (``connectors/sources/<kind>/config.py``) and builds on these;
``ledgerlink.config.sources`` collects the models into the ``Source`` union.
"""

from decimal import Decimal
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from ledgerlink.config.base import ConfigModel, SecretRef
from ledgerlink.model.base import Identifier
from ledgerlink.model.money import Currency

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _api_url(url: str) -> str:
    """https, or plain http to the loopback interface only (the local stack's fake vendor APIs)."""
    parts = urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{url!r} is not a base URL (scheme://host[:port][/path], no query or credentials)")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ValueError(f"{url!r}: source APIs are called over https (http only to the loopback interface)")
    return url.rstrip("/")


ApiUrl = Annotated[str, AfterValidator(_api_url)]


UnmappedAccounts = Literal["exception", "default_entity"]
# Plausibility ceilings (issue 17): ISO currency (or ``*`` for any other) → the largest amount, in major units, one
# document may move. Above it the validate step opens ``amount_implausible``; see ledgerlink.pipeline.validate.
AmountCeilings = dict[Currency | Literal["*"], Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]]

UNMAPPED_ACCOUNTS_HELP = ("an event from a provider account not in account_entities: exception (the default) opens "
                           "an unknown_account case; default_entity posts it to default_entity (an explicit opt-in). "
                           "An event that names no account (the platform's own) always goes to default_entity")
MAX_AMOUNT_HELP = ("ceiling per currency ('*': any other), major units: a document moving more opens "
                    "amount_implausible (the lowest of the source's and the entity's applies; neither set: 1,000,000,000)")


def route_account(account_entities: dict[str, str], default_entity: str, unmapped: UnmappedAccounts,
                  account: str | None) -> str | None:
    """The entity of a provider account: its mapping; no account at all → ``default_entity``; an unmapped account →
    ``default_entity`` only when the source opted in, else None (the connector opens ``unknown_account``)."""
    if not account:
        return default_entity
    if account in account_entities:
        return account_entities[account]
    return default_entity if unmapped == "default_entity" else None


class ApiAccess(ConfigModel):
    """How LedgerLink calls a source's own API to fetch what a thin notification only names (or to poll).
    ``credentials`` is a Secrets Manager secret holding JSON (see each source kind for its keys); its values
    never appear in config, environment variables or logs."""

    base_url: ApiUrl
    credentials: SecretRef
    timeout_seconds: int = Field(default=10, ge=1, le=60)


class SourceFields(ConfigModel):
    """The fields every webhook source has (ingest reads them as plain JSON, see the module docstring)."""

    id: Identifier = Field(description="path segment of POST /webhooks/{source}")
    signing_secret: SecretRef
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="provider account (company, merchant account, org) → entity id")
    max_amount: AmountCeilings = Field(default_factory=dict, description=MAX_AMOUNT_HELP)
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)


class RoutedSourceFields(SourceFields):
    """A source whose events name a provider account (company, merchant account, portal): ``unmapped_accounts``
    says what an account missing from ``account_entities`` does."""

    unmapped_accounts: UnmappedAccounts = Field(default="exception", description=UNMAPPED_ACCOUNTS_HELP)

    def entity_for_account(self, account: str | None) -> str | None:
        """See :func:`route_account`: provider account → entity id, or None for an unmapped one (a case)."""
        return route_account(self.account_entities, self.default_entity, self.unmapped_accounts, account)
