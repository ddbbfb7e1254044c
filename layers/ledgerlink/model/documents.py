"""Canonical finance documents.

Every source connector produces these and only these; every ERP connector consumes journals built
from them. One class per document type with a ``document_type`` literal, a discriminated union and a
module-level ``TypeAdapter`` built once (``DocumentAdapter``).

Invariants enforced at construction (so an invalid document cannot exist):
- all amounts of a document are in the document's currency (multi-currency lives in journals);
- invoice/credit-note totals equal lines - discounts + exclusive tax, to the minor unit;
- a revenue schedule's entries sum to the billed amount;
- a journal balances per currency and has at least one debit and one credit.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, TypeAdapter, field_validator, model_validator

from ledgerlink.model.base import Identifier, NonEmptyStr, Schema
from ledgerlink.model.ids import document_id as make_document_id
from ledgerlink.model.money import Currency, Money, sum_money


class SourceRef(Schema):
    """Where a document came from. ``document_id`` is derived from everything but the event id."""

    system: Identifier                     # "stripe"
    object_type: Identifier                # "invoice", "invoice_payment", "refund" ...
    object_id: NonEmptyStr                 # "in_1Pgc6t..."
    version: NonEmptyStr = "1"             # what makes a new fact of the same object ("finalized", "paid")
    event_id: NonEmptyStr | None = None    # the delivery that told us (evt_...)
    event_type: NonEmptyStr | None = None  # "invoice.paid"
    account: NonEmptyStr | None = None     # provider sub-account (Stripe Connect acct_...)
    archive_key: NonEmptyStr | None = None  # raw payload in the S3 archive
    source_id: Identifier | None = None    # the configured source it arrived through (mapping key)

    def document_id(self) -> str:
        return make_document_id(self.system, self.object_type, self.object_id, self.version)


class Party(Schema):
    """Customer, vendor or employee as the source knows them; ERP ids come from master-data sync."""

    role: Literal["customer", "vendor", "employee"]
    source_id: NonEmptyStr
    name: NonEmptyStr | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    # the same party in other systems (``hubspot_company`` → id, ``salesforce_account`` → id): how a billing
    # customer is matched to the CRM account that announced it (quote-to-cash, master data policy ``wait``)
    external_ids: dict[str, str] = Field(default_factory=dict)


class FxConversion(Schema):
    """The rate a foreign-currency document was (or is to be) converted with, and where it came from:
    1 ``from_currency`` = ``rate`` ``to_currency``."""

    from_currency: Currency
    to_currency: Currency
    rate: Decimal = Field(gt=0)
    source: NonEmptyStr                    # "stripe balance transaction", "config: ECB reference rate" ...
    rate_date: date

    @field_validator("rate", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise TypeError("rates must not be float; pass a str or Decimal")
        return value


class DocumentBase(Schema):
    document_id: NonEmptyStr
    source: SourceRef
    entity_id: Identifier
    correlation_id: NonEmptyStr
    occurred_at: datetime                  # UTC instant of the business event
    accounting_date: date                  # the occurred_at date in the entity's time zone
    currency: Currency
    memo: NonEmptyStr | None = None
    related_document_ids: tuple[str, ...] = ()  # compensation links (refund → invoice, ...)
    fx: FxConversion | None = None         # the rate to the entity's base currency, when the source gave one

    @model_validator(mode="after")
    def _id_matches_source(self) -> DocumentBase:
        expected = self.source.document_id()
        if self.document_id != expected:
            raise ValueError(f"document_id {self.document_id} does not match its source reference ({expected})")
        return self

    def _same_currency(self, *amounts: Money | None) -> None:
        for amount in amounts:
            if amount is not None and amount.currency != self.currency:
                raise ValueError(f"amount in {amount.currency} on a {self.currency} document")


# ---- receivables --------------------------------------------------------------------------------

class MeteredUsage(Schema):
    """The usage a metered invoice line bills: the meter and the exact billing-period instants."""

    meter_id: NonEmptyStr | None = None     # Stripe billing meter (``price.recurring.meter``)
    price_id: NonEmptyStr | None = None
    period_start: datetime
    period_end: datetime                    # exclusive


class InvoiceLine(Schema):
    line_id: NonEmptyStr
    description: NonEmptyStr | None = None
    amount: Money                          # excluding exclusive tax, before discounts
    discount: Money | None = None
    tax: Money | None = None               # exclusive tax on this line (added to the total)
    inclusive_tax: Money | None = None     # tax already contained in ``amount``
    tax_treatment: NonEmptyStr | None = None  # the source's taxability (Stripe taxability_reason): → tax code
    quantity: Decimal = Decimal(1)
    product_id: NonEmptyStr | None = None
    price_id: NonEmptyStr | None = None
    revenue_category: Identifier = "revenue"  # mapping role for the credit side
    service_start: date | None = None
    service_end: date | None = None        # exclusive: the day the service period ends (Stripe ``period.end``)
    proration: bool = False
    applies_to_line_id: NonEmptyStr | None = None   # credit note line → the invoice line it credits
    usage: MeteredUsage | None = None      # a metered (usage-based) line: what it bills, for the usage tie-out


def _line_totals(lines: tuple[InvoiceLine, ...], currency: str) -> tuple[Money, Money, Money]:
    amount = sum_money([line.amount for line in lines], currency)
    discount = sum_money([line.discount for line in lines if line.discount], currency)
    tax = sum_money([line.tax for line in lines if line.tax], currency)
    return amount, discount, tax


class _Billing(DocumentBase):
    party: Party
    number: NonEmptyStr | None = None
    lines: tuple[InvoiceLine, ...] = Field(min_length=1)
    total: Money

    @model_validator(mode="after")
    def _totals_tie_out(self) -> _Billing:
        for line in self.lines:
            self._same_currency(line.amount, line.discount, line.tax, line.inclusive_tax)
        self._same_currency(self.total)
        amount, discount, tax = _line_totals(self.lines, self.currency)
        expected = amount - discount + tax
        if expected != self.total:
            raise ValueError(
                f"lines ({amount}) - discounts ({discount}) + tax ({tax}) = {expected}, but total is {self.total}"
            )
        return self

    @property
    def tax_total(self) -> Money:
        return _line_totals(self.lines, self.currency)[2]


class Invoice(_Billing):
    document_type: Literal["invoice"] = "invoice"
    due_date: date | None = None
    subscription_id: NonEmptyStr | None = None


class CreditNote(_Billing):
    """Reduces a posted invoice; never an edit of it. ``original_document_id`` names the invoice."""

    document_type: Literal["credit_note"] = "credit_note"
    original_document_id: NonEmptyStr | None = None
    reason: NonEmptyStr | None = None


class Fee(Schema):
    kind: Identifier = "processing"        # mapping role suffix: fees.processing, fees.application ...
    amount: Money
    description: NonEmptyStr | None = None


class TaxShare(Schema):
    """The tax part of a refund: its share of one tax treatment of the invoice it refunds (D88)."""

    treatment: NonEmptyStr | None = None   # the invoice lines' tax treatment (→ the ERP tax code)
    amount: Money


# ``SourceRef.object_type`` of the part of a refund that pays out a credit note (D89): a Payment like the refund
# (same amount, invoice and party) that charges the customer's balance with what the refund's own rule put on
# contra revenue and tax, so the credit note alone reduces revenue and tax
CREDIT_NOTE_REFUND = "credit_note_refund"


class Payment(DocumentBase):
    """Money received for (or refunded against) a receivable.

    ``direction="received"`` debits cash/clearing and credits the receivable; ``"refunded"`` is the
    compensating movement (money back to the customer), linked to what it compensates;
    ``"chargeback"`` is money the card network took back (dispute lost or funds withdrawn pending it) and
    ``"chargeback_reversed"`` its compensation (dispute won, funds reinstated). ``fees`` on a chargeback
    are the provider's dispute fees.
    """

    document_type: Literal["payment"] = "payment"
    direction: Literal["received", "refunded", "chargeback", "chargeback_reversed"] = "received"
    party: Party | None = None
    amount: Money                          # gross, positive
    fees: tuple[Fee, ...] = ()
    applies_to_document_id: NonEmptyStr | None = None
    method: NonEmptyStr | None = None      # card, ach_debit, ...
    reference: NonEmptyStr | None = None   # provider charge / payment-intent / refund id
    # a refund's share of the tax of the invoice it refunds, set by the enrich step from that invoice (D88)
    refunded_tax: tuple[TaxShare, ...] = ()
    # a refund paid out for a credit note (``CREDIT_NOTE_REFUND``): the refund document it is part of (D89)
    refund_document_id: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _positive(self) -> Payment:
        self._same_currency(self.amount, *(fee.amount for fee in self.fees), *(tax.amount for tax in self.refunded_tax))
        if self.amount.amount <= 0:
            raise ValueError("payment amount must be positive; direction says which way it flows")
        if self.refunded_tax and (self.direction != "refunded" or any(tax.amount.amount < 0 for tax in self.refunded_tax)
                                  or sum_money([tax.amount for tax in self.refunded_tax], self.currency) > self.amount):
            raise ValueError("a refund's tax share is part of the refund: not negative, at most its amount")
        return self

    @property
    def net(self) -> Money:
        return self.amount - sum_money([fee.amount for fee in self.fees], self.currency)


class Adjustment(Schema):
    """A balance movement the provider settled in a payout that no source event booked (a manual adjustment, a
    billing fee, a top-up): its net, signed as it moved the provider balance (+ raised it)."""

    kind: Identifier                       # mapping role suffix: adjustments.<kind>
    amount: Money
    count: int = Field(default=1, ge=1)


class SettlementConversion(Schema):
    """An item a payout settled in its own currency that its event booked in another one (a EUR charge paid out in
    USD): the amount as booked (``original``, leaves the clearing account in that currency) and as settled at the
    provider's rate (``settled``, in the payout's currency). The difference in value is realized FX (D83)."""

    original: Money
    settled: Money
    reference: NonEmptyStr | None = None      # the provider's balance transaction
    rate: Decimal | None = None               # the provider's exchange rate (1 original = rate settled)


class Payout(DocumentBase):
    """A payment provider paying out its balance to the company's bank account.

    ``amount`` is what lands in the bank (net); ``fees`` are the provider fees settled with it (read from the
    payout's balance transactions where the provider lists them, D83); ``adjustments`` are balance movements no
    source event booked; ``conversions`` are items booked in another currency, settled at the provider's rate. The provider's clearing balance is relieved by ``gross`` = amount + fees − adjustments:
    what the events it settled put there. ``settled_count`` balance transactions were read (0: the provider
    listed none, e.g. a manual Stripe payout). ``direction="failed"`` is the compensation of a payout that the
    bank returned (the money is back on the provider balance).
    """

    document_type: Literal["payout"] = "payout"
    direction: Literal["paid", "failed"] = "paid"
    amount: Money
    fees: tuple[Fee, ...] = ()
    adjustments: tuple[Adjustment, ...] = ()
    conversions: tuple[SettlementConversion, ...] = ()
    settled_count: int = Field(default=0, ge=0)
    destination: NonEmptyStr | None = None     # bank account id as the provider knows it
    arrival_date: date | None = None
    reference: NonEmptyStr | None = None       # provider payout / batch id (what the bank statement shows)

    @model_validator(mode="after")
    def _positive(self) -> Payout:
        self._same_currency(self.amount, *(fee.amount for fee in self.fees),
                            *(adjustment.amount for adjustment in self.adjustments),
                            *(conversion.settled for conversion in self.conversions))
        if any(conversion.original.currency == self.currency for conversion in self.conversions):
            raise ValueError("a settlement conversion is from another currency than the payout's")
        if self.amount.amount <= 0:
            raise ValueError("payout amount must be positive; direction says which way it flows")
        return self

    @property
    def gross(self) -> Money:
        """What the payout relieves the clearing account of in its own currency (converted items leave it in
        theirs)."""
        return (self.amount + sum_money([fee.amount for fee in self.fees], self.currency)
                - sum_money([adjustment.amount for adjustment in self.adjustments], self.currency)
                - sum_money([conversion.settled for conversion in self.conversions], self.currency))


# ---- spend --------------------------------------------------------------------------------------

class ExpenseLine(Schema):
    line_id: NonEmptyStr
    category: NonEmptyStr                  # source category / GL mapping key
    amount: Money                          # including tax
    tax: Money | None = None
    merchant: NonEmptyStr | None = None
    transaction_date: date
    description: NonEmptyStr | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class ExpenseReport(DocumentBase):
    document_type: Literal["expense_report"] = "expense_report"
    employee: Party
    report_id: NonEmptyStr
    lines: tuple[ExpenseLine, ...] = Field(min_length=1)
    total: Money
    reimbursable: bool = True

    @model_validator(mode="after")
    def _total(self) -> ExpenseReport:
        for line in self.lines:
            self._same_currency(line.amount, line.tax)
        expected = sum_money([line.amount for line in self.lines], self.currency)
        if expected != self.total:
            raise ValueError(f"expense lines sum to {expected}, total is {self.total}")
        return self


class CardTransaction(DocumentBase):
    document_type: Literal["card_transaction"] = "card_transaction"
    cardholder: Party
    merchant: NonEmptyStr
    merchant_category_code: Annotated[str, Field(pattern=r"^\d{4}$")] | None = None
    category: NonEmptyStr | None = None
    amount: Money                          # positive = spend, negative = merchant refund
    posted_date: date | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _currency(self) -> CardTransaction:
        self._same_currency(self.amount)
        if self.amount.is_zero():
            raise ValueError("card transaction amount must not be zero")
        return self


# ---- payables -----------------------------------------------------------------------------------

class BillLine(Schema):
    line_id: NonEmptyStr
    category: NonEmptyStr                  # source category / GL mapping key (expense.<category>)
    amount: Money                          # positive, including any tax the vendor charged
    description: NonEmptyStr | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class Bill(DocumentBase):
    """A vendor bill approved for payment: an expense per line owed to the vendor (accounts payable).

    ``party`` is the vendor as the source knows it; the master-data step makes it exist in the ERP before the
    bill posts. Cancelling an approved bill is a :class:`Reversal` of it, never an edit."""

    document_type: Literal["bill"] = "bill"
    party: Party
    number: NonEmptyStr | None = None      # the vendor's invoice number
    lines: tuple[BillLine, ...] = Field(min_length=1)
    total: Money
    issue_date: date | None = None
    due_date: date | None = None

    @model_validator(mode="after")
    def _vendor_and_total(self) -> Bill:
        if self.party.role != "vendor":
            raise ValueError(f"a bill's party must be a vendor, not a {self.party.role}")
        self._same_currency(self.total, *(line.amount for line in self.lines))
        if any(line.amount.amount <= 0 for line in self.lines):
            raise ValueError("bill lines must be positive (a vendor credit is its own document)")
        expected = sum_money([line.amount for line in self.lines], self.currency)
        if expected != self.total:
            raise ValueError(f"bill lines sum to {expected}, total is {self.total}")
        return self


# ---- quote to cash ------------------------------------------------------------------------------

class CustomerEvent(DocumentBase):
    """Master data: a customer as the CRM knows it, to be created/updated in the ERP before any invoice."""

    document_type: Literal["customer_event"] = "customer_event"
    action: Literal["upserted"] = "upserted"
    party: Party
    external_ids: dict[str, str] = Field(default_factory=dict)   # system → id (salesforce account, hubspot company)


class ContractLine(Schema):
    line_id: NonEmptyStr
    product_id: NonEmptyStr | None = None
    description: NonEmptyStr | None = None
    quantity: Decimal = Decimal(1)
    amount: Money


class ContractEvent(DocumentBase):
    """A signed customer contract (closed-won opportunity): the start of quote-to-cash.

    No revenue and no receivable exist at signing; the posting rule records the booking on memorandum
    accounts (``contract_backlog`` / ``contract_backlog_offset``) so bookings reconcile with later billing.
    """

    document_type: Literal["contract_event"] = "contract_event"
    action: Literal["signed", "cancelled"] = "signed"
    contract_id: NonEmptyStr
    party: Party
    total: Money
    lines: tuple[ContractLine, ...] = ()
    start_date: date | None = None
    end_date: date | None = None
    customer_document_id: NonEmptyStr | None = None

    @model_validator(mode="after")
    def _total(self) -> ContractEvent:
        self._same_currency(self.total, *(line.amount for line in self.lines))
        if self.total.amount <= 0:
            raise ValueError("contract total must be positive; action says signed or cancelled")
        if self.lines and sum_money([line.amount for line in self.lines], self.currency) != self.total:
            raise ValueError("contract lines do not sum to the contract total")
        return self


# ---- revenue ------------------------------------------------------------------------------------

class SubscriptionItem(Schema):
    item_id: NonEmptyStr
    price_id: NonEmptyStr | None = None
    product_id: NonEmptyStr | None = None
    quantity: Decimal = Decimal(1)
    unit_amount: Money | None = None
    interval: Literal["day", "week", "month", "year"] | None = None
    interval_count: int = 1


class SubscriptionEvent(DocumentBase):
    document_type: Literal["subscription_event"] = "subscription_event"
    action: Literal["created", "updated", "cancelled"]
    subscription_id: NonEmptyStr
    party: Party
    status: NonEmptyStr
    items: tuple[SubscriptionItem, ...] = ()
    current_period_start: date | None = None
    current_period_end: date | None = None
    cancel_at: datetime | None = None


class RevenueScheduleEntry(Schema):
    period: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]  # accounting period (YYYY-MM) of the entity
    amount: Money


class RevenueAdjustment(Schema):
    """A change that took billed revenue out of the schedule (a credit note or refund, capped at what was
    still deferred when it took effect): it is reclassified from deferred revenue to ``account`` (where the
    credit note or refund was booked) instead of being recognized."""

    fact_id: NonEmptyStr
    kind: Literal["credit_note", "refund", "void"]
    effective_date: date
    amount: Money                          # billed revenue taken out of the schedule (never recognized)
    account: NonEmptyStr | None = None
    document_id: NonEmptyStr | None = None


class RevenueSchedule(DocumentBase):
    """Deferred revenue for one invoice line released over its service period.

    ``entries`` are what is recognized per accounting period; ``adjustments`` what changes took out of it.
    By construction entries + adjustments = billed, to the minor unit."""

    document_type: Literal["revenue_schedule"] = "revenue_schedule"
    invoice_document_id: NonEmptyStr
    line_id: NonEmptyStr
    billed: Money
    service_start: date
    service_end: date                      # exclusive, like the invoice line's
    entries: tuple[RevenueScheduleEntry, ...] = Field(min_length=1)
    adjustments: tuple[RevenueAdjustment, ...] = ()

    @model_validator(mode="after")
    def _recognized_equals_billed(self) -> RevenueSchedule:
        if self.service_end < self.service_start:
            raise ValueError("service_end before service_start")
        self._same_currency(self.billed, *(entry.amount for entry in self.entries),
                            *(adjustment.amount for adjustment in self.adjustments))
        total = sum_money([entry.amount for entry in self.entries]
                          + [adjustment.amount for adjustment in self.adjustments], self.currency)
        if total != self.billed:
            raise ValueError(f"schedule entries and adjustments sum to {total}, billed {self.billed}")
        return self


class UsageRecord(Schema):
    """One meter event (Stripe ``billing.meter_event``): ``identifier`` is its idempotency key."""

    identifier: NonEmptyStr
    customer: NonEmptyStr
    value: Decimal
    timestamp: datetime

    @field_validator("value", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise TypeError("usage values must not be float; pass a str, int or Decimal")
        return value


class UsageBatch(DocumentBase):
    """Meter events delivered together: aggregated (never posted one by one) and tied to the invoice line
    that bills them. Recorded in the ledger, never a journal."""

    document_type: Literal["usage_batch"] = "usage_batch"
    event_name: NonEmptyStr
    records: tuple[UsageRecord, ...] = Field(min_length=1)


# ---- cash ---------------------------------------------------------------------------------------

class BankTransaction(DocumentBase):
    document_type: Literal["bank_transaction"] = "bank_transaction"
    bank_account: NonEmptyStr              # account id / IBAN as the bank file states it
    amount: Money                          # positive = credit to the account, negative = debit
    booking_date: date
    value_date: date | None = None
    reference: NonEmptyStr | None = None   # remittance info used for cash application
    counterparty: NonEmptyStr | None = None
    bank_reference: NonEmptyStr | None = None
    # cash application (set when the line was matched to an open item): the document it settles and the
    # mapping role its counter-entry clears (receivable, payouts_in_transit, ...)
    applies_to_document_id: NonEmptyStr | None = None
    counter_role: Identifier | None = None
    match_candidates: tuple[str, ...] = ()      # references read from the line (what matching looked for)
    # the part of a receipt beyond what was still open on the invoice it was applied to (the receivables
    # subledger's answer, D92): owed to the customer, credited to customer_credit, never to the receivable
    unapplied: Money | None = None

    @model_validator(mode="after")
    def _amount(self) -> BankTransaction:
        self._same_currency(self.amount)
        if self.amount.is_zero():
            raise ValueError("bank transaction amount must not be zero")
        if self.unapplied is not None:
            self._same_currency(self.unapplied)
            if self.counter_role != "receivable" or not 0 < self.unapplied.amount <= self.amount.amount:
                raise ValueError("unapplied cash must be part of a receipt applied to an invoice")
        return self

    @property
    def applied(self) -> Money:
        """What the line settles on the item it was applied to (all of it unless part is unapplied)."""
        return self.amount - self.unapplied if self.unapplied is not None else self.amount


# ---- compensation -------------------------------------------------------------------------------

class Reversal(DocumentBase):
    """Undoes (part of) a posted document — a cancellation, void, chargeback or correction — as a new,
    linked journal mirroring the original's. Never an edit of the posted entry. Dated on the event
    (default) or on the original's date; a date in a closed period then follows the entity's policy."""

    document_type: Literal["reversal"] = "reversal"
    original_document_id: NonEmptyStr
    reason: Literal["cancellation", "void", "chargeback", "correction"]
    reverse_on: Literal["event_date", "original_date"] = "event_date"
    amount: Money | None = None            # partial reversal (in the original's currency); None = in full
    party: Party | None = None             # the original's counterparty (a vendor credit names the vendor)

    @model_validator(mode="after")
    def _partial_amount(self) -> Reversal:
        self._same_currency(self.amount)
        if self.amount is not None and self.amount.amount <= 0:
            raise ValueError("a partial reversal amount must be positive")
        return self


class WriteOff(DocumentBase):
    """A receivable written off as uncollectible: an impairment of the receivable (Dr bad debt · Cr receivable;
    the revenue stays, ASC 310 / IFRS 9), or (``direction="recovered"``) the write-off reversed by a later payment
    of the same invoice, up to the amount paid, before that payment credits the receivable (D89)."""

    document_type: Literal["write_off"] = "write_off"
    direction: Literal["written_off", "recovered"] = "written_off"
    original_document_id: NonEmptyStr      # the invoice whose receivable is written off
    party: Party
    amount: Money                          # positive; direction says which way it moves

    @model_validator(mode="after")
    def _positive(self) -> WriteOff:
        self._same_currency(self.amount)
        if self.amount.amount <= 0:
            raise ValueError("a write-off amount must be positive; direction says which way it moves")
        return self


# ---- journals -----------------------------------------------------------------------------------

class JournalLine(Schema):
    """Signed amount: positive debits, negative credits."""

    account: NonEmptyStr
    amount: Money
    memo: NonEmptyStr | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    role: Identifier | None = None         # the mapping role the account came from (traceability)
    original_amount: Money | None = None   # before FX conversion to the entity's base currency

    @field_validator("amount")
    @classmethod
    def _non_zero_and_exact(cls, amount: Money) -> Money:
        if amount.is_zero():
            raise ValueError("journal lines must not be zero")
        amount.to_minor()  # more decimals than the currency has would be rounded by the ERP: refuse
        return amount

    @property
    def is_debit(self) -> bool:
        return self.amount.amount > 0


def imbalances(lines: tuple[JournalLine, ...] | list[JournalLine]) -> dict[str, Decimal]:
    """Currency → net amount, for every currency that does not net to zero."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.amount.currency] += line.amount.amount
    return {currency: total for currency, total in totals.items() if total != 0}


class JournalEntry(DocumentBase):
    """A balanced journal. Built from other documents by ``pipeline.enrich``; also a source document."""

    document_type: Literal["journal_entry"] = "journal_entry"
    lines: tuple[JournalLine, ...] = Field(min_length=2)
    mapping_version: int | None = None
    original_accounting_date: date | None = None  # set when a closed period moved the date

    @model_validator(mode="after")
    def _balanced(self) -> JournalEntry:
        off = imbalances(self.lines)
        if off:
            detail = ", ".join(f"{amount} {currency}" for currency, amount in sorted(off.items()))
            raise ValueError(f"journal does not balance: off by {detail}")
        if not any(line.is_debit for line in self.lines) or all(line.is_debit for line in self.lines):
            raise ValueError("journal needs at least one debit and one credit")
        return self

    def totals_by_currency(self) -> dict[str, Money]:
        """Sum of debits per currency (the journal's size)."""
        totals: dict[str, Money] = {}
        for line in self.lines:
            if line.is_debit:
                current = totals.get(line.amount.currency, Money.zero(line.amount.currency))
                totals[line.amount.currency] = current + line.amount
        return totals


Document = Annotated[
    Invoice | CreditNote | Payment | ExpenseReport | CardTransaction | SubscriptionEvent
    | RevenueSchedule | BankTransaction | JournalEntry | Payout | CustomerEvent | ContractEvent | Reversal
    | UsageBatch | Bill | WriteOff,
    Field(discriminator="document_type"),
]
DocumentAdapter: TypeAdapter[Document] = TypeAdapter(Document, config=ConfigDict(defer_build=True))

DOCUMENT_TYPES: tuple[str, ...] = (
    "invoice", "credit_note", "payment", "expense_report", "card_transaction",
    "subscription_event", "revenue_schedule", "bank_transaction", "journal_entry",
    "payout", "customer_event", "contract_event", "reversal", "usage_batch", "bill", "write_off",
)
