"""Expensify approved reports (exported by the poller) → expense reports.

Amounts: Expensify documents every amount of the export as "in cents" — hundredths of the currency unit — for
every currency, so ``total: 12345`` is 123.45 and a JPY expense of ¥5,000 is ``500000``. LedgerLink divides by 100
explicitly (never by the ISO exponent) and refuses a result finer than the currency allows (``500050`` JPY-cents
= ¥5,000.50: ``invalid_amount``) or a value that is not an integer (an export already in major units).
``convertedAmount`` (in the report currency) is what posts; the lines must add up to the report ``total``.

Reimbursable expenses become one ExpenseReport owed to the employee (Dr expense.<category> · Cr
employee_payable); non-reimbursable ones (company card) a second one against the card (Cr card_liability).
Both are identified by the report id and side, so a report read again by an overlapping poll — or approved
again later — posts nothing twice.

The report's ``policyID`` picks the entity (``account_entities``); a policy nobody mapped is a case
(``unknown_account``), never the default entity, unless the source opted in (``unmapped_accounts:
default_entity``); a report naming no policy goes to ``default_entity``.
"""

from __future__ import annotations

from decimal import Decimal

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import ExpensifySource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    category_key,
    parse_day,
    parse_instant,
)
from ledgerlink.connectors.sources.expenses import ApprovedReport, ExpenseSides, expense_reports
from ledgerlink.connectors.sources.reading import source_of, text_or_none
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import ExpenseLine, Party
from ledgerlink.model.json import JsonArray, JsonObject, JsonValue
from ledgerlink.model.money import CurrencyError, Money, sum_money

SYSTEM = "expensify"
CENTS = Decimal(100)


def _source(ctx: NormalizeContext) -> ExpensifySource:
    return source_of(ctx, ExpensifySource, "an Expensify source")


def cents(value: JsonValue, currency: JsonValue, *, field: str) -> Money:
    """Expensify "cents" (hundredths of the unit, whatever the currency) → Money, refusing what would round."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NormalizationError(f"{field} {value!r} is not an integer amount in cents", reason="invalid_amount",
                                 field=field)
    try:
        if not isinstance(currency, str):
            raise CurrencyError(f"currency must be a string, got {type(currency).__name__}")
        amount = Money.of(Decimal(value) / CENTS, currency)
        amount.to_minor()
    except CurrencyError as exc:
        reason = "invalid_amount" if "decimal places" in str(exc) else "invalid_currency"
        raise NormalizationError(f"{field}: {exc}", reason=reason, field=field) from None
    return amount


def _entity(policy: str, source: ExpensifySource, ctx: NormalizeContext) -> Entity:
    """The policy's entity; a policy nobody mapped is a case (``unknown_account``) unless the source opted in."""
    entity_id = source.entity_for_account(policy or None)
    if entity_id is None:
        raise unknown_account("Expensify", "policyID", policy, ctx.source_id)
    return ctx.config.entity(entity_id)


def _amount(expense: JsonObject, field: str, currency: str) -> Money:
    """What posts: ``convertedAmount`` (in the report currency), else the amount when already in it."""
    if "convertedAmount" in expense:
        return cents(expense.get("convertedAmount"), currency, field=f"{field}.convertedAmount")
    if str(expense.get("currency") or "").upper() == currency:
        return cents(expense.get("amount"), currency, field=f"{field}.amount")
    raise NormalizationError(f"{field} is in {expense.get('currency')} without a converted amount",
                             reason="currency_mismatch", field=field)


def _lines(transactions: JsonArray, report_id: str, currency: str, source: ExpensifySource) -> ExpenseSides:
    lines = ExpenseSides()
    for position, expense in enumerate(transactions):
        if not isinstance(expense, dict):
            raise NormalizationError(f"transaction {position} is not an object", reason="malformed_payload")
        field = f"transactions[{position}]"
        amount = _amount(expense, field, currency)
        lines.amounts.append(amount)
        if amount.is_zero():
            continue
        lines.sides[expense.get("reimbursable") is True].append(ExpenseLine(
            line_id=str(expense.get("transactionID") or f"{report_id}:{position}"),
            category=category_key(expense.get("category"), source.default_category), amount=amount,
            merchant=text_or_none(expense, "merchant"),
            transaction_date=parse_day(expense.get("created"), field=f"{field}.created"),
            description=text_or_none(expense, "comment")))
    return lines


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    report_id = event.get("reportID")
    if not isinstance(report_id, str) or not report_id:
        raise NormalizationError("exported report has no reportID", reason="missing_field", field="reportID")
    if str(event.get("status", "")).upper() not in ("APPROVED", "REIMBURSED", "ARCHIVED", "CLOSED"):
        result.ignored.append(Ignored("not_approved", f"report {report_id} is {event.get('status')}"))
        return result
    total = cents(event.get("total"), event.get("currency"), field="total")
    approved = parse_instant(event.get("approved"), field="approved")  # exported in UTC
    policy = str(event.get("policyID") or "")
    transactions = event.get("transactions")
    if not isinstance(transactions, list):
        raise NormalizationError(f"report {report_id} has no transactions list", reason="missing_field",
                                 field="transactions")
    lines = _lines(transactions, report_id, total.currency, source)
    if sum_money(lines.amounts, total.currency) != total:
        raise NormalizationError(f"report {report_id}: expenses sum to {sum_money(lines.amounts, total.currency)}, "
                                 f"the report total is {total}", reason="amounts_inconsistent")
    if not any(lines.sides.values()):
        result.ignored.append(Ignored("nothing_to_post", f"report {report_id} has only zero-amount expenses"))
        return result
    entity = _entity(policy, source, ctx)
    result.documents.extend(expense_reports(ApprovedReport(
        system=SYSTEM, object_type="report", report_id=report_id, event_id=ctx_event_id(event, report_id),
        event_type="report.approved", account=policy or None,
        employee=Party(role="employee", source_id=f"expensify-account:{event.get('accountID') or 'unknown'}"),
        currency=total.currency, approved_at=approved, memo=f"Expensify report {report_id}"), lines, entity, ctx))
    return result


def ctx_event_id(event: JsonObject, report_id: str) -> str:
    return f"{report_id}:{str(event.get('approved') or '').replace(' ', 'T')}"
