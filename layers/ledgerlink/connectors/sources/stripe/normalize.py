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
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

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
from ledgerlink.connectors.sources.stripe.currencies import Flow, stripe_money
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


# ---- small readers that fail with a reason instead of KeyError ----------------------------------

def _require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise NormalizationError(f"{where}.{key} is missing or not a {getattr(kind, '__name__', kind)}",
                                 reason="missing_field", field=f"{where}.{key}")
    return value


def _minor(obj: dict[str, Any], key: str, where: str) -> int:
    return _require(obj, key, int, where)


def _money(minor_units: int, currency: str, *, flow: Flow = "amount") -> Money:
    """A Stripe integer amount, by Stripe's currency table (``stripe/currencies.py``), not ISO 4217's."""
    return stripe_money(minor_units, currency, flow=flow)


def _id_of(value: Any) -> str | None:
    """Stripe references are ids or expanded objects."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


def _date(unix_seconds: Any, entity: Entity) -> date | None:
    return local_day(unix_seconds, entity) if isinstance(unix_seconds, int) else None


def _entity_for(event: dict[str, Any], ctx: NormalizeContext) -> Entity:
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


def _source_ref(event: dict[str, Any], object_type: str, object_id: str, version: str,
                ctx: NormalizeContext) -> SourceRef:
    return SourceRef(system=SYSTEM, object_type=object_type, object_id=object_id, version=version,
                     event_id=event.get("id"), event_type=event.get("type"),
                     account=event.get("account") or None, archive_key=ctx.archive_key,
                     source_id=ctx.source_id)


# ---- invoices ----------------------------------------------------------------------------------

def _line_taxes(line: dict[str, Any], currency: str) -> tuple[Money, Money]:
    """(exclusive, inclusive) tax of a line. Old shape: ``tax_amounts[].inclusive``; new: ``taxes[].tax_behavior``."""
    exclusive, inclusive = Money.zero(currency), Money.zero(currency)
    for tax in line.get("tax_amounts") or []:
        amount = _money(_minor(tax, "amount", "line.tax_amounts[]"), currency)
        if tax.get("inclusive"):
            inclusive += amount
        else:
            exclusive += amount
    for tax in line.get("taxes") or []:
        amount = _money(_minor(tax, "amount", "line.taxes[]"), currency)
        if tax.get("tax_behavior") == "inclusive":
            inclusive += amount
        else:
            exclusive += amount
    return exclusive, inclusive


def _line_treatment(line: dict[str, Any]) -> str | None:
    """Stripe's ``taxability_reason`` of the line's tax (``standard_rated``, ``reverse_charge``, ...), old or new
    shape; the mapping service turns it into the ERP's tax code."""
    for tax in [*(line.get("taxes") or []), *(line.get("tax_amounts") or [])]:
        if isinstance(tax, dict) and isinstance(tax.get("taxability_reason"), str) and tax["taxability_reason"]:
            return str(tax["taxability_reason"])
    return None


def _invoice_taxes(invoice: dict[str, Any], currency: str) -> Money:
    """Exclusive tax at invoice level, from whichever shape is present."""
    total = Money.zero(currency)
    for tax in invoice.get("total_tax_amounts") or []:
        if not tax.get("inclusive"):
            total += _money(_minor(tax, "amount", "invoice.total_tax_amounts[]"), currency)
    for tax in invoice.get("total_taxes") or []:
        if tax.get("tax_behavior") != "inclusive":
            total += _money(_minor(tax, "amount", "invoice.total_taxes[]"), currency)
    return total


def _line_product(line: dict[str, Any]) -> tuple[str | None, str | None]:
    price = line.get("price") if isinstance(line.get("price"), dict) else None
    plan = line.get("plan") if isinstance(line.get("plan"), dict) else None
    details = (line.get("pricing") or {}).get("price_details") if isinstance(line.get("pricing"), dict) else None
    for holder in (price, plan, details):
        if holder:
            product = _id_of(holder.get("product"))
            price_id = holder.get("id") if holder is not details else _id_of(holder.get("price"))
            if product or price_id:
                return product, price_id
    return None, None


def _line_proration(line: dict[str, Any]) -> bool:
    if isinstance(line.get("proration"), bool):
        return line["proration"]
    parent = line.get("parent") or {}
    for key in ("subscription_item_details", "invoice_item_details"):
        details = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(details, dict) and parent.get("type") == key and isinstance(details.get("proration"), bool):
            return details["proration"]
    return False


def _line_usage(line: dict[str, Any], price_id: str | None, ctx: NormalizeContext) -> MeteredUsage | None:
    """A metered line (``recurring.usage_type: metered``, or a price a configured meter names) and its exact
    billing period, for the usage tie-out."""
    holders = [line.get(key) for key in ("price", "plan") if isinstance(line.get(key), dict)]
    recurring = [h.get("recurring") if isinstance(h.get("recurring"), dict) else h for h in holders]
    metered = any(r.get("usage_type") == "metered" for r in recurring)
    meter_id = next((r.get("meter") for r in recurring if isinstance(r.get("meter"), str)), None)
    if not metered and ctx.config.revenue_recognition.meter_for(None, price_id) is None:
        return None
    period = line.get("period") if isinstance(line.get("period"), dict) else {}
    start, end = period.get("start"), period.get("end")
    if not isinstance(start, int) or not isinstance(end, int) or end <= start:
        return None
    return MeteredUsage(meter_id=meter_id, price_id=price_id, period_start=utc_instant(start),
                        period_end=utc_instant(end))


def _invoice_subscription(invoice: dict[str, Any]) -> str | None:
    subscription = _id_of(invoice.get("subscription"))
    if subscription:
        return subscription
    parent = invoice.get("parent")
    if (isinstance(parent, dict) and parent.get("type") == "subscription_details"
            and isinstance(parent.get("subscription_details"), dict)):
        return _id_of(parent["subscription_details"].get("subscription"))
    return None


def _invoice_lines(invoice: dict[str, Any], currency: str, entity: Entity,
                   ctx: NormalizeContext | None = None) -> tuple[list[InvoiceLine], str | None]:
    """Lines with their discounts and taxes; when Stripe truncated the list, one summary line.

    Webhooks embed at most the first page of lines (``has_more``). The invoice totals are still exact,
    so a truncated invoice posts one revenue line for the subtotal (memo says so) instead of guessing.
    """
    lines_obj = invoice.get("lines") if isinstance(invoice.get("lines"), dict) else {}
    raw_lines = lines_obj.get("data") if isinstance(lines_obj.get("data"), list) else []
    if lines_obj.get("has_more") or not raw_lines:
        subtotal = _money(_minor(invoice, "subtotal", "invoice"), currency)
        discount = Money.zero(currency)
        for item in invoice.get("total_discount_amounts") or []:
            discount += _money(_minor(item, "amount", "invoice.total_discount_amounts[]"), currency)
        tax = _invoice_taxes(invoice, currency)
        summary = InvoiceLine(line_id=f"{invoice['id']}:summary", description="invoice subtotal (lines truncated)",
                              amount=subtotal, discount=None if discount.is_zero() else discount,
                              tax=None if tax.is_zero() else tax)
        return [summary], "line detail truncated by Stripe; posted from invoice totals"
    lines: list[InvoiceLine] = []
    for position, raw in enumerate(raw_lines):
        where = f"invoice.lines[{position}]"
        if not isinstance(raw, dict):
            raise NormalizationError(f"{where} is not an object", reason="missing_field", field=where)
        line_currency = raw.get("currency", currency)
        if isinstance(line_currency, str) and line_currency.lower() != currency.lower():
            raise NormalizationError(f"{where} is in {line_currency}, invoice in {currency}",
                                     reason="currency_mismatch")
        amount = _money(_minor(raw, "amount", where), currency)
        discount = Money.zero(currency)
        for item in raw.get("discount_amounts") or []:
            discount += _money(_minor(item, "amount", f"{where}.discount_amounts[]"), currency)
        exclusive, inclusive = _line_taxes(raw, currency)
        product, price = _line_product(raw)
        period = raw.get("period") if isinstance(raw.get("period"), dict) else {}
        quantity = raw.get("quantity")
        lines.append(InvoiceLine(
            line_id=str(raw.get("id") or f"{invoice['id']}:{position}"),
            description=(raw.get("description") or None),
            amount=amount,
            discount=discount if not discount.is_zero() else None,
            tax=exclusive if not exclusive.is_zero() else None,
            inclusive_tax=inclusive if not inclusive.is_zero() else None,
            tax_treatment=_line_treatment(raw),
            quantity=quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 1,
            product_id=product, price_id=price,
            service_start=_date(period.get("start"), entity), service_end=_date(period.get("end"), entity),
            proration=_line_proration(raw),
            usage=_line_usage(raw, price, ctx) if ctx is not None else None,
        ))
    return lines, None


def _metadata(invoice: dict[str, Any]) -> dict[str, Any]:
    """The invoice's metadata over its subscription's (``subscription_details``; ``parent`` in newer API versions)."""
    merged: dict[str, Any] = {}
    parent = invoice.get("parent") if isinstance(invoice.get("parent"), dict) else {}
    for holder in (parent.get("subscription_details"), invoice.get("subscription_details"), invoice):
        if isinstance(holder, dict) and isinstance(holder.get("metadata"), dict):
            merged.update(holder["metadata"])
    return merged


def _invoice_party(invoice: dict[str, Any], ctx: NormalizeContext | None = None) -> Party:
    customer = _id_of(invoice.get("customer"))
    if not customer:
        raise NormalizationError("invoice has no customer", reason="missing_field", field="invoice.customer")
    country = (invoice.get("customer_address") or {}).get("country") if isinstance(
        invoice.get("customer_address"), dict) else None
    source = lookups_for(ctx.config).source(ctx.source_id) if ctx is not None else None
    keys = source.crm_metadata_keys if isinstance(source, StripeSource) else {}
    metadata = _metadata(invoice) if keys else {}
    external = {identity: str(metadata[key]).strip() for key, identity in keys.items()
                if isinstance(metadata.get(key), str | int) and str(metadata[key]).strip()}
    return Party(role="customer", source_id=customer, name=invoice.get("customer_name") or None,
                 country=country if isinstance(country, str) and len(country) == 2 else None, external_ids=external)


def invoice_document(event: dict[str, Any], invoice: dict[str, Any], ctx: NormalizeContext) -> Invoice:
    entity = _entity_for(event, ctx)
    invoice_id = _require(invoice, "id", str, "invoice")
    currency = _require(invoice, "currency", str, "invoice")
    total = _money(_minor(invoice, "total", "invoice"), currency)
    lines, memo = _invoice_lines(invoice, currency, entity, ctx)
    transitions = invoice.get("status_transitions") if isinstance(invoice.get("status_transitions"), dict) else {}
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
            number=invoice.get("number") or None, lines=tuple(lines), total=total,
            due_date=_date(invoice.get("due_date"), entity), subscription_id=_invoice_subscription(invoice),
        )
    except ValidationError as exc:
        raise NormalizationError(f"invoice {invoice_id} does not tie out: {_first_error(exc)}",
                                 reason="amounts_inconsistent", invoice=invoice_id) from None


def _payment_reference(invoice: dict[str, Any]) -> str | None:
    for key in ("charge", "payment_intent"):
        ref = _id_of(invoice.get(key))
        if ref:
            return ref
    payments = invoice.get("payments")
    if isinstance(payments, dict):
        for item in payments.get("data") or []:
            payment = item.get("payment") if isinstance(item, dict) else None
            if isinstance(payment, dict):
                ref = _id_of(payment.get("charge")) or _id_of(payment.get("payment_intent"))
                if ref:
                    return ref
    return None


def invoice_payment_document(event: dict[str, Any], invoice: dict[str, Any], invoice_doc: Invoice,
                             ctx: NormalizeContext) -> Payment | None:
    amount_paid = _minor(invoice, "amount_paid", "invoice")
    if amount_paid <= 0:
        return None
    entity = _entity_for(event, ctx)
    transitions = invoice.get("status_transitions") if isinstance(invoice.get("status_transitions"), dict) else {}
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


def invoice_overpayment_document(event: dict[str, Any], invoice: dict[str, Any], payment: Payment,
                                 ctx: NormalizeContext) -> Payment | None:
    """The part of ``amount_paid`` above the invoice total, as its own receipt that names no invoice (object type
    ``unapplied_payment``: Dr cash · Cr customer_credit), or None. Same event, same id: posted once."""
    excess = _money(_minor(invoice, "amount_paid", "invoice"), payment.currency) - payment.amount
    if excess.amount <= 0:
        return None
    source = _source_ref(event, "unapplied_payment", payment.source.object_id, "paid", ctx)
    return Payment.model_validate({
        **payment.model_dump(), "document_id": source.document_id(), "source": source, "amount": excess,
        "applies_to_document_id": None,
        "memo": f"overpayment of invoice {payment.source.object_id}: {excess} unapplied (customer credit)"})


def _lines_move(invoice: dict[str, Any]) -> bool:
    """Whether any embedded line of a zero-total invoice has an amount (proration lines that net to zero)."""
    lines = invoice.get("lines") if isinstance(invoice.get("lines"), dict) else {}
    return any(isinstance(line, dict) and isinstance(line.get("amount"), int) and line["amount"] != 0
               for line in lines.get("data") or [])


def _changes_schedules(invoice_doc: Invoice, ctx: NormalizeContext) -> bool:
    """Whether the revenue policy defers any line of the invoice (it then adds schedule lines)."""
    from ledgerlink.pipeline.revenue import defer

    return defer(invoice_doc, ctx.config) is not invoice_doc


def _normalize_invoice(event: dict[str, Any], ctx: NormalizeContext, result: Normalized) -> None:
    invoice = event["data"]["object"]
    if invoice.get("object") not in (None, "invoice"):
        raise NormalizationError("event data is not an invoice", reason="unexpected_object")
    zero = _minor(invoice, "total", "invoice") == 0
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

def _transition_time(event: dict[str, Any], invoice: dict[str, Any], key: str) -> int:
    transitions = invoice.get("status_transitions") if isinstance(invoice.get("status_transitions"), dict) else {}
    when = transitions.get(key) or event.get("created")
    if not isinstance(when, int):
        raise NormalizationError(f"invoice has no {key} time", reason="missing_field",
                                 field=f"invoice.status_transitions.{key}")
    return when


def _normalize_invoice_voided(event: dict[str, Any], ctx: NormalizeContext, result: Normalized) -> None:
    """``invoice.voided`` → the invoice (same id as ``invoice.finalized``: a late or lost one loses nothing) and a
    :class:`Reversal` of its posted journal, dated the day it was voided (``status_transitions.voided_at``): the
    receivable, revenue (or deferred revenue) and tax it booked are undone; its schedules stop (a void fact)."""
    invoice = event["data"]["object"]
    if _minor(invoice, "total", "invoice") == 0:
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


def _written_off(invoice: dict[str, Any]) -> int:
    remaining = invoice.get("amount_remaining")
    if isinstance(remaining, int) and not isinstance(remaining, bool):
        return remaining
    return _minor(invoice, "amount_due", "invoice") - _minor(invoice, "amount_paid", "invoice")


def _normalize_invoice_uncollectible(event: dict[str, Any], ctx: NormalizeContext, result: Normalized) -> None:
    """``invoice.marked_uncollectible`` → the invoice and a :class:`WriteOff` of what is still open on it
    (``amount_remaining``): Dr bad_debt · Cr receivable; the revenue stays (an impairment, ASC 310 / IFRS 9)."""
    invoice = event["data"]["object"]
    if _minor(invoice, "total", "invoice") == 0:
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


def _write_off_recovery(event: dict[str, Any], invoice: dict[str, Any], payment: Payment,
                        ctx: NormalizeContext) -> list[WriteOff]:
    """A payment of an invoice Stripe marked uncollectible (``status_transitions.marked_uncollectible_at``) first
    reverses the write-off for the amount it applies (Dr receivable · Cr bad_debt), so the receivable it credits
    was debited again and never goes below zero. Read from the paid invoice itself: either order gives this book."""
    transitions = invoice.get("status_transitions") if isinstance(invoice.get("status_transitions"), dict) else {}
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

def _invoice_doc_id(charge: dict[str, Any]) -> str | None:
    invoice_id = _id_of(charge.get("invoice"))
    return SourceRef(system=SYSTEM, object_type="invoice", object_id=invoice_id,
                     version="finalized").document_id() if invoice_id else None


def _refund_payment(event: dict[str, Any], charge: dict[str, Any], *, object_id: str, version: str,
                    minor_units: int, created: Any, reference: str, ctx: NormalizeContext) -> Payment:
    entity = _entity_for(event, ctx)
    currency = _require(charge, "currency", str, "charge")
    when = created if isinstance(created, int) else event.get("created")
    if not isinstance(when, int):
        raise NormalizationError("refund has no creation time", reason="missing_field", field="refund.created")
    occurred = utc_instant(when)
    source = _source_ref(event, "refund", object_id, version, ctx)
    invoice_doc_id = _invoice_doc_id(charge)
    customer = _id_of(charge.get("customer"))
    return Payment(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency,
        direction="refunded", amount=_money(minor_units, currency, flow="charge"),
        party=Party(role="customer", source_id=customer) if customer else None,
        applies_to_document_id=invoice_doc_id,
        related_document_ids=(invoice_doc_id,) if invoice_doc_id else (),
        method="stripe", reference=reference, memo=f"refund of charge {charge.get('id')}",
    )


def _listed_refunds_of(charge_id: str, listed: list[Any], previous: int, refunded_now: int
                       ) -> list[dict[str, Any]] | None:
    """The listed refunds that make up this event's increase of ``amount_refunded``: the charge's settled refunds in
    creation order tile ``(0, amount_refunded]``, and this event's are those inside ``(previous, refunded_now]``
    (so a later event's refunds, already listed when this one is fetched late, are left to their own event).
    None when the list does not tile the increase exactly (a refund that failed since, a list Stripe truncated)."""
    settled = []
    for position, refund in enumerate(listed):
        if not isinstance(refund, dict):
            raise NormalizationError(f"fetched refund {position} of charge {charge_id} is not an object",
                                     reason="source_response_malformed")
        if refund.get("status") in SETTLED_REFUND_STATUSES:
            _require(refund, "id", str, f"fetched refunds[{position}]")
            _minor(refund, "amount", f"fetched refunds[{position}]")
            created = refund.get("created")
            settled.append((created if isinstance(created, int) else 0, refund["id"], refund))
    settled.sort(key=lambda item: (item[0], item[1]))
    window, cumulative = [], 0
    for _, _, refund in settled:
        start, cumulative = cumulative, cumulative + refund["amount"]
        if start >= previous and cumulative <= refunded_now:
            window.append(refund)
    if sum(refund["amount"] for refund in window) != refunded_now - previous:
        return None
    return window


def _normalize_charge_refunded(event: dict[str, Any], ctx: NormalizeContext, result: Normalized,
                               fetched: dict[str, Any] | None = None) -> None:
    charge = event["data"]["object"]
    charge_id = _require(charge, "id", str, "charge")
    refunds = charge.get("refunds")
    if isinstance(refunds, dict) and isinstance(refunds.get("data"), list) and refunds["data"]:
        if refunds.get("has_more"):
            result.ignored.append(Ignored("refund_list_truncated",
                                          f"charge {charge_id}: only the embedded refunds were normalized"))
        for position, refund in enumerate(refunds["data"]):
            refund_id = _require(refund, "id", str, f"charge.refunds[{position}]")
            if refund.get("status") not in SETTLED_REFUND_STATUSES:
                result.ignored.append(Ignored("refund_not_settled", f"refund {refund_id} is {refund.get('status')}"))
                continue
            result.documents.append(_refund_payment(
                event, charge, object_id=refund_id, version="1",
                minor_units=_minor(refund, "amount", f"charge.refunds[{position}]"),
                created=refund.get("created"), reference=refund_id, ctx=ctx))
        return
    # Newer API versions do not embed refunds: the delta of amount_refunded is the new refund.
    refunded_now = _minor(charge, "amount_refunded", "charge")
    previous = (event["data"].get("previous_attributes") or {}).get("amount_refunded", 0)
    if not isinstance(previous, int) or isinstance(previous, bool):
        raise NormalizationError("previous_attributes.amount_refunded is not an integer", reason="missing_field",
                                 field="previous_attributes.amount_refunded")
    delta = refunded_now - previous
    if delta <= 0:
        result.ignored.append(Ignored("no_new_refund", f"charge {charge_id}: amount_refunded did not increase"))
        return
    listed = fetched.get("refunds") if isinstance(fetched, dict) else None
    window = _listed_refunds_of(charge_id, listed, previous, refunded_now) if isinstance(listed, list) else None
    if window is not None:
        # the cash-data API named them: each refund under its own id, as the older API shape posts it, so a credit
        # note that pays out one of them (refunds[].refund) takes it out of the revenue schedule once (D89)
        for refund in window:
            result.documents.append(_refund_payment(
                event, charge, object_id=refund["id"], version="1", minor_units=refund["amount"],
                created=refund.get("created"), reference=refund["id"], ctx=ctx))
        return
    result.documents.append(_refund_payment(
        event, charge, object_id=charge_id, version=f"refunded-through-{refunded_now}", minor_units=delta,
        created=event.get("created"), reference=charge_id, ctx=ctx))


# ---- credit notes ------------------------------------------------------------------------------

def _credit_note_lines(note: dict[str, Any], currency: str) -> list[InvoiceLine]:
    lines_obj = note.get("lines") if isinstance(note.get("lines"), dict) else {}
    raw_lines = lines_obj.get("data") if isinstance(lines_obj.get("data"), list) else []
    if lines_obj.get("has_more") or not raw_lines:
        subtotal = _money(_minor(note, "subtotal", "credit_note"), currency)
        tax = _money(_minor(note, "total", "credit_note"), currency) - subtotal
        if tax.amount < 0:
            raise NormalizationError("credit note total is below its subtotal", reason="amounts_inconsistent")
        return [InvoiceLine(line_id=f"{note['id']}:summary", description="credit note subtotal (lines truncated)",
                            amount=subtotal, tax=None if tax.is_zero() else tax)]
    lines = []
    for position, raw in enumerate(raw_lines):
        where = f"credit_note.lines[{position}]"
        amount = _money(_minor(raw, "amount", where), currency)
        discount = Money.zero(currency)
        for item in raw.get("discount_amounts") or []:
            discount += _money(_minor(item, "amount", f"{where}.discount_amounts[]"), currency)
        exclusive, inclusive = _line_taxes(raw, currency)
        quantity = raw.get("quantity")
        credited = raw.get("invoice_line_item") if raw.get("type", "invoice_line_item") == "invoice_line_item" else None
        lines.append(InvoiceLine(
            line_id=str(raw.get("id") or f"{note['id']}:{position}"), description=raw.get("description") or None,
            amount=amount, discount=None if discount.is_zero() else discount,
            tax=None if exclusive.is_zero() else exclusive, inclusive_tax=None if inclusive.is_zero() else inclusive,
            quantity=quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 1,
            applies_to_line_id=_id_of(credited)))
    return lines


def _normalize_credit_note(event: dict[str, Any], ctx: NormalizeContext, result: Normalized) -> None:
    note = event["data"]["object"]
    note_id = _require(note, "id", str, "credit_note")
    currency = _require(note, "currency", str, "credit_note")
    entity = _entity_for(event, ctx)
    created = note.get("effective_at") or note.get("created")
    if not isinstance(created, int):
        raise NormalizationError("credit note has no creation time", reason="missing_field", field="credit_note.created")
    customer = _id_of(note.get("customer"))
    if not customer:
        raise NormalizationError("credit note has no customer", reason="missing_field", field="credit_note.customer")
    invoice_id = _id_of(note.get("invoice"))
    invoice_doc = SourceRef(system=SYSTEM, object_type="invoice", object_id=invoice_id,
                            version="finalized").document_id() if invoice_id else None
    occurred = utc_instant(created)
    source = _source_ref(event, "credit_note", note_id, "issued", ctx)
    try:
        result.documents.append(CreditNote(
            document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
            occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency,
            party=Party(role="customer", source_id=customer), number=note.get("number") or None,
            lines=tuple(_credit_note_lines(note, currency)), total=_money(_minor(note, "total", "credit_note"), currency),
            original_document_id=invoice_doc, related_document_ids=(invoice_doc,) if invoice_doc else (),
            reason=note.get("reason") or None, memo=f"credit note {note.get('number') or note_id}"))
    except ValidationError as exc:
        raise NormalizationError(f"credit note {note_id} does not tie out: {_first_error(exc)}",
                                 reason="amounts_inconsistent", credit_note=note_id) from None
    result.documents.extend(_credit_note_refunds(event, note, result.documents[-1], ctx))  # type: ignore[arg-type]


def _note_refunds(note: dict[str, Any]) -> list[tuple[str, int]]:
    """(refund id, amount of it applied to the note) for each refund a post-payment credit note pays out: current
    API ``refunds[]`` (``refund``, ``amount_refunded``), older ``refund`` (the amount is the refund's own when
    expanded, else the note's total less what was credited outside Stripe). A pre-payment note refunds nothing."""
    if note.get("type") == "pre_payment":
        return []
    found: list[tuple[str, int]] = []
    for position, item in enumerate(note.get("refunds") or []):
        refund_id = _id_of(item.get("refund")) if isinstance(item, dict) else None
        if refund_id:
            found.append((refund_id, _minor(item, "amount_refunded", f"credit_note.refunds[{position}]")))
    single = note.get("refund")
    if not found and _id_of(single):
        amount = single.get("amount") if isinstance(single, dict) else None
        if not isinstance(amount, int) or isinstance(amount, bool):
            out_of_band = note.get("out_of_band_amount")
            amount = _minor(note, "total", "credit_note") - (out_of_band if isinstance(out_of_band, int) else 0)
        found.append((str(_id_of(single)), min(amount, _minor(note, "total", "credit_note"))))
    return found


def _credit_note_refunds(event: dict[str, Any], note: dict[str, Any], credit: CreditNote,
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

def _dispute_payment(event: dict[str, Any], dispute: dict[str, Any], ctx: NormalizeContext, *, direction: str,
                     version: str, related: str | None) -> Payment:
    dispute_id = _require(dispute, "id", str, "dispute")
    currency = _require(dispute, "currency", str, "dispute")
    entity = _entity_for(event, ctx)
    when = event.get("created") if isinstance(event.get("created"), int) else dispute.get("created")
    if not isinstance(when, int):
        raise NormalizationError("dispute event has no time", reason="missing_field", field="created")
    fees: list[Fee] = []
    if direction == "chargeback":
        for position, txn in enumerate(dispute.get("balance_transactions") or []):
            if isinstance(txn, dict) and isinstance(txn.get("fee"), int) and txn["fee"] > 0:
                fees.append(Fee(kind="dispute", amount=_money(_minor(txn, "fee", f"dispute.balance_transactions"
                                                                                 f"[{position}]"), currency),
                                description="Stripe dispute fee"))
    occurred = utc_instant(when)
    source = _source_ref(event, "dispute", dispute_id, version, ctx)
    charge = _id_of(dispute.get("charge"))
    return Payment(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency, direction=direction,
        amount=_money(_minor(dispute, "amount", "dispute"), currency, flow="charge"), fees=tuple(fees), method="stripe",
        reference=charge or dispute_id, applies_to_document_id=related,
        related_document_ids=(related,) if related else (),
        memo=f"dispute {dispute_id} ({dispute.get('reason') or 'no reason'}) on charge {charge}")


def _normalize_dispute(event: dict[str, Any], ctx: NormalizeContext, result: Normalized) -> None:
    dispute = event["data"]["object"]
    dispute_id = _require(dispute, "id", str, "dispute")
    status = dispute.get("status") if isinstance(dispute.get("status"), str) else ""
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

_SUBSCRIPTION_ACTIONS = {"customer.subscription.created": "created", "customer.subscription.updated": "updated",
                         "customer.subscription.deleted": "cancelled"}


def _subscription_items(subscription: dict[str, Any]) -> list[SubscriptionItem]:
    items_obj = subscription.get("items") if isinstance(subscription.get("items"), dict) else {}
    items = []
    for raw in items_obj.get("data") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            continue
        price = raw.get("price") if isinstance(raw.get("price"), dict) else (raw.get("plan") or {})
        recurring = price.get("recurring") if isinstance(price.get("recurring"), dict) else price
        currency = price.get("currency")
        unit = price.get("unit_amount") if "unit_amount" in price else price.get("amount")
        interval = recurring.get("interval")
        count = recurring.get("interval_count")
        quantity = raw.get("quantity")
        items.append(SubscriptionItem(
            item_id=raw["id"], price_id=price.get("id") or None, product_id=_id_of(price.get("product")),
            quantity=quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else 1,
            unit_amount=_money(unit, currency) if isinstance(unit, int) and isinstance(currency, str) else None,
            interval=interval if interval in ("day", "week", "month", "year") else None,
            interval_count=count if isinstance(count, int) and 0 < count < 1000 else 1))
    return items


def _normalize_subscription(event: dict[str, Any], ctx: NormalizeContext, result: Normalized) -> None:
    subscription = event["data"]["object"]
    subscription_id = _require(subscription, "id", str, "subscription")
    customer = _id_of(subscription.get("customer"))
    if not customer:
        raise NormalizationError("subscription has no customer", reason="missing_field", field="subscription.customer")
    entity = _entity_for(event, ctx)
    action = _SUBSCRIPTION_ACTIONS[event["type"]]
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

def _normalize_payout(event: dict[str, Any], ctx: NormalizeContext, result: Normalized,
                      fetched: dict[str, Any] | None = None) -> None:
    """``payout.paid`` / ``payout.reconciliation_completed`` → one Payout (both name the same document). With the
    source's cash-data API, an automatic payout's balance transactions (``fetched``) give its fees per type and
    its adjustments (D83); it posts once Stripe has finished reconciling it."""
    payout = event["data"]["object"]
    payout_id = _require(payout, "id", str, "payout")
    currency = _require(payout, "currency", str, "payout")
    entity = _entity_for(event, ctx)
    paid = event["type"] != "payout.failed"
    listed = fetched is not None and isinstance(fetched.get("balance_transactions"), list)
    if paid and not listed and event["type"] == "payout.reconciliation_completed":
        result.ignored.append(Ignored("payout_posted_on_paid", f"{payout_id}: posted from payout.paid (no cash-data "
                                                               "API, or a manual payout Stripe cannot list)"))
        return
    if paid and listed and payout.get("reconciliation_status") == "in_progress":
        result.ignored.append(Ignored("payout_reconciliation_in_progress",
                                      f"{payout_id}: posted at payout.reconciliation_completed"))
        return
    when = payout.get("arrival_date") if paid else event.get("created")
    if not isinstance(when, int):
        raise NormalizationError("payout has no arrival date", reason="missing_field", field="payout.arrival_date")
    amount = _minor(payout, "amount", "payout")
    fees, adjustments, conversions, settled = [], [], [], 0
    if listed:
        from ledgerlink.connectors.sources.stripe.payouts import settle

        settlement = settle(payout_id, currency, amount, fetched["balance_transactions"], _money)  # type: ignore[index]
        fees, adjustments, settled = settlement.fees, settlement.adjustments, settlement.count
        conversions = settlement.conversions
    else:
        own = payout.get("balance_transaction")
        if isinstance(own, dict) and isinstance(own.get("fee"), int) and own["fee"] > 0:
            fees.append(Fee(kind="payout", amount=_money(own["fee"], currency), description="Stripe payout fee"))
    occurred = utc_instant(when)
    source = _source_ref(event, "payout", payout_id, "paid" if paid else "failed", ctx)
    paid_doc = _source_ref(event, "payout", payout_id, "paid", ctx).document_id()
    result.documents.append(Payout(
        document_id=source.document_id(), source=source, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=currency,
        direction="paid" if paid else "failed", amount=_money(amount, currency, flow="payout"),
        fees=tuple(fees), adjustments=tuple(adjustments), conversions=tuple(conversions), settled_count=settled,
        destination=_id_of(payout.get("destination")),
        arrival_date=_date(payout.get("arrival_date"), entity), reference=payout_id,
        related_document_ids=() if paid else (paid_doc,),
        memo=f"Stripe payout {payout_id}" + ("" if paid else f" failed ({payout.get('failure_code')})")
        + (f" ({settled} balance transactions)" if settled else "")))


# ---- usage (billing meter events) ----------------------------------------------------------------

def _meter_records(event: dict[str, Any], ctx: NormalizeContext) -> tuple[str, list[UsageRecord]]:
    obj = event["data"]["object"]
    raw = obj.get("data") if obj.get("object") == "list" else [obj]
    if not isinstance(raw, list) or not raw:
        raise NormalizationError("billing.meter_event carries no meter events", reason="missing_field",
                                 field="data.object")
    names = {item.get("event_name") for item in raw if isinstance(item, dict)}
    if len(names) != 1 or not all(isinstance(item, dict) for item in raw):
        raise NormalizationError("one delivery carries the events of one meter (event_name)",
                                 reason="mixed_meter_events")
    event_name = names.pop()
    if not isinstance(event_name, str) or not event_name:
        raise NormalizationError("meter event has no event_name", reason="missing_field", field="event_name")
    meter = ctx.config.revenue_recognition.meter_named(event_name)
    customer_key = meter.customer_key if meter else "stripe_customer_id"
    value_key = meter.value_key if meter else "value"
    records = []
    for position, item in enumerate(raw):
        where = f"meter_events[{position}]"
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        identifier = _require(item, "identifier", str, where)
        customer = payload.get(customer_key)
        quantity = payload.get(value_key)
        if not isinstance(customer, str) or not customer:
            raise NormalizationError(f"{where}.payload.{customer_key} is missing", reason="missing_field",
                                     field=f"{where}.payload.{customer_key}")
        # Stripe documents the value as a string holding a number (``"25"``); a float never enters
        if isinstance(quantity, bool) or not isinstance(quantity, (str, int)):
            raise NormalizationError(f"{where}.payload.{value_key} is not a number", reason="invalid_amount",
                                     field=f"{where}.payload.{value_key}")
        try:
            value = Decimal(str(quantity))
        except InvalidOperation:
            raise NormalizationError(f"{where}.payload.{value_key} {quantity!r} is not a number",
                                     reason="invalid_amount", field=f"{where}.payload.{value_key}") from None
        when = item.get("timestamp") if isinstance(item.get("timestamp"), int) else item.get("created")
        if not isinstance(when, int) or not value.is_finite():
            raise NormalizationError(f"{where} has no timestamp or a bad value", reason="missing_field",
                                     field=f"{where}.timestamp")
        records.append(UsageRecord(identifier=identifier, customer=customer, value=value, timestamp=utc_instant(when)))
    return event_name, records


def _normalize_meter_events(event: dict[str, Any], ctx: NormalizeContext, result: Normalized) -> None:
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

_HANDLERS: dict[str, Callable[[dict[str, Any], NormalizeContext, Normalized], None]] = {
    "invoice.finalized": _normalize_invoice,
    "invoice.paid": _normalize_invoice,
    "invoice.payment_succeeded": _normalize_invoice,
    "invoice.voided": _normalize_invoice_voided,
    "invoice.marked_uncollectible": _normalize_invoice_uncollectible,
    "charge.refunded": _normalize_charge_refunded,
    "credit_note.created": _normalize_credit_note,
    "charge.dispute.created": _normalize_dispute,
    "charge.dispute.funds_withdrawn": _normalize_dispute,
    "charge.dispute.funds_reinstated": _normalize_dispute,
    "charge.dispute.closed": _normalize_dispute,
    "customer.subscription.created": _normalize_subscription,
    "customer.subscription.updated": _normalize_subscription,
    "customer.subscription.deleted": _normalize_subscription,
    "payout.paid": _normalize_payout,
    "payout.reconciliation_completed": _normalize_payout,
    "payout.failed": _normalize_payout,
    "billing.meter_event": _normalize_meter_events,
}


_FETCHING = (_normalize_payout, _normalize_charge_refunded)  # their events may carry what the cash-data API fetched


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    return str(error.get("msg", exc))


def normalize(event: dict[str, Any], ctx: NormalizeContext) -> Normalized:
    """Canonical documents for one Stripe event; unhandled types come back in ``ignored``.

    Raises :class:`NormalizationError` (with a reason code) when a handled event cannot be read; the
    caller turns that into an exception case that names the archived payload.
    """
    result = Normalized()
    fetched = None
    if isinstance(event.get("notification"), dict):   # expanded by the fetch step (the source has cash-data API)
        fetched = event.get("fetched") if isinstance(event.get("fetched"), dict) else None
        event = event["notification"]
    event_type = event.get("type")
    handler = _HANDLERS.get(event_type) if isinstance(event_type, str) else None
    if handler is None:
        result.ignored.append(Ignored("unsupported_event_type", str(event_type)))
        return result
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise NormalizationError("event has no data.object", reason="missing_field", field="data.object")
    try:
        if handler in _FETCHING:
            handler(event, ctx, result, fetched)
        else:
            handler(event, ctx, result)
    except ValidationError as exc:
        raise NormalizationError(f"{event_type}: {_first_error(exc)}", reason="invalid_document") from None
    return result
