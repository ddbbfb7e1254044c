"""The interface every ERP connector implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

# the native documents the port posts are a model contract (re-exported here for the connectors)
from ledgerlink.model.erp import DocumentKind as DocumentKind
from ledgerlink.model.erp import ErpDocument as ErpDocument
from ledgerlink.model.erp import ErpLine as ErpLine

if TYPE_CHECKING:  # annotations only: importing the connector interface builds no pydantic model
    from ledgerlink.config.model import Entity, LedgerLinkConfig
    from ledgerlink.connectors.erps.readback import Listing, ReadbackBudget
    from ledgerlink.model.documents import JournalEntry, Party


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


class BulkPoster(Protocol):
    def post_journals(self, journals: Sequence[JournalEntry]) -> list[BulkItemResult]:
        """Post many journals in as few calls as the ERP allows; one result per journal, in order."""
        ...


class PartyKeeper(Protocol):
    def ensure_party(self, party: Party) -> str:
        """The ERP's id of the customer / vendor / employee, created if missing (master data first)."""
        ...


class DocumentPoster(PartyKeeper, Protocol):
    def post_invoice(self, document: ErpDocument) -> PostResult: ...

    def post_bill(self, document: ErpDocument) -> PostResult: ...

    def post_payment(self, document: ErpDocument) -> PostResult: ...

    def post_credit(self, document: ErpDocument) -> PostResult: ...


class ErpReader(Protocol):
    """Reading back what an API ERP holds for an entity and a day (``connectors/erps/readback.py``)."""

    def read_back(self, entity_id: str, on: date, kinds: frozenset[str] = frozenset({"journal"}),
                  budget: ReadbackBudget | None = None) -> Listing: ...

    def readback_key(self, document_id: str) -> str:
        """LedgerLink's key of a document as the ERP holds it (the document id, or a shorter reference)."""
        ...

    def readback_kind(self, erp_ref: str) -> str:
        """The kind (journal, invoice, ...) of what ``erp_ref`` names."""
        ...


class DayLister(Protocol):
    """A target LedgerLink writes itself (a book, import files): it lists an entity-day's postings by id."""

    def posted_on(self, entity_id: str, business_date: str) -> list[str]: ...

    def posted_count(self, entity_id: str, business_date: str) -> int: ...


class Preparer(Protocol):
    """A target LedgerLink keeps itself (the Beancount book): made ready for a configuration before posting with it."""

    def prepare(self, config: LedgerLinkConfig, *, config_version: int) -> None:
        """E.g. open every account the configuration maps to this connection."""
        ...


class ErpConnector(Protocol):
    """The port every ERP connector implements. Beyond journals, each connector answers every capability
    question explicitly (``as_…`` returns the connector itself when it can, ``None`` when it cannot), so a
    service asks the port instead of probing the object for methods."""

    @property
    def connection_id(self) -> str: ...

    def post_journal(self, journal: JournalEntry) -> PostResult:
        """Post once: the journal's ``document_id`` is the external id / idempotency key."""
        ...

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        """What was posted under ``external_id``. ``kind`` (journal, invoice, bill, ...) narrows the lookup to one
        record type where the ERP holds several (one call instead of one per type); a connector that posts one
        record type ignores it."""
        ...

    def period_status(self, entity: Entity, on: date) -> PeriodStatus: ...

    def limits(self) -> ConnectionLimits: ...

    def as_bulk_poster(self) -> BulkPoster | None:
        """Itself when it accepts many journals per call."""
        ...

    def as_document_poster(self) -> DocumentPoster | None:
        """Itself when it posts ERP-native documents (invoice, bill, credit, payment)."""
        ...

    def as_party_keeper(self) -> PartyKeeper | None:
        """Itself when it keeps parties (customers, vendors) as master data."""
        ...

    def as_reader(self) -> ErpReader | None:
        """Itself when it reads back what the ERP holds (API ERPs)."""
        ...

    def as_day_lister(self) -> DayLister | None:
        """Itself when it lists an entity-day's postings (targets LedgerLink writes itself)."""
        ...

    def as_preparer(self) -> Preparer | None:
        """Itself when it must be prepared for a configuration before posting (the book opens mapped accounts)."""
        ...

    def api_calls(self) -> int | None:
        """Requests sent to the ERP's API so far (HTTP ERPs); ``None`` when there is no API."""
        ...


def post_erp_document(connector: DocumentPoster, document: ErpDocument) -> PostResult:
    """Dispatch by kind: credit notes and vendor credits are credits; customer and vendor payments are payments."""
    if document.kind == "invoice":
        return connector.post_invoice(document)
    if document.kind == "bill":
        return connector.post_bill(document)
    if document.kind in ("credit_note", "vendor_credit"):
        return connector.post_credit(document)
    return connector.post_payment(document)


def supports_documents(connector: ErpConnector) -> bool:
    return connector.as_document_poster() is not None


def supports_bulk(connector: ErpConnector) -> bool:
    return connector.as_bulk_poster() is not None


def find_existing(connector: ErpConnector, external_id: str, kind: str | None = None) -> PostResult | None:
    """``find_by_external_id``, narrowed to ``kind`` (journal, invoice, ...): an API ERP then makes one lookup call
    instead of one per record type it could be (see ``ErpConnector.find_by_external_id``)."""
    return connector.find_by_external_id(external_id, kind)
