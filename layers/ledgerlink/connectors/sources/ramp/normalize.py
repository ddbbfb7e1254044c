"""Ramp transactions, reimbursements and bills (fetched from the Ramp API) → card transactions, expense reports,
vendor bills and their reversals.

Ramp amounts come in two representations (Ramp docs, "Monetary values"), and both appear in the same object:

- the legacy representation, **major units** as a JSON number: ``Transaction.amount`` (``90.0`` = 90.00 in
  ``currency_code``), ``Reimbursement.amount`` (in ``currency``);
- the canonical ``CurrencyAmount``, **integer minor units**: ``line_items[].amount``,
  ``original_transaction_amount``, ``original_reimbursement_amount``, ``payee_amount``
  (``{"amount": 9000, "currency_code": "USD"}`` = 90.00 USD; ``5000`` JPY = ¥5,000).

Each field is read with its own representation (the fetched JSON is parsed with ``Decimal``, never ``float``); a
major amount with more decimals than its currency is refused, a minor amount must be an integer, and where the
object carries both for the same money (line items vs the settled amount, payee vs payor in one currency) they
must agree to the minor unit — an amount sent in the wrong representation (``9000`` where ``90.00`` was meant)
is an ``amounts_inconsistent`` exception, never a posting 100× too large.

- ``transactions.cleared`` / ``.ready_to_sync`` with a ``CLEARED`` transaction → CardTransaction (Dr
  expense.<category> · Cr card_liability), one per transaction id (version ``cleared``: both events, in any
  order, post it once); a negative amount (a merchant refund or credit) keeps its sign and posts the mirror
  (Dr card_liability · Cr expense), never flipped; zero is recorded (``zero_amount``); any other state is
  recorded (not final yet);
- ``reimbursements.ready_to_sync`` with an approved ``BUSINESS_TO_USER`` reimbursement → ExpenseReport
  (Dr expense.<category> per line · Cr employee_payable), one per reimbursement id; repayments
  (``USER_TO_BUSINESS``) and unapproved states are recorded as ignored, a zero amount as ``zero_amount``; a
  *negative* amount (money owed to the employee, signed as money back) is a case (``amount_sign_ambiguous``);
- ``bills.approved`` / ``.ready_to_sync`` with an ``APPROVED`` bill → Bill (Dr expense.<category> per line ·
  Cr accounts_payable) owed to the bill's vendor (a party: kind vendor, source id = Ramp vendor id), one per
  bill id (version ``approved``: both events post it once). Amounts are ``CurrencyAmount`` (minor units); the
  line items must sum to the bill amount; a zero bill is recorded (``zero_amount``), a negative one is a case
  (``amount_sign_ambiguous``: a bill is owed to the vendor, so the sign contradicts the type). The accounting
  date is the invoice date Ramp states (``issued_at``, a calendar date: read as the date, not shifted to the
  entity's time zone);
- ``bills.archived`` of a bill that had been approved → a Reversal (reason ``cancellation``) of that Bill, dated
  on the archive event and naming its vendor (posted as a vendor credit where bills post as ERP documents); an archived bill that was never approved had posted nothing and is recorded;
- ``bills.created`` / ``bills.rejected`` are recorded (no liability until approved); ``bills.paid`` is recorded
  (the cash side posts from the bank statement, where the payment clears: posting it here too would count it
  twice);
- ``transactions.authorized`` / ``*.ready_for_review`` are recorded (not final); other types are unsupported.

The category (of a transaction, reimbursement or bill line) is the GL account Ramp coded (accounting field selection ``GL_ACCOUNT``), else Ramp's
``sk_category_name``, else the source's ``default_category``, as a key (``SaaS / Software`` → ``saas_software``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import RampSource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    category_key,
    local_date,
    major_money,
    minor_money,
    parse_day,
    parse_instant,
)
from ledgerlink.connectors.sources.reading import (
    array_at,
    fetched_object,
    get,
    obj_at,
    obj_or_none,
    objects,
    source_of,
    text,
    text_or_none,
)
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import (
    Bill,
    BillLine,
    CardTransaction,
    ExpenseLine,
    ExpenseReport,
    Party,
    Reversal,
    SourceRef,
)
from ledgerlink.model.ids import document_id
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.money import Money, sum_money

SYSTEM = "ramp"
NOT_FINAL = ("transactions.authorized", "transactions.ready_for_review", "reimbursements.ready_for_review")
BILL_NOT_APPROVED_EVENTS = ("bills.created", "bills.rejected")
BILL_EVENTS = ("bills.approved", "bills.ready_to_sync")
UNAPPROVED_REIMBURSEMENT_STATES = frozenset({"DRAFT", "INIT", "PENDING", "REJECTED", "CANCELED", "DELETED"})


def _source(ctx: NormalizeContext) -> RampSource:
    return source_of(ctx, RampSource, "a Ramp source")


def _entity(obj: JsonObject, notification: JsonObject, source: RampSource, ctx: NormalizeContext) -> Entity:
    """The first of the object's business entity and the notification's business that is mapped; ids present but
    none mapped is a case (``unknown_account``) unless the source opted in; no id at all: the default entity."""
    keys = [key for key in (obj.get("entity_id"), notification.get("business_id")) if isinstance(key, str) and key]
    for key in keys:
        if key in source.account_entities:
            return ctx.config.entity(source.account_entities[key])
    entity_id = source.entity_for_account(keys[0] if keys else None)
    if entity_id is None:
        raise unknown_account("Ramp", "entity_id" if obj.get("entity_id") == keys[0] else "business_id", keys[0],
                              ctx.source_id)
    return ctx.config.entity(entity_id)


def _gl_category(obj: JsonValue, source: RampSource) -> str | None:
    for selection in objects(array_at(obj, "accounting_field_selections")):
        if str(selection.get("type", "")).upper() == "GL_ACCOUNT":
            code = selection.get("external_id") or selection.get("name")
            if code:
                return category_key(code, source.default_category)
    return None


def _category(obj: JsonObject, source: RampSource) -> str:
    return _gl_category(obj, source) or category_key(obj.get("sk_category_name"), source.default_category)


def _line_amounts(obj: JsonObject, field: str) -> list[tuple[JsonValue, Money]]:
    lines = obj.get("line_items") or []
    if not isinstance(lines, list):
        raise NormalizationError(f"{field} is not a list", reason="missing_field", field=field)
    return [(item, minor_money(get(item, "amount"), field=f"{field}[{position}].amount"))
            for position, item in enumerate(lines)]


def _agree(expected: Money, lines: list[Money], *, what: str, object_id: str) -> None:
    """Same money in both representations must agree to the minor unit (catches a wrong exponent) and in sign: a
    refund whose line items say a purchase is a case, never a silently chosen direction (no abs(), issue 17)."""
    same = [amount for amount in lines if amount.currency == expected.currency]
    if same and len(same) == len(lines) and sum_money(same, expected.currency) != expected:
        raise NormalizationError(
            f"{what} {object_id}: line items sum to {sum_money(same, expected.currency)} (minor units) but the amount "
            f"is {expected} (major units); one of them is in the wrong representation", reason="amounts_inconsistent",
            object_id=object_id)


def _sign_ambiguous(message: str, object_id: str) -> NormalizationError:
    """A negative amount on an object whose type fixes the direction (a reimbursement owed to the employee, a bill
    owed to the vendor): which one is true is not ours to pick, so nothing posts and nothing vanishes (issue 17)."""
    return NormalizationError(message, reason="amount_sign_ambiguous", field="amount", object_id=object_id,
                              suggested_fix="check the object in Ramp; post it by hand and resolve the case")


def _ref(object_type: str, object_id: str, version: str, notification: JsonObject,
         ctx: NormalizeContext) -> SourceRef:
    return SourceRef(system=SYSTEM, object_type=object_type, object_id=object_id, version=version,
                     event_id=text(notification, "id"), event_type=text(notification, "type"),
                     account=text_or_none(notification, "business_id"), archive_key=ctx.archive_key,
                     source_id=ctx.source_id)


def _object_id(obj: JsonObject, what: str) -> str:
    object_id = obj.get("id")
    if not isinstance(object_id, str) or not object_id:
        raise NormalizationError(f"{what} has no id", reason="missing_field", field="id")
    return object_id


def _transaction(obj: JsonObject, notification: JsonObject, ctx: NormalizeContext,
                 result: Normalized) -> None:
    source = _source(ctx)
    txn_id = _object_id(obj, "transaction")
    state = obj.get("state")
    if state != "CLEARED":
        result.ignored.append(Ignored("not_cleared", f"transaction {txn_id} is {state}"))
        return
    settled = major_money(obj.get("amount"), obj.get("currency_code"), field="amount")
    _agree(settled, [amount for _, amount in _line_amounts(obj, "line_items")], what="transaction", object_id=txn_id)
    if settled.is_zero():
        result.ignored.append(Ignored("zero_amount", f"transaction {txn_id}"))
        return
    entity = _entity(obj, notification, source, ctx)
    occurred = parse_instant(obj.get("user_transaction_time"), field="user_transaction_time")
    holder = obj_at(obj, "card_holder")
    dimensions: dict[str, str] = {}
    original = obj.get("original_transaction_amount")
    if isinstance(original, dict) and original.get("currency_code") != settled.currency:
        dimensions["original_amount"] = str(minor_money(original, field="original_transaction_amount"))
    mcc = text(obj, "merchant_category_code")
    ref = _ref("card_transaction", txn_id, "cleared", notification, ctx)
    result.documents.append(CardTransaction(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=settled.currency,
        cardholder=Party(role="employee", source_id=str(holder.get("user_id") or obj.get("card_id") or "ramp")),
        merchant=text_or_none(obj, "merchant_name") or text_or_none(obj, "merchant_descriptor") or "unknown merchant",
        merchant_category_code=mcc if mcc is not None and len(mcc) == 4 and mcc.isascii() and mcc.isdigit() else None,
        category=_category(obj, source), amount=settled,
        posted_date=_optional_day(obj, "settlement_date"),
        dimensions=dimensions, memo=f"Ramp card transaction {txn_id}"))


def _reimbursement(obj: JsonObject, notification: JsonObject, ctx: NormalizeContext,
                   result: Normalized) -> None:
    source = _source(ctx)
    reimbursement_id = _object_id(obj, "reimbursement")
    state, direction = obj.get("state"), obj.get("direction")
    if state in UNAPPROVED_REIMBURSEMENT_STATES:
        result.ignored.append(Ignored("not_approved", f"reimbursement {reimbursement_id} is {state}"))
        return
    if direction != "BUSINESS_TO_USER":
        result.ignored.append(Ignored("unsupported_reimbursement_direction",
                                      f"reimbursement {reimbursement_id}: {direction} (an employee repayment)"))
        return
    payable = major_money(obj.get("amount"), obj.get("currency"), field="amount")
    if payable.amount < 0:
        raise _sign_ambiguous(f"reimbursement {reimbursement_id}: {direction} of {payable}: the direction says "
                              "owed to the employee, the sign says the opposite", reimbursement_id)
    lines = _line_amounts(obj, "line_items")
    _agree(payable, [amount for _, amount in lines], what="reimbursement", object_id=reimbursement_id)
    payee = obj.get("payee_amount")
    if isinstance(payee, dict) and payee.get("currency_code") == payable.currency:
        _agree(payable, [minor_money(payee, field="payee_amount")], what="reimbursement", object_id=reimbursement_id)
    if payable.is_zero():
        result.ignored.append(Ignored("zero_amount", f"reimbursement {reimbursement_id}"))
        return
    entity = _entity(obj, notification, source, ctx)
    approved = obj.get("approved_at") or obj.get("submitted_at") or obj.get("created_at")
    occurred = parse_instant(approved, field="approved_at")
    spent_on = parse_day(obj.get("transaction_date"), field="transaction_date")
    category = _category(obj, source)
    merchant = text_or_none(obj, "merchant")
    if lines and all(amount.currency == payable.currency for _, amount in lines):
        expense_lines = tuple(ExpenseLine(
            line_id=f"{reimbursement_id}:{position}", category=_gl_category(item, source) or category,
            amount=amount, merchant=merchant,
            transaction_date=spent_on, description=text_or_none(obj, "memo"))
            for position, (item, amount) in enumerate(lines))
    else:
        expense_lines = (ExpenseLine(line_id=f"{reimbursement_id}:0", category=category, amount=payable,
                                     merchant=merchant, transaction_date=spent_on,
                                     description=text_or_none(obj, "memo")),)
    ref = _ref("reimbursement", reimbursement_id, "approved", notification, ctx)
    result.documents.append(ExpenseReport(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=local_date(occurred, entity), currency=payable.currency,
        employee=Party(role="employee", source_id=str(obj.get("user_id") or "ramp-user")),
        report_id=reimbursement_id, lines=expense_lines, total=payable, reimbursable=True,
        memo=f"Ramp reimbursement {reimbursement_id} ({obj.get('type') or 'OUT_OF_POCKET'})"))


def _vendor(obj: JsonObject, bill_id: str) -> Party:
    vendor = obj_at(obj, "vendor")
    vendor_id = vendor.get("id")
    if not isinstance(vendor_id, str) or not vendor_id:
        raise NormalizationError(f"bill {bill_id} names no vendor", reason="missing_field", field="vendor.id")
    name = vendor.get("name") or vendor.get("remote_name")
    return Party(role="vendor", source_id=vendor_id, name=name if isinstance(name, str) and name else None)


def _bill_lines(obj: JsonObject, bill_id: str, total: Money, source: RampSource) -> tuple[BillLine, ...]:
    category = _category(obj, source)
    items = _line_amounts(obj, "line_items")
    if not items:
        return (BillLine(line_id=f"{bill_id}:0", category=category, amount=total,
                         description=text_or_none(obj, "memo")),)
    amounts = [amount for _, amount in items]
    if any(amount.currency != total.currency for amount in amounts) or \
            sum_money(amounts, total.currency) != total:
        raise NormalizationError(
            f"bill {bill_id}: line items sum to {', '.join(str(a) for a in amounts)} but the bill amount is {total}",
            reason="amounts_inconsistent", object_id=bill_id)
    return tuple(BillLine(line_id=f"{bill_id}:{position}", category=_gl_category(item, source) or category,
                          amount=amount, description=text_or_none(item, "memo") or text_or_none(obj, "memo"))
                 for position, (item, amount) in enumerate(items))


def _bill(obj: JsonObject, notification: JsonObject, ctx: NormalizeContext, result: Normalized) -> None:
    source = _source(ctx)
    bill_id = _object_id(obj, "bill")
    approval = obj.get("approval_status")
    if approval != "APPROVED":
        result.ignored.append(Ignored("not_approved", f"bill {bill_id} is {approval}"))
        return
    total = minor_money(obj.get("amount"), field="amount")
    if total.is_zero():
        result.ignored.append(Ignored("zero_amount", f"bill {bill_id}"))
        return
    if total.amount < 0:
        raise _sign_ambiguous(f"bill {bill_id}: an approved bill of {total}: a bill is owed to the vendor, the sign "
                              "says the vendor owes", bill_id)
    lines = _bill_lines(obj, bill_id, total, source)
    entity = _entity(obj, notification, source, ctx)
    issued = obj.get("issued_at") or obj.get("created_at")
    occurred = parse_instant(issued, field="issued_at")
    ref = _ref("bill", bill_id, "approved", notification, ctx)
    result.documents.append(Bill(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=occurred, accounting_date=parse_day(issued, field="issued_at"), currency=total.currency,
        party=_vendor(obj, bill_id), number=text_or_none(obj, "invoice_number"), lines=lines, total=total,
        issue_date=parse_day(issued, field="issued_at"), due_date=_optional_day(obj, "due_at"),
        memo=f"Ramp bill {obj.get('invoice_number') or bill_id}"))


def _archived_bill(obj: JsonObject, notification: JsonObject, ctx: NormalizeContext,
                   result: Normalized) -> None:
    source = _source(ctx)
    bill_id = _object_id(obj, "bill")
    if obj.get("approval_status") != "APPROVED":
        result.ignored.append(Ignored("never_approved", f"archived bill {bill_id} was never approved: nothing "
                                                        "was posted to reverse"))
        return
    entity = _entity(obj, notification, source, ctx)
    archived = parse_instant(notification.get("created_at"), field="created_at")
    ref = _ref("bill", bill_id, "archived", notification, ctx)
    result.documents.append(Reversal(
        document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
        occurred_at=archived, accounting_date=local_date(archived, entity), currency=_bill_currency(obj),
        original_document_id=document_id(SYSTEM, "bill", bill_id, "approved"), reason="cancellation",
        party=_vendor(obj, bill_id),
        memo=f"Ramp bill {obj.get('invoice_number') or bill_id} archived"))


def _optional_day(obj: JsonObject, key: str) -> date | None:
    return parse_day(obj[key], field=key) if obj.get(key) else None


def _bill_currency(obj: JsonObject) -> str:
    return minor_money(obj.get("amount"), field="amount").currency


_NOT_POSTED: dict[str, tuple[str, str]] = {
    **{event_type: ("not_final", event_type) for event_type in NOT_FINAL},
    **{event_type: ("not_approved", f"{event_type}: a bill is owed once it is approved")
       for event_type in BILL_NOT_APPROVED_EVENTS},
    "bills.paid": ("bill_payment_from_bank", "bills.paid: the payment posts from the bank statement where it clears"),
}
# event type → (the fetched object it reads, its handler)
_HANDLERS: dict[str, tuple[str, Callable[[JsonObject, JsonObject, NormalizeContext, Normalized], None]]] = {
    "transactions.cleared": ("transaction", _transaction),
    "transactions.ready_to_sync": ("transaction", _transaction),
    "reimbursements.ready_to_sync": ("reimbursement", _reimbursement),
    **{event_type: ("bill", _bill) for event_type in BILL_EVENTS},
    "bills.archived": ("bill", _archived_bill),
}


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    notification = obj_or_none(event.get("notification")) or event
    event_type = str(notification.get("type") or notification.get("event_type") or "")
    if "challenge" in notification and "type" not in notification:
        result.ignored.append(Ignored("subscription_challenge", "confirm it with POST /developer/v1/webhooks/{id}/"
                                                                 "verify using the archived challenge"))
        return result
    if event_type in _NOT_POSTED:
        result.ignored.append(Ignored(*_NOT_POSTED[event_type]))
        return result
    handled = _HANDLERS.get(event_type)
    if handled is None:
        result.ignored.append(Ignored("unsupported_event_type", event_type or "?"))
        return result
    name, handler = handled
    try:
        handler(fetched_object(event.get("fetched") or {}, name, "Ramp"), notification, ctx, result)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"Ramp {event_type}: {first.get('msg')}", reason="invalid_document") from None
    return result
