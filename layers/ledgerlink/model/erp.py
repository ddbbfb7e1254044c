"""What an ERP-native document (invoice, bill, credit, payment) carries to a connector: built from a canonical
document and its enriched journal by ``pipeline/erp_documents.py``, posted by ``connectors/erps/<kind>/``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only: importing the contract builds no pydantic model
    from ledgerlink.model.documents import Party
    from ledgerlink.model.money import Money

DocumentKind = Literal["invoice", "bill", "credit_note", "vendor_credit", "payment", "vendor_payment"]


@dataclass(frozen=True, slots=True)
class ErpLine:
    """A native document line: GL account, net amount (positive), tax on it, description, dimensions."""

    account: str
    amount: Money
    description: str | None = None
    tax: Money | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErpDocument:
    """What an ERP-native invoice / bill / credit / payment needs, built from a canonical document and its
    enriched journal (``ledgerlink.pipeline.erp_documents``). ``external_id`` is the document id."""

    kind: DocumentKind
    external_id: str
    entity_id: str
    party: Party
    date: dt.date
    currency: str
    total: Money
    lines: tuple[ErpLine, ...] = ()
    number: str | None = None
    due_date: dt.date | None = None
    memo: str | None = None
    account: str | None = None               # payments: the bank/clearing account the money moves through
    applies_to: str | None = None            # credits and payments: external id of the document they settle
    exchange_rate: Decimal | None = None     # units of base currency per unit of ``currency`` (None: base)
