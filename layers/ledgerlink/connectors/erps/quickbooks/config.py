"""The configuration model of a QuickBooks Online connection."""

import re
from typing import Literal

from pydantic import Field

from ledgerlink.connectors.erps.connection import HttpConnection


class QuickBooksConnection(HttpConnection):
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
