"""HubSpot deals → quote-to-cash documents (the same documents Salesforce closed-won opportunities produce).

A ``deal.propertyChange`` of ``dealstage`` to a configured closed-won stage is fetched from the CRM API; the deal
as it is *now* decides (events arrive out of order — a deal reopened since is recorded, not posted):

- a CustomerEvent for the associated company (else the first contact) — master data, recorded, no journal;
- a ContractEvent for the deal (``amount`` in ``deal_currency_code`` or the source currency; ``closedate`` as the
  signing date) — the memorandum booking Dr contract_backlog · Cr contract_backlog_offset.

Document ids are per deal (``closed_won``) and per company, so the deal's retries, a second notification of
the same stage change, or a later won deal of the same company post nothing twice. HubSpot number properties
are decimal strings in major units; more decimals than the currency has is refused (``invalid_amount``).
Every other subscription type, property or stage is recorded as ignored.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from ledgerlink.config.sources import HubSpotSource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    load_exact,
    local_date,
    parse_instant,
)
from ledgerlink.connectors.sources.hubspot.api import is_closed_won_change
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import ContractEvent, CustomerEvent, Party, SourceRef
from ledgerlink.model.money import CurrencyError, Money

SYSTEM = "hubspot"
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def _source(ctx: NormalizeContext) -> HubSpotSource:
    source = ctx.config.source(ctx.source_id)
    if not isinstance(source, HubSpotSource):
        raise NormalizationError(f"source {ctx.source_id!r} is not a HubSpot source", reason="source_mismatch")
    return source


def _amount(raw: Any, currency: str, deal_id: str) -> Money:
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and not _DECIMAL.match(text):
        text = None
    try:
        if text is None or isinstance(text, bool) or not isinstance(text, (str, int, Decimal)):
            raise ValueError("not a decimal amount")
        amount = Money.of(Decimal(str(text)), currency)
        amount.to_minor()  # more decimals than the currency has: refuse, never round
    except (InvalidOperation, ValueError, CurrencyError) as exc:
        raise NormalizationError(f"deal {deal_id}: amount {raw!r} is not an amount in {currency}: {exc}",
                                 reason="invalid_amount", field="amount") from None
    return amount


def _customer(deal: dict[str, Any], deal_id: str) -> tuple[str, str]:
    associations = deal.get("associations") if isinstance(deal.get("associations"), dict) else {}
    for kind, prefix in (("companies", ""), ("contacts", "contact:")):
        results = (associations.get(kind) or {}).get("results") if isinstance(associations.get(kind), dict) else None
        for item in results or []:
            if isinstance(item, dict) and str(item.get("id") or "").strip():
                return prefix + str(item["id"]).strip(), "hubspot_company" if not prefix else "hubspot_contact"
    raise NormalizationError(f"deal {deal_id} has no associated company or contact", reason="missing_field",
                             field="associations")


def normalize(event: dict[str, Any], ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    notification = event.get("notification") if isinstance(event.get("notification"), dict) else event
    if isinstance(notification, list) and len(notification) == 1:
        notification = notification[0]
    if not is_closed_won_change(notification, source):
        kind = notification.get("subscriptionType")
        detail = f"{kind} {notification.get('propertyName') or ''}={notification.get('propertyValue') or ''}"
        reason = "not_closed_won" if kind == "deal.propertyChange" else "unsupported_event_type"
        result.ignored.append(Ignored(reason, detail.strip()))
        return result
    text = (event.get("fetched") or {}).get("deal")
    if not isinstance(text, str):
        raise NormalizationError("no fetched deal for this event", reason="missing_field", field="deal")
    deal = load_exact(text, what="HubSpot deal")
    if not isinstance(deal, dict) or not isinstance(deal.get("properties"), dict):
        raise NormalizationError("HubSpot deal has no properties", reason="malformed_payload")
    deal_id = str(deal.get("id") or notification.get("objectId"))
    properties = deal["properties"]
    won = properties.get("hs_is_closed_won") == "true" or properties.get("dealstage") in source.closed_won_stages
    if not won or deal.get("archived") is True:
        result.ignored.append(Ignored("not_closed_won", f"deal {deal_id} is now {properties.get('dealstage')!r}"))
        return result
    portal = str(notification.get("portalId"))
    # a portal nobody mapped is a case (unknown_account), unless the source opted in to its default entity
    entity_id = source.entity_for_account(portal if notification.get("portalId") is not None else None)
    if entity_id is None:
        raise unknown_account("HubSpot", "portalId", portal, ctx.source_id)
    entity = ctx.config.entity(entity_id)
    currency = properties.get("deal_currency_code") or source.currency
    if properties.get("amount") in (None, ""):
        raise NormalizationError(f"deal {deal_id} has no amount", reason="missing_field", field="amount")
    total = _amount(properties["amount"], currency, deal_id)
    closed = parse_instant(properties.get("closedate"), field="closedate")
    signed_on = local_date(closed, entity)
    customer_id, external_key = _customer(deal, deal_id)
    party = Party(role="customer", source_id=customer_id)
    common = {"event_id": notification.get("eventId") and str(notification.get("eventId")),
              "event_type": "deal.propertyChange.dealstage", "account": portal, "archive_key": ctx.archive_key,
              "source_id": ctx.source_id}
    customer_ref = SourceRef(system=SYSTEM, object_type="company" if not customer_id.startswith("contact:")
                             else "contact", object_id=customer_id, version="1", **common)
    contract_ref = SourceRef(system=SYSTEM, object_type="deal", object_id=deal_id, version="closed_won", **common)
    try:
        customer = CustomerEvent(
            document_id=customer_ref.document_id(), source=customer_ref, entity_id=entity.id,
            correlation_id=ctx.correlation_id, occurred_at=closed, accounting_date=signed_on, currency=total.currency,
            party=party, external_ids={external_key: customer_id.removeprefix("contact:")},
            memo=f"customer {customer_id} (HubSpot)")
        contract = ContractEvent(
            document_id=contract_ref.document_id(), source=contract_ref, entity_id=entity.id,
            correlation_id=ctx.correlation_id, occurred_at=closed, accounting_date=signed_on, currency=total.currency,
            contract_id=deal_id, party=party, total=total, start_date=signed_on,
            customer_document_id=customer.document_id, related_document_ids=(customer.document_id,),
            memo=f"closed-won HubSpot deal {deal_id}")
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"deal {deal_id}: {first.get('msg')}", reason="invalid_document") from None
    result.documents.extend([customer, contract])
    return result
