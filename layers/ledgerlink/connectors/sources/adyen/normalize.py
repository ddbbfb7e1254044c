"""Adyen standard notifications → canonical documents.

- sales: ``CAPTURE`` (``post_sales_on: CAPTURE``, the default) or ``AUTHORISATION`` (accounts with immediate
  auto-capture, which receive no CAPTURE notification) → Payment received (Dr cash_clearing · Cr receivable);
  the other of the two is recorded as ignored, so one sale never posts twice;
- ``REFUND`` → refund Payment (Dr refunds · Cr cash_clearing), referencing the original payment;
- ``CHARGEBACK`` / ``SECOND_CHARGEBACK`` → chargeback Payment; ``CHARGEBACK_REVERSED`` → its compensation;
- ``CANCELLATION`` → nothing moved when sales post on capture (recorded); with sales on authorisation it
  compensates the posted sale (refund Payment linked to it);
- ``REPORT_AVAILABLE`` of a Settlement details report (downloaded by the normalize step with the report
  user's credentials, ``reports`` in the source config) → one Payout per merchant account, batch and currency:
  Dr payouts_in_transit (what reaches the bank) · Dr fees.processing (commission, markup, scheme fees,
  interchange) · Dr fees.other (fee rows: invoice deductions, misc costs) · Cr cash_clearing (the gross the
  notifications cleared); the bank line that receives it settles payouts_in_transit (cash application). Without
  ``reports`` configured, and for other report types, the notification is recorded as ignored;
- unsuccessful notifications (``success: "false"``) and every other event code are recorded as ignored.

Amounts are ``{"value": <minor units>, "currency": ...}``, converted with the decimals of Adyen's own currency
table (``adyen/currencies.py``: CLP and ISK count hundredths, CVE and IDR whole units), else ISO 4217's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import AdyenSource
from ledgerlink.connectors.sources.adyen.api import is_settlement_report
from ledgerlink.connectors.sources.adyen.currencies import adyen_money
from ledgerlink.connectors.sources.adyen.settlement import SettlementBatch, parse_report
from ledgerlink.connectors.sources.base import Ignored, NormalizeContext, Normalized, local_date
from ledgerlink.connectors.sources.reading import get, obj_or_none, offset_instant, source_of
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import Fee, Invoice, InvoiceLine, Party, Payment, Payout, SourceRef
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.money import Money

SYSTEM = "adyen"
CHARGEBACK_CODES: dict[str, Literal["chargeback", "chargeback_reversed"]] = {
    "CHARGEBACK": "chargeback", "SECOND_CHARGEBACK": "chargeback", "CHARGEBACK_REVERSED": "chargeback_reversed"}


def notification_item(event: JsonObject) -> JsonObject:
    """The one item of a message: ingest passes a single-item delivery as it came, a batch item by item."""
    item = event.get("NotificationRequestItem")
    if isinstance(item, dict):
        return item
    items = event.get("notificationItems")
    if isinstance(items, list) and len(items) == 1:
        item = get(items[0], "NotificationRequestItem")
        if isinstance(item, dict):
            return item
    raise NormalizationError("message holds no single Adyen NotificationRequestItem", reason="missing_field",
                             field="NotificationRequestItem")


def _text(item: JsonObject, key: str) -> str | None:
    value = item.get(key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _amount(item: JsonObject) -> Money:
    amount = item.get("amount")
    if not isinstance(amount, dict):
        raise NormalizationError("notification has no amount", reason="missing_field", field="amount")
    value, currency = amount.get("value"), amount.get("currency")
    if isinstance(value, bool) or not isinstance(value, int):
        # Adyen sends minor units as an integer; 10.5 or "10.50" means someone converted it already
        raise NormalizationError(f"amount.value {value!r} is not an integer in minor units",
                                 reason="invalid_amount", field="amount.value")
    if not isinstance(currency, str):
        raise NormalizationError(f"amount.currency {currency!r} is not a currency code", reason="invalid_currency",
                                 field="amount.currency")
    return adyen_money(value, currency, field="amount")  # Adyen's table ("Currency codes"), not ISO 4217's


def _occurred(item: JsonObject) -> datetime:
    occurred = offset_instant(item.get("eventDate"))
    if occurred is not None:
        return occurred
    raise NormalizationError("notification has no eventDate with a UTC offset", reason="missing_field",
                             field="eventDate")


def _source(ctx: NormalizeContext) -> AdyenSource:
    return source_of(ctx, AdyenSource, "an Adyen source")


def _entity(item: JsonObject, source: AdyenSource, ctx: NormalizeContext) -> Entity:
    return _merchant_entity(_text(item, "merchantAccountCode"), source, ctx)


def _merchant_entity(account: str | None, source: AdyenSource, ctx: NormalizeContext) -> Entity:
    """A merchant account nobody mapped is a case (``unknown_account``), unless the source opted in."""
    entity_id = source.entity_for_account(account)
    if entity_id is None:
        raise unknown_account("Adyen", "merchantAccountCode", str(account), ctx.source_id)
    return ctx.config.entity(entity_id)


def _ref(item: JsonObject, object_type: str, object_id: str, version: str, ctx: NormalizeContext) -> SourceRef:
    return SourceRef(system=SYSTEM, object_type=object_type, object_id=object_id, version=version,
                     event_id=f"{item.get('eventCode')}:{item.get('pspReference')}:{item.get('success')}",
                     event_type=_text(item, "eventCode"), account=_text(item, "merchantAccountCode"),
                     archive_key=ctx.archive_key, source_id=ctx.source_id)


def sale_document_id(payment_psp: str, source: AdyenSource) -> str | None:
    """The sale a refund/cancellation compensates, when it can be named: sales posted at authorisation are
    keyed by the payment's pspReference (a refund's originalReference); captures by their own reference."""
    if source.post_sales_on == "AUTHORISATION":
        return SourceRef(system=SYSTEM, object_type="sale", object_id=payment_psp, version="1").document_id()
    return None


type _Direction = Literal["received", "refunded", "chargeback", "chargeback_reversed"]


def _payment(item: JsonObject, ctx: NormalizeContext, *, object_type: str, object_id: str, direction: _Direction,
             memo: str, related: str | None = None) -> Payment:
    source = _source(ctx)
    entity = _entity(item, source, ctx)
    amount = _amount(item)
    occurred = _occurred(item)
    ref = _ref(item, object_type, object_id, "1", ctx)
    return Payment(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=amount.currency,
        direction=direction, amount=amount, method=_text(item, "paymentMethod") or "adyen",
        reference=_text(item, "merchantReference") or object_id, memo=memo,
        applies_to_document_id=related, related_document_ids=(related,) if related else (),
    )


def _sales_receipt(item: JsonObject, ctx: NormalizeContext, psp: str) -> Invoice:
    """The sale itself (``sales: receipt``): Dr receivable · Cr revenue for the captured amount, which the capture's
    payment then settles — Adyen sends no order or invoice, so without it the payment would leave the receivable
    below zero. Adyen notifications carry no tax breakdown: the amount is revenue as captured."""
    source = _source(ctx)
    entity = _entity(item, source, ctx)
    amount = _amount(item)
    occurred = _occurred(item)
    reference = _text(item, "merchantReference") or psp
    ref = _ref(item, "sales_receipt", psp, "1", ctx)
    return Invoice(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=amount.currency,
        party=Party(role="customer", source_id=f"adyen-sales-{_text(item, 'merchantAccountCode') or 'unknown'}",
                    name="Adyen sales"), number=reference,
        lines=(InvoiceLine(line_id=psp, description=f"Adyen sale {reference}", amount=amount),), total=amount,
        memo=f"Adyen sale {reference} ({psp})")


def _payout_instant(batch: SettlementBatch, source: AdyenSource, fallback: datetime) -> datetime:
    """The MerchantPayout row's Creation Date, read in the report time zone of the Adyen account."""
    zone = source.reports.time_zone if source.reports else "UTC"
    try:
        local = datetime.fromisoformat(batch.payout_created or "")
    except ValueError:
        return fallback
    return (local if local.tzinfo else local.replace(tzinfo=ZoneInfo(zone))).astimezone(UTC)


def _settlement(item: JsonObject, report: str, ctx: NormalizeContext, result: Normalized) -> None:
    source = _source(ctx)
    report_name = _text(item, "pspReference") or "settlement_detail_report"
    notified = _occurred(item)
    for batch in parse_report(report):
        label = f"{batch.merchant_account} batch {batch.batch_number} {batch.currency}"
        if batch.payout <= 0:
            raise NormalizationError(f"{report_name}: {label} pays out {batch.payout}; a batch without a positive "
                                     "payout (carried-forward balance) needs a person", reason="settlement_without_payout",
                                     batch=batch.batch_number)
        entity = _merchant_entity(batch.merchant_account, source, ctx)
        occurred = _payout_instant(batch, source, notified)
        fees = [Fee(kind=kind, amount=Money.of(amount, batch.currency), description=description)
                for kind, amount, description in (
                    ("processing", batch.transaction_costs, "commission, markup, scheme fees, interchange"),
                    ("other", batch.other_costs, "fee rows of the batch (invoice deductions, misc costs)"))
                if amount != Decimal(0)]
        object_id = f"{batch.merchant_account}:{batch.batch_number}:{batch.currency}"
        ref = SourceRef(system=SYSTEM, object_type="settlement_batch", object_id=object_id, version="paid",
                        event_id=f"REPORT_AVAILABLE:{report_name}", event_type="REPORT_AVAILABLE",
                        account=batch.merchant_account or None, archive_key=ctx.archive_key, source_id=ctx.source_id)
        result.documents.append(Payout(
            document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
            occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=batch.currency,
            amount=Money.of(batch.payout, batch.currency), fees=tuple(fees), reference=f"Adyen batch {batch.batch_number}",
            destination=batch.merchant_account or None,
            memo=f"Adyen settlement {label}: {batch.rows} rows ({', '.join(sorted(batch.types))})"))


@dataclass(frozen=True, slots=True)
class _Notification:
    """A successful notification item, read once for every event code's handler."""

    item: JsonObject
    code: str
    psp: str
    original: str | None
    source: AdyenSource
    fetched: JsonValue


def _sale(note: _Notification, ctx: NormalizeContext, result: Normalized) -> None:
    """``CAPTURE`` / ``AUTHORISATION``: the sale's payment (and its receipt, ``sales: receipt``), on the one event
    the source posts sales on."""
    code, psp, source = note.code, note.psp, note.source
    if code != source.post_sales_on:
        result.ignored.append(Ignored("sale_posted_on_other_event",
                                      f"{code} {psp}: this source posts sales on {source.post_sales_on}"))
        return
    object_type = "sale" if code == "AUTHORISATION" else "capture"
    receipt = _sales_receipt(note.item, ctx, psp) if source.sales == "receipt" else None
    if receipt is not None:
        result.documents.append(receipt)
    result.documents.append(_payment(note.item, ctx, object_type=object_type, object_id=psp, direction="received",
                                     memo=f"Adyen {code.lower()} {psp}",
                                     related=receipt.document_id if receipt else None))


def _refund(note: _Notification, ctx: NormalizeContext, result: Normalized) -> None:
    original = note.original
    related = sale_document_id(original, note.source) if original else None
    result.documents.append(_payment(note.item, ctx, object_type="refund", object_id=note.psp, direction="refunded",
                                     memo=f"Adyen refund of {original or 'unknown payment'}", related=related))


def _chargeback(note: _Notification, ctx: NormalizeContext, result: Normalized) -> None:
    code, psp = note.code, note.psp
    result.documents.append(_payment(note.item, ctx, object_type="chargeback", object_id=f"{psp}:{code}",
                                     direction=CHARGEBACK_CODES[code], memo=f"Adyen {code.lower()} of {psp}"))


def _cancellation(note: _Notification, ctx: NormalizeContext, result: Normalized) -> None:
    payment_psp = note.original or note.psp
    related = sale_document_id(payment_psp, note.source)
    if related is None:
        result.ignored.append(Ignored("nothing_captured",
                                      f"CANCELLATION {note.psp}: authorisation voided before capture"))
        return
    result.documents.append(_payment(note.item, ctx, object_type="cancellation", object_id=note.psp,
                                     direction="refunded", memo=f"Adyen cancellation of {payment_psp}",
                                     related=related))


def _report(note: _Notification, ctx: NormalizeContext, result: Normalized) -> None:
    """``REPORT_AVAILABLE``: a downloaded settlement detail report posts its batches; any other report is recorded."""
    report = get(note.fetched, "report")
    settlement = is_settlement_report(note.item)
    if settlement and isinstance(report, str):
        _settlement(note.item, report, ctx, result)
        return
    if note.source.reports is None and settlement:
        result.ignored.append(Ignored("settlement_report_not_downloaded", f"report {note.psp}: configure reports "
                                                                          "(report user credentials) to download it"))
    else:
        result.ignored.append(Ignored("unsupported_report", f"report {note.psp}"))


_HANDLERS: dict[str, Callable[[_Notification, NormalizeContext, Normalized], None]] = {
    "CAPTURE": _sale, "AUTHORISATION": _sale, "REFUND": _refund, "CANCELLATION": _cancellation,
    "REPORT_AVAILABLE": _report, **{code: _chargeback for code in CHARGEBACK_CODES},
}


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    fetched = event.get("fetched") if "notification" in event else None
    event = obj_or_none(event.get("notification")) or event
    item = notification_item(event)
    code = _text(item, "eventCode") or "?"
    psp = _text(item, "pspReference")
    if not psp:
        raise NormalizationError("notification has no pspReference", reason="missing_field", field="pspReference")
    if item.get("success") != "true":
        result.ignored.append(Ignored("not_successful", f"{code} {psp} reports success={item.get('success')}"))
        return result
    note = _Notification(item=item, code=code, psp=psp, original=_text(item, "originalReference"),
                         source=_source(ctx), fetched=fetched)
    handler = _HANDLERS.get(code)
    if handler is None:
        result.ignored.append(Ignored("unsupported_event_type", code))
        return result
    try:
        handler(note, ctx, result)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"{code} {psp}: {first.get('msg')}", reason="invalid_document") from None
    return result
