"""Revenue recognition, the pure part: which billed lines are deferred, the facts a posting contributes to
revenue schedules, and a line's schedule from its facts.

**Policy** (``revenue_recognition.policies`` in the configuration, see ``config/revenue.py``): a line of an
invoice from a matching (source, entity) whose product is covered and whose service period has at least
``min_service_days`` days posts to ``deferred_revenue[.<product>]`` instead of its revenue role, net of its
discount and inclusive tax (the transaction price), and becomes a **schedule line**. A CRM/CPQ contract with
a term (start and end date) likewise becomes a memorandum backlog schedule (remaining performance
obligation), released from ``contract_backlog_offset`` to ``contract_backlog`` over the term.

**Facts** are what postings contribute, keyed so that a redelivery adds nothing:

- a schedule line per deferred line (posting currency and amount, service period, accounts, allocation
  weights: the line's net, the invoice's net and total);
- a ``credit_note`` per credit-note line (linked to its invoice line when the source says which, else
  allocated over the invoice's lines by net amount) and a ``refund`` per refund (its net share, allocated
  by the invoice's net: its tax share is booked to tax, D88): both keep posting as before (contra revenue)
  and the schedule reclassifies what was still deferred. The allocation is exact (``model.allocation.allocate``, largest
  remainder): the shares of the invoice's deferred lines plus one share for the rest of the invoice (lines
  recognized when billed, tax) add up to the credit or refund to the minor unit;
- a ``cancellation`` per subscription that ended (from the source's subscription events) and a ``void`` per
  cancelled contract.

The schedule of a line is a pure function of its facts (``pipeline.revenue_schedule``): arrival order and
duplicates cannot change it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.config.revenue import DEFERRED_ROLE, RevenuePolicy
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.allocation import allocate
from ledgerlink.model.documents import (
    CREDIT_NOTE_REFUND,
    ContractEvent,
    CreditNote,
    Document,
    Invoice,
    InvoiceLine,
    JournalEntry,
    Payment,
    RevenueAdjustment,
    RevenueSchedule,
    RevenueScheduleEntry,
    Reversal,
    SourceRef,
    SubscriptionEvent,
)
from ledgerlink.model.money import Money

# The schedule line and fact types live in ``model.revenue`` (``store.revenue`` uses them too); importable from here.
from ledgerlink.model.revenue import Facts, RevenueFact, ScheduleLine, UsageTie
from ledgerlink.pipeline.revenue_schedule import Change, LineSchedule, compute

SYSTEM = "ledgerlink"
BACKLOG_ROLE = "contract_backlog"
BACKLOG_OFFSET_ROLE = "contract_backlog_offset"

__all__ = ["BACKLOG_OFFSET_ROLE", "BACKLOG_ROLE", "SYSTEM", "Facts", "RevenueFact", "ScheduleLine", "UsageTie",
           "changes_for", "defer", "facts", "line_schedule", "schedule_document", "schedule_id", "subscription_facts",
           "usage_ties", "void_facts"]


def schedule_id(invoice_document_id: str, line_id: str) -> str:
    return SourceRef(system=SYSTEM, object_type="revenue_schedule", object_id=f"{invoice_document_id}:{line_id}",
                     version="1").document_id()


# ---- policy: which lines are deferred (the enrich step) -------------------------------------------------

def _policy(config: LedgerLinkConfig, document: Document, document_type: str) -> RevenuePolicy | None:
    source_id = document.source.source_id or document.source.system
    return config.revenue_recognition.policy_for(source_id, document.entity_id, document_type)


def _net(line: InvoiceLine, currency: str) -> Money:
    zero = Money.zero(currency)
    return line.amount - (line.inclusive_tax or zero) - (line.discount or zero)


def _eligible(line: InvoiceLine, policy: RevenuePolicy, currency: str) -> bool:
    if line.service_start is None or line.service_end is None or line.revenue_category == DEFERRED_ROLE:
        return False
    return (line.service_end - line.service_start).days >= policy.min_service_days \
        and policy.covers_product(line.product_id) and not _net(line, currency).is_zero()


def defer(document: Document, config: LedgerLinkConfig) -> Document:
    """The document as it posts under the revenue policy: covered invoice lines credit ``deferred_revenue``
    net of their discount (the discount is part of the transaction price, deferred with it)."""
    if not isinstance(document, Invoice):
        return document
    policy = _policy(config, document, "invoice")
    if policy is None:
        return document
    lines, changed = [], False
    for line in document.lines:
        if _eligible(line, policy, document.currency):
            zero = Money.zero(document.currency)
            lines.append(line.model_copy(update={"revenue_category": DEFERRED_ROLE,
                                                 "amount": line.amount - (line.discount or zero), "discount": None}))
            changed = True
        else:
            lines.append(line)
    return document.model_copy(update={"lines": tuple(lines)}) if changed else document


def _role(line: InvoiceLine, category: str) -> tuple[str, ...]:
    return (f"{category}.{line.product_id}", category) if line.product_id else (category,)


def _posting_amount(amount: Money, journal: JournalEntry) -> Money:
    """``amount`` in the journal's currency: converted at the journal's own rate when it was converted."""
    if journal.fx is None or amount.currency == journal.currency:
        return amount
    if journal.fx.from_currency != amount.currency or journal.fx.to_currency != journal.currency:
        raise DocumentRejected(f"cannot express {amount} in {journal.currency}", reason="revenue_currency_mismatch")
    return Money(amount=amount.amount * journal.fx.rate, currency=journal.currency).quantized()


def facts(original: Document, posted_as: Document, journal: JournalEntry, config: LedgerLinkConfig,
          accounts: object) -> Facts:
    """The revenue facts of a document that posts ``journal`` (``posted_as`` is ``defer(original)``).

    ``accounts`` is the enrich step's role → account lookup (``pipeline.enrich.Accounts``), so a schedule
    releases into exactly the account the line would have credited without the deferral."""
    get = accounts.get  # type: ignore[attr-defined]
    if isinstance(original, Invoice) and isinstance(posted_as, Invoice):
        return Facts(lines=tuple(_invoice_lines(original, posted_as, journal, get)),
                     usage=tuple(usage_ties(original, config)))
    if isinstance(original, ContractEvent):
        return _contract(original, config, get)
    if _policy(config, original, "invoice") is None:
        return Facts()   # no revenue policy for this source and entity: credits and refunds change nothing
    if isinstance(original, CreditNote) and original.original_document_id:
        changes = []
        for line in original.lines:
            net = _net(line, original.currency)
            if net.is_zero():
                continue
            _, account = get(*_role(line, line.revenue_category))
            changes.append(RevenueFact(
                fact_id=f"{original.document_id}:{line.line_id}", kind="credit_note", entity_id=original.entity_id,
                document_id=original.document_id, effective_date=journal.accounting_date, currency=journal.currency,
                amount=_posting_amount(net, journal).amount, account=account,
                invoice_document_id=original.original_document_id, line_id=line.applies_to_line_id))
        return Facts(changes=tuple(changes))
    if isinstance(original, Payment) and original.source.object_type == CREDIT_NOTE_REFUND:
        return _credit_refund(original, posted_as, journal)
    if isinstance(original, Payment) and original.direction == "refunded" and original.applies_to_document_id:
        _, account = get("refunds")
        # only the net share is revenue: the tax share went to tax payable (D88)
        tax = posted_as.refunded_tax if isinstance(posted_as, Payment) else ()
        net = original.amount - sum((share.amount for share in tax), Money.zero(original.currency))
        return Facts(changes=(RevenueFact(
            fact_id=original.document_id, kind="refund", entity_id=original.entity_id,
            document_id=original.document_id, effective_date=journal.accounting_date, currency=journal.currency,
            amount=_posting_amount(net, journal).amount, account=account,
            invoice_document_id=original.applies_to_document_id, net_of_tax=True),))
    return Facts()


def _credit_refund(original: Payment, posted_as: Document, journal: JournalEntry) -> Facts:
    """A refund paying out a credit note (D89): the note's facts took the credit out of the schedule, so the refund's
    own fact must not take it again. Recorded as what it offsets: the refund's net share for this note."""
    if not original.applies_to_document_id or not original.refund_document_id:
        return Facts()
    tax = posted_as.refunded_tax if isinstance(posted_as, Payment) else ()
    net = original.amount - sum((share.amount for share in tax), Money.zero(original.currency))
    return Facts(changes=(RevenueFact(
        fact_id=original.document_id, kind="credit_refund", entity_id=original.entity_id,
        document_id=original.document_id, effective_date=journal.accounting_date, currency=journal.currency,
        amount=_posting_amount(net, journal).amount, invoice_document_id=original.applies_to_document_id,
        refund_document_id=original.refund_document_id),))


def void_facts(reversal: Reversal, journal: JournalEntry, config: LedgerLinkConfig) -> Facts:
    """A voided invoice (a ``void`` reversal of its journal, D89): its schedule lines stop on the void date and what
    they recognized is reversed there; the reversal journal itself took the deferral back."""
    if reversal.reason != "void" or reversal.amount is not None or _policy(config, reversal, "invoice") is None:
        return Facts()
    return Facts(changes=(RevenueFact(
        fact_id=reversal.document_id, kind="void", entity_id=reversal.entity_id, document_id=reversal.document_id,
        effective_date=journal.accounting_date, currency=journal.currency,
        invoice_document_id=reversal.original_document_id),))


def _invoice_lines(original: Invoice, posted_as: Invoice, journal: JournalEntry, get: object) -> list[ScheduleLine]:
    currency = original.currency
    invoice_net = sum((_net(line, currency).amount for line in original.lines), Decimal(0))
    out = []
    for position, (before, after) in enumerate(zip(original.lines, posted_as.lines, strict=True)):
        if after.revenue_category != DEFERRED_ROLE or before.revenue_category == DEFERRED_ROLE:
            continue
        assert before.service_start is not None and before.service_end is not None
        net = _net(before, currency)
        billed = _posting_amount(net, journal)
        if billed.is_zero():
            continue
        _, revenue_account = get(*_role(before, before.revenue_category))  # type: ignore[operator]
        _, deferred_account = get(*_role(before, DEFERRED_ROLE))  # type: ignore[operator]
        out.append(ScheduleLine(
            schedule_id=schedule_id(original.document_id, before.line_id), entity_id=original.entity_id,
            source_id=original.source.source_id or original.source.system, invoice_document_id=original.document_id,
            line_id=before.line_id, currency=billed.currency, billed=billed.amount,
            service_start=before.service_start, service_end=before.service_end,
            deferred_account=deferred_account, revenue_account=revenue_account, weight=net.amount,
            invoice_net=invoice_net, invoice_total=original.total.amount, billed_on=journal.accounting_date,
            subscription_id=original.subscription_id, product_id=before.product_id,
            customer=original.party.source_id, description=before.description, position=position))
    return out


def usage_ties(invoice: Invoice, config: LedgerLinkConfig) -> list[UsageTie]:
    """The metered lines of an invoice whose meter is configured (``revenue_recognition.meters``)."""
    ties = []
    for line in invoice.lines:
        usage = line.usage
        meter = config.revenue_recognition.meter_for(usage.meter_id, usage.price_id or line.price_id) if usage else None
        if usage is None or meter is None:
            continue
        ties.append(UsageTie(invoice_document_id=invoice.document_id, line_id=line.line_id, entity_id=invoice.entity_id,
                             event_name=meter.event_name, customer=invoice.party.source_id,
                             period_start=usage.period_start, period_end=usage.period_end,
                             billed_quantity=line.quantity, meter_id=meter.meter))
    return ties


def _contract(document: ContractEvent, config: LedgerLinkConfig, get: object) -> Facts:
    if _policy(config, document, "contract_event") is None:
        return Facts()
    if document.action == "cancelled":
        signed = next(iter(document.related_document_ids), None)
        if signed is None:
            return Facts()
        return Facts(changes=(RevenueFact(
            fact_id=document.document_id, kind="void", entity_id=document.entity_id, document_id=document.document_id,
            effective_date=document.accounting_date, currency=document.currency, invoice_document_id=signed),))
    if document.start_date is None or document.end_date is None or document.end_date < document.start_date:
        return Facts()   # no term: a booking, nothing to release over time
    _, backlog = get(BACKLOG_ROLE)  # type: ignore[operator]
    _, offset = get(BACKLOG_OFFSET_ROLE)  # type: ignore[operator]
    return Facts(lines=(ScheduleLine(
        schedule_id=schedule_id(document.document_id, document.contract_id), entity_id=document.entity_id,
        source_id=document.source.source_id or document.source.system, document_type="contract_event",
        invoice_document_id=document.document_id, line_id=document.contract_id, currency=document.currency,
        billed=document.total.amount, service_start=document.start_date,
        service_end=document.end_date + timedelta(days=1),     # a CRM end date is the last day of the term
        deferred_account=offset, revenue_account=backlog, weight=document.total.amount,
        invoice_net=document.total.amount, invoice_total=document.total.amount, billed_on=document.accounting_date,
        customer=document.party.source_id, description=f"contract {document.contract_id} backlog"),))


def subscription_facts(document: SubscriptionEvent) -> Facts:
    """A subscription that ended: lines of it that reach beyond that day are recognized on it."""
    if document.action != "cancelled":
        return Facts()
    return Facts(changes=(RevenueFact(
        fact_id=document.document_id, kind="cancellation", entity_id=document.entity_id,
        document_id=document.document_id, effective_date=document.accounting_date, currency=document.currency,
        subscription_id=document.subscription_id),))


# ---- a line's schedule from its facts -------------------------------------------------------------------

def _shares(fact: RevenueFact, siblings: Iterable[ScheduleLine]) -> dict[str, Decimal]:
    """schedule id → the share of ``fact`` (a credit-note line naming no invoice line, or a refund) of each
    deferred line of its invoice, by largest remainder. The weights are the lines' nets in invoice order plus
    one weight for the rest of the invoice (lines recognized when billed, tax): the base is the invoice's net
    for a credit note and for a refund's net share (D88), its total for an earlier refund fact that holds the
    whole refund, tax included. When the deferred lines weigh more than
    that base (a negative proration line on the invoice), the whole amount is split over them."""
    lines = sorted((line for line in siblings if line.invoice_document_id == fact.invoice_document_id
                    and line.entity_id == fact.entity_id and line.currency == fact.currency and line.billed > 0
                    and line.weight > 0), key=lambda line: (line.position, line.line_id))
    if not lines or fact.amount <= 0:
        return {}
    base = lines[0].invoice_net if fact.kind == "credit_note" or fact.net_of_tax else lines[0].invoice_total
    weights = [line.weight for line in lines]
    weights.append(max(Decimal(0), base - sum(weights, Decimal(0))))
    shares = allocate(Money(fact.amount, fact.currency), weights)
    return {line.schedule_id: share.amount for line, share in zip(lines, shares, strict=False)}


def _paid_out(line: ScheduleLine, candidates: list[RevenueFact]) -> dict[str, Decimal]:
    """refund document → what the credit notes it paid out already took out of the schedule (D89)."""
    paid_out: dict[str, Decimal] = {}
    for fact in candidates:
        if fact.kind == "credit_refund" and fact.refund_document_id and fact.entity_id == line.entity_id:
            paid_out[fact.refund_document_id] = paid_out.get(fact.refund_document_id, Decimal(0)) + fact.amount
    return paid_out


def _net_of_paid_out(fact: RevenueFact, paid_out: dict[str, Decimal]) -> RevenueFact | None:
    """A refund less what the credit notes it paid out took already (None: nothing left); other facts unchanged."""
    if fact.kind != "refund" or fact.document_id not in paid_out:
        return fact
    if fact.amount <= paid_out[fact.document_id]:
        return None
    return fact.model_copy(update={"amount": fact.amount - paid_out[fact.document_id]})


def _share(fact: RevenueFact, line: ScheduleLine, invoice_lines: dict[str, ScheduleLine]) -> Decimal:
    """This line's part of a credit or refund: all of it when it names the line, else its allocated share."""
    if fact.line_id is not None:
        return fact.amount if fact.line_id == line.line_id else Decimal(0)
    return _shares(fact, invoice_lines.values()).get(line.schedule_id, Decimal(0))


def _change(line: ScheduleLine, fact: RevenueFact, invoice_lines: dict[str, ScheduleLine]) -> Change | None:
    """What ``fact`` does to ``line`` (None: nothing)."""
    kind = fact.kind
    if kind == "cancellation":
        if line.subscription_id and fact.subscription_id == line.subscription_id:
            return Change(fact.fact_id, "cancellation", fact.effective_date, document_id=fact.document_id)
        return None
    if fact.invoice_document_id != line.invoice_document_id or kind == "credit_refund":
        return None
    if kind == "void":
        return Change(fact.fact_id, "void", fact.effective_date, document_id=fact.document_id)
    if fact.currency != line.currency or line.billed <= 0:
        return None
    share = _share(fact, line, invoice_lines)
    return Change(fact.fact_id, kind, fact.effective_date, share, fact.account, fact.document_id) if share > 0 \
        else None


def changes_for(line: ScheduleLine, candidates: Iterable[RevenueFact],
                siblings: Iterable[ScheduleLine] = ()) -> list[Change]:
    """The facts that concern ``line``, with this line's share of each credit or refund. ``siblings`` are the
    schedule lines of the line's invoice (the line itself included or not): an unlinked credit or a refund is
    allocated over all of them at once, so the shares add up to it exactly."""
    invoice_lines = {sibling.schedule_id: sibling for sibling in siblings} | {line.schedule_id: line}
    candidates = list(candidates)
    paid_out = _paid_out(line, candidates)
    out: dict[str, Change] = {}
    for candidate in candidates:
        if candidate.entity_id != line.entity_id or candidate.kind == "credit_refund":
            continue
        fact = _net_of_paid_out(candidate, paid_out)
        change = _change(line, fact, invoice_lines) if fact is not None else None
        if change is not None:
            out[change.fact_id] = change
    return list(out.values())


def line_schedule(line: ScheduleLine, candidates: Iterable[RevenueFact] = (),
                  siblings: Iterable[ScheduleLine] = ()) -> LineSchedule:
    """The schedule of ``line`` given the facts that may concern it and the other schedule lines of its invoice."""
    return compute(line.billed, line.service_start, line.service_end, line.currency,
                   changes_for(line, candidates, siblings))


def schedule_document(line: ScheduleLine, schedule: LineSchedule, *, correlation_id: str) -> RevenueSchedule:
    """The canonical ``RevenueSchedule`` of a line (entries + adjustments = billed, checked by the model)."""
    source = SourceRef(system=SYSTEM, object_type="revenue_schedule",
                       object_id=f"{line.invoice_document_id}:{line.line_id}", version="1", source_id=line.source_id)
    from datetime import UTC, datetime, time

    when = datetime.combine(line.billed_on, time(0), UTC)
    return RevenueSchedule(
        document_id=source.document_id(), source=source, entity_id=line.entity_id, correlation_id=correlation_id,
        occurred_at=when, accounting_date=line.billed_on, currency=line.currency,
        invoice_document_id=line.invoice_document_id, line_id=line.line_id,
        billed=Money(line.billed, line.currency), service_start=line.service_start,
        service_end=line.service_end,
        entries=tuple(RevenueScheduleEntry(period=period, amount=Money(amount, line.currency))
                      for period, amount in schedule.entries.items()),
        adjustments=tuple(RevenueAdjustment(
            fact_id=taken.change.fact_id, kind=taken.change.kind, effective_date=taken.change.effective_date, amount=Money(taken.amount, line.currency),
            account=taken.change.account, document_id=taken.change.document_id)
            for taken in schedule.taken if taken.amount and taken.change.kind != "cancellation"),
        memo=line.description)
