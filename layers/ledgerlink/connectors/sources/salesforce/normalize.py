"""Salesforce outbound messages → quote-to-cash documents.

An ``Opportunity`` notification whose ``StageName`` is one of the source's ``closed_won_stages`` (or that says
``IsWon=true``) becomes:

- a CustomerEvent for its ``AccountId`` (master data the ERP needs before any invoice; one document per
  account, however many opportunities it wins) — recorded, never journalized;
- a ContractEvent for the opportunity (``Amount`` in the org currency, or ``CurrencyIsoCode`` in multi-currency
  orgs; ``CloseDate`` as the signing date) — posted as a memorandum booking.

Messages from another organization than the configured one are exceptions (``organization_mismatch``);
other sObjects and stages are recorded as ignored. The organization picks the entity: ``account_entities`` may
name it by its 15- or its 18-character id; an organization nobody mapped is a case (``unknown_account``), never
the default entity, unless the source opted in (``unmapped_accounts: default_entity``). Amounts are decimal
strings in major units; more decimals than the currency has is refused (``invalid_amount``), never rounded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import SalesforceSource
from ledgerlink.connectors.sources.base import Ignored, NormalizeContext, Normalized
from ledgerlink.connectors.sources.crm import ClosedWon, closed_won_documents
from ledgerlink.connectors.sources.reading import source_of, text_or_none
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.money import CurrencyError, Money

SYSTEM = "salesforce"


def _source(ctx: NormalizeContext) -> SalesforceSource:
    return source_of(ctx, SalesforceSource, "a Salesforce source")


def _same_org(configured: str, received: str) -> bool:
    # the 15-character id is the case-sensitive prefix of the 18-character one
    return configured[:15] == received[:15]


def _entity(organization: str, source: SalesforceSource, ctx: NormalizeContext) -> Entity:
    """The organization's entity, mapped under its 15- or its 18-character id (whichever form the message carries);
    an organization nobody mapped is a case (``unknown_account``) unless the source opted in."""
    keys = [organization[:15], organization, *(key for key in source.account_entities if _same_org(key, organization))]
    key = next((key for key in keys if key in source.account_entities), organization)
    entity_id = source.entity_for_account(key)
    if entity_id is None:
        raise unknown_account("Salesforce", "OrganizationId", organization, ctx.source_id)
    return ctx.config.entity(entity_id)


def _money(raw: JsonValue, currency: str) -> Money:
    try:
        amount = Money.of(Decimal(str(raw)), currency)
        amount.to_minor()  # more decimals than the currency has: refuse, do not round
    except (InvalidOperation, ValueError, CurrencyError) as exc:
        raise NormalizationError(f"Opportunity.Amount {raw!r} is not an amount in {currency}: {exc}",
                                 reason="invalid_amount", field="Amount") from None
    return amount


def _close_date(raw: JsonValue) -> date:
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise NormalizationError(f"Opportunity.CloseDate {raw!r} is not a date", reason="missing_field",
                                 field="CloseDate") from None


def _notification(event: JsonObject, source: SalesforceSource) -> tuple[str, JsonObject, str]:
    """(organization id, the sObject's fields, notification id) of a parsed outbound message from the source's org."""
    organization = event.get("organization_id")
    fields = event.get("fields")
    notification_id = event.get("notification_id")
    if not isinstance(organization, str) or not isinstance(fields, dict) or not isinstance(notification_id, str):
        raise NormalizationError("message is not a parsed outbound-message notification", reason="missing_field",
                                 field="fields")
    if not _same_org(source.organization_id, organization):
        raise NormalizationError(f"outbound message from organization {organization}, expected "
                                 f"{source.organization_id}", reason="organization_mismatch")
    return organization, fields, notification_id


def _required(fields: JsonObject, key: str, message: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value:
        raise NormalizationError(message, reason="missing_field", field=key)
    return value


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    organization, fields, notification_id = _notification(event, source)
    if event.get("sobject_type") != "Opportunity":
        result.ignored.append(Ignored("unsupported_sobject", str(event.get("sobject_type"))))
        return result
    opportunity = _required(fields, "Id", "Opportunity has no Id")
    won = fields.get("StageName") in source.closed_won_stages or fields.get("IsWon") == "true"
    if not won:
        result.ignored.append(Ignored("not_closed_won", f"{opportunity}: stage {fields.get('StageName')!r}"))
        return result
    account = _required(fields, "AccountId", f"Opportunity {opportunity} has no AccountId")
    entity = _entity(organization, source, ctx)
    currency = text_or_none(fields, "CurrencyIsoCode") or source.currency
    if fields.get("Amount") in (None, ""):
        raise NormalizationError(f"Opportunity {opportunity} has no Amount", reason="missing_field", field="Amount")
    total = _money(fields["Amount"], currency)
    signed_on = _close_date(fields.get("CloseDate"))
    # CloseDate is a calendar date of the org; noon in the entity's zone keeps it on that date everywhere
    occurred = datetime.combine(signed_on, time(12), ZoneInfo(entity.time_zone)).astimezone(UTC)
    result.documents.extend(closed_won_documents(ClosedWon(
        system=SYSTEM, customer_type="account", customer_id=account, external_ids={"salesforce_account": account},
        customer_memo=f"customer {account} (Salesforce)", contract_type="opportunity", contract_id=opportunity,
        contract_memo=f"closed-won opportunity {opportunity}", what=f"Opportunity {opportunity}",
        event_id=notification_id, event_type="outbound_message.Opportunity", account=organization, total=total,
        occurred=occurred, signed_on=signed_on), entity, ctx))
    return result
