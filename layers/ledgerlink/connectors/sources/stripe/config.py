"""The configuration model of a Stripe source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel, SecretRef
from ledgerlink.config.source_fields import (
    MAX_AMOUNT_HELP,
    UNMAPPED_ACCOUNTS_HELP,
    AmountCeilings,
    ApiAccess,
    UnmappedAccounts,
    route_account,
)
from ledgerlink.model.base import Identifier


class StripeSource(ConfigModel):
    id: Identifier = Field(description="path segment of POST /webhooks/{source}")
    kind: Literal["stripe"]
    signing_secret: SecretRef
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="Stripe Connect account id (acct_...) → entity id"
    )
    unmapped_accounts: UnmappedAccounts = Field(default="exception", description=UNMAPPED_ACCOUNTS_HELP)
    max_amount: AmountCeilings = Field(default_factory=dict, description=MAX_AMOUNT_HELP)
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)
    api_key: SecretRef | None = Field(
        default=None, description="a restricted Stripe key that can read events: enables the daily gap backfill "
                                  "(events Stripe never delivered are fetched from the events API)")
    api_base: str = Field(default="https://api.stripe.com", pattern=r"^https?://[^\s/]+(:\d+)?$",
                          description="Stripe API base URL (tests and the local stack point it at a fake)")
    api: ApiAccess | None = Field(
        default=None, description="cash data: a restricted key that reads balance transactions (secret JSON "
                                  "{\"api_key\": \"rk_...\"}); each automatic payout's balance transactions are "
                                  "fetched and posted as one deposit with its fees (D83)")
    crm_metadata_keys: dict[str, str] = Field(
        default_factory=lambda: {"hubspot_company_id": "hubspot_company", "salesforce_account_id": "salesforce_account"},
        description="invoice / subscription metadata key → the CRM identity it holds (hubspot_company, "
                    "salesforce_account): links a Stripe customer to the CRM account that announced it")

    def entity_for_account(self, account: str | None) -> str | None:
        """See :func:`route_account`: the event's Connect account (``event.account``) → entity id, or None."""
        return route_account(self.account_entities, self.default_entity, self.unmapped_accounts, account)


MODEL = StripeSource
