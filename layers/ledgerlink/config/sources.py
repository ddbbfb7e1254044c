"""Source kinds. Add a source kind here (one class with ``kind: Literal[...]``) and to the union.

Every source has ``id`` (the URL segment of ``POST /webhooks/{source}``), ``kind``, ``signing_secret``,
``default_entity``, ``tolerance_seconds`` and ``max_body_bytes``: the ingest Lambda reads exactly
those from the stored JSON without pydantic (``ledgerlink.service.ingest.WebhookSource``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel, SecretRef
from ledgerlink.model.base import Identifier


class StripeSource(ConfigModel):
    id: Identifier = Field(description="path segment of POST /webhooks/{source}")
    kind: Literal["stripe"]
    signing_secret: SecretRef
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(
        default_factory=dict, description="Stripe Connect account id (acct_...) → entity id"
    )
    tolerance_seconds: int = Field(default=300, ge=1, le=3600)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)


Source = Annotated[StripeSource, Field(discriminator="kind")]
