"""The JSON bodies LedgerLink sends to NetSuite's REST record service, as NetSuite's record browser defines them
(``journalentry``, ``invoice``, ``vendorbill``, ``creditmemo``, ``vendorcredit``, ``customerpayment``,
``vendorpayment``, ``customer``, ``vendor``, ``employee``). Reference fields are ``{"id": <internal id>}``."""

from __future__ import annotations

from decimal import Decimal
from typing import NotRequired, TypedDict


class Ref(TypedDict):
    id: str


# ``class`` is a Python keyword: the functional form names it
JournalLine = TypedDict("JournalLine", {
    "account": Ref, "memo": str, "debit": NotRequired[Decimal], "credit": NotRequired[Decimal],
    "department": NotRequired[Ref], "class": NotRequired[Ref], "location": NotRequired[Ref]})


class JournalLines(TypedDict):
    items: list[JournalLine]


class JournalBody(TypedDict):
    tranDate: str
    memo: str
    line: JournalLines
    subsidiary: NotRequired[Ref]
    currency: NotRequired[Ref]


class ItemLine(TypedDict):
    item: Ref
    amount: Decimal
    description: str


class ItemLines(TypedDict):
    items: list[ItemLine]


class ExpenseLine(TypedDict):
    account: Ref
    amount: Decimal
    memo: str


class ExpenseLines(TypedDict):
    items: list[ExpenseLine]


class Application(TypedDict):
    doc: Ref
    apply: bool
    amount: Decimal


class Applications(TypedDict):
    items: list[Application]


class RecordBody(TypedDict, total=False):
    """A transaction record other than a journal: invoice / credit memo (``item``), vendor bill / vendor credit
    (``expense``), customer / vendor payment (``account``, ``apply``; ``customer`` and ``payment`` or ``entity``)."""

    entity: Ref
    customer: Ref
    item: ItemLines
    expense: ExpenseLines
    account: Ref
    apply: Applications
    payment: Decimal
    dueDate: str
    tranDate: str
    memo: str
    subsidiary: Ref
    currency: Ref
    exchangeRate: Decimal


class PartyBody(TypedDict, total=False):
    """A customer or vendor (``companyName``) or an employee (``firstName``, ``lastName``)."""

    companyName: str
    firstName: str
    lastName: str
    subsidiary: Ref


class SuiteQlQuery(TypedDict):
    q: str
