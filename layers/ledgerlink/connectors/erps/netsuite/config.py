"""The configuration model of a NetSuite connection."""

import re
from typing import Literal

from pydantic import Field

from ledgerlink.connectors.erps.connection import HttpConnection


class NetSuiteConnection(HttpConnection):
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
