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

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import HubSpotSource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    local_date,
    parse_instant,
)
from ledgerlink.connectors.sources.crm import ClosedWon, closed_won_documents
from ledgerlink.connectors.sources.hubspot.api import is_closed_won_change
from ledgerlink.connectors.sources.reading import (
    fetched_json,
    get,
    obj,
    obj_at,
    obj_or_none,
    source_of,
    text_or_none,
)
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.money import CurrencyError, Money

SYSTEM = "hubspot"
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def _source(ctx: NormalizeContext) -> HubSpotSource:
    return source_of(ctx, HubSpotSource, "a HubSpot source")


def _amount(raw: JsonValue, currency: str, deal_id: str) -> Money:
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


def _customer(deal: JsonObject, deal_id: str) -> tuple[str, str]:
    associations = obj_at(deal, "associations")
    for kind, prefix in (("companies", ""), ("contacts", "contact:")):
        results = get(associations.get(kind), "results")
        for item in results if isinstance(results, list) else []:
            if isinstance(item, dict) and str(item.get("id") or "").strip():
                return prefix + str(item["id"]).strip(), "hubspot_company" if not prefix else "hubspot_contact"
    raise NormalizationError(f"deal {deal_id} has no associated company or contact", reason="missing_field",
                             field="associations")


def _notification(event: JsonObject) -> JsonObject:
    notification: JsonValue = obj_or_none(event.get("notification")) or event
    if isinstance(notification, list) and len(notification) == 1:
        notification = notification[0]
    return obj(notification)


def _not_won(notification: JsonObject) -> Ignored:
    kind = notification.get("subscriptionType")
    detail = f"{kind} {notification.get('propertyName') or ''}={notification.get('propertyValue') or ''}"
    reason = "not_closed_won" if kind == "deal.propertyChange" else "unsupported_event_type"
    return Ignored(reason, detail.strip())


def _fetched_deal(event: JsonObject) -> tuple[JsonObject, JsonObject]:
    """The deal the fetch step read, and its properties."""
    deal = fetched_json(event.get("fetched") or {}, "deal", "HubSpot")
    properties = get(deal, "properties")
    if not isinstance(deal, dict) or not isinstance(properties, dict):
        raise NormalizationError("HubSpot deal has no properties", reason="malformed_payload")
    return deal, properties


def _entity(notification: JsonObject, source: HubSpotSource, ctx: NormalizeContext) -> Entity:
    """The portal's entity: a portal nobody mapped is a case (unknown_account), unless the source opted in to its
    default entity."""
    portal = str(notification.get("portalId"))
    entity_id = source.entity_for_account(portal if notification.get("portalId") is not None else None)
    if entity_id is None:
        raise unknown_account("HubSpot", "portalId", portal, ctx.source_id)
    return ctx.config.entity(entity_id)


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    notification = _notification(event)
    if not is_closed_won_change(notification, source):
        result.ignored.append(_not_won(notification))
        return result
    deal, properties = _fetched_deal(event)
    deal_id = str(deal.get("id") or notification.get("objectId"))
    won = properties.get("hs_is_closed_won") == "true" or properties.get("dealstage") in source.closed_won_stages
    if not won or deal.get("archived") is True:
        result.ignored.append(Ignored("not_closed_won", f"deal {deal_id} is now {properties.get('dealstage')!r}"))
        return result
    entity = _entity(notification, source, ctx)
    currency = text_or_none(properties, "deal_currency_code") or source.currency
    if properties.get("amount") in (None, ""):
        raise NormalizationError(f"deal {deal_id} has no amount", reason="missing_field", field="amount")
    total = _amount(properties["amount"], currency, deal_id)
    closed = parse_instant(properties.get("closedate"), field="closedate")
    customer_id, external_key = _customer(deal, deal_id)
    event_id = notification.get("eventId")
    result.documents.extend(closed_won_documents(ClosedWon(
        system=SYSTEM, customer_type="company" if not customer_id.startswith("contact:") else "contact",
        customer_id=customer_id, external_ids={external_key: customer_id.removeprefix("contact:")},
        customer_memo=f"customer {customer_id} (HubSpot)", contract_type="deal", contract_id=deal_id,
        contract_memo=f"closed-won HubSpot deal {deal_id}", what=f"deal {deal_id}",
        event_id=str(event_id) if event_id else None, event_type="deal.propertyChange.dealstage",
        account=str(notification.get("portalId")), total=total, occurred=closed,
        signed_on=local_date(closed, entity)), entity, ctx))
    return result
