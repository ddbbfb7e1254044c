"""The configuration model of a Xero connection."""

import re
from typing import Literal

from pydantic import Field

from ledgerlink.connectors.erps.connection import UUID_PATTERN, HttpConnection


class XeroConnection(HttpConnection):
    """Xero accounting API, OAuth 2.0 with rotating refresh tokens; one tenant (organisation) per connection.

    Secret JSON: ``client_id``, ``client_secret``, ``refresh_token``. Accounts are account codes."""

    kind: Literal["xero"]
    tenant_id: str = Field(pattern=UUID_PATTERN)
    batch_size: int = Field(default=50, ge=1, le=100, description="objects per POST (Xero recommends ~50)")

    def default_base_url(self) -> str:
        return "https://api.xero.com/api.xro/2.0"

    def default_token_url(self) -> str:
        return "https://identity.xero.com/connect/token"

    def account_problem(self, account: str) -> str | None:
        return None if re.fullmatch(r"[A-Za-z0-9.\-]{1,10}", account) else f"{account!r} is not a Xero account code"
