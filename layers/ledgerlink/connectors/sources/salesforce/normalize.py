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
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import SalesforceSource
from ledgerlink.connectors.sources.base import Ignored, NormalizeContext, Normalized
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import ContractEvent, CustomerEvent, Party, SourceRef
from ledgerlink.model.money import CurrencyError, Money

SYSTEM = "salesforce"


def _source(ctx: NormalizeContext) -> SalesforceSource:
    source = ctx.config.source(ctx.source_id)
    if not isinstance(source, SalesforceSource):
        raise NormalizationError(f"source {ctx.source_id!r} is not a Salesforce source", reason="source_mismatch")
    return source


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


def _money(raw: Any, currency: str) -> Money:
    try:
        amount = Money.of(Decimal(str(raw)), currency)
        amount.to_minor()  # more decimals than the currency has: refuse, do not round
    except (InvalidOperation, ValueError, CurrencyError) as exc:
        raise NormalizationError(f"Opportunity.Amount {raw!r} is not an amount in {currency}: {exc}",
                                 reason="invalid_amount", field="Amount") from None
    return amount


def _close_date(raw: Any) -> date:
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise NormalizationError(f"Opportunity.CloseDate {raw!r} is not a date", reason="missing_field",
                                 field="CloseDate") from None


def normalize(event: dict[str, Any], ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    organization = event.get("organization_id")
    fields = event.get("fields")
    notification_id = event.get("notification_id")
    if not isinstance(organization, str) or not isinstance(fields, dict) or not isinstance(notification_id, str):
        raise NormalizationError("message is not a parsed outbound-message notification", reason="missing_field",
                                 field="fields")
    if not _same_org(source.organization_id, organization):
        raise NormalizationError(f"outbound message from organization {organization}, expected "
                                 f"{source.organization_id}", reason="organization_mismatch")
    if event.get("sobject_type") != "Opportunity":
        result.ignored.append(Ignored("unsupported_sobject", str(event.get("sobject_type"))))
        return result
    opportunity = fields.get("Id")
    if not isinstance(opportunity, str) or not opportunity:
        raise NormalizationError("Opportunity has no Id", reason="missing_field", field="Id")
    won = fields.get("StageName") in source.closed_won_stages or fields.get("IsWon") == "true"
    if not won:
        result.ignored.append(Ignored("not_closed_won", f"{opportunity}: stage {fields.get('StageName')!r}"))
        return result
    account = fields.get("AccountId")
    if not isinstance(account, str) or not account:
        raise NormalizationError(f"Opportunity {opportunity} has no AccountId", reason="missing_field",
                                 field="AccountId")
    entity = _entity(organization, source, ctx)
    currency = fields.get("CurrencyIsoCode") or source.currency
    if fields.get("Amount") in (None, ""):
        raise NormalizationError(f"Opportunity {opportunity} has no Amount", reason="missing_field", field="Amount")
    total = _money(fields["Amount"], currency)
    signed_on = _close_date(fields.get("CloseDate"))
    # CloseDate is a calendar date of the org; noon in the entity's zone keeps it on that date everywhere
    occurred = datetime.combine(signed_on, time(12), ZoneInfo(entity.time_zone)).astimezone(UTC)
    party = Party(role="customer", source_id=account)
    customer_ref = SourceRef(system=SYSTEM, object_type="account", object_id=account, version="1",
                             event_id=notification_id, event_type="outbound_message.Opportunity",
                             account=organization, archive_key=ctx.archive_key, source_id=ctx.source_id)
    contract_ref = SourceRef(system=SYSTEM, object_type="opportunity", object_id=opportunity, version="closed_won",
                             event_id=notification_id, event_type="outbound_message.Opportunity",
                             account=organization, archive_key=ctx.archive_key, source_id=ctx.source_id)
    try:
        customer = CustomerEvent(
            document_id=customer_ref.document_id(), source=customer_ref, entity_id=entity.id,
            correlation_id=ctx.correlation_id, occurred_at=occurred, accounting_date=signed_on,
            currency=total.currency, party=party, external_ids={"salesforce_account": account},
            memo=f"customer {account} (Salesforce)")
        contract = ContractEvent(
            document_id=contract_ref.document_id(), source=contract_ref, entity_id=entity.id,
            correlation_id=ctx.correlation_id, occurred_at=occurred, accounting_date=signed_on,
            currency=total.currency, contract_id=opportunity, party=party, total=total, start_date=signed_on,
            customer_document_id=customer.document_id, related_document_ids=(customer.document_id,),
            memo=f"closed-won opportunity {opportunity}")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"Opportunity {opportunity}: {first.get('msg')}", reason="invalid_document") from None
    result.documents.extend([customer, contract])
    return result
