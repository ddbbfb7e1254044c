"""Paddle Billing events → canonical documents (pure).

``transaction.completed`` is a transaction Paddle has billed and collected: it becomes

- an **invoice** to the customer (``ctm_...``): one line per ``details.line_items[]`` — ``totals.subtotal`` as the
  amount, ``totals.discount`` and ``totals.tax`` when not zero — totalling ``details.totals.total``;
- its **payment**: ``details.totals.total`` received, Paddle's ``details.totals.fee`` as a fee (``fees.<fee_kind>``),
  applied to that invoice.

Paddle sends amounts as strings of integer minor units (``"5500"`` USD = 55.00). Every other event type is
recorded as ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from ledgerlink.config.model import Entity
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    local_date,
    parse_instant,
)
from ledgerlink.connectors.sources.paddle.config import PaddleSource
from ledgerlink.errors import NormalizationError
from ledgerlink.model.documents import Fee, Invoice, InvoiceLine, Party, Payment, SourceRef
from ledgerlink.model.json import JsonValue
from ledgerlink.model.money import CurrencyError, Money

SYSTEM = "paddle"
COMPLETED = "transaction.completed"


def _object(holder: Mapping[str, JsonValue], key: str, *, where: str) -> Mapping[str, JsonValue]:
    value = holder.get(key)
    if not isinstance(value, dict):
        raise NormalizationError(f"{where}.{key} is missing", reason="missing_field", field=f"{where}.{key}")
    return value


def _text(holder: Mapping[str, JsonValue], key: str, *, where: str) -> str:
    value = holder.get(key)
    if not isinstance(value, str) or not value:
        raise NormalizationError(f"{where}.{key} is missing", reason="missing_field", field=f"{where}.{key}")
    return value


def _minor(holder: Mapping[str, JsonValue], key: str, currency: str, *, where: str) -> Money:
    """``"5500"`` → 55.00 in ``currency``; absent means zero (Paddle omits a discount nobody got)."""
    value = holder.get(key, "0")
    if not isinstance(value, str) or not value.lstrip("-").isdigit():
        raise NormalizationError(f"{where}.{key} {value!r} is not an amount in minor units", reason="invalid_amount",
                                 field=f"{where}.{key}")
    try:
        return Money.from_minor(int(value), currency)
    except CurrencyError as exc:
        raise NormalizationError(f"{where}: {exc}", reason="invalid_currency", field="data.currency_code") from None


def _line(item: JsonValue, position: int, currency: str) -> InvoiceLine:
    where = f"data.details.line_items[{position}]"
    if not isinstance(item, dict):
        raise NormalizationError(f"{where} is not an object", reason="malformed_payload", field=where)
    totals = _object(item, "totals", where=where)
    product = item.get("product")
    product = product if isinstance(product, dict) else {}
    discount = _minor(totals, "discount", currency, where=f"{where}.totals")
    tax = _minor(totals, "tax", currency, where=f"{where}.totals")
    quantity = item.get("quantity")
    name, product_id, price_id = product.get("name"), product.get("id"), item.get("price_id")
    return InvoiceLine(
        line_id=_text(item, "id", where=where), amount=_minor(totals, "subtotal", currency, where=f"{where}.totals"),
        discount=discount if discount.amount else None, tax=tax if tax.amount else None,
        quantity=Decimal(quantity) if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0
        else Decimal(1),
        description=name if isinstance(name, str) and name else None,
        product_id=product_id if isinstance(product_id, str) and product_id else None,
        price_id=price_id if isinstance(price_id, str) and price_id else None)


def _source(ctx: NormalizeContext) -> PaddleSource:
    source = ctx.config.source(ctx.source_id)
    if not isinstance(source, PaddleSource):
        raise NormalizationError(f"source {ctx.source_id!r} is not a Paddle source", reason="source_mismatch")
    return source


def _ref(event: Mapping[str, JsonValue], object_type: str, txn_id: str, ctx: NormalizeContext) -> SourceRef:
    return SourceRef(system=SYSTEM, object_type=object_type, object_id=txn_id, version="completed",
                     event_id=str(event.get("event_id")), event_type=COMPLETED, archive_key=ctx.archive_key,
                     source_id=ctx.source_id)


def _invoice(event: Mapping[str, JsonValue], data: Mapping[str, JsonValue], entity: Entity, occurred: datetime,
             ctx: NormalizeContext) -> Invoice:
    txn_id, currency = _text(data, "id", where="data"), _text(data, "currency_code", where="data")
    details = _object(data, "details", where="data")
    items = details.get("line_items")
    if not isinstance(items, list) or not items:
        raise NormalizationError("data.details.line_items is empty", reason="missing_field",
                                 field="data.details.line_items")
    lines = tuple(_line(item, position, currency) for position, item in enumerate(items))
    total = _minor(_object(details, "totals", where="data.details"), "total", currency, where="data.details.totals")
    zero = Money.zero(total.currency)
    from_lines = sum((line.amount - (line.discount or zero) + (line.tax or zero) for line in lines), zero)
    if from_lines != total:
        raise NormalizationError(f"line items add up to {from_lines}, but the transaction total is {total}",
                                 reason="invalid_amount", field="data.details.totals.total")
    ref = _ref(event, "transaction", txn_id, ctx)
    number = data.get("invoice_number")
    return Invoice(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=total.currency,
        party=Party(role="customer", source_id=_text(data, "customer_id", where="data")),
        number=number if isinstance(number, str) and number else None, lines=lines, total=total,
        memo=f"Paddle transaction {txn_id}")


def _payment(event: Mapping[str, JsonValue], data: Mapping[str, JsonValue], invoice: Invoice, source: PaddleSource,
             ctx: NormalizeContext) -> Payment:
    totals = _object(_object(data, "details", where="data"), "totals", where="data.details")
    fee = _minor(totals, "fee", invoice.currency, where="data.details.totals")
    ref = _ref(event, "transaction_payment", _text(data, "id", where="data"), ctx)
    return Payment(
        document_id=ref.document_id(), source=ref, entity_id=invoice.entity_id, correlation_id=ctx.correlation_id,
        occurred_at=invoice.occurred_at, accounting_date=invoice.accounting_date, currency=invoice.currency,
        party=invoice.party, amount=invoice.total, fees=(Fee(kind=source.fee_kind, amount=fee),) if fee.amount else (),
        applies_to_document_id=invoice.document_id, related_document_ids=(invoice.document_id,),
        method=_method(data), reference=ref.object_id, memo=f"Paddle payment of {ref.object_id}")


def _method(data: Mapping[str, JsonValue]) -> str:
    """The captured payment's method (``card``, ``paypal`` ...), else ``paddle``."""
    payments = data.get("payments")
    for payment in payments if isinstance(payments, list) else []:
        details = payment.get("method_details") if isinstance(payment, dict) else None
        kind = details.get("type") if isinstance(details, dict) else None
        if isinstance(payment, dict) and payment.get("status") == "captured" and isinstance(kind, str) and kind:
            return kind
    return "paddle"


def normalize(event: dict[str, JsonValue], ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    if event.get("event_type") != COMPLETED:
        result.ignored.append(Ignored("unsupported_event_type", str(event.get("event_type"))))
        return result
    source = _source(ctx)
    data = _object(event, "data", where="event")
    billed = data.get("billed_at") or event.get("occurred_at")
    occurred = parse_instant(billed, field="data.billed_at")
    entity = ctx.config.entity(source.default_entity)
    invoice = _invoice(event, data, entity, occurred, ctx)
    result.documents += [invoice, _payment(event, data, invoice, source, ctx)]
    return result
