"""The configuration model of a Paddle Billing source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.source_fields import SourceFields
from ledgerlink.model.base import Identifier


class PaddleSource(SourceFields):
    """Paddle Billing webhooks: ``Paddle-Signature`` (``ts=...;h1=...``, HMAC-SHA256 of ``ts:body``) with the
    notification destination's secret key in ``signing_secret`` (two during a rotation). A completed transaction
    becomes an invoice and its payment, in ``default_entity`` (a Paddle account is one seller)."""

    kind: Literal["paddle"]
    fee_kind: Identifier = Field(default="processing", description="Paddle's fee is booked to fees.<fee_kind>")


MODEL = PaddleSource
