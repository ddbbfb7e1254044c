"""The configuration model of a HubSpot source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.source_fields import ApiAccess, RoutedSourceFields
from ledgerlink.model.money import Currency


class HubSpotSource(RoutedSourceFields):
    """HubSpot webhooks (signature v3 with the app's client secret, millisecond timestamps, 300 s window).
    A ``deal.propertyChange`` of ``dealstage`` to one of ``closed_won_stages`` is fetched from the CRM API
    (``api.credentials``: ``{"access_token": ...}``, a private-app token) and becomes customer + contract events.
    ``account_entities`` maps the HubSpot ``portalId`` to an entity."""

    kind: Literal["hubspot"]
    api: ApiAccess
    closed_won_stages: tuple[str, ...] = Field(default=("closedwon",), min_length=1)
    currency: Currency = Field(default="USD", description="when the deal has no deal_currency_code")


MODEL = HubSpotSource
