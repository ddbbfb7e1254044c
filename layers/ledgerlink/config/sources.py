"""Source kinds. Add a source kind here (one class with ``kind: Literal[...]``) and to the union.

Every source has ``id`` (the URL segment of ``POST /webhooks/{source}``), ``kind``, ``signing_secret``,
``default_entity``, ``tolerance_seconds`` and ``max_body_bytes``: the ingest Lambda reads exactly
those from the stored JSON without pydantic (``ledgerlink.service.ingest.WebhookSource``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel, SecretRef
from ledgerlink.model.base import Identifier


class StripeSource(ConfigModel):
    id: Identifier = Field(description="path segment of POST /webhooks/{source}")
    kind: Literal["stripe"]
    signing_secret: SecretRef
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="Stripe Connect account id (acct_...) → entity id"
    )
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)
    api_key: SecretRef | None = Field(
        default=None, description="a restricted Stripe key that can read events: enables the daily gap backfill "
                                  "(events Stripe never delivered are fetched from the events API)")
    api_base: str = Field(default="https://api.stripe.com", pattern=r"^https?://[^\s/]+(:\d+)?$",
                          description="Stripe API base URL (tests and the local stack point it at a fake)")


class _SourceFields(ConfigModel):
    """The fields every webhook source has (ingest reads them as plain JSON, see the module docstring)."""

    id: Identifier = Field(description="path segment of POST /webhooks/{source}")
    signing_secret: SecretRef
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="provider account (company, merchant account, org) → entity id")
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)


class BrexSource(_SourceFields):
    """Brex webhooks: Standard Webhooks signatures (``webhook-id/-timestamp/-signature``, ``whsec_`` base64 key;
    during a rotation both secrets are live: store ``{"secrets": [new, old]}``). ``account_entities`` maps the
    Brex ``company_id`` to an entity."""

    kind: Literal["brex"]
    default_category: Identifier = Field(default="uncategorized", description="expense category when Brex sends none")


class AdyenSource(_SourceFields):
    """Adyen standard notifications: HMAC-SHA256 per item with the hex key in ``signing_secret``;
    ``account_entities`` maps ``merchantAccountCode`` to an entity. ``tolerance_seconds`` is unused: the HMAC
    does not cover ``eventDate``, so there is no signed time to bound (replays dedupe by document id)."""

    kind: Literal["adyen"]
    post_sales_on: Literal["CAPTURE", "AUTHORISATION"] = Field(
        default="CAPTURE", description="CAPTURE for manual/delayed capture; AUTHORISATION for immediate auto-capture "
                                       "accounts (Adyen then sends no CAPTURE notification)")


class SalesforceSource(_SourceFields):
    """Salesforce outbound messages (SOAP). They carry no signature: the endpoint URL configured in Salesforce
    holds a secret token (``?token=...``, compared with ``signing_secret``) and every message must come from
    ``organization_id``. ``tolerance_seconds`` is unused (messages have no signed send time)."""

    kind: Literal["salesforce"]
    organization_id: str = Field(pattern=r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$",
                                 description="the 15- or 18-character Salesforce org id (00D...)")
    closed_won_stages: tuple[str, ...] = Field(default=("Closed Won",), min_length=1)
    currency: str = Field(default="USD", description="org currency when the Opportunity has no CurrencyIsoCode")


class BankSource(ConfigModel):
    """Bank statement files (camt.053 v2–v8, BAI2) dropped under ``s3://<archive>/bank-inbox/<source id>/``.
    No webhook and no signature: who may write the prefix is decided by IAM. ``account_entities`` maps the
    statement's account (IBAN or account number) to an entity; lines of unknown accounts are refused."""

    id: Identifier
    kind: Literal["bank"]
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(default_factory=dict)
    max_body_bytes: int = Field(default=10_000_000, ge=1_024, le=100_000_000)
    signing_secret: None = None


Source = Annotated[StripeSource | BrexSource | AdyenSource | SalesforceSource | BankSource,
                   Field(discriminator="kind")]
