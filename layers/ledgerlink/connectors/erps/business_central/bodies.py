"""The JSON bodies LedgerLink sends to Business Central's API v2.0 (``journalLines`` and their
``dimensionSetLines``, the OData JSON ``$batch``, ``customers`` / ``vendors``, sales and purchase invoices and
credit memos with their lines), as Microsoft's API reference defines them."""

from __future__ import annotations

from decimal import Decimal
from typing import NotRequired, TypedDict


class JournalLineBody(TypedDict):
    """A general journal line. ``id`` is LedgerLink's own (journals: its dimension set lines name it)."""

    id: NotRequired[str]
    postingDate: str
    documentNumber: str
    externalDocumentNumber: str
    accountType: str                  # G/L Account | Customer | Vendor
    accountNumber: str
    amount: Decimal
    description: str
    comment: str


class DimensionSetLineBody(TypedDict):
    code: str
    valueCode: str


class NoBody(TypedDict):
    """The body of a bound action (``Microsoft.NAV.post``): ``{}``."""


# a header's name is not an identifier: the functional form names it
ContentType = TypedDict("ContentType", {"Content-Type": str})


class BatchOperation(TypedDict):
    method: str
    id: str
    url: str
    headers: ContentType
    body: JournalLineBody | DimensionSetLineBody | NoBody


class BatchBody(TypedDict):
    requests: list[BatchOperation]


class PartyBody(TypedDict):
    number: str
    displayName: str


class DocumentLineBody(TypedDict):
    lineType: str                     # Account
    lineObjectNumber: str
    description: str
    quantity: Decimal
    unitPrice: Decimal


class DocumentBody(TypedDict, total=False):
    """A sales invoice / credit memo (``customerNumber``) or purchase invoice / credit memo (``vendorNumber``) with
    its lines inline; LedgerLink's reference in ``externalDocumentNumber`` (purchase invoices: ``vendorInvoiceNumber``)."""

    customerNumber: str
    vendorNumber: str
    postingDate: str
    currencyCode: str
    salesInvoiceLines: list[DocumentLineBody]
    salesCreditMemoLines: list[DocumentLineBody]
    purchaseInvoiceLines: list[DocumentLineBody]
    purchaseCreditMemoLines: list[DocumentLineBody]
    externalDocumentNumber: str
    vendorInvoiceNumber: str
    dueDate: str
