"""The month-end close check (``ledgerlink close-check``): the tie-outs a controller signs, each with the balance
the book holds at the period's end, the figure it must equal, where that figure comes from, and the documents
involved when they differ (D84).

- **trial balance**: every currency's postings of the entity sum to zero;
- **processor clearing** (each source's ``cash_clearing``): the provider's cash not yet paid out, from what the
  provider reported — payments (gross less any fee it reported with them), refunds, disputes and their fees —
  less what its payouts settled; every item a listed Stripe payout settled must be a posted document
  (``settled_not_booked`` otherwise), and the balance must not be below zero;
- **payouts in transit**: payouts not yet on a bank statement (payouts − the bank lines applied to them);
- **receivables**: invoices still open in the source (invoices − credit notes − voids − write-offs − payments and
  bank receipts applied + refunds paying out credit notes + write-offs recovered), not below zero;
- **deferred revenue**: the revenue schedules' closing balance (billed − released − reclassified);
- **tax payable**: tax invoiced − tax credited − tax refunded (a refund's share of its invoice's tax, D88);
- **customer credit**: the unapplied payments (overpayments, source object ``unapplied_payment``, D87, and the part
  of bank receipts beyond what their invoice still had open, D92) less what was refunded or applied from them — nothing consumes customer credit yet, so it is their sum — never a debit balance.

Expected figures are computed from the documents as the sources reported them (the ledger table) and from the
revenue schedules, never from the book; the booked figures are read from the book itself, through the period's
last day. Only entities whose ERP is the Beancount book can be checked here (the API ERPs' trial balances are
read back by the ERP read-back issue); any other entity is refused with a reason rather than reported as tied.

Every tie-out drills down to the documents behind its two figures (``drilldown``, at most :data:`DRILLDOWN_LIMIT`,
the ones that differ first): what each document makes the expected figure and what the book holds from it in the
account — per posting, when the book can say which document a posting belongs to (:class:`DocumentBook`). The trial
balance drills down to the postings that do not balance.
"""

from __future__ import annotations

import calendar
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol, TypedDict, runtime_checkable

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected, LedgerLinkError
from ledgerlink.model.documents import (
    CREDIT_NOTE_REFUND,
    BankTransaction,
    CreditNote,
    Document,
    DocumentAdapter,
    Invoice,
    Payment,
    Payout,
    Reversal,
    WriteOff,
)
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.money import currency_exponent
from ledgerlink.model.revenue import LineState, ScheduleLine
from ledgerlink.model.status import DocumentStatus
from ledgerlink.pipeline.enrich import Accounts

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
NOT_NEGATIVE = ("cash_clearing", "receivable")
NOT_POSITIVE = ("customer_credit",)   # a liability: a credit balance (negative in the book's sign convention)
DRILLDOWN_LIMIT = 500                 # documents per tie-out in ``drilldown`` (``drilldown_count`` says how many in all)

# A posting-ledger item as the ledger table holds it (``store.ledger``): attribute → plain value; read with
# ``.get`` and narrowed (``document`` is the source's document as JSON text).
type LedgerItem = Mapping[str, object]


class CloseCheckRefused(LedgerLinkError):
    """The request cannot be checked (unknown entity, malformed period, an ERP without a readable book)."""

    reason = "close_check_refused"


class DrillItemJson(TypedDict):
    """One document behind a tie-out: its part of the expected figure, and of the booked one (None: the book cannot
    say which document a posting belongs to)."""

    document_id: str
    expected: str
    booked: str | None
    difference: str | None


class TieOutJson(TypedDict):
    check: str
    account: str
    currency: str
    expected: str
    booked: str
    difference: str
    status: str
    basis: str
    problems: list[str]
    documents: list[str]
    name: str
    drilldown: list[DrillItemJson]
    drilldown_count: int


class CloseCheckJson(TypedDict):
    """The report as ``close-check`` prints it with ``--json`` and the close-check API returns it."""

    entity: str
    period: str
    through: str
    status: str
    differences: int
    tieouts: list[TieOutJson]


class Book(Protocol):
    def trial_balance(self, through: date | None = None, entity_id: str | None = None
                      ) -> dict[tuple[str, str], Decimal]: ...


# (account, currency) → document id → that document's postings to the account, summed
type DocumentBalances = dict[tuple[str, str], dict[str, Decimal]]


@runtime_checkable
class DocumentBook(Protocol):
    """A book that knows which document each posting belongs to (the Beancount book: one file per document)."""

    def document_balances(self, through: date | None = None, entity_id: str | None = None) -> DocumentBalances: ...


@dataclass(frozen=True, slots=True)
class DrillItem:
    document_id: str
    expected: Decimal
    booked: Decimal | None

    @property
    def difference(self) -> Decimal | None:
        return None if self.booked is None else self.booked - self.expected

    def to_dict(self) -> DrillItemJson:
        difference = self.difference
        return {"document_id": self.document_id, "expected": str(self.expected),
                "booked": None if self.booked is None else str(self.booked),
                "difference": None if difference is None else str(difference)}


def drilldown(expected: Mapping[str, Decimal], booked: Mapping[str, Decimal] | None) -> tuple[list[DrillItem], int]:
    """The documents behind a tie-out, those that differ first (largest difference first), then by id; at most
    :data:`DRILLDOWN_LIMIT`, with how many there are in all."""
    ids = set(expected) | set(booked or {})
    items = [DrillItem(document_id, expected.get(document_id, Decimal(0)),
                       None if booked is None else booked.get(document_id, Decimal(0))) for document_id in ids]
    items.sort(key=lambda item: (not item.difference, -abs(item.difference or Decimal(0)), item.document_id))
    return items[:DRILLDOWN_LIMIT], len(items)


@dataclass
class TieOut:
    check: str                 # trial_balance, cash_clearing, payouts_in_transit, receivable, deferred_revenue, tax,
                               # customer_credit
    account: str
    currency: str
    expected: Decimal
    booked: Decimal
    basis: str
    documents: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    drilldown: list[DrillItem] = field(default_factory=list)
    drilldown_count: int = 0

    @property
    def name(self) -> str:
        """What names the tie-out in a report: ``check/account/currency``."""
        return f"{self.check}/{self.account}/{self.currency}"

    @property
    def difference(self) -> Decimal:
        return self.booked - self.expected

    @property
    def status(self) -> str:
        return "tied" if self.difference == 0 and not self.problems else "difference"

    def to_dict(self) -> TieOutJson:
        return {"check": self.check, "account": self.account, "currency": self.currency,
                "expected": str(self.expected), "booked": str(self.booked), "difference": str(self.difference),
                "status": self.status, "basis": self.basis, "problems": self.problems,
                "documents": self.documents[:50], "name": self.name,
                "drilldown": [item.to_dict() for item in self.drilldown], "drilldown_count": self.drilldown_count}


@dataclass
class CloseCheckReport:
    entity_id: str
    period: str
    through: date
    tieouts: list[TieOut] = field(default_factory=list)

    @property
    def differences(self) -> list[TieOut]:
        return [tieout for tieout in self.tieouts if tieout.status != "tied"]

    @property
    def status(self) -> str:
        return "tied" if not self.differences else "differences"

    def to_dict(self) -> CloseCheckJson:
        return {"entity": self.entity_id, "period": self.period, "through": self.through.isoformat(),
                "status": self.status, "differences": len(self.differences),
                "tieouts": [tieout.to_dict() for tieout in self.tieouts]}

    def table(self) -> str:
        def shown(amount: Decimal, currency: str) -> str:
            return str(amount.quantize(Decimal(1).scaleb(-currency_exponent(currency))))


        if not self.tieouts:
            return (f"close check {self.entity_id} {self.period} (through {self.through}): nothing posted through "
                    "that day — no balance to tie out")
        rows = [f"close check {self.entity_id} {self.period} (through {self.through}): {self.status}",
                f"  {'check':<19} {'account':<42} {'cur':<4} {'expected':>13} {'booked':>13} {'difference':>11}"]
        for t in self.tieouts:
            rows.append(f"  {t.check:<19} {t.account:<42} {t.currency:<4} {shown(t.expected, t.currency):>13} "
                        f"{shown(t.booked, t.currency):>13} {shown(t.difference, t.currency):>11}" + ("" if t.status == "tied" else "  ← " + "; ".join(
                            t.problems or [f"{len(t.documents)} document(s): {', '.join(t.documents[:3])}"])))
        return "\n".join(rows)


def period_end(period: str) -> date:
    match = PERIOD.match(period or "")
    if not match:
        raise CloseCheckRefused(f"period {period[:20]!r} is not YYYY-MM", reason="invalid_period", field="period")
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, calendar.monthrange(year, month)[1])


@dataclass
class _Expected:
    amounts: dict[tuple[str, str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    documents: dict[tuple[str, str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    by_document: dict[tuple[str, str, str], dict[str, Decimal]] = field(default_factory=lambda: defaultdict(dict))
    voided: set[str] = field(default_factory=set)   # invoices a posted void reversed

    def add(self, check: str, account: str, currency: str, amount: Decimal, document_id: str) -> None:
        self.amounts[(check, account, currency)] += amount
        self.documents[(check, account, currency)].append(document_id)
        shares = self.by_document[(check, account, currency)]
        shares[document_id] = shares.get(document_id, Decimal(0)) + amount


class _Adder:
    """Adds one document's amounts to the expected figures, under the account its role maps to (nothing when the
    role is not mapped for the document, or the amount is zero)."""

    def __init__(self, check: CloseCheck, document: Document, expected: _Expected) -> None:
        self._check = check
        self.document = document
        self.expected = expected

    def __call__(self, check: str, role: str, amount: Decimal) -> None:
        account = self._check._account(self.document, role)
        if account is not None and amount:
            self.expected.add(check, account, self.document.currency, amount, self.document.document_id)


def _document(item: LedgerItem) -> Document | None:
    """The document a ledger item holds (its JSON as the source reported it), if it holds one."""
    raw = item.get("document")
    return DocumentAdapter.validate_json(raw) if isinstance(raw, str) else None


def _expect_payment(document: Payment, add: _Adder, invoices: dict[str, LedgerItem]) -> None:
    fees = sum((fee.amount.amount for fee in document.fees), Decimal(0))
    if document.direction == "received":
        add("cash_clearing", "cash_clearing" if document.method != "out_of_band" else "cash_out_of_band",
            document.amount.amount - fees)
        if document.source.object_type == "unapplied_payment":   # owed to the customer (D87)
            add("customer_credit", "customer_credit", -document.amount.amount)
        else:
            add("receivable", "receivable", -document.amount.amount)
    elif document.source.object_type == CREDIT_NOTE_REFUND:   # moves no cash: the refund does (D89)
        add("receivable", "receivable", document.amount.amount)
        add("tax", "tax", -_refunded_tax(document, invoices.get(document.applies_to_document_id or "")))
    elif document.direction == "refunded":
        add("cash_clearing", "cash_clearing", -document.amount.amount)
        add("tax", "tax", _refunded_tax(document, invoices.get(document.applies_to_document_id or "")))
    else:
        sign = 1 if document.direction == "chargeback" else -1
        add("cash_clearing", "cash_clearing", -sign * (document.amount.amount + fees))


def _expect_void(document: Reversal, add: _Adder, invoices: dict[str, LedgerItem]) -> None:
    original = invoices.get(document.original_document_id)
    voided = _document(original) if original is not None else None
    if isinstance(voided, Invoice):   # the invoice undone: its receivable, tax and deferral (D89)
        add.expected.voided.add(voided.document_id)
        add("receivable", "receivable", -voided.total.amount)
        add("tax", "tax", _tax_of(voided))


class CloseCheck:
    def __init__(self, *, config: LedgerLinkConfig, ledger_items: Callable[[], Iterable[LedgerItem]],
                 book_for: Callable[[str], Book | None],
                 schedules: Callable[[str], Iterable[tuple[ScheduleLine, LineState]]],
                 settled_sources: Callable[[LedgerItem], list[str] | None] = lambda item: None) -> None:
        self._config = config
        self._ledger_items = ledger_items
        self._book_for = book_for
        self._schedules = schedules
        self._settled_sources = settled_sources

    def run(self, entity_id: str, period: str) -> CloseCheckReport:
        through = period_end(period) if entity_id in {entity.id for entity in self._config.entities} else None
        if through is None:
            raise CloseCheckRefused(f"no entity {entity_id[:40]!r} in the configuration", reason="unknown_entity",
                                    field="entity")
        book = self._book(entity_id)
        report = CloseCheckReport(entity_id, period, through)
        by_document = book.document_balances(through, entity_id) if isinstance(book, DocumentBook) else None
        balances = _summed(by_document) if by_document is not None else book.trial_balance(through, entity_id)
        report.tieouts += self._trial_balance(balances, by_document)
        expected = _Expected()
        entity_items = [item for item in self._ledger_items() if item.get("entity_id") == entity_id]
        items = [item for item in entity_items if item.get("status") == DocumentStatus.POSTED
                 and str(item.get("posted_accounting_date") or item.get("accounting_date")) <= through.isoformat()]
        # a refund's tax share comes from the invoice it refunds, as the source reported it (posted or not, D88)
        invoices = {str(item["document_id"]): item for item in entity_items if item.get("document_type") == "invoice"}
        references: set[str] = set()
        for document in (document for item in items if (document := _document(item)) is not None):
            references.update(ref for ref in (getattr(document, "reference", None), document.source.object_id) if ref)
            self._expect(document, expected, invoices)
        self._expect_deferred(entity_id, expected)
        report.tieouts += self._compare(expected, balances, self._unbooked(items, references), by_document)
        return report

    def _book(self, entity_id: str) -> Book:
        book = self._book_for(entity_id)
        if book is None:
            connection = self._config.connection(self._config.entity(entity_id).erp_connection)
            raise CloseCheckRefused(f"entity {entity_id} posts to {connection.id} ({connection.kind}): the close "
                                    "check reads the Beancount book only", reason="erp_not_readable",
                                    field="entity")
        return book

    def _unbooked(self, items: list[LedgerItem], references: set[str]) -> dict[str, list[str]]:
        """payout document id → what the payout settled that no posted document books."""
        problems: dict[str, list[str]] = defaultdict(list)
        for item in items:
            for source in (self._settled_sources(item) or []) if item.get("document_type") == "payout" else []:
                # "re_…|ch_…": a refund is booked under its own id or its charge's (newer API events carry no id)
                if not references.intersection(source.split("|")):
                    problems[str(item["document_id"])].append(source.split("|")[0])
        return problems

    # ---- expected figures from the documents -------------------------------------------------------------

    def _account(self, document: Document, role: str) -> str | None:
        source_id = document.source.source_id or document.source.system
        try:
            return Accounts(self._config, document.entity_id, source_id, document.accounting_date).get(role)[1]
        except DocumentRejected:
            return None

    def _expect(self, document: Document, expected: _Expected, invoices: dict[str, LedgerItem]) -> None:
        add = _Adder(self, document, expected)
        if isinstance(document, Invoice | CreditNote):
            sign = 1 if isinstance(document, Invoice) else -1
            add("receivable", "receivable", sign * document.total.amount)
            add("tax", "tax", -sign * _tax_of(document))
        elif isinstance(document, Payment):
            _expect_payment(document, add, invoices)
        elif isinstance(document, Payout):
            self._expect_payout(document, add)
        elif isinstance(document, BankTransaction) and document.counter_role in ("payouts_in_transit", "receivable"):
            add(document.counter_role, document.counter_role, -document.applied.amount)
            if document.unapplied is not None:   # beyond what the invoice had open: owed to the customer (D92)
                add("customer_credit", "customer_credit", -document.unapplied.amount)
        elif isinstance(document, WriteOff):   # an impairment of the receivable; a later payment recovers it (D89)
            add("receivable", "receivable", (-1 if document.direction == "written_off" else 1) * document.amount.amount)
        elif isinstance(document, Reversal) and document.reason == "void" and document.amount is None:
            _expect_void(document, add, invoices)

    def _expect_payout(self, document: Payout, add: _Adder) -> None:
        sign = 1 if document.direction == "paid" else -1
        add("cash_clearing", "cash_clearing", -sign * document.gross.amount)
        for conversion in document.conversions:   # left clearing in the currency it was booked in
            account = self._account(document, "cash_clearing")
            if account is not None:
                add.expected.add("cash_clearing", account, conversion.original.currency,
                                 -sign * conversion.original.amount, document.document_id)
        add("payouts_in_transit", "payouts_in_transit", sign * document.amount.amount)

    def _expect_deferred(self, entity_id: str, expected: _Expected) -> None:
        for line, state in self._schedules(entity_id):
            amount = line.billed - state.released_total - state.reclassed_total
            if line.invoice_document_id in expected.voided:   # the void's reversal took the deferral back (D89)
                amount -= line.billed
            if amount:
                expected.add("deferred_revenue", line.deferred_account, line.currency, -amount,
                             line.invoice_document_id)

    # ---- comparison with the book ----------------------------------------------------------------------------

    @staticmethod
    def _trial_balance(balances: dict[tuple[str, str], Decimal], by_document: DocumentBalances | None
                       ) -> list[TieOut]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for (_, currency), amount in balances.items():
            totals[currency] += amount
        tieouts = [TieOut("trial_balance", "(all accounts)", currency, Decimal(0), total,
                          "every posting balances: debits = credits per currency")
                   for currency, total in sorted(totals.items())]
        for tieout in tieouts:   # the postings that do not balance in the currency
            nets: dict[str, Decimal] = defaultdict(Decimal)
            for (_, currency), documents in (by_document or {}).items():
                for document_id, amount in documents.items():
                    if currency == tieout.currency:
                        nets[document_id] += amount
            off = {document_id: net for document_id, net in nets.items() if net}
            tieout.drilldown, tieout.drilldown_count = drilldown({}, off if by_document is not None else None)
        return tieouts

    def _compare(self, expected: _Expected, balances: dict[tuple[str, str], Decimal],
                 problems: dict[str, list[str]], by_document: DocumentBalances | None = None) -> list[TieOut]:
        bases = {"cash_clearing": "provider cash reported by the source, less what its payouts settled",
                 "payouts_in_transit": "payouts not yet on a bank statement",
                 "receivable": "invoices still open (invoices − credits − voids − write-offs − payments applied)",
                 "deferred_revenue": "revenue schedules: billed − released − reclassified",
                 "tax": "tax invoiced − tax credited − tax refunded",
                 "customer_credit": "unapplied payments and receipts − refunded or applied from them (nothing "
                                    "consumes customer credit yet)"}
        tieouts = []
        for (check, account, currency), amount in sorted(expected.amounts.items()):
            tieout = TieOut(check, account, currency, amount, balances.get((account, currency), Decimal(0)),
                            bases[check], documents=expected.documents[(check, account, currency)])
            tieout.drilldown, tieout.drilldown_count = drilldown(
                expected.by_document[(check, account, currency)],
                None if by_document is None else by_document.get((account, currency), {}))
            if check in NOT_NEGATIVE and tieout.booked < 0:
                tieout.problems.append(f"{account} is below zero ({tieout.booked} {currency})")
            if check in NOT_POSITIVE and tieout.booked > 0:
                tieout.problems.append(f"{account} is a debit ({tieout.booked} {currency}): the customers owe it")
            if check == "cash_clearing":
                for payout, sources in sorted(problems.items()):
                    if payout in tieout.documents:
                        tieout.problems.append(f"payout {payout} settled {len(sources)} item(s) never booked: "
                                               f"{', '.join(sources[:5])}")
            tieouts.append(tieout)
        return tieouts


def _summed(by_document: DocumentBalances) -> dict[tuple[str, str], Decimal]:
    """The trial balance of a book's per-document balances: (account, currency) → balance."""
    return {key: sum(documents.values(), Decimal(0)) for key, documents in sorted(by_document.items())}


def _tax_of(billing: Invoice | CreditNote) -> Decimal:
    """A billing document's tax, exclusive and inclusive (what its tax lines post)."""
    from ledgerlink.pipeline.refund_tax import invoice_taxes

    return sum((tax.amount for _, tax in invoice_taxes(billing)), Decimal(0))   # type: ignore[arg-type]


def _refunded_tax(refund: Payment, invoice_item: LedgerItem | None) -> Decimal:
    """The tax a refund gave back: its share of its invoice's tax (D88); none without a known invoice."""
    from ledgerlink.pipeline.refund_tax import refund_tax

    invoice = _document(invoice_item) if invoice_item is not None else None
    if not isinstance(invoice, Invoice):
        return Decimal(0)
    try:
        return sum((share.amount.amount for share in refund_tax(refund, invoice)), Decimal(0))
    except DocumentRejected:   # such a refund opens a case instead of posting
        return Decimal(0)


def _candidates(source: JsonValue) -> list[str]:
    """The ids a settled item may be booked under: its own, and an expanded refund's charge."""
    if isinstance(source, dict):
        return [str(value) for value in (source.get("id"), source.get("charge")) if isinstance(value, str)]
    return [str(source)]


def _object(value: JsonValue) -> JsonObject:
    return value if isinstance(value, dict) else {}


def settled_sources_from_archive(read: Callable[[str], bytes]) -> Callable[[LedgerItem], list[str] | None]:
    """The provider's own list of what a payout settled (the archived balance transactions, D83), by source id."""
    from ledgerlink.connectors.sources.stripe.payouts import GROSS_CATEGORIES, NET_CATEGORIES, _category
    from ledgerlink.store.archive import fetched_key

    def sources(item: LedgerItem) -> list[str] | None:
        raw = item.get("document")
        document = _object(json.loads(raw)) if isinstance(raw, str) else {}
        if not document.get("settled_count"):
            return None
        source = _object(document.get("source"))
        try:
            fetched = _object(json.loads(read(fetched_key(str(source.get("archive_key") or ""),
                                                          str(source.get("event_id") or "")))))
        except Exception:  # noqa: BLE001 - a missing archive is reported, not guessed around
            return [f"(archived balance transactions of {source.get('object_id')} unreadable)"]
        listed = fetched.get("balance_transactions", [])
        return ["|".join(_candidates(txn.get("source"))) for txn in (listed if isinstance(listed, list) else [])
                if isinstance(txn, dict) and txn.get("type") != "payout"
                and _category(txn) in GROSS_CATEGORIES | NET_CATEGORIES]

    return sources
