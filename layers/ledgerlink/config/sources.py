"""Source kinds. Add a source kind here (one class with ``kind: Literal[...]``) and to the union.

Every source has ``id`` (the URL segment of ``POST /webhooks/{source}``), ``kind``, ``signing_secret``,
``default_entity``, ``tolerance_seconds`` and ``max_body_bytes``: the ingest Lambda reads exactly
those from the stored JSON without pydantic (``ledgerlink.service.ingest.WebhookSource``).
"""

from datetime import date
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


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


UnmappedAccounts = Literal["exception", "default_entity"]
# Plausibility ceilings (issue 17): ISO currency (or ``*`` for any other) → the largest amount, in major units, one
# document may move. Above it the validate step opens ``amount_implausible``; see ledgerlink.pipeline.validate.
AmountCeilings = dict[Currency | Literal["*"], Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]]

_UNMAPPED_ACCOUNTS_HELP = ("an event from a provider account not in account_entities: exception (the default) opens "
                           "an unknown_account case; default_entity posts it to default_entity (an explicit opt-in). "
                           "An event that names no account (the platform's own) always goes to default_entity")
_MAX_AMOUNT_HELP = ("ceiling per currency ('*': any other), major units: a document moving more opens "
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


class StripeSource(ConfigModel):
    id: Identifier = Field(description="path segment of POST /webhooks/{source}")
    kind: Literal["stripe"]
    signing_secret: SecretRef
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="Stripe Connect account id (acct_...) → entity id"
    )
    unmapped_accounts: UnmappedAccounts = Field(default="exception", description=_UNMAPPED_ACCOUNTS_HELP)
    max_amount: AmountCeilings = Field(default_factory=dict, description=_MAX_AMOUNT_HELP)
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


class _SourceFields(ConfigModel):
    """The fields every webhook source has (ingest reads them as plain JSON, see the module docstring)."""

    id: Identifier = Field(description="path segment of POST /webhooks/{source}")
    signing_secret: SecretRef
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="provider account (company, merchant account, org) → entity id")
    max_amount: AmountCeilings = Field(default_factory=dict, description=_MAX_AMOUNT_HELP)
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)


class _RoutedSourceFields(_SourceFields):
    """A source whose events name a provider account (company, merchant account, portal): ``unmapped_accounts``
    says what an account missing from ``account_entities`` does."""

    unmapped_accounts: UnmappedAccounts = Field(default="exception", description=_UNMAPPED_ACCOUNTS_HELP)

    def entity_for_account(self, account: str | None) -> str | None:
        """See :func:`route_account`: provider account → entity id, or None for an unmapped one (a case)."""
        return route_account(self.account_entities, self.default_entity, self.unmapped_accounts, account)


class BrexSource(_RoutedSourceFields):
    """Brex webhooks: Standard Webhooks signatures (``webhook-id/-timestamp/-signature``, ``whsec_`` base64 key;
    during a rotation both secrets are live: store ``{"secrets": [new, old]}``). ``account_entities`` maps the
    Brex ``company_id`` to an entity."""

    kind: Literal["brex"]
    default_category: Identifier = Field(default="uncategorized", description="expense category when Brex sends none")


class AdyenReports(ConfigModel):
    """Settlement report download for ``REPORT_AVAILABLE``: the report user's basic-auth credentials
    (``{"username": "report_...@Company.X", "password": "..."}``). The notification's URL must be on an
    ``adyen.com`` host; its path is fetched from ``base_url``. Report dates are read in ``time_zone`` (the
    report time-zone setting of the Adyen account)."""

    base_url: ApiUrl = "https://ca-live.adyen.com"
    credentials: SecretRef
    timeout_seconds: int = Field(default=30, ge=1, le=120)
    time_zone: Annotated[str, AfterValidator(_zone)] = Field(default="Europe/Amsterdam", description="IANA zone of the report's Creation Date")


class AdyenSource(_RoutedSourceFields):
    """Adyen standard notifications: HMAC-SHA256 per item with the hex key in ``signing_secret``;
    ``account_entities`` maps ``merchantAccountCode`` to an entity. ``tolerance_seconds`` is unused: the HMAC
    does not cover ``eventDate``, so there is no signed time to bound (replays dedupe by document id)."""

    kind: Literal["adyen"]
    reports: AdyenReports | None = Field(default=None, description="settlement report download; without it "
                                         "REPORT_AVAILABLE is recorded as ignored")
    post_sales_on: Literal["CAPTURE", "AUTHORISATION"] = Field(
        default="CAPTURE", description="CAPTURE for manual/delayed capture; AUTHORISATION for immediate auto-capture "
                                       "accounts (Adyen then sends no CAPTURE notification)")
    sales: Literal["receipt", "payment_only"] = Field(
        default="receipt", description="receipt: each sale is also a sales receipt (Dr receivable · Cr revenue) that "
                                       "its payment settles, so the receivable nets to zero (no order system feeds "
                                       "LedgerLink); payment_only: another source books the order or invoice, and "
                                       "the payment only credits the receivable it left")


class SalesforceSource(_RoutedSourceFields):
    """Salesforce outbound messages (SOAP). They carry no signature: the endpoint URL configured in Salesforce
    holds a secret token (``?token=...``, compared with ``signing_secret``) and every message must come from
    ``organization_id``. ``tolerance_seconds`` is unused (messages have no signed send time).
    ``account_entities`` maps the org id (its 15- or 18-character form) to an entity."""

    kind: Literal["salesforce"]
    organization_id: str = Field(pattern=r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$",
                                 description="the 15- or 18-character Salesforce org id (00D...)")
    closed_won_stages: tuple[str, ...] = Field(default=("Closed Won",), min_length=1)
    currency: str = Field(default="USD", description="org currency when the Opportunity has no CurrencyIsoCode")


class RampSource(_RoutedSourceFields):
    """Ramp webhooks: ``X-Ramp-Signature`` (also spelled ``X-Ramp-Webhook-Signature``) = hex HMAC-SHA256 of the
    raw body with the subscription secret. The body only names the object; LedgerLink fetches it from the
    Ramp API (``api.credentials``: ``{"client_id": ..., "client_secret": ...}``, OAuth client credentials).
    ``tolerance_seconds`` bounds the signed ``created_at`` (Ramp retries one event for hours, so the window is
    a day; replays inside it are duplicates in the inbox). ``account_entities`` maps Ramp business entity ids
    (or the ``business_id``) to entities."""

    kind: Literal["ramp"]
    api: ApiAccess
    tolerance_seconds: int = Field(default=86_400, ge=300, le=7 * 86_400)
    default_category: Identifier = Field(default="uncategorized", description="when Ramp gives no category")


class HubSpotSource(_RoutedSourceFields):
    """HubSpot webhooks (signature v3 with the app's client secret, millisecond timestamps, 300 s window).
    A ``deal.propertyChange`` of ``dealstage`` to one of ``closed_won_stages`` is fetched from the CRM API
    (``api.credentials``: ``{"access_token": ...}``, a private-app token) and becomes customer + contract events.
    ``account_entities`` maps the HubSpot ``portalId`` to an entity."""

    kind: Literal["hubspot"]
    api: ApiAccess
    closed_won_stages: tuple[str, ...] = Field(default=("closedwon",), min_length=1)
    currency: Currency = Field(default="USD", description="when the deal has no deal_currency_code")


class ConcurSource(_RoutedSourceFields):
    """SAP Concur Event Subscription Service (``public.concur.expense.report``): ``Concur-Signature`` is an RSA
    (PKCS#1 v1.5, SHA-256) signature of the raw body; ``signing_secret`` holds Concur's published public key
    (PEM; two during a key change). Approved reports are fetched from Expense Reports v4 (``api.credentials``:
    ``{"client_id", "client_secret", "refresh_token"}``, a company-level refresh token). ESS retries for 72 h,
    so the window on the signed ``timeStamp`` is 3 days. ``account_entities`` maps ``companyId`` to an entity."""

    kind: Literal["concur"]
    api: ApiAccess
    tolerance_seconds: int = Field(default=259_200, ge=300, le=7 * 86_400)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)
    approved_statuses: tuple[str, ...] = Field(default=("A_APPR",), min_length=1,
                                               description="approvalStatusId values that make a report postable")
    cash_payment_types: tuple[str, ...] = Field(default=("CASH",), min_length=1,
                                                description="paymentType codes the employee paid (reimbursable)")
    default_category: Identifier = "uncategorized"


class ExpensifySource(ConfigModel):
    """Expensify has no webhooks: a scheduled poller exports approved reports through the Integration Server
    (``api.credentials``: ``{"partnerUserID": ..., "partnerUserSecret": ...}``) every ``poll_interval_minutes``,
    from a high-water mark on the approval date (re-reading ``overlap_days`` before it; the inbox dedupes).
    ``account_entities`` maps the Expensify ``policyID`` to an entity."""

    id: Identifier
    kind: Literal["expensify"]
    api: ApiAccess
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="Expensify policyID → entity id")
    unmapped_accounts: UnmappedAccounts = Field(default="exception", description=_UNMAPPED_ACCOUNTS_HELP)
    max_amount: AmountCeilings = Field(default_factory=dict, description=_MAX_AMOUNT_HELP)
    poll_interval_minutes: int = Field(default=15, ge=5, le=1_440)
    start_date: date = Field(default=date(2020, 1, 1),
                             description="reports created before this date are never exported")
    overlap_days: int = Field(default=1, ge=1, le=30)
    report_states: tuple[Literal["APPROVED", "REIMBURSED", "ARCHIVED"], ...] = ("APPROVED", "REIMBURSED")
    default_category: Identifier = "uncategorized"
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)
    signing_secret: None = None

    def entity_for_account(self, account: str | None) -> str | None:
        """See :func:`route_account`: the report's ``policyID`` → entity id, or None for an unmapped one (a case)."""
        return route_account(self.account_entities, self.default_entity, self.unmapped_accounts, account)


class BankSource(ConfigModel):
    """Bank statement files (camt.053 v2–v8, BAI2) dropped under ``s3://<archive>/bank-inbox/<source id>/``.
    No webhook and no signature: who may write the prefix is decided by IAM. ``account_entities`` maps the
    statement's account (IBAN or account number) to an entity; lines of unknown accounts are refused."""

    id: Identifier
    kind: Literal["bank"]
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(default_factory=dict)
    max_amount: AmountCeilings = Field(default_factory=dict, description=_MAX_AMOUNT_HELP)
    max_body_bytes: int = Field(default=10_000_000, ge=1_024, le=100_000_000)
    signing_secret: None = None


Source = Annotated[StripeSource | BrexSource | AdyenSource | SalesforceSource | RampSource | HubSpotSource
                   | ConcurSource | ExpensifySource | BankSource, Field(discriminator="kind")]


def api_credentials(source: object) -> SecretRef | None:
    """The Secrets Manager secret a source's API client (fetch or poll) reads, if it has one."""
    api = getattr(source, "api", None) or getattr(source, "reports", None)
    return api.credentials if api is not None else None
