"""Brex ``EXPENSE_PAYMENT_UPDATED`` events → card transactions (the Brex card liability).

Brex announces card activity with the expense id, a ``version`` that starts at 1 and grows with every update,
the payment status (``PENDING`` / ``DECLINED``), the payment type and the amount in minor units
(``{"amount": 1030, "currency": "USD"}`` = 10.30 USD). The liability exists once Brex has approved the charge,
so:

- ``PENDING`` ``PURCHASE`` → CardTransaction (Dr expense[.<category>] · Cr card_liability), identified by the
  expense id (later versions of the same expense post nothing new); ``REFUND`` → the same with a negative
  amount (merchant refund); ``WITHDRAWAL`` → category ``cash_withdrawal``. Amounts keep Brex's sign: a negative
  purchase credits the expense (never flipped); a negative refund, whose direction is unknowable, is a case;
- ``DECLINED`` with ``version`` > 1 → a compensating card transaction linked to the authorisation it reverses
  (a pending charge that was later declined); ``DECLINED`` at version 1 never created a liability: recorded;
- every other event type (transfers, referrals, users, accounting-record notices) is recorded as ignored.

Brex's webhook carries no category, so the source's ``default_category`` is used (map ``expense.<category>``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import BrexSource
from ledgerlink.connectors.sources.base import Ignored, NormalizeContext, Normalized, local_date, minor_money
from ledgerlink.connectors.sources.reading import offset_instant, source_of, text, text_or_none
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import CardTransaction, Party, SourceRef
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.money import Money

SYSTEM = "brex"
OBJECT_TYPES = {"PURCHASE": "card_expense", "REFUND": "card_refund", "WITHDRAWAL": "card_withdrawal"}


def _source(ctx: NormalizeContext) -> BrexSource:
    return source_of(ctx, BrexSource, "a Brex source")


def _money(event: JsonObject) -> Money:
    for key in ("amount", "billing_amount", "original_amount"):
        holder = event.get(key)
        if isinstance(holder, dict):  # integer minor units, signed as Brex sent it: never abs() (issue 17)
            return minor_money(holder, field=key, currency_key="currency")
    raise NormalizationError("event has no amount", reason="missing_field", field="amount")


def _entity(company: JsonValue, source: BrexSource, ctx: NormalizeContext) -> Entity:
    """The Brex company's entity; a company nobody mapped is a case (``unknown_account``) unless the source opted in."""
    entity_id = source.entity_for_account(str(company) if company else None)
    if entity_id is None:
        raise unknown_account("Brex", "company_id", str(company), ctx.source_id)
    return ctx.config.entity(entity_id)


def _liability_effect(amount: Money, payment_type: JsonValue, expense_id: str) -> Money:
    """What the authorisation does to the card liability, as the CardTransaction amount (+ = Dr expense · Cr
    card_liability). Brex documents its money fields as signed ("an unsigned value will be interpreted as
    positive", developer.brex.com Webhooks API, Expense Payment Updated Event), so a negative PURCHASE or WITHDRAWAL
    is money back on the card and posts as a credit to the expense; a REFUND is sent unsigned (the type says
    the direction) and posts negative. A *negative* REFUND could mean either direction: a case, never a guess."""
    if payment_type != "REFUND":
        return amount
    if amount.amount < 0:
        raise NormalizationError(
            f"expense {expense_id}: a REFUND of {amount}: the type says money back, the sign says the opposite",
            reason="amount_sign_ambiguous", field="amount.amount", expense=expense_id,
            suggested_fix="check the expense in Brex; post it by hand and resolve the case")
    return -amount


def _occurred(event: JsonObject) -> datetime:
    occurred = offset_instant(event.get("purchased_at"))
    if occurred is not None:
        return occurred
    raise NormalizationError("event has no purchased_at timestamp with a UTC offset", reason="missing_field",
                             field="purchased_at")


def _ref(event: JsonObject, object_type: str, expense_id: str, version: str, ctx: NormalizeContext) -> SourceRef:
    return SourceRef(system=SYSTEM, object_type=object_type, object_id=expense_id, version=version,
                     event_type=text(event, "event_type"), account=text_or_none(event, "company_id"),
                     archive_key=ctx.archive_key, source_id=ctx.source_id)


def _card_transaction(event: JsonObject, ctx: NormalizeContext, *, object_type: str, version: str,
                      mirror: bool = False, related: str | None = None) -> CardTransaction:
    """The card transaction of a pending authorisation, or (``mirror``) the compensation of a declined one."""
    source = _source(ctx)
    expense_id = str(event["expense_id"])
    company = event.get("company_id")
    entity = _entity(company, source, ctx)
    occurred = _occurred(event)
    effect = _liability_effect(_money(event), event.get("payment_type"), expense_id)
    amount = -effect if mirror else effect
    ref = _ref(event, object_type, expense_id, version, ctx)
    holder = event.get("user_id") or event.get("card_id") or (f"brex-company:{company}" if company else "brex")
    category = "cash_withdrawal" if object_type == "card_withdrawal" else source.default_category
    return CardTransaction(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=amount.currency,
        cardholder=Party(role="employee", source_id=str(holder)),
        merchant=text_or_none(event, "payment_description") or "unknown merchant", category=category,
        amount=amount,
        memo=f"Brex {object_type.replace('_', ' ')} {expense_id}" + (" (declined)" if related else ""),
        related_document_ids=(related,) if related else (),
    )


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    event_type = event.get("event_type")
    if event_type != "EXPENSE_PAYMENT_UPDATED":
        result.ignored.append(Ignored("unsupported_event_type", str(event_type)))
        return result
    expense_id = event.get("expense_id")
    if not isinstance(expense_id, str) or not expense_id:
        raise NormalizationError("event has no expense_id", reason="missing_field", field="expense_id")
    status, payment_type = event.get("payment_status"), event.get("payment_type")
    version = event.get("version")
    try:
        if status == "PENDING":
            object_type = OBJECT_TYPES.get(payment_type) if isinstance(payment_type, str) else None
            if object_type is None:
                result.ignored.append(Ignored("unsupported_payment_type", f"{expense_id}: {payment_type}"))
                return result
            result.documents.append(_card_transaction(event, ctx, object_type=object_type, version="authorized"))
        elif status == "DECLINED":
            if not isinstance(version, int) or isinstance(version, bool) or version <= 1:
                result.ignored.append(Ignored("declined_at_authorization",
                                              f"{expense_id}: declined before any liability existed"))
                return result
            object_type = "card_refund" if payment_type == "REFUND" else "card_expense"
            authorized = _ref(event, object_type, expense_id, "authorized", ctx).document_id()
            # the mirror of what the authorisation posted
            result.documents.append(_card_transaction(event, ctx, object_type=object_type, version="declined",
                                                      mirror=True, related=authorized))
        else:
            result.ignored.append(Ignored("unsupported_payment_status", f"{expense_id}: {status}"))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"expense {expense_id}: {first.get('msg')}", reason="invalid_document") from None
    return result
