"""The interface every ERP connector implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:  # annotations only: importing the connector interface builds no pydantic model
    from ledgerlink.config.model import Entity
    from ledgerlink.model.documents import JournalEntry, Party
    from ledgerlink.model.money import Money


@dataclass(frozen=True, slots=True)
class PostResult:
    erp_ref: str          # where the ERP holds it (id, URL, file)
    created: bool         # False: it was already there (a retry or replay found it by external id)


@dataclass(frozen=True, slots=True)
class PeriodStatus:
    open: bool
    closed_through: date | None
    source: str           # who decided: "config", "erp"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    requests_per_minute: int | None
    daily_budget: int | None
    max_concurrency: int | None
    bulk_size: int
    burst: int | None = None      # token-bucket capacity; refill = requests_per_minute - burst (see limiter)


class ErpConnector(Protocol):
    connection_id: str

    def post_journal(self, journal: JournalEntry) -> PostResult:
        """Post once: the journal's ``document_id`` is the external id / idempotency key."""
        ...

    def find_by_external_id(self, external_id: str) -> PostResult | None: ...

    def period_status(self, entity: Entity, on: date) -> PeriodStatus: ...

    def limits(self) -> ConnectionLimits: ...


# ---- bulk, ERP-native documents and parties (issue 5) -------------------------------------------------
# Journals are what every connector posts. HTTP ERPs also post native documents (invoice, bill, payment,
# credit) for parties they know, and accept many journals per call where the ERP has a bulk endpoint.

@dataclass(frozen=True, slots=True)
class BulkItemResult:
    """One item of a bulk post: a result, or the ERP's per-item rejection (the others still post)."""

    external_id: str
    result: PostResult | None = None
    reason: str | None = None          # rejection reason code (``erp_rejected``, ``period_closed`` ...)
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


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
    date: date
    currency: str
    total: Money
    lines: tuple[ErpLine, ...] = ()
    number: str | None = None
    due_date: date | None = None
    memo: str | None = None
    account: str | None = None               # payments: the bank/clearing account the money moves through
    applies_to: str | None = None            # credits and payments: external id of the document they settle
    exchange_rate: Decimal | None = None     # units of base currency per unit of ``currency`` (None: base)


class BulkPoster(Protocol):
    def post_journals(self, journals: Sequence[JournalEntry]) -> list[BulkItemResult]:
        """Post many journals in as few calls as the ERP allows; one result per journal, in order."""
        ...


class DocumentPoster(Protocol):
    def ensure_party(self, party: Party) -> str:
        """The ERP's id of the customer / vendor / employee, created if missing (master data first)."""
        ...

    def post_invoice(self, document: ErpDocument) -> PostResult: ...

    def post_bill(self, document: ErpDocument) -> PostResult: ...

    def post_payment(self, document: ErpDocument) -> PostResult: ...

    def post_credit(self, document: ErpDocument) -> PostResult: ...


def post_erp_document(connector: DocumentPoster, document: ErpDocument) -> PostResult:
    """Dispatch by kind: credit notes and vendor credits are credits; customer and vendor payments are payments."""
    if document.kind == "invoice":
        return connector.post_invoice(document)
    if document.kind == "bill":
        return connector.post_bill(document)
    if document.kind in ("credit_note", "vendor_credit"):
        return connector.post_credit(document)
    return connector.post_payment(document)


def supports_documents(connector: object) -> bool:
    return all(callable(getattr(connector, name, None)) for name in (
        "ensure_party", "post_invoice", "post_bill", "post_payment", "post_credit"))


def supports_bulk(connector: object) -> bool:
    return callable(getattr(connector, "post_journals", None))


def find_existing(connector: object, external_id: str, kind: str | None = None) -> PostResult | None:
    """``find_by_external_id``, narrowed to ``kind`` (journal, invoice, ...) where the connector supports it:
    an API ERP then makes one lookup call instead of one per record type it could be."""
    import inspect

    find = connector.find_by_external_id  # type: ignore[attr-defined]
    if kind is not None and "kind" in inspect.signature(find).parameters:
        return find(external_id, kind=kind)
    return find(external_id)
