"""The configuration model of a bank statement source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel
from ledgerlink.config.source_fields import MAX_AMOUNT_HELP, AmountCeilings
from ledgerlink.model.base import Identifier


class BankSource(ConfigModel):
    """Bank statement files (camt.053 v2–v8, BAI2) dropped under ``s3://<archive>/bank-inbox/<source id>/``.
    No webhook and no signature: who may write the prefix is decided by IAM. ``account_entities`` maps the
    statement's account (IBAN or account number) to an entity; lines of unknown accounts are refused."""

    id: Identifier
    kind: Literal["bank"]
    default_entity: Identifier
    account_entities: dict[str, Identifier] = Field(default_factory=dict)
    max_amount: AmountCeilings = Field(default_factory=dict, description=MAX_AMOUNT_HELP)
    max_body_bytes: int = Field(default=10_000_000, ge=1_024, le=100_000_000)
    signing_secret: None = None


MODEL = BankSource
