"""The configuration model of a Brex source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.source_fields import RoutedSourceFields
from ledgerlink.model.base import Identifier


class BrexSource(RoutedSourceFields):
    """Brex webhooks: Standard Webhooks signatures (``webhook-id/-timestamp/-signature``, ``whsec_`` base64 key;
    during a rotation both secrets are live: store ``{"secrets": [new, old]}``). ``account_entities`` maps the
    Brex ``company_id`` to an entity."""

    kind: Literal["brex"]
    default_category: Identifier = Field(default="uncategorized", description="expense category when Brex sends none")


MODEL = BrexSource
