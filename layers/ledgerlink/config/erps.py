"""ERP connection kinds. Add a connection kind here (one class with ``kind: Literal[...]``) and to the union.

Each class may define ``account_problem(account) -> str | None`` to check account names/ids against
what that ERP accepts; the top-level model calls it for every mapped account of entities on it.
"""

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from ledgerlink.config.base import ConfigModel, SecretRef
from ledgerlink.model.base import Identifier

BEANCOUNT_ACCOUNT = re.compile(r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9\-]*)+$")


class BeancountConnection(ConfigModel):
    """The embedded ERP: a Beancount double-entry book (a directory locally, an S3 prefix on AWS)."""

    id: Identifier
    kind: Literal["beancount"]
    book: Identifier = Field(default="main", description="book name; one directory/prefix per book")
    open_date: date = Field(default=date(2000, 1, 1), description="date of the book's open directives")
    title: str = "LedgerLink books"
    limits: "ConnectionLimitsConfig | None" = Field(
        default=None, description="an API budget to rehearse locally: the book's writes go through the limiter")
    backlog_deadline: "BacklogDeadlineConfig | None" = None

    def account_problem(self, account: str) -> str | None:
        if BEANCOUNT_ACCOUNT.match(account):
            return None
        return (f"{account!r} is not a Beancount account name "
                "(Assets|Liabilities|Equity|Income|Expenses:Capitalized:Parts)")


# ---- cloud ERPs (issue 5) -----------------------------------------------------------------------------
# Credentials are a Secrets Manager JSON document named by ``credentials.secret_id`` (see each class).
# ``base_url`` / ``token_url`` default to the vendor's production endpoints; set them for sandboxes and tests.

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ConnectionLimitsConfig(ConfigModel):
    """Overrides of the connector's documented limits (e.g. a share of NetSuite's account-wide concurrency)."""

    requests_per_minute: int | None = Field(default=None, ge=2)
    burst: int | None = Field(default=None, ge=1)
    daily_budget: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


class BacklogDeadlineConfig(ConfigModel):
    """When a connection's backlog must be posted by (issue 23): the backlog forecast (``ledgerlink status``, the ops
    API's ``GET /backlog``) marks the connection late, and raises the ``BacklogForecastLate`` alarm, when the time at
    which its waiting documents will have been posted at the current API budget passes it. Exactly one of
    ``close_day`` (the end of that day of the month, the next one not yet over, in ``time_zone``) and
    ``within_hours`` (that many hours from now)."""

    close_day: int | None = Field(default=None, ge=1, le=28, description="day of the month whose end is the deadline")
    within_hours: int | None = Field(default=None, ge=1, le=744, description="or: a deadline this many hours ahead")
    time_zone: Annotated[str, AfterValidator(_zone)] = Field(default="UTC", description="IANA zone of close_day")

    @model_validator(mode="after")
    def _one_rule(self) -> "BacklogDeadlineConfig":
        if (self.close_day is None) == (self.within_hours is None):
            raise ValueError("backlog_deadline needs exactly one of close_day and within_hours")
        return self


class _HttpConnection(ConfigModel):
    id: Identifier
    credentials: SecretRef
    base_url: str | None = Field(default=None, pattern=r"^https?://", description="API root (default: production)")
    token_url: str | None = Field(default=None, pattern=r"^https?://", description="OAuth 2.0 token endpoint")
    timeout_seconds: int = Field(default=60, ge=1, le=110, description="per request; the post step has 120 s")
    limits: ConnectionLimitsConfig | None = None
    backlog_deadline: BacklogDeadlineConfig | None = None
    readback_budget_share: Decimal = Field(
        default=Decimal("0.10"), gt=0, le=Decimal("0.5"), decimal_places=4,
        description="the share of the connection's daily API budget (limits.daily_budget, else the ERP's documented "
                    "one) that the daily reconciliation's read-back may use; past it the day is 'not checked'")


class NetSuiteConnection(_HttpConnection):
    """NetSuite REST web services with token-based authentication (OAuth 1.0a, HMAC-SHA256).

    Secret JSON: ``consumer_key``, ``consumer_secret``, ``token_id``, ``token_secret``. Accounts are internal ids."""

    kind: Literal["netsuite"]
    account_id: str = Field(pattern=r"^[0-9]+(_SB[0-9]+)?$", description="e.g. 1234567 or 1234567_SB1 (the realm)")
    subsidiary_id: str | None = Field(default=None, pattern=r"^[0-9]+$")
    currency_ids: dict[str, str] = Field(default_factory=dict, description="ISO code → NetSuite currency internal id")
    async_line_threshold: int = Field(default=500, ge=1, le=1000,
                                      description="journals with more lines are posted asynchronously")
    items: dict[str, str] = Field(default_factory=dict, description="account internal id → item internal id for "
                                                                    "native invoices and credit memos")

    def default_base_url(self) -> str:
        host = self.account_id.lower().replace("_", "-")
        return f"https://{host}.suitetalk.api.netsuite.com/services/rest"

    def account_problem(self, account: str) -> str | None:
        return None if re.fullmatch(r"[0-9]+", account) else f"{account!r} is not a NetSuite account internal id"


class QuickBooksConnection(_HttpConnection):
    """QuickBooks Online accounting API, OAuth 2.0 with rotating refresh tokens.

    Secret JSON: ``client_id``, ``client_secret``, ``refresh_token`` (rewritten when Intuit rotates it)."""

    kind: Literal["quickbooks_online"]
    realm_id: str = Field(pattern=r"^[0-9]+$")
    environment: Literal["production", "sandbox"] = "production"
    minor_version: int = Field(default=75, ge=1)
    batch_size: int = Field(default=30, ge=1, le=30, description="items per batch request (Intuit: at most 30)")
    items: dict[str, str] = Field(default_factory=dict, description="income/expense account Id → item Id for "
                                                                    "native invoices and credit memos")

    def default_base_url(self) -> str:
        host = "quickbooks.api.intuit.com" if self.environment == "production" else "sandbox-quickbooks.api.intuit.com"
        return f"https://{host}"

    def default_token_url(self) -> str:
        return "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"

    def account_problem(self, account: str) -> str | None:
        return None if re.fullmatch(r"[0-9]+", account) else f"{account!r} is not a QuickBooks account Id"


class XeroConnection(_HttpConnection):
    """Xero accounting API, OAuth 2.0 with rotating refresh tokens; one tenant (organisation) per connection.

    Secret JSON: ``client_id``, ``client_secret``, ``refresh_token``. Accounts are account codes."""

    kind: Literal["xero"]
    tenant_id: str = Field(pattern=_UUID)
    batch_size: int = Field(default=50, ge=1, le=100, description="objects per POST (Xero recommends ~50)")

    def default_base_url(self) -> str:
        return "https://api.xero.com/api.xro/2.0"

    def default_token_url(self) -> str:
        return "https://identity.xero.com/connect/token"

    def account_problem(self, account: str) -> str | None:
        return None if re.fullmatch(r"[A-Za-z0-9.\-]{1,10}", account) else f"{account!r} is not a Xero account code"


class BusinessCentralConnection(_HttpConnection):
    """Dynamics 365 Business Central API v2.0, OAuth 2.0 client credentials (Microsoft Entra ID).

    Secret JSON: ``client_id``, ``client_secret``. Journals post through a general journal batch reserved for
    LedgerLink (``journal_id``); accounts are G/L account numbers."""

    kind: Literal["business_central"]
    tenant_id: str = Field(min_length=1)
    environment: str = Field(default="production", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    company_id: str = Field(pattern=_UUID)
    journal_id: str = Field(pattern=_UUID, description="the general journal (batch) LedgerLink posts through")
    batch_size: int = Field(default=100, ge=2, le=100, description="operations per $batch (Business Central: 100)")
    dimension_codes: dict[str, Annotated[str, Field(pattern=r"^[A-Z0-9_\-]{1,20}$")]] = Field(
        default_factory=dict, description="LedgerLink dimension (department, project, cost_center, …) → the "
        "company's Business Central dimension code (DEPARTMENT, PROJECT, …); a journal line's mapped dimensions "
        "are posted as its dimension set lines, unmapped ones are not sent")

    def default_base_url(self) -> str:
        return f"https://api.businesscentral.dynamics.com/v2.0/{self.tenant_id}/{self.environment}/api/v2.0"

    def default_token_url(self) -> str:
        return f"https://login.microsoftonline.com/{self.tenant_id}/oauth2/v2.0/token"

    def account_problem(self, account: str) -> str | None:
        return None if re.fullmatch(r"[A-Za-z0-9.\-]{1,20}", account) else f"{account!r} is not a G/L account number"


class LegacyFileConnection(ConfigModel):
    """A legacy GL's import file: one CSV or fixed-width file per entity and accounting day, with a control-total
    trailer, written to the legacy-files location (S3 on AWS, a directory locally)."""

    id: Identifier
    kind: Literal["legacy_file"]
    format: Literal["csv", "fixed_width"] = "csv"
    prefix: Identifier = Field(default="gl", description="folder under the legacy-files location")
    company_code: str = Field(default="LL", pattern=r"^[A-Z0-9]{1,8}$", description="first field of every record")

    def account_problem(self, account: str) -> str | None:
        width = 20 if self.format == "fixed_width" else 100   # the fixed-width account field is 20 characters
        if re.fullmatch(r"[A-Za-z0-9.:_\-]+", account) and len(account) <= width:
            return None
        return f"{account!r} does not fit a legacy GL account field (1-{width} of A-Z a-z 0-9 . : _ -)"


ErpConnection = Annotated[
    BeancountConnection | NetSuiteConnection | QuickBooksConnection | XeroConnection | BusinessCentralConnection
    | LegacyFileConnection,
    Field(discriminator="kind"),
]
