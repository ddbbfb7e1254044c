"""The configuration model of a Expensify source (its entry in ``sources:``)."""

from datetime import date
from typing import Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel
from ledgerlink.config.source_fields import (
    MAX_AMOUNT_HELP,
    UNMAPPED_ACCOUNTS_HELP,
    AmountCeilings,
    ApiAccess,
    UnmappedAccounts,
    route_account,
)
from ledgerlink.model.base import Identifier


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
    unmapped_accounts: UnmappedAccounts = Field(default="exception", description=UNMAPPED_ACCOUNTS_HELP)
    max_amount: AmountCeilings = Field(default_factory=dict, description=MAX_AMOUNT_HELP)
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


MODEL = ExpensifySource
