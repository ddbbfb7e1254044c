"""Stripe events → canonical documents.

Handled (both the 2020-08-27 shape and the current API shape, where invoices lost ``charge``/``paid``
and gained ``parent``, ``taxes`` and ``pricing``):

- ``invoice.finalized`` → Invoice (receivable);
- ``invoice.paid`` / ``invoice.payment_succeeded`` → the same Invoice (same id: whichever event arrives
  first posts it, so a missed or late ``invoice.finalized`` loses nothing) + a Payment for
  ``amount_paid``. Both events describe one payment, so both yield the same Payment id;
- ``charge.refunded`` → one refund Payment per refund (``direction="refunded"``), linked to the
  invoice when the charge paid one. Newer API versions omit ``charge.refunds``; with the source's cash-data API the
  charge's refunds are listed (``stripe/api.py``) and the event's are those making up the increase of
  ``amount_refunded`` over ``previous_attributes.amount_refunded``, each under its own id; without it (or when the
  list does not add up) the increase posts as one refund named after the charge.

- ``invoice.voided`` → the Invoice + a Reversal of its journal (void, dated ``voided_at``; its schedules stop);
  ``invoice.marked_uncollectible`` → the Invoice + a WriteOff of ``amount_remaining`` (Dr bad_debt · Cr
  receivable); a later ``invoice.paid`` of it first recovers the write-off for the amount paid (D89);
- ``credit_note.created`` → CreditNote (the mirror of an invoice), linked to its invoice, and for each refund a
  post-payment note pays out (``refunds[].refund``, or ``refund``) a ``credit_note_refund`` Payment that moves the
  refund's contra revenue and tax to the customer's balance (D89: with the refund, Dr receivable · Cr cash);
- ``charge.dispute.created`` / ``charge.dispute.funds_withdrawn`` → one chargeback Payment per dispute
  (Dr chargebacks · Dr fees.dispute · Cr cash_clearing; inquiries move no money and are recorded);
  ``charge.dispute.funds_reinstated`` or ``charge.dispute.closed`` (won) → its compensation, linked to it;
- ``customer.subscription.created`` / ``.updated`` / ``.deleted`` → SubscriptionEvent (created / updated /
  cancelled) — recorded for revenue schedules, no journal;
- ``billing.meter_event`` → UsageBatch: a copy of the meter events your product reports to Stripe (Stripe does not
  send them: your metering pipeline forwards them, in Stripe's event envelope, to a ``kind: stripe`` source with
  its own signing secret). ``data.object`` is one ``billing.meter_event`` or a list of them; they are aggregated,
  never posted, and tie to the metered invoice line that bills them (``revenue_recognition.meters``);
- ``payout.paid`` → Payout (Dr payouts_in_transit · Cr cash_clearing; the bank line that receives it clears
  the transit account at cash application); ``payout.failed`` → its compensation. With the source's cash-data
  API (``api``), an automatic payout's balance transactions are fetched (``stripe/api.py``) and it posts as one
  deposit with Stripe's fees per fee type and its adjustments (``stripe/payouts.py``, D83), at
  ``payout.reconciliation_completed`` when ``payout.paid`` says reconciliation is still in progress. Without
  it, a payout's own fee (instant payouts, when its ``balance_transaction`` is expanded) posts to
  ``fees.payout``.

Every other event type is *ignored with a reason* (recorded by the caller, acknowledged to Stripe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import ValidationError

from ledgerlink.config.model import Entity, StripeSource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    local_date,
    local_day,
    utc_instant,
)
from ledgerlink.connectors.sources.reading import (
    array_at,
    as_int,
    data_object,
    get,
    id_of,
    integer,
    items,
    obj,
    obj_at,
    obj_or_none,
    objects,
    require_int,
    require_text,
    text,
    text_or_none,
)
from ledgerlink.connectors.sources.stripe.currencies import Flow, stripe_money
from ledgerlink.connectors.sources.stripe.payouts import Settlement, settle
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import (
    CREDIT_NOTE_REFUND,
    CreditNote,
    Fee,
    Invoice,
    InvoiceLine,
    MeteredUsage,
    Party,
    Payment,
    Payout,
    Reversal,
    SourceRef,
    SubscriptionEvent,
    SubscriptionItem,
    UsageBatch,
    UsageRecord,
    WriteOff,
)
from ledgerlink.model.ids import fingerprint
from ledgerlink.model.json import JsonArray, JsonObject, JsonValue
from ledgerlink.model.money import Money
from ledgerlink.pipeline.lookups import lookups_for

SYSTEM = "stripe"
HANDLED_EVENT_TYPES = ("invoice.finalized", "invoice.paid", "invoice.payment_succeeded", "invoice.voided",
                       "invoice.marked_uncollectible", "charge.refunded",
                       "credit_note.created", "charge.dispute.created", "charge.dispute.funds_withdrawn",
                       "charge.dispute.funds_reinstated", "charge.dispute.closed", "customer.subscription.created",
                       "customer.subscription.updated", "customer.subscription.deleted", "payout.paid",
                       "payout.reconciliation_completed", "payout.failed", "billing.meter_event")
SETTLED_REFUND_STATUSES = {"succeeded", "pending"}  # Stripe debits the balance when the refund is created


# ---- readers ----------------------------------------------------------------------------------

def _money(minor_units: int, currency: str, *, flow: Flow = "amount") -> Money:
    """A Stripe integer amount, by Stripe's currency table (``stripe/currencies.py``), not ISO 4217's."""
    return stripe_money(minor_units, currency, flow=flow)


def _date(unix_seconds: JsonValue, entity: Entity) -> date | None:
    return local_day(unix_seconds, entity) if isinstance(unix_seconds, int) else None


def _entity_for(event: JsonObject, ctx: NormalizeContext) -> Entity:
    lookups = lookups_for(ctx.config)
    source = lookups.source(ctx.source_id)
    if not isinstance(source, StripeSource):
        raise NormalizationError(f"source {ctx.source_id!r} is not a Stripe source", reason="source_mismatch")
    account = event.get("account")
    if account is not None and not isinstance(account, str):
        raise NormalizationError("event.account is not a Stripe account id", reason="missing_field", field="account")
    entity_id = source.entity_for_account(account)  # a Connect account nobody mapped is a case, not the default
    if entity_id is None:
        raise unknown_account("Stripe", "account", str(account), ctx.source_id)
    return lookups.entity(entity_id)


def _source_ref(event: JsonObject, object_type: str, object_id: str, version: str,
                ctx: NormalizeContext) -> SourceRef:
    return SourceRef(system=SYSTEM, object_type=object_type, object_id=object_id, version=version,
                     event_id=text(event, "id"), event_type=text(event, "type"),
                     account=text_or_none(event, "account"), archive_key=ctx.archive_key,
                     source_id=ctx.source_id)


def _nonzero(amount: Money) -> Money | None:
    return None if amount.is_zero() else amount


def _quantity(holder: JsonObject) -> Decimal:
    """A line's or item's ``quantity`` (an integer; 1 when absent or not one)."""
    quantity = integer(holder, "quantity")
    return Decimal(quantity if quantity is not None else 1)


# ---- invoices ----------------------------------------------------------------------------------

def _split_taxes(taxes: JsonArray, currency: str, where: str,
                 is_inclusive: Callable[[JsonValue], bool]) -> tuple[Money, Money]:
    exclusive, inclusive = Money.zero(currency), Money.zero(currency)
    for tax in taxes:
        amount = _money(require_int(tax, "amount", where), currency)
        if is_inclusive(tax):
            inclusive += amount
        else:
            exclusive += amount
    return exclusive, inclusive


def _line_taxes(line: JsonObject, currency: str) -> tuple[Money, Money]:
    """(exclusive, inclusive) tax of a line. Old shape: ``tax_amounts[].inclusive``; new: ``taxes[].tax_behavior``."""
    old_exclusive, old_inclusive = _split_taxes(items(line, "tax_amounts", "line"), currency, "line.tax_amounts[]",
                                                lambda tax: bool(get(tax, "inclusive")))
    new_exclusive, new_inclusive = _split_taxes(items(line, "taxes", "line"), currency, "line.taxes[]",
                                                lambda tax: get(tax, "tax_behavior") == "inclusive")
    return old_exclusive + new_exclusive, old_inclusive + new_inclusive


def _line_treatment(line: JsonObject) -> str | None:
    """Stripe's ``taxability_reason`` of the line's tax (``standard_rated``, ``reverse_charge``, ...), old or new
    shape; the mapping service turns it into the ERP's tax code."""
    for tax in [*items(line, "taxes", "line"), *items(line, "tax_amounts", "line")]:
        reason = text(tax, "taxability_reason")
        if reason:
            return reason
    return None


def _invoice_taxes(invoice: JsonObject, currency: str) -> Money:
    """Exclusive tax at invoice level, from whichever shape is present."""
    total = Money.zero(currency)
    for tax in items(invoice, "total_tax_amounts", "invoice"):
        if not get(tax, "inclusive"):
            total += _money(require_int(tax, "amount", "invoice.total_tax_amounts[]"), currency)
    for tax in items(invoice, "total_taxes", "invoice"):
        if get(tax, "tax_behavior") != "inclusive":
            total += _money(require_int(tax, "amount", "invoice.total_taxes[]"), currency)
    return total


def _discounts(holder: JsonObject, key: str, currency: str, where: str) -> Money:
    total = Money.zero(currency)
    for item in items(holder, key, where):
        total += _money(require_int(item, "amount", f"{where}.{key}[]"), currency)
    return total


def _line_product(line: JsonObject) -> tuple[str | None, str | None]:
    details = obj_at(obj_at(line, "pricing"), "price_details")
    for holder, price_id in ((obj_at(line, "price"), text(line.get("price"), "id")),
                             (obj_at(line, "plan"), text(line.get("plan"), "id")),
                             (details, id_of(details.get("price")))):
        if holder:
            product = id_of(holder.get("product"))
            if product or price_id:
                return product, price_id
    return None, None


def _line_proration(line: JsonObject) -> bool:
    proration = line.get("proration")
    if isinstance(proration, bool):
        return proration
    parent = obj_at(line, "parent")
    for key in ("subscription_item_details", "invoice_item_details"):
        details = get(parent, key)
        if isinstance(details, dict) and parent.get("type") == key and isinstance(details.get("proration"), bool):
            return bool(details["proration"])
    return False


def _line_usage(line: JsonObject, price_id: str | None, ctx: NormalizeContext) -> MeteredUsage | None:
    """A metered line (``recurring.usage_type: metered``, or a price a configured meter names) and its exact
    billing period, for the usage tie-out."""
    holders = [obj_at(line, key) for key in ("price", "plan") if isinstance(line.get(key), dict)]
    recurring = [obj_at(h, "recurring") if isinstance(h.get("recurring"), dict) else h for h in holders]
    metered = any(r.get("usage_type") == "metered" for r in recurring)
    meter_id = next((meter for meter in (text(r, "meter") for r in recurring) if meter is not None), None)
    if not metered and ctx.config.revenue_recognition.meter_for(None, price_id) is None:
        return None
    period = obj_at(line, "period")
    start, end = as_int(period.get("start")), as_int(period.get("end"))
    if start is None or end is None or end <= start:
        return None
    return MeteredUsage(meter_id=meter_id, price_id=price_id, period_start=utc_instant(start),
                        period_end=utc_instant(end))


def _invoice_subscription(invoice: JsonObject) -> str | None:
    subscription = id_of(invoice.get("subscription"))
    if subscription:
        return subscription
    parent = obj_at(invoice, "parent")
    if parent.get("type") == "subscription_details" and isinstance(parent.get("subscription_details"), dict):
        return id_of(get(parent.get("subscription_details"), "subscription"))
    return None


def _summary_line(invoice: JsonObject, currency: str) -> InvoiceLine:
    """The one revenue line of an invoice whose lines Stripe truncated, from its totals."""
    subtotal = _money(require_int(invoice, "subtotal", "invoice"), currency)
    discount = _discounts(invoice, "total_discount_amounts", currency, "invoice")
    tax = _invoice_taxes(invoice, currency)
    return InvoiceLine(line_id=f"{invoice['id']}:summary", description="invoice subtotal (lines truncated)",
                       amount=subtotal, discount=_nonzero(discount), tax=_nonzero(tax))


def _invoice_line(invoice: JsonObject, raw: JsonValue, position: int, currency: str, entity: Entity,
                  ctx: NormalizeContext | None) -> InvoiceLine:
    where = f"invoice.lines[{position}]"
    if not isinstance(raw, dict):
        raise NormalizationError(f"{where} is not an object", reason="missing_field", field=where)
    line_currency = raw.get("currency", currency)
    if isinstance(line_currency, str) and line_currency.lower() != currency.lower():
        raise NormalizationError(f"{where} is in {line_currency}, invoice in {currency}",
                                 reason="currency_mismatch")
    amount = _money(require_int(raw, "amount", where), currency)
    discount = _discounts(raw, "discount_amounts", currency, where)
    exclusive, inclusive = _line_taxes(raw, currency)
    product, price = _line_product(raw)
    period = obj_at(raw, "period")
    return InvoiceLine(
        line_id=str(raw.get("id") or f"{invoice['id']}:{position}"),
        description=text_or_none(raw, "description"),
        amount=amount, discount=_nonzero(discount), tax=_nonzero(exclusive), inclusive_tax=_nonzero(inclusive),
        tax_treatment=_line_treatment(raw), quantity=_quantity(raw),
        product_id=product, price_id=price,
        service_start=_date(period.get("start"), entity), service_end=_date(period.get("end"), entity),
        proration=_line_proration(raw),
        usage=_line_usage(raw, price, ctx) if ctx is not None else None,
    )


def _invoice_lines(invoice: JsonObject, currency: str, entity: Entity,
                   ctx: NormalizeContext | None = None) -> tuple[list[InvoiceLine], str | None]:
    """Lines with their discounts and taxes; when Stripe truncated the list, one summary line.

    Webhooks embed at most the first page of lines (``has_more``). The invoice totals are still exact,
    so a truncated invoice posts one revenue line for the subtotal (memo says so) instead of guessing.
    """
    lines_obj = obj_at(invoice, "lines")
    raw_lines = array_at(lines_obj, "data")
    if lines_obj.get("has_more") or not raw_lines:
        return [_summary_line(invoice, currency)], "line detail truncated by Stripe; posted from invoice totals"
    return [_invoice_line(invoice, raw, position, currency, entity, ctx)
            for position, raw in enumerate(raw_lines)], None


def _metadata(invoice: JsonObject) -> JsonObject:
    """The invoice's metadata over its subscription's (``subscription_details``; ``parent`` in newer API versions)."""
    merged: JsonObject = {}
    parent = obj_at(invoice, "parent")
    for holder in (parent.get("subscription_details"), invoice.get("subscription_details"), invoice):
        merged.update(obj_at(holder, "metadata"))
    return merged


def _invoice_party(invoice: JsonObject, ctx: NormalizeContext | None = None) -> Party:
    customer = id_of(invoice.get("customer"))
    if not customer:
        raise NormalizationError("invoice has no customer", reason="missing_field", field="invoice.customer")
    country = text(invoice.get("customer_address"), "country")
    source = lookups_for(ctx.config).source(ctx.source_id) if ctx is not None else None
    keys = source.crm_metadata_keys if isinstance(source, StripeSource) else {}
    metadata = _metadata(invoice) if keys else {}
    external = {identity: str(value).strip() for key, identity in keys.items()
                if isinstance(value := metadata.get(key), str | int) and str(value).strip()}
    return Party(role="customer", source_id=customer, name=text_or_none(invoice, "customer_name"),
                 country=country if country is not None and len(country) == 2 else None, external_ids=external)


def invoice_document(event: JsonObject, invoice: JsonObject, ctx: NormalizeContext) -> Invoice:
    entity = _entity_for(event, ctx)
    invoice_id = require_text(invoice, "id", "invoice")
    currency = require_text(invoice, "currency", "invoice")
    total = _money(require_int(invoice, "total", "invoice"), currency)
    lines, memo = _invoice_lines(invoice, currency, entity, ctx)
    transitions = obj_at(invoice, "status_transitions")
    finalized_at = transitions.get("finalized_at") or invoice.get("effective_at") or invoice.get("created")
    if not isinstance(finalized_at, int):
        raise NormalizationError("invoice has no finalization time", reason="missing_field",
                                 field="invoice.status_transitions.finalized_at")
    occurred = utc_instant(finalized_at)
    source = _source_ref(event, "invoice", invoice_id, "finalized", ctx)
    try:
        return Invoice(
            document_id=source.document_id(), source=source, entity_id=entity.id,
            correlation_id=ctx.correlation_id, occurred_at=occurred, accounting_date=local_date(occurred, entity),
            currency=currency, memo=memo, party=_invoice_party(invoice, ctx),
            number=text_or_none(invoice, "number"), lines=tuple(lines), total=total,
            due_date=_date(invoice.get("due_date"), entity), subscription_id=_invoice_subscription(invoice),
        )
    except ValidationError as exc:
        raise NormalizationError(f"invoice {invoice_id} does not tie out: {_first_error(exc)}",
                                 reason="amounts_inconsistent", invoice=invoice_id) from None


def _payment_reference(invoice: JsonObject) -> str | None:
    for key in ("charge", "payment_intent"):
        ref = id_of(invoice.get(key))
        if ref:
            return ref
    for item in array_at(obj_at(invoice, "payments"), "data"):
        payment = get(item, "payment")
        if isinstance(payment, dict):
            ref = id_of(payment.get("charge")) or id_of(payment.get("payment_intent"))
            if ref:
                return ref
    return None


def invoice_payment_document(event: JsonObject, invoice: JsonObject, invoice_doc: Invoice,
                             ctx: NormalizeContext) -> Payment | None:
    amount_paid = require_int(invoice, "amount_paid", "invoice")
    if amount_paid <= 0:
        return None
    entity = _entity_for(event, ctx)
    transitions = obj_at(invoice, "status_transitions")
    paid_at = transitions.get("paid_at") or event.get("created")
    if not isinstance(paid_at, int):
        raise NormalizationError("invoice has no payment time", reason="missing_field",
                                 field="invoice.status_transitions.paid_at")
    occurred = utc_instant(paid_at)
    # One payment per invoice: invoice.paid and invoice.payment_succeeded describe the same money. It applies at
    # most the invoice's total (what its receivable holds); the excess is the customer's credit (issue 17).
    source = _source_ref(event, "invoice_payment", invoice_doc.source.object_id, "paid", ctx)
    out_of_band = bool(invoice.get("paid_out_of_band"))
    applied = min(_money(amount_paid, invoice_doc.currency), invoice_doc.total, key=lambda money: money.amount)
    return Payment(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=invoice_doc.currency,
        party=invoice_doc.party, amount=applied,
        applies_to_document_id=invoice_doc.document_id, related_document_ids=(invoice_doc.document_id,),
        method="out_of_band" if out_of_band else "stripe", reference=_payment_reference(invoice),
        memo=f"payment of invoice {invoice_doc.number or invoice_doc.source.object_id}",
    )


def invoice_overpayment_document(event: JsonObject, invoice: JsonObject, payment: Payment,
                                 ctx: NormalizeContext) -> Payment | None:
    """The part of ``amount_paid`` above the invoice total, as its own receipt that names no invoice (object type
    ``unapplied_payment``: Dr cash · Cr customer_credit), or None. Same event, same id: posted once."""
    excess = _money(require_int(invoice, "amount_paid", "invoice"), payment.currency) - payment.amount
    if excess.amount <= 0:
        return None
    source = _source_ref(event, "unapplied_payment", payment.source.object_id, "paid", ctx)
    return Payment.model_validate({
        **payment.model_dump(), "document_id": source.document_id(), "source": source, "amount": excess,
        "applies_to_document_id": None,
        "memo": f"overpayment of invoice {payment.source.object_id}: {excess} unapplied (customer credit)"})


def _lines_move(invoice: JsonObject) -> bool:
    """Whether any embedded line of a zero-total invoice has an amount (proration lines that net to zero)."""
    lines = obj_at(invoice, "lines")
    return any(isinstance(amount := get(line, "amount"), int) and amount != 0
               for line in array_at(lines, "data"))


def _changes_schedules(invoice_doc: Invoice, ctx: NormalizeContext) -> bool:
    """Whether the revenue policy defers any line of the invoice (it then adds schedule lines)."""
    from ledgerlink.pipeline.revenue import defer

    return defer(invoice_doc, ctx.config) is not invoice_doc


def _normalize_invoice(event: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    invoice = data_object(event)
    if invoice.get("object") not in (None, "invoice"):
        raise NormalizationError("event data is not an invoice", reason="unexpected_object")
    zero = require_int(invoice, "total", "invoice") == 0
    invoice_doc = invoice_document(event, invoice, ctx) if not zero or _lines_move(invoice) else None
    if invoice_doc is None or zero and not _changes_schedules(invoice_doc, ctx):
        # a zero invoice that changes no revenue schedule has nothing to book; one that does (a same-price plan
        # switch: the old plan's unused time credited, the new plan's remaining time billed) moves deferred revenue
        # from one product to the other, and its receivable line is simply absent (issue 17)
        result.ignored.append(Ignored("zero_amount_invoice", f"invoice {invoice.get('id')} totals 0 and changes no "
                                                             "revenue schedule"))
        return
    result.documents.append(invoice_doc)
    if event.get("type") in ("invoice.paid", "invoice.payment_succeeded"):
        payment = invoice_payment_document(event, invoice, invoice_doc, ctx)
        if payment is None:
            result.ignored.append(Ignored("zero_amount_payment", f"invoice {invoice_doc.source.object_id} paid 0"))
        else:
            result.documents.extend(_write_off_recovery(event, invoice, payment, ctx))  # before the payment (D89)
            result.documents.append(payment)
            overpayment = invoice_overpayment_document(event, invoice, payment, ctx)
            if overpayment is not None:
                result.documents.append(overpayment)


# ---- voids and write-offs (D89) -----------------------------------------------------------------

def _transition_time(event: JsonObject, invoice: JsonObject, key: str) -> int:
    transitions = obj_at(invoice, "status_transitions")
    when = transitions.get(key) or event.get("created")
    if not isinstance(when, int):
        raise NormalizationError(f"invoice has no {key} time", reason="missing_field",
                                 field=f"invoice.status_transitions.{key}")
    return when


def _normalize_invoice_voided(event: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    """``invoice.voided`` → the invoice (same id as ``invoice.finalized``: a late or lost one loses nothing) and a
    :class:`Reversal` of its posted journal, dated the day it was voided (``status_transitions.voided_at``): the
    receivable, revenue (or deferred revenue) and tax it booked are undone; its schedules stop (a void fact)."""
    invoice = data_object(event)
    if require_int(invoice, "total", "invoice") == 0:
        result.ignored.append(Ignored("zero_amount_invoice", f"invoice {invoice.get('id')} totals 0: nothing to void"))
        return
    invoice_doc = invoice_document(event, invoice, ctx)
    entity = _entity_for(event, ctx)
    occurred = utc_instant(_transition_time(event, invoice, "voided_at"))
    source = _source_ref(event, "invoice", invoice_doc.source.object_id, "voided", ctx)
    result.documents += [invoice_doc, Reversal(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=invoice_doc.currency,
        original_document_id=invoice_doc.document_id, reason="void", party=invoice_doc.party,
        related_document_ids=(invoice_doc.document_id,),
        memo=f"invoice {invoice_doc.number or invoice_doc.source.object_id} voided")]


def _written_off(invoice: JsonObject) -> int:
    remaining = invoice.get("amount_remaining")
    if isinstance(remaining, int) and not isinstance(remaining, bool):
        return remaining
    return require_int(invoice, "amount_due", "invoice") - require_int(invoice, "amount_paid", "invoice")


def _normalize_invoice_uncollectible(event: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    """``invoice.marked_uncollectible`` → the invoice and a :class:`WriteOff` of what is still open on it
    (``amount_remaining``): Dr bad_debt · Cr receivable; the revenue stays (an impairment, ASC 310 / IFRS 9)."""
    invoice = data_object(event)
    if require_int(invoice, "total", "invoice") == 0:
        result.ignored.append(Ignored("zero_amount_invoice", f"invoice {invoice.get('id')} totals 0"))
        return
    invoice_doc = invoice_document(event, invoice, ctx)
    result.documents.append(invoice_doc)
    open_amount = _written_off(invoice)
    if open_amount <= 0:
        result.ignored.append(Ignored("nothing_to_write_off", f"invoice {invoice_doc.source.object_id} has nothing "
                                                               "open"))
        return
    occurred = utc_instant(_transition_time(event, invoice, "marked_uncollectible_at"))
    source = _source_ref(event, "write_off", invoice_doc.source.object_id, "written_off", ctx)
    result.documents.append(WriteOff(
        document_id=source.document_id(), source=source, entity_id=invoice_doc.entity_id,
        correlation_id=ctx.correlation_id, occurred_at=occurred,
        accounting_date=local_date(occurred, _entity_for(event, ctx)), currency=invoice_doc.currency,
        original_document_id=invoice_doc.document_id, party=invoice_doc.party,
        amount=min(_money(open_amount, invoice_doc.currency), invoice_doc.total, key=lambda money: money.amount),
        related_document_ids=(invoice_doc.document_id,),
        memo=f"invoice {invoice_doc.number or invoice_doc.source.object_id} written off as uncollectible"))


def _write_off_recovery(event: JsonObject, invoice: JsonObject, payment: Payment,
                        ctx: NormalizeContext) -> list[WriteOff]:
    """A payment of an invoice Stripe marked uncollectible (``status_transitions.marked_uncollectible_at``) first
    reverses the write-off for the amount it applies (Dr receivable · Cr bad_debt), so the receivable it credits
    was debited again and never goes below zero. Read from the paid invoice itself: either order gives this book."""
    transitions = obj_at(invoice, "status_transitions")
    if not isinstance(transitions.get("marked_uncollectible_at"), int):
        return []
    source = _source_ref(event, "write_off", payment.source.object_id, "recovered", ctx)
    invoice_doc = payment.applies_to_document_id or payment.document_id
    written_off = SourceRef(system=SYSTEM, object_type="write_off", object_id=payment.source.object_id,
                            version="written_off").document_id()
    return [WriteOff(
        document_id=source.document_id(), source=source, entity_id=payment.entity_id,
        correlation_id=ctx.correlation_id, occurred_at=payment.occurred_at, accounting_date=payment.accounting_date,
        currency=payment.currency, direction="recovered", original_document_id=invoice_doc,
        party=payment.party or Party(role="customer", source_id="unknown"), amount=payment.amount,
        related_document_ids=(invoice_doc, written_off),
        memo=f"write-off of invoice {payment.source.object_id} recovered by its payment")]


# ---- refunds -----------------------------------------------------------------------------------

def _invoice_doc_id(charge: JsonObject) -> str | None:
    invoice_id = id_of(charge.get("invoice"))
    return SourceRef(system=SYSTEM, object_type="invoice", object_id=invoice_id,
                     version="finalized").document_id() if invoice_id else None


def _refund_payment(event: JsonObject, charge: JsonObject, *, object_id: str, version: str,
                    minor_units: int, created: JsonValue, reference: str, ctx: NormalizeContext) -> Payment:
    entity = _entity_for(event, ctx)
    currency = require_text(charge, "currency", "charge")
    when = created if isinstance(created, int) else event.get("created")
    if not isinstance(when, int):
        raise NormalizationError("refund has no creation time", reason="missing_field", field="refund.created")
    occurred = utc_instant(when)
    source = _source_ref(event, "refund", object_id, version, ctx)
    invoice_doc_id = _invoice_doc_id(charge)
    customer = id_of(charge.get("customer"))
    return Payment(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency,
        direction="refunded", amount=_money(minor_units, currency, flow="charge"),
        party=Party(role="customer", source_id=customer) if customer else None,
        applies_to_document_id=invoice_doc_id,
        related_document_ids=(invoice_doc_id,) if invoice_doc_id else (),
        method="stripe", reference=reference, memo=f"refund of charge {charge.get('id')}",
    )


@dataclass(frozen=True, slots=True)
class _ListedRefund:
    """A settled refund from the cash-data API's list of a charge's refunds."""

    refund_id: str
    amount: int
    created: JsonValue


def _settled_refunds(charge_id: str, listed: JsonArray) -> list[_ListedRefund]:
    settled = []
    for position, refund in enumerate(listed):
        if not isinstance(refund, dict):
            raise NormalizationError(f"fetched refund {position} of charge {charge_id} is not an object",
                                     reason="source_response_malformed")
        if refund.get("status") in SETTLED_REFUND_STATUSES:
            refund_id = require_text(refund, "id", f"fetched refunds[{position}]")
            amount = require_int(refund, "amount", f"fetched refunds[{position}]")
            settled.append(_ListedRefund(refund_id, amount, refund.get("created")))
    settled.sort(key=lambda refund: (refund.created if isinstance(refund.created, int) else 0, refund.refund_id))
    return settled


def _listed_refunds_of(charge_id: str, listed: JsonArray, previous: int, refunded_now: int
                       ) -> list[_ListedRefund] | None:
    """The listed refunds that make up this event's increase of ``amount_refunded``: the charge's settled refunds in
    creation order tile ``(0, amount_refunded]``, and this event's are those inside ``(previous, refunded_now]``
    (so a later event's refunds, already listed when this one is fetched late, are left to their own event).
    None when the list does not tile the increase exactly (a refund that failed since, a list Stripe truncated)."""
    window, cumulative = [], 0
    for refund in _settled_refunds(charge_id, listed):
        start, cumulative = cumulative, cumulative + refund.amount
        if start >= previous and cumulative <= refunded_now:
            window.append(refund)
    if sum(refund.amount for refund in window) != refunded_now - previous:
        return None
    return window


def _embedded_refunds(event: JsonObject, charge: JsonObject, charge_id: str, ctx: NormalizeContext,
                      result: Normalized) -> bool:
    """Older API versions embed the charge's refunds: each settled one posts under its own id. False when none is
    embedded."""
    refunds = obj_at(charge, "refunds")
    embedded = array_at(refunds, "data")
    if not embedded:
        return False
    if refunds.get("has_more"):
        result.ignored.append(Ignored("refund_list_truncated",
                                      f"charge {charge_id}: only the embedded refunds were normalized"))
    for position, refund in enumerate(embedded):
        refund_id = require_text(refund, "id", f"charge.refunds[{position}]")
        if get(refund, "status") not in SETTLED_REFUND_STATUSES:
            result.ignored.append(Ignored("refund_not_settled", f"refund {refund_id} is {get(refund, 'status')}"))
            continue
        result.documents.append(_refund_payment(
            event, charge, object_id=refund_id, version="1",
            minor_units=require_int(refund, "amount", f"charge.refunds[{position}]"),
            created=get(refund, "created"), reference=refund_id, ctx=ctx))
    return True


def _normalize_charge_refunded(event: JsonObject, ctx: NormalizeContext, result: Normalized,
                               fetched: JsonObject | None = None) -> None:
    charge = data_object(event)
    charge_id = require_text(charge, "id", "charge")
    if _embedded_refunds(event, charge, charge_id, ctx, result):
        return
    # Newer API versions do not embed refunds: the delta of amount_refunded is the new refund.
    refunded_now = require_int(charge, "amount_refunded", "charge")
    previous = obj(get(event.get("data"), "previous_attributes") or {}).get("amount_refunded", 0)
    if not isinstance(previous, int) or isinstance(previous, bool):
        raise NormalizationError("previous_attributes.amount_refunded is not an integer", reason="missing_field",
                                 field="previous_attributes.amount_refunded")
    delta = refunded_now - previous
    if delta <= 0:
        result.ignored.append(Ignored("no_new_refund", f"charge {charge_id}: amount_refunded did not increase"))
        return
    listed = get(fetched, "refunds")
    window = _listed_refunds_of(charge_id, listed, previous, refunded_now) if isinstance(listed, list) else None
    if window is not None:
        # the cash-data API named them: each refund under its own id, as the older API shape posts it, so a credit
        # note that pays out one of them (refunds[].refund) takes it out of the revenue schedule once (D89)
        for refund in window:
            result.documents.append(_refund_payment(
                event, charge, object_id=refund.refund_id, version="1", minor_units=refund.amount,
                created=refund.created, reference=refund.refund_id, ctx=ctx))
        return
    result.documents.append(_refund_payment(
        event, charge, object_id=charge_id, version=f"refunded-through-{refunded_now}", minor_units=delta,
        created=event.get("created"), reference=charge_id, ctx=ctx))


# ---- credit notes ------------------------------------------------------------------------------

def _credit_note_line(note: JsonObject, raw: JsonValue, position: int, currency: str) -> InvoiceLine:
    where = f"credit_note.lines[{position}]"
    amount = _money(require_int(raw, "amount", where), currency)
    line = obj(raw)
    discount = _discounts(line, "discount_amounts", currency, where)
    exclusive, inclusive = _line_taxes(line, currency)
    credited = line.get("invoice_line_item") if line.get("type", "invoice_line_item") == "invoice_line_item" else None
    return InvoiceLine(
        line_id=str(line.get("id") or f"{note['id']}:{position}"), description=text_or_none(line, "description"),
        amount=amount, discount=_nonzero(discount), tax=_nonzero(exclusive), inclusive_tax=_nonzero(inclusive),
        quantity=_quantity(line), applies_to_line_id=id_of(credited))


def _credit_note_lines(note: JsonObject, currency: str) -> list[InvoiceLine]:
    lines_obj = obj_at(note, "lines")
    raw_lines = array_at(lines_obj, "data")
    if lines_obj.get("has_more") or not raw_lines:
        subtotal = _money(require_int(note, "subtotal", "credit_note"), currency)
        tax = _money(require_int(note, "total", "credit_note"), currency) - subtotal
        if tax.amount < 0:
            raise NormalizationError("credit note total is below its subtotal", reason="amounts_inconsistent")
        return [InvoiceLine(line_id=f"{note['id']}:summary", description="credit note subtotal (lines truncated)",
                            amount=subtotal, tax=_nonzero(tax))]
    return [_credit_note_line(note, raw, position, currency) for position, raw in enumerate(raw_lines)]


def _normalize_credit_note(event: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    note = data_object(event)
    note_id = require_text(note, "id", "credit_note")
    currency = require_text(note, "currency", "credit_note")
    entity = _entity_for(event, ctx)
    created = note.get("effective_at") or note.get("created")
    if not isinstance(created, int):
        raise NormalizationError("credit note has no creation time", reason="missing_field", field="credit_note.created")
    customer = id_of(note.get("customer"))
    if not customer:
        raise NormalizationError("credit note has no customer", reason="missing_field", field="credit_note.customer")
    invoice_id = id_of(note.get("invoice"))
    invoice_doc = SourceRef(system=SYSTEM, object_type="invoice", object_id=invoice_id,
                            version="finalized").document_id() if invoice_id else None
    occurred = utc_instant(created)
    source = _source_ref(event, "credit_note", note_id, "issued", ctx)
    try:
        credit = CreditNote(
            document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
            occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency,
            party=Party(role="customer", source_id=customer), number=text_or_none(note, "number"),
            lines=tuple(_credit_note_lines(note, currency)),
            total=_money(require_int(note, "total", "credit_note"), currency),
            original_document_id=invoice_doc, related_document_ids=(invoice_doc,) if invoice_doc else (),
            reason=text_or_none(note, "reason"), memo=f"credit note {note.get('number') or note_id}")
    except ValidationError as exc:
        raise NormalizationError(f"credit note {note_id} does not tie out: {_first_error(exc)}",
                                 reason="amounts_inconsistent", credit_note=note_id) from None
    result.documents.append(credit)
    result.documents.extend(_credit_note_refunds(event, note, credit, ctx))


def _note_refunds(note: JsonObject) -> list[tuple[str, int]]:
    """(refund id, amount of it applied to the note) for each refund a post-payment credit note pays out: current
    API ``refunds[]`` (``refund``, ``amount_refunded``), older ``refund`` (the amount is the refund's own when
    expanded, else the note's total less what was credited outside Stripe). A pre-payment note refunds nothing."""
    if note.get("type") == "pre_payment":
        return []
    found: list[tuple[str, int]] = []
    for position, item in enumerate(items(note, "refunds", "credit_note")):
        refund_id = id_of(get(item, "refund"))
        if refund_id:
            found.append((refund_id, require_int(item, "amount_refunded", f"credit_note.refunds[{position}]")))
    single = note.get("refund")
    if not found and id_of(single):
        amount = integer(single, "amount")
        if amount is None:
            out_of_band = note.get("out_of_band_amount")
            amount = require_int(note, "total", "credit_note") - (out_of_band if isinstance(out_of_band, int) else 0)
        found.append((str(id_of(single)), min(amount, require_int(note, "total", "credit_note"))))
    return found


def _credit_note_refunds(event: JsonObject, note: JsonObject, credit: CreditNote,
                         ctx: NormalizeContext) -> list[Payment]:
    """The part of each refund that pays out the credit note (D89), as a ``credit_note_refund`` Payment like the
    refund (amount, invoice, customer): the refund's own journal stays as it is, whichever event arrives first, and
    this one moves what it put on contra revenue and tax to the customer's balance, which the note credited."""
    refunds = _note_refunds(note)
    # Stripe's integers, compared with the total in money: their exponent is Stripe's, not ISO's (ISK 100 = 1 ISK)
    paid_out = sum((_money(amount, credit.currency, flow="charge") for _, amount in refunds if amount > 0),
                   Money.zero(credit.currency))
    if paid_out.amount > credit.total.amount or any(amount <= 0 for _, amount in refunds):
        raise NormalizationError(f"credit note {credit.source.object_id} pays out refunds that are not positive or "
                                 f"exceed its total {credit.total}", reason="amounts_inconsistent",
                                 credit_note=credit.source.object_id)
    documents = []
    for refund_id, amount in refunds:
        source = _source_ref(event, CREDIT_NOTE_REFUND, f"{credit.source.object_id}:{refund_id}", "1", ctx)
        refund_doc = SourceRef(system=SYSTEM, object_type="refund", object_id=refund_id, version="1").document_id()
        links = tuple(link for link in (credit.document_id, refund_doc, credit.original_document_id) if link)
        documents.append(Payment(
            document_id=source.document_id(), source=source, entity_id=credit.entity_id,
            correlation_id=ctx.correlation_id, occurred_at=credit.occurred_at, accounting_date=credit.accounting_date,
            currency=credit.currency, direction="refunded", amount=_money(amount, credit.currency, flow="charge"),
            party=credit.party, applies_to_document_id=credit.original_document_id, related_document_ids=links,
            refund_document_id=refund_doc, method="stripe",
            memo=f"refund {refund_id} pays out credit note {credit.number or credit.source.object_id}"))
    return documents


# ---- disputes ----------------------------------------------------------------------------------

def _dispute_fees(dispute: JsonObject, currency: str) -> list[Fee]:
    fees: list[Fee] = []
    for position, txn in enumerate(array_at(dispute, "balance_transactions")):
        fee = get(txn, "fee")
        if isinstance(fee, int) and fee > 0:
            where = f"dispute.balance_transactions[{position}]"
            fees.append(Fee(kind="dispute", amount=_money(require_int(txn, "fee", where), currency),
                            description="Stripe dispute fee"))
    return fees


def _dispute_payment(event: JsonObject, dispute: JsonObject, ctx: NormalizeContext, *,
                     direction: Literal["chargeback", "chargeback_reversed"], version: str,
                     related: str | None) -> Payment:
    dispute_id = require_text(dispute, "id", "dispute")
    currency = require_text(dispute, "currency", "dispute")
    entity = _entity_for(event, ctx)
    when = event.get("created") if isinstance(event.get("created"), int) else dispute.get("created")
    if not isinstance(when, int):
        raise NormalizationError("dispute event has no time", reason="missing_field", field="created")
    fees = _dispute_fees(dispute, currency) if direction == "chargeback" else []
    occurred = utc_instant(when)
    source = _source_ref(event, "dispute", dispute_id, version, ctx)
    charge = id_of(dispute.get("charge"))
    return Payment(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency, direction=direction,
        amount=_money(require_int(dispute, "amount", "dispute"), currency, flow="charge"), fees=tuple(fees),
        method="stripe", reference=charge or dispute_id, applies_to_document_id=related,
        related_document_ids=(related,) if related else (),
        memo=f"dispute {dispute_id} ({dispute.get('reason') or 'no reason'}) on charge {charge}")


def _normalize_dispute(event: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    dispute = data_object(event)
    dispute_id = require_text(dispute, "id", "dispute")
    status = text(dispute, "status") or ""
    event_type = event.get("type")
    withdrawn = _source_ref(event, "dispute", dispute_id, "withdrawn", ctx).document_id()
    if event_type in ("charge.dispute.created", "charge.dispute.funds_withdrawn"):
        if status.startswith("warning_"):
            result.ignored.append(Ignored("dispute_inquiry", f"{dispute_id} is an inquiry ({status}): no funds moved"))
            return
        result.documents.append(_dispute_payment(event, dispute, ctx, direction="chargeback", version="withdrawn",
                                                 related=None))
    elif event_type == "charge.dispute.funds_reinstated" or (event_type == "charge.dispute.closed" and status == "won"):
        result.documents.append(_dispute_payment(event, dispute, ctx, direction="chargeback_reversed",
                                                 version="reinstated", related=withdrawn))
    else:
        result.ignored.append(Ignored("dispute_no_money_movement", f"{dispute_id} {event_type} ({status})"))


# ---- subscriptions -----------------------------------------------------------------------------

type _Action = Literal["created", "updated", "cancelled"]
type _Interval = Literal["day", "week", "month", "year"]

_SUBSCRIPTION_ACTIONS: dict[str, _Action] = {"customer.subscription.created": "created",
                                             "customer.subscription.updated": "updated",
                                             "customer.subscription.deleted": "cancelled"}
_INTERVALS: dict[str, _Interval] = {"day": "day", "week": "week", "month": "month", "year": "year"}


def _subscription_item(raw: JsonObject, item_id: str) -> SubscriptionItem:
    price = obj_at(raw, "price") if isinstance(raw.get("price"), dict) else obj(raw.get("plan") or {})
    recurring = obj_at(price, "recurring") if isinstance(price.get("recurring"), dict) else price
    currency = price.get("currency")
    unit = price.get("unit_amount") if "unit_amount" in price else price.get("amount")
    count = recurring.get("interval_count")
    return SubscriptionItem(
        item_id=item_id, price_id=text_or_none(price, "id"), product_id=id_of(price.get("product")),
        quantity=_quantity(raw),
        unit_amount=_money(unit, currency) if isinstance(unit, int) and isinstance(currency, str) else None,
        interval=_INTERVALS.get(text(recurring, "interval") or ""),
        interval_count=count if isinstance(count, int) and 0 < count < 1000 else 1)


def _subscription_items(subscription: JsonObject) -> list[SubscriptionItem]:
    found = []
    for raw in array_at(obj_at(subscription, "items"), "data"):
        item_id = text(raw, "id")
        if isinstance(raw, dict) and item_id is not None:
            found.append(_subscription_item(raw, item_id))
    return found


def _normalize_subscription(event: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    subscription = data_object(event)
    subscription_id = require_text(subscription, "id", "subscription")
    customer = id_of(subscription.get("customer"))
    if not customer:
        raise NormalizationError("subscription has no customer", reason="missing_field", field="subscription.customer")
    entity = _entity_for(event, ctx)
    action = _SUBSCRIPTION_ACTIONS[str(event["type"])]
    when = event.get("created") if isinstance(event.get("created"), int) else subscription.get("created")
    if not isinstance(when, int):
        raise NormalizationError("subscription event has no time", reason="missing_field", field="created")
    # every update is its own fact; an id that is not the event's would merge distinct updates
    version = action if action != "updated" else f"updated:{event.get('id')}"
    items = _subscription_items(subscription)
    currency = subscription.get("currency") or next((i.unit_amount.currency for i in items if i.unit_amount), None)
    if not isinstance(currency, str):
        raise NormalizationError("subscription has no currency", reason="missing_field", field="subscription.currency")
    occurred = utc_instant(when)
    source = _source_ref(event, "subscription", subscription_id, version, ctx)
    cancel_at = subscription.get("cancel_at")
    result.documents.append(SubscriptionEvent(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency, action=action,
        subscription_id=subscription_id, party=Party(role="customer", source_id=customer),
        status=str(subscription.get("status") or "unknown"), items=tuple(items),
        current_period_start=_date(subscription.get("current_period_start"), entity),
        current_period_end=_date(subscription.get("current_period_end"), entity),
        cancel_at=utc_instant(cancel_at) if isinstance(cancel_at, int) else None,
        memo=f"subscription {subscription_id} {action}"))


# ---- payouts -----------------------------------------------------------------------------------

def _payout_postponed(event: JsonObject, payout: JsonObject, payout_id: str, listed: bool) -> Ignored | None:
    """Why a paid payout is not posted from this event (it posts from the other one), or None."""
    if not listed and event["type"] == "payout.reconciliation_completed":
        return Ignored("payout_posted_on_paid", f"{payout_id}: posted from payout.paid (no cash-data API, or a "
                                                "manual payout Stripe cannot list)")
    if listed and payout.get("reconciliation_status") == "in_progress":
        return Ignored("payout_reconciliation_in_progress", f"{payout_id}: posted at payout.reconciliation_completed")
    return None


def _payout_settlement(payout: JsonObject, payout_id: str, currency: str, amount: int,
                       transactions: JsonArray | None) -> Settlement:
    """What the payout settled: from its listed balance transactions (D83), else only its own fee (instant payouts,
    when its ``balance_transaction`` is expanded)."""
    if transactions is not None:
        return settle(payout_id, currency, amount, transactions, _money)
    settlement = Settlement()
    own_fee = integer(payout.get("balance_transaction"), "fee")
    if own_fee is not None and own_fee > 0:
        settlement.fees.append(Fee(kind="payout", amount=_money(own_fee, currency), description="Stripe payout fee"))
    return settlement


def _normalize_payout(event: JsonObject, ctx: NormalizeContext, result: Normalized,
                      fetched: JsonObject | None = None) -> None:
    """``payout.paid`` / ``payout.reconciliation_completed`` → one Payout (both name the same document). With the
    source's cash-data API, an automatic payout's balance transactions (``fetched``) give its fees per type and
    its adjustments (D83); it posts once Stripe has finished reconciling it."""
    payout = data_object(event)
    payout_id = require_text(payout, "id", "payout")
    currency = require_text(payout, "currency", "payout")
    entity = _entity_for(event, ctx)
    paid = event["type"] != "payout.failed"
    transactions = get(fetched, "balance_transactions")
    listed = transactions if isinstance(transactions, list) else None
    postponed = _payout_postponed(event, payout, payout_id, listed is not None) if paid else None
    if postponed is not None:
        result.ignored.append(postponed)
        return
    when = payout.get("arrival_date") if paid else event.get("created")
    if not isinstance(when, int):
        raise NormalizationError("payout has no arrival date", reason="missing_field", field="payout.arrival_date")
    amount = require_int(payout, "amount", "payout")
    settlement = _payout_settlement(payout, payout_id, currency, amount, listed)
    settled = settlement.count
    occurred = utc_instant(when)
    source = _source_ref(event, "payout", payout_id, "paid" if paid else "failed", ctx)
    paid_doc = _source_ref(event, "payout", payout_id, "paid", ctx).document_id()
    result.documents.append(Payout(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency,
        direction="paid" if paid else "failed", amount=_money(amount, currency, flow="payout"),
        fees=tuple(settlement.fees), adjustments=tuple(settlement.adjustments),
        conversions=tuple(settlement.conversions), settled_count=settled,
        destination=id_of(payout.get("destination")),
        arrival_date=_date(payout.get("arrival_date"), entity), reference=payout_id,
        related_document_ids=() if paid else (paid_doc,),
        memo=f"Stripe payout {payout_id}" + ("" if paid else f" failed ({payout.get('failure_code')})")
        + (f" ({settled} balance transactions)" if settled else "")))


# ---- usage (billing meter events) ----------------------------------------------------------------

def _meter_events(event: JsonObject) -> tuple[str, list[JsonObject]]:
    """The meter events one delivery carries (one, or a ``list`` object of them) and their one ``event_name``."""
    data = data_object(event)
    single: JsonArray = [data]
    raw = data.get("data") if data.get("object") == "list" else single
    if not isinstance(raw, list) or not raw:
        raise NormalizationError("billing.meter_event carries no meter events", reason="missing_field",
                                 field="data.object")
    found = objects(raw)
    names = {item.get("event_name") for item in found}
    if len(names) != 1 or len(found) != len(raw):
        raise NormalizationError("one delivery carries the events of one meter (event_name)",
                                 reason="mixed_meter_events")
    event_name = names.pop()
    if not isinstance(event_name, str) or not event_name:
        raise NormalizationError("meter event has no event_name", reason="missing_field", field="event_name")
    return event_name, found


def _meter_value(payload: JsonObject, value_key: str, where: str) -> Decimal:
    """The reported quantity: Stripe documents it as a string holding a number (``"25"``); a float never enters."""
    quantity = payload.get(value_key)
    if isinstance(quantity, bool) or not isinstance(quantity, (str, int)):
        raise NormalizationError(f"{where}.payload.{value_key} is not a number", reason="invalid_amount",
                                 field=f"{where}.payload.{value_key}")
    try:
        return Decimal(str(quantity))
    except InvalidOperation:
        raise NormalizationError(f"{where}.payload.{value_key} {quantity!r} is not a number",
                                 reason="invalid_amount", field=f"{where}.payload.{value_key}") from None


def _meter_record(item: JsonObject, position: int, customer_key: str, value_key: str) -> UsageRecord:
    where = f"meter_events[{position}]"
    payload = obj_at(item, "payload")
    identifier = require_text(item, "identifier", where)
    customer = payload.get(customer_key)
    if not isinstance(customer, str) or not customer:
        raise NormalizationError(f"{where}.payload.{customer_key} is missing", reason="missing_field",
                                 field=f"{where}.payload.{customer_key}")
    value = _meter_value(payload, value_key, where)
    when = item.get("timestamp") if isinstance(item.get("timestamp"), int) else item.get("created")
    if not isinstance(when, int) or not value.is_finite():
        raise NormalizationError(f"{where} has no timestamp or a bad value", reason="missing_field",
                                 field=f"{where}.timestamp")
    return UsageRecord(identifier=identifier, customer=customer, value=value, timestamp=utc_instant(when))


def _meter_records(event: JsonObject, ctx: NormalizeContext) -> tuple[str, list[UsageRecord]]:
    event_name, found = _meter_events(event)
    meter = ctx.config.revenue_recognition.meter_named(event_name)
    customer_key = meter.customer_key if meter else "stripe_customer_id"
    value_key = meter.value_key if meter else "value"
    return event_name, [_meter_record(item, position, customer_key, value_key)
                        for position, item in enumerate(found)]


def _normalize_meter_events(event: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    entity = _entity_for(event, ctx)
    event_name, records = _meter_records(event, ctx)
    # one document per delivery, named by the identifiers it carries: a redelivery is the same document,
    # and each identifier is aggregated once however many deliveries carry it
    batch_id = fingerprint(*sorted(record.identifier for record in records))
    source = _source_ref(event, "meter_event_batch", f"{event_name}:{batch_id}", "1", ctx)
    occurred = max(record.timestamp for record in records)
    result.documents.append(UsageBatch(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity),
        currency=entity.base_currency, event_name=event_name, records=tuple(records),
        memo=f"{len(records)} {event_name} meter event(s)"))


# ---- entry point -------------------------------------------------------------------------------

_HANDLERS: dict[str, Callable[[JsonObject, NormalizeContext, Normalized], None]] = {
    "invoice.finalized": _normalize_invoice,
    "invoice.paid": _normalize_invoice,
    "invoice.payment_succeeded": _normalize_invoice,
    "invoice.voided": _normalize_invoice_voided,
    "invoice.marked_uncollectible": _normalize_invoice_uncollectible,
    "credit_note.created": _normalize_credit_note,
    "charge.dispute.created": _normalize_dispute,
    "charge.dispute.funds_withdrawn": _normalize_dispute,
    "charge.dispute.funds_reinstated": _normalize_dispute,
    "charge.dispute.closed": _normalize_dispute,
    "customer.subscription.created": _normalize_subscription,
    "customer.subscription.updated": _normalize_subscription,
    "customer.subscription.deleted": _normalize_subscription,
    "billing.meter_event": _normalize_meter_events,
}
# the events that may carry what the cash-data API fetched
_FETCHING_HANDLERS: dict[str, Callable[[JsonObject, NormalizeContext, Normalized, JsonObject | None], None]] = {
    "charge.refunded": _normalize_charge_refunded,
    "payout.paid": _normalize_payout,
    "payout.reconciliation_completed": _normalize_payout,
    "payout.failed": _normalize_payout,
}


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    return str(error.get("msg", exc))


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    """Canonical documents for one Stripe event; unhandled types come back in ``ignored``.

    Raises :class:`NormalizationError` (with a reason code) when a handled event cannot be read; the
    caller turns that into an exception case that names the archived payload.
    """
    result = Normalized()
    fetched = None
    notification = event.get("notification")
    if isinstance(notification, dict):   # expanded by the fetch step (the source has cash-data API)
        fetched = obj_or_none(event.get("fetched"))
        event = notification
    event_type = event.get("type")
    handler = _HANDLERS.get(event_type) if isinstance(event_type, str) else None
    fetching = _FETCHING_HANDLERS.get(event_type) if isinstance(event_type, str) else None
    if handler is None and fetching is None:
        result.ignored.append(Ignored("unsupported_event_type", str(event_type)))
        return result
    data_object(event)
    try:
        if fetching is not None:
            fetching(event, ctx, result, fetched)
        elif handler is not None:
            handler(event, ctx, result)
    except ValidationError as exc:
        raise NormalizationError(f"{event_type}: {_first_error(exc)}", reason="invalid_document") from None
    return result
