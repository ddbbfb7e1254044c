"""The configuration model of a Ramp source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.source_fields import ApiAccess, RoutedSourceFields
from ledgerlink.model.base import Identifier


class RampSource(RoutedSourceFields):
    """Ramp webhooks: ``X-Ramp-Signature`` (also spelled ``X-Ramp-Webhook-Signature``) = hex HMAC-SHA256 of the
    raw body with the subscription secret. The body only names the object; LedgerLink fetches it from the
    Ramp API (``api.credentials``: ``{"client_id": ..., "client_secret": ...}``, OAuth client credentials).
    ``tolerance_seconds`` bounds the signed ``created_at`` (Ramp retries one event for hours, so the window is
    a day; replays inside it are duplicates in the inbox). ``account_entities`` maps Ramp business entity ids
    (or the ``business_id``) to entities."""

    kind: Literal["ramp"]
    api: ApiAccess
    tolerance_seconds: int = Field(default=86_400, ge=300, le=7 * 86_400)
    default_category: Identifier = Field(default="uncategorized", description="when Ramp gives no category")


MODEL = RampSource
