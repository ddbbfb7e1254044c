"""Enrich: a canonical document + the configuration → a balanced journal with GL accounts.

Posting rules (roles are keys of ``account_mappings[].accounts``):

=====================  ==========================================================================
invoice                Dr receivable (total) · Cr revenue[.<product>] per line (net of inclusive
                       tax) · Dr discounts (or revenue net of discounts when unmapped) · Cr tax
credit_note            the mirror image of an invoice (Cr receivable, Dr revenue/discounts/tax)
payment received       Dr cash_clearing (or cash_out_of_band) net · Dr fees.<kind> · Cr receivable
payment refunded       Dr refunds (net share) · Dr tax (its share of the invoice's tax, D88) · Cr cash_clearing
payment chargeback     Dr chargebacks · Dr fees.<kind> (dispute fee) · Cr cash_clearing
refund of credit note  Dr receivable · Cr refunds (net share) · Cr tax (its share): the refund's contra lines
                       credited back, so with the refund Dr receivable · Cr cash_clearing (D89)
write_off              Dr bad_debt · Cr receivable (revenue stays); recovered by a later payment: the mirror
chargeback reversed    Dr cash_clearing · Cr chargebacks (dispute won, funds reinstated)
payout                 Dr payouts_in_transit (net) · Dr fees.<kind> per fee type the provider kept · Dr/Cr
                       adjustments.<kind> (balance movements no event booked) · Cr cash_clearing (what the
                       settled events put there); an item booked in another currency leaves clearing in it
                       against fx_realized, which takes its settled value (currency trading account); failed:
                       mirror
bank_transaction       matched: Dr/Cr bank · the matched item's role (receivable, payouts_in_transit, ...); a
                       receipt beyond what the invoice still had open: that part Cr customer_credit (D92);
                       unmatched: ``cash_unmatched`` exception (cash application needs a person)
contract_event         memorandum booking: Dr contract_backlog · Cr contract_backlog_offset (mirror if cancelled)
expense_report         Dr expense[.<category>] per line · Cr employee_payable (or card_liability)
card_transaction       Dr expense[.<category>] · Cr card_liability
bill                   Dr expense[.<category>] per line · Cr accounts_payable (the vendor in the line memo;
                       an ERP-native bill carries it as the vendor reference)
journal_entry          each line's ``role`` mapped to its account
=====================  ==========================================================================

A role with no account is a :class:`DocumentRejected` with reason ``mapping_missing`` that names
the role, entity and source — never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.allocation import allocate
from ledgerlink.model.documents import (
    CREDIT_NOTE_REFUND,
    BankTransaction,
    Bill,
    CardTransaction,
    ContractEvent,
    CreditNote,
    Document,
    ExpenseReport,
    Invoice,
    InvoiceLine,
    JournalEntry,
    JournalLine,
    Payment,
    Payout,
    WriteOff,
)
from ledgerlink.model.money import Money, sum_money
from ledgerlink.model.prevalidated import journal_entry, journal_line, with_dimensions
from ledgerlink.pipeline.lookups import MappingLookups, lookups_for


class Accounts:
    """Role → account lookups for one (entity, source), raising ``mapping_missing`` with a fix."""

    def __init__(self, config: LedgerLinkConfig, entity_id: str, source_id: str, on: date | None = None) -> None:
        self.entity_id = entity_id
        self.source_id = source_id
        self._lookups = lookups_for(config)
        # as of the document's accounting date; shared between documents of the same day: never mutated
        self.table = self._lookups.accounts(entity_id, source_id, on)
        self._on = on

    def tax_code(self, treatment: str | None) -> str | None:
        """The ERP tax code for a tax treatment as of the accounting date (``*`` row: the default)."""
        return self._lookups.tax_code(self.entity_id, treatment, self._on) if self._on else None

    def has(self, role: str) -> bool:
        return role in self.table

    def get(self, role: str, *fallbacks: str) -> tuple[str, str]:
        """(role actually used, account): the most specific mapped role wins."""
        for candidate in (role, *fallbacks):
            if candidate in self.table:
                return candidate, self.table[candidate]
        raise DocumentRejected(
            f"no GL account mapped for role {role!r} (entity {self.entity_id}, source {self.source_id})",
            reason="mapping_missing", role=role, entity=self.entity_id, source=self.source_id,
            suggested_fix=f"add accounts.{role} to account_mappings for entity {self.entity_id} "
                          f"(source {self.source_id} or '*') and apply the configuration, then retry",
        )


def _line(accounts: Accounts, amount: Money, role: str, *fallbacks: str, memo: str | None = None,
          dimensions: dict[str, str] | None = None) -> JournalLine:
    used, account = accounts.get(role, *fallbacks)
    return journal_line(account=account, amount=amount, role=used, memo=memo, dimensions=dimensions)


def _billing_lines(doc: Invoice | CreditNote, accounts: Accounts, sign: int) -> list[JournalLine]:
    """Invoice lines (sign=+1) or their mirror for a credit note (sign=-1): the receivable, one revenue line per
    item, the discounts (where the chart has a discounts account), one tax line per tax treatment."""
    currency = doc.currency
    lines: list[JournalLine] = [_line(accounts, _signed(doc.total, sign), "receivable",
                                      memo=f"{doc.party.source_id}")] if not doc.total.is_zero() else []
    separate_discounts = accounts.has("discounts")
    taxes: dict[str | None, Money] = {}   # per tax treatment: one tax line per ERP tax code
    discounts = Money.zero(currency)
    for item in doc.lines:
        revenue, discount = _revenue_and_discount(item, currency, separate_discounts)
        discounts = discounts + discount
        tax = (item.tax or Money.zero(currency)) + (item.inclusive_tax or Money.zero(currency))
        if not tax.is_zero():
            taxes[item.tax_treatment] = taxes.get(item.tax_treatment, Money.zero(currency)) + tax
        if not revenue.is_zero():
            lines.append(_revenue_line(item, accounts, _signed(-revenue, sign)))
    if not discounts.is_zero():
        lines.append(_line(accounts, _signed(discounts, sign), "discounts", memo="discounts"))
    for treatment, tax in sorted(taxes.items(), key=lambda item: item[0] or ""):
        code = accounts.tax_code(treatment)
        lines.append(_line(accounts, _signed(-tax, sign), "tax", memo=f"tax ({treatment})" if treatment else "tax",
                           dimensions={"tax_code": code} if code else None))
    return lines


def _revenue_and_discount(item: InvoiceLine, currency: str, separate_discounts: bool) -> tuple[Money, Money]:
    """A line's revenue (net of inclusive tax and, unless the chart books discounts apart, of its discount) and
    the discount booked apart (zero when none)."""
    revenue = item.amount - (item.inclusive_tax or Money.zero(currency))
    if item.discount and not separate_discounts:
        return revenue - item.discount, Money.zero(currency)
    if item.discount:   # net of the tax it contains, like the revenue it reduces (issue 17)
        discount = _discount_net_of_tax(item, currency)
        return revenue - item.discount + discount, discount
    return revenue, Money.zero(currency)


def _revenue_line(item: InvoiceLine, accounts: Accounts, amount: Money) -> JournalLine:
    """The revenue line of an invoice item: its product's account where the chart has one, else its category's."""
    specific = [f"{item.revenue_category}.{item.product_id}"] if item.product_id else []
    role = specific[0] if specific else item.revenue_category
    fallbacks = [item.revenue_category] if specific else []
    code = accounts.tax_code(item.tax_treatment) if item.tax_treatment else None
    return _line(accounts, amount, role, *fallbacks, memo=item.description,
                 dimensions={"tax_code": code} if code else None)


def _discount_net_of_tax(item: InvoiceLine, currency: str) -> Money:
    """A line's discount less the tax it contains. Inclusive tax is computed on the discounted price, so the
    discount holds tax in the proportion net : tax of what remains; it is split so by ``allocate`` (159.50
    incl. tax, 15.95 off, 8.55 tax: 15.95 over (135.00, 8.55) → 15.00 discount, revenue 150.00)."""
    assert item.discount is not None
    tax = item.inclusive_tax or Money.zero(currency)
    net = item.amount - item.discount - tax
    if tax.is_zero() or net.amount * tax.amount <= 0:   # no tax inside, or nothing left to scale by
        return item.discount
    return allocate(item.discount, [abs(net.amount), abs(tax.amount)])[0]


def _signed(amount: Money, sign: int) -> Money:
    return amount if sign > 0 else -amount


def _invoice(doc: Invoice, accounts: Accounts) -> list[JournalLine]:
    return _billing_lines(doc, accounts, +1)


def _credit_note(doc: CreditNote, accounts: Accounts) -> list[JournalLine]:
    return _billing_lines(doc, accounts, -1)


def _payment(doc: Payment, accounts: Accounts) -> list[JournalLine]:
    if doc.direction in ("chargeback", "chargeback_reversed"):
        return _chargeback(doc, accounts)
    if doc.source.object_type == CREDIT_NOTE_REFUND:
        return _credit_note_refund(doc, accounts)
    if doc.direction == "refunded":
        return _refund(doc, accounts)
    cash_role = "cash_out_of_band" if doc.method == "out_of_band" else "cash_clearing"
    lines = [_line(accounts, doc.net, cash_role, memo=doc.reference)] if not doc.net.is_zero() else []
    for fee in doc.fees:
        lines.append(_line(accounts, fee.amount, f"fees.{fee.kind}", "fees", memo=fee.description))
    # cash received beyond the open amount of the invoice it paid (a source emits it as an ``unapplied_payment``)
    # is owed to the customer until applied or refunded: never credited to the receivable (issue 17)
    credit_role = "customer_credit" if doc.source.object_type == "unapplied_payment" else "receivable"
    lines.append(_line(accounts, -doc.amount, credit_role, memo=doc.party.source_id if doc.party else None))
    return lines


def _refund(doc: Payment, accounts: Accounts) -> list[JournalLine]:
    """Dr refunds (net share) · Dr tax (the refund's share of its invoice's tax, per treatment, D88) · Cr cash."""
    lines = [_line(accounts, doc.amount - sum_money([tax.amount for tax in doc.refunded_tax], doc.currency),
                   "refunds", memo=doc.reference)]
    for tax in doc.refunded_tax:
        code = accounts.tax_code(tax.treatment) if tax.treatment else None
        lines.append(_line(accounts, tax.amount, "tax", memo=f"refund tax ({tax.treatment})" if tax.treatment
                           else "refund tax", dimensions={"tax_code": code} if code else None))
    lines.append(_line(accounts, -doc.amount, "cash_clearing", memo=doc.reference))
    return lines


def _credit_note_refund(doc: Payment, accounts: Accounts) -> list[JournalLine]:
    """A refund that pays out a credit note (D89): the credit note already reduced revenue and tax, so what the
    refund's own rule debits to contra accounts (refunds, its tax share) is credited back and the customer's
    balance is charged instead — with the refund: Dr receivable · Cr cash_clearing, whichever arrives first."""
    as_refund = doc.model_copy(update={"source": doc.source.model_copy(update={"object_type": "refund"})})
    contra = [line for line in _refund(as_refund, accounts) if line.role != "cash_clearing"]
    return [_line(accounts, doc.amount, "receivable", memo=doc.party.source_id if doc.party else doc.reference),
            *(line.model_copy(update={"amount": -line.amount}) for line in contra)]


def _write_off(doc: WriteOff, accounts: Accounts) -> list[JournalLine]:
    """Dr bad_debt · Cr receivable (an impairment: revenue stays); recovered by a later payment: the mirror."""
    sign = 1 if doc.direction == "written_off" else -1
    return [_line(accounts, _signed(doc.amount, sign), "bad_debt", memo=doc.original_document_id),
            _line(accounts, _signed(-doc.amount, sign), "receivable", memo=doc.party.source_id)]


def _chargeback(doc: Payment, accounts: Accounts) -> list[JournalLine]:
    sign = 1 if doc.direction == "chargeback" else -1
    lines = [_line(accounts, _signed(doc.amount, sign), "chargebacks", memo=doc.reference)]
    for fee in doc.fees:
        lines.append(_line(accounts, _signed(fee.amount, sign), f"fees.{fee.kind}", "fees", memo=fee.description))
    total = doc.amount + sum_money([fee.amount for fee in doc.fees], doc.currency)
    lines.append(_line(accounts, _signed(-total, sign), "cash_clearing", memo=doc.reference))
    return lines


def _payout(doc: Payout, accounts: Accounts) -> list[JournalLine]:
    sign = 1 if doc.direction == "paid" else -1
    lines = [_line(accounts, _signed(doc.amount, sign), "payouts_in_transit", memo=doc.reference)]
    for fee in doc.fees:
        lines.append(_line(accounts, _signed(fee.amount, sign), f"fees.{fee.kind}", "fees", memo=fee.description))
    for adjustment in doc.adjustments:   # + raised the provider balance: credited to its role
        lines.append(_line(accounts, _signed(-adjustment.amount, sign), f"adjustments.{adjustment.kind}",
                           "processor_adjustments", memo=f"{adjustment.count} {adjustment.kind} item(s)"))
    for conversion in doc.conversions:   # booked in another currency: leaves clearing in it, at the provider's rate
        memo = f"{conversion.reference or doc.reference} at {conversion.rate}" if conversion.rate else doc.reference
        lines.append(_line(accounts, _signed(-conversion.original, sign), "cash_clearing", memo=memo))
        lines.append(_line(accounts, _signed(conversion.original, sign), "fx_realized", memo=memo))
        lines.append(_line(accounts, _signed(-conversion.settled, sign), "fx_realized", memo=memo))
    if not doc.gross.is_zero():   # a payout of adjustments alone relieves clearing of nothing
        lines.append(_line(accounts, _signed(-doc.gross, sign), "cash_clearing", memo=doc.reference))
    return lines


def _bank_transaction(doc: BankTransaction, accounts: Accounts) -> list[JournalLine]:
    if not doc.counter_role:
        direction = "credit" if doc.amount.amount > 0 else "debit"
        raise DocumentRejected(
            f"bank {direction} of {doc.amount} on {doc.booking_date} ({doc.reference or 'no reference'}) matches no "
            "open invoice or payout", reason="cash_unmatched", bank_account=doc.bank_account,
            amount=doc.amount.canonical(), currency=doc.currency, references=",".join(doc.match_candidates),
            suggested_fix="find what the line settles (invoice, payout, fee, transfer), post it manually or add "
                          "the missing source document, then resolve this case",
        )
    lines = [_line(accounts, doc.amount, "bank", memo=doc.reference)]
    if not doc.applied.is_zero():
        lines.append(_line(accounts, -doc.applied, doc.counter_role, memo=doc.applies_to_document_id))
    if doc.unapplied is not None:   # beyond what the invoice still had open: owed to the customer (D92)
        lines.append(_line(accounts, -doc.unapplied, "customer_credit",
                           memo=f"unapplied: {doc.applies_to_document_id} was {doc.applied} open"))
    return lines


def _contract_event(doc: ContractEvent, accounts: Accounts) -> list[JournalLine]:
    sign = 1 if doc.action == "signed" else -1
    return [
        _line(accounts, _signed(doc.total, sign), "contract_backlog", memo=doc.contract_id),
        _line(accounts, _signed(-doc.total, sign), "contract_backlog_offset", memo=doc.party.source_id),
    ]


def _expense_report(doc: ExpenseReport, accounts: Accounts) -> list[JournalLine]:
    lines = [_line(accounts, item.amount, f"expense.{item.category}", "expense", memo=item.description)
             for item in doc.lines]
    credit_role = "employee_payable" if doc.reimbursable else "card_liability"
    lines.append(_line(accounts, -doc.total, credit_role, memo=doc.employee.source_id))
    return lines


def _card_transaction(doc: CardTransaction, accounts: Accounts) -> list[JournalLine]:
    category = f"expense.{doc.category}" if doc.category else "expense"
    return [
        _line(accounts, doc.amount, category, "expense", memo=doc.merchant),
        _line(accounts, -doc.amount, "card_liability", memo=doc.cardholder.source_id),
    ]


def _bill(doc: Bill, accounts: Accounts) -> list[JournalLine]:
    lines = [_line(accounts, item.amount, f"expense.{item.category}", "expense", memo=item.description)
             for item in doc.lines]
    vendor = f"{doc.party.name} [{doc.party.source_id}]" if doc.party.name else doc.party.source_id
    lines.append(_line(accounts, -doc.total, "accounts_payable", memo=vendor))
    return lines


def _journal(doc: JournalEntry, accounts: Accounts) -> list[JournalLine]:
    mapped = []
    for line in doc.lines:
        if line.role:
            used, account = accounts.get(line.role)
            mapped.append(line.model_copy(update={"account": account, "role": used}))
        else:
            mapped.append(line)
    return mapped


_RULES: dict[str, Callable[..., list[JournalLine]]] = {
    "invoice": _invoice,
    "credit_note": _credit_note,
    "payment": _payment,
    "expense_report": _expense_report,
    "card_transaction": _card_transaction,
    "bill": _bill,
    "journal_entry": _journal,
    "payout": _payout,
    "bank_transaction": _bank_transaction,
    "contract_event": _contract_event,
    "write_off": _write_off,
}


def postable(document_type: str) -> bool:
    # reversals mirror the original's posted journal (pipeline.compensation, in the enrich step)
    return document_type in _RULES or document_type == "reversal"


def _merge(lines: list[JournalLine]) -> tuple[JournalLine, ...]:
    """Drop zero lines (a discount equal to the line amount) and keep the order."""
    return tuple(line for line in lines if not line.amount.is_zero())


def enrich(document: Document, config: LedgerLinkConfig, *, config_version: int) -> JournalEntry:
    lookups = lookups_for(config)
    try:
        lookups.entity(document.entity_id)
    except KeyError:
        raise DocumentRejected(f"unknown legal entity {document.entity_id!r}", reason="unknown_entity",
                               entity=document.entity_id,
                               suggested_fix="add the entity to the configuration or map the source account to "
                                             "an existing entity") from None
    rule = _RULES.get(document.document_type)
    if rule is None:
        raise DocumentRejected(f"no posting rule for {document.document_type} documents",
                               reason="no_posting_rule", document_type=document.document_type)
    source_id = document.source.source_id or document.source.system
    accounts = Accounts(config, document.entity_id, source_id, document.accounting_date)
    lines = _with_dimensions(_merge(rule(document, accounts)), document, lookups, source_id)
    try:
        return journal_entry(
            document_id=document.document_id, source=document.source, entity_id=document.entity_id,
            correlation_id=document.correlation_id, occurred_at=document.occurred_at,
            accounting_date=document.accounting_date, currency=document.currency,
            memo=document.memo or _default_memo(document), related_document_ids=document.related_document_ids,
            lines=lines, mapping_version=config_version,
        )
    except ValueError as exc:
        raise DocumentRejected(f"journal for {document.document_id} is invalid: {exc}",
                               reason="unbalanced_journal") from None


def _employee_of(document: Document) -> str | None:
    fields = document.__dict__  # not getattr(): a pydantic model's missing attribute is a slow exception
    party = fields.get("employee") or fields.get("cardholder")
    return party.source_id if party is not None else None


def _with_dimensions(lines: tuple[JournalLine, ...], document: Document, lookups: MappingLookups,
                     source_id: str) -> tuple[JournalLine, ...]:
    """The mapping service's dimensions, as of the accounting date: rules by source / product / category /
    employee, the employee's cost center, and the tax code on tax lines. A line's own dimensions win."""
    on, entity = document.accounting_date, document.entity_id
    employee_id = _employee_of(document)
    employee = lookups.employee(source_id, employee_id, on) if employee_id else None
    result = []
    for line in lines:
        role = line.role or ""
        head, _, tail = role.partition(".")
        dimensions = lookups.dimensions(
            entity, source=source_id, on=on, product_id=tail if head == "revenue" and tail else None,
            category=tail if head == "expense" and tail else None, employee=employee_id)
        if employee is not None and employee.cost_center:
            dimensions.setdefault("cost_center", employee.cost_center)
        if head == "tax" and "tax_code" not in line.dimensions:
            code = lookups.tax_code(entity, None, on)  # the default ('*') tax code
            if code:
                dimensions["tax_code"] = code
        if dimensions:
            line = with_dimensions(line, {**dimensions, **line.dimensions})
        result.append(line)
    return tuple(result)


def _default_memo(document: Document) -> str:
    number = document.__dict__.get("number")
    label = document.document_type.replace("_", " ")
    return f"{label} {number or document.source.object_id}"
