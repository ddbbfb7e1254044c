"""The JSON bodies LedgerLink sends to the QuickBooks Online accounting API (``JournalEntry``, ``Invoice``,
``CreditMemo``, ``Bill``, ``VendorCredit``, ``Payment``, ``BillPayment``, ``Customer``, ``Vendor`` and the
``batch`` request), as Intuit's API reference defines them. References are ``{"value": <Id>}``."""

from __future__ import annotations

from decimal import Decimal
from typing import NotRequired, TypedDict


class Ref(TypedDict):
    value: str


class JournalEntryLineDetail(TypedDict):
    PostingType: str                  # Debit | Credit
    AccountRef: Ref
    ClassRef: NotRequired[Ref]
    DepartmentRef: NotRequired[Ref]


class JournalLine(TypedDict):
    Id: str
    Description: str
    Amount: Decimal
    DetailType: str                   # JournalEntryLineDetail
    JournalEntryLineDetail: JournalEntryLineDetail


class JournalEntryBody(TypedDict):
    DocNumber: str
    TxnDate: str
    PrivateNote: str
    Line: list[JournalLine]
    CurrencyRef: Ref


class BatchItem(TypedDict):
    bId: str
    operation: str
    JournalEntry: JournalEntryBody


class BatchRequest(TypedDict):
    BatchItemRequest: list[BatchItem]


class SalesItemLineDetail(TypedDict):
    ItemRef: Ref
    Qty: int
    UnitPrice: Decimal


class SalesItemLine(TypedDict):
    Amount: Decimal
    Description: str
    DetailType: str                   # SalesItemLineDetail
    SalesItemLineDetail: SalesItemLineDetail


class AccountBasedExpenseLineDetail(TypedDict):
    AccountRef: Ref


class AccountLine(TypedDict):
    Amount: Decimal
    Description: str
    DetailType: str                   # AccountBasedExpenseLineDetail
    AccountBasedExpenseLineDetail: AccountBasedExpenseLineDetail


class LinkedTxn(TypedDict):
    TxnId: str
    TxnType: str


class PaymentLine(TypedDict):
    Amount: Decimal
    LinkedTxn: list[LinkedTxn]


class CheckPayment(TypedDict):
    BankAccountRef: Ref


class TransactionBody(TypedDict, total=False):
    """A native transaction: Invoice / CreditMemo (``CustomerRef``, item lines), Bill / VendorCredit
    (``VendorRef``, account lines), Payment / BillPayment (``TotalAmt``, lines linked to what they pay)."""

    CustomerRef: Ref
    VendorRef: Ref
    TxnDate: str
    DocNumber: str
    DueDate: str
    Line: list[SalesItemLine] | list[AccountLine] | list[PaymentLine]
    PrivateNote: str
    CurrencyRef: Ref
    ExchangeRate: Decimal
    TotalAmt: Decimal
    DepositToAccountRef: Ref
    PaymentRefNum: str
    PayType: str
    CheckPayment: CheckPayment


class PartyBody(TypedDict):
    DisplayName: str
