"""The configuration model of a Salesforce source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.source_fields import RoutedSourceFields


class SalesforceSource(RoutedSourceFields):
    """Salesforce outbound messages (SOAP). They carry no signature: the endpoint URL configured in Salesforce
    holds a secret token (``?token=...``, compared with ``signing_secret``) and every message must come from
    ``organization_id``. ``tolerance_seconds`` is unused (messages have no signed send time).
    ``account_entities`` maps the org id (its 15- or 18-character form) to an entity."""

    kind: Literal["salesforce"]
    organization_id: str = Field(pattern=r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$",
                                 description="the 15- or 18-character Salesforce org id (00D...)")
    closed_won_stages: tuple[str, ...] = Field(default=("Closed Won",), min_length=1)
    currency: str = Field(default="USD", description="org currency when the Opportunity has no CurrencyIsoCode")


MODEL = SalesforceSource
