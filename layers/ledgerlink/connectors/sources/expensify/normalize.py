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
from typing import Any

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import ExpensifySource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    category_key,
    local_date,
    parse_day,
    parse_instant,
)
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import ExpenseLine, ExpenseReport, Party, SourceRef
from ledgerlink.model.money import CurrencyError, Money, sum_money

SYSTEM = "expensify"
CENTS = Decimal(100)


def _source(ctx: NormalizeContext) -> ExpensifySource:
    source = ctx.config.source(ctx.source_id)
    if not isinstance(source, ExpensifySource):
        raise NormalizationError(f"source {ctx.source_id!r} is not an Expensify source", reason="source_mismatch")
    return source


def cents(value: Any, currency: Any, *, field: str) -> Money:
    """Expensify "cents" (hundredths of the unit, whatever the currency) → Money, refusing what would round."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NormalizationError(f"{field} {value!r} is not an integer amount in cents", reason="invalid_amount",
                                 field=field)
    try:
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


def normalize(event: dict[str, Any], ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    report_id = event.get("reportID")
    if not isinstance(report_id, str) or not report_id:
        raise NormalizationError("exported report has no reportID", reason="missing_field", field="reportID")
    if str(event.get("status", "")).upper() not in ("APPROVED", "REIMBURSED", "ARCHIVED", "CLOSED"):
        result.ignored.append(Ignored("not_approved", f"report {report_id} is {event.get('status')}"))
        return result
    currency = event.get("currency")
    total = cents(event.get("total"), currency, field="total")
    approved = parse_instant(event.get("approved"), field="approved")  # exported in UTC
    policy = str(event.get("policyID") or "")
    sides: dict[bool, list[ExpenseLine]] = {True: [], False: []}
    amounts: list[Money] = []
    transactions = event.get("transactions")
    if not isinstance(transactions, list):
        raise NormalizationError(f"report {report_id} has no transactions list", reason="missing_field",
                                 field="transactions")
    for position, expense in enumerate(transactions):
        if not isinstance(expense, dict):
            raise NormalizationError(f"transaction {position} is not an object", reason="malformed_payload")
        field = f"transactions[{position}]"
        if "convertedAmount" in expense:
            amount = cents(expense.get("convertedAmount"), total.currency, field=f"{field}.convertedAmount")
        elif str(expense.get("currency") or "").upper() == total.currency:
            amount = cents(expense.get("amount"), total.currency, field=f"{field}.amount")
        else:
            raise NormalizationError(f"{field} is in {expense.get('currency')} without a converted amount",
                                     reason="currency_mismatch", field=field)
        amounts.append(amount)
        if amount.is_zero():
            continue
        reimbursable = expense.get("reimbursable") is True
        sides[reimbursable].append(ExpenseLine(
            line_id=str(expense.get("transactionID") or f"{report_id}:{position}"),
            category=category_key(expense.get("category"), source.default_category), amount=amount,
            merchant=expense.get("merchant") or None,
            transaction_date=parse_day(expense.get("created"), field=f"{field}.created"),
            description=expense.get("comment") or None))
    if sum_money(amounts, total.currency) != total:
        raise NormalizationError(f"report {report_id}: expenses sum to {sum_money(amounts, total.currency)}, the "
                                 f"report total is {total}", reason="amounts_inconsistent")
    if not any(sides.values()):
        result.ignored.append(Ignored("nothing_to_post", f"report {report_id} has only zero-amount expenses"))
        return result
    entity = _entity(policy, source, ctx)
    employee = Party(role="employee", source_id=f"expensify-account:{event.get('accountID') or 'unknown'}")
    try:
        for reimbursable, lines in sides.items():
            if not lines:
                continue
            side = "employee" if reimbursable else "company_card"
            ref = SourceRef(system=SYSTEM, object_type="report", object_id=report_id, version=f"approved:{side}",
                            event_id=ctx_event_id(event, report_id), event_type="report.approved",
                            account=policy or None, archive_key=ctx.archive_key, source_id=ctx.source_id)
            result.documents.append(ExpenseReport(
                document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
                occurred_at=approved, accounting_date=local_date(approved, entity), currency=total.currency,
                employee=employee, report_id=report_id, lines=tuple(lines),
                total=sum_money([line.amount for line in lines], total.currency), reimbursable=reimbursable,
                memo=f"Expensify report {report_id} ({side.replace('_', ' ')})"))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"report {report_id}: {first.get('msg')}", reason="invalid_document") from None
    return result


def ctx_event_id(event: dict[str, Any], report_id: str) -> str:
    return f"{report_id}:{str(event.get('approved') or '').replace(' ', 'T')}"
