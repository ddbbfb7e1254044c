"""The JSON bodies LedgerLink sends to Xero's accounting API (``ManualJournals``, ``Invoices``, ``CreditNotes`` and
their ``Allocations``, ``Payments``, ``Contacts``), as Xero's OpenAPI spec defines them (the contract tests validate
every request against it)."""

from __future__ import annotations

from decimal import Decimal
from typing import NotRequired, TypedDict


class TrackingOption(TypedDict):
    Name: str
    Option: str


class ManualJournalLine(TypedDict):
    LineAmount: Decimal
    AccountCode: str
    Description: str
    TaxType: NotRequired[str]
    Tracking: NotRequired[list[TrackingOption]]


class ManualJournalBody(TypedDict):
    Narration: str
    Date: str
    Status: str
    LineAmountTypes: str
    JournalLines: list[ManualJournalLine]
    ShowOnCashBasisReports: bool


class ContactBody(TypedDict):
    Name: str
    ContactNumber: str


class ContactRef(TypedDict):
    ContactID: str


class InvoiceRef(TypedDict):
    InvoiceID: str


class AccountRef(TypedDict):
    Code: str


class LineItem(TypedDict):
    Description: str
    Quantity: Decimal
    UnitAmount: Decimal
    AccountCode: str
    TaxType: str
    Tracking: NotRequired[list[TrackingOption]]


class InvoiceBody(TypedDict):
    Type: str                         # ACCREC | ACCPAY
    Contact: ContactRef
    Date: str
    DueDate: str
    LineAmountTypes: str
    InvoiceNumber: str
    CurrencyCode: str
    Status: str
    LineItems: list[LineItem]
    Reference: NotRequired[str]
    CurrencyRate: NotRequired[Decimal]


class CreditNoteBody(TypedDict):
    Type: str                         # ACCRECCREDIT | ACCPAYCREDIT
    Contact: ContactRef
    Date: str
    LineAmountTypes: str
    CreditNoteNumber: str
    CurrencyCode: str
    Status: str
    LineItems: list[LineItem]


class AllocationBody(TypedDict):
    Invoice: InvoiceRef
    Amount: Decimal
    Date: str


class PaymentBody(TypedDict):
    Invoice: InvoiceRef
    Account: AccountRef
    Date: str
    Amount: Decimal
    Reference: str


DocumentBody = InvoiceBody | CreditNoteBody | PaymentBody
