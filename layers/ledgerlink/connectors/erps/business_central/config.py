"""The configuration model of a Business Central connection."""

import re
from typing import Annotated, Literal

from pydantic import Field

from ledgerlink.connectors.erps.connection import UUID_PATTERN, HttpConnection


class BusinessCentralConnection(HttpConnection):
    """Dynamics 365 Business Central API v2.0, OAuth 2.0 client credentials (Microsoft Entra ID).

    Secret JSON: ``client_id``, ``client_secret``. Journals post through a general journal batch reserved for
    LedgerLink (``journal_id``); accounts are G/L account numbers."""

    kind: Literal["business_central"]
    tenant_id: str = Field(min_length=1)
    environment: str = Field(default="production", pattern=r"^[A-Za-z0-9_\-]{1,64}$")
    company_id: str = Field(pattern=UUID_PATTERN)
    journal_id: str = Field(pattern=UUID_PATTERN, description="the general journal (batch) LedgerLink posts through")
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
