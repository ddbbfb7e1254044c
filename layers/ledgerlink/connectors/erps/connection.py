"""Configuration every ERP connection kind shares: limits overrides, the backlog deadline, and what an API ERP's
connection has (credentials, endpoints, timeout, read-back share). Each kind's own model lives in its package
(``connectors/erps/<kind>/config.py``); ``config/erps.py`` gathers them into the ``ErpConnection`` union."""

from decimal import Decimal

from pydantic import Field, model_validator

from ledgerlink.config.base import ConfigModel, SecretRef, TimeZone
from ledgerlink.model.base import Identifier

# ---- cloud ERPs (issue 5) -----------------------------------------------------------------------------
# Credentials are a Secrets Manager JSON document named by ``credentials.secret_id`` (see each class).
# ``base_url`` / ``token_url`` default to the vendor's production endpoints; set them for sandboxes and tests.

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ConnectionLimitsConfig(ConfigModel):
    """Overrides of the connector's documented limits (e.g. a share of NetSuite's account-wide concurrency)."""

    requests_per_minute: int | None = Field(default=None, ge=2)
    burst: int | None = Field(default=None, ge=1)
    daily_budget: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)


class BacklogDeadlineConfig(ConfigModel):
    """When a connection's backlog must be posted by (issue 23): the backlog forecast (``ledgerlink status``, the ops
    API's ``GET /backlog``) marks the connection late, and raises the ``BacklogForecastLate`` alarm, when the time at
    which its waiting documents will have been posted at the current API budget passes it. Exactly one of
    ``close_day`` (the end of that day of the month, the next one not yet over, in ``time_zone``) and
    ``within_hours`` (that many hours from now)."""

    close_day: int | None = Field(default=None, ge=1, le=28, description="day of the month whose end is the deadline")
    within_hours: int | None = Field(default=None, ge=1, le=744, description="or: a deadline this many hours ahead")
    time_zone: TimeZone = Field(default="UTC", description="IANA zone of close_day")

    @model_validator(mode="after")
    def _one_rule(self) -> "BacklogDeadlineConfig":
        if (self.close_day is None) == (self.within_hours is None):
            raise ValueError("backlog_deadline needs exactly one of close_day and within_hours")
        return self


class HttpConnection(ConfigModel):
    """What every API ERP's connection has: credentials, endpoints, timeouts, limits and the read-back share."""

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
