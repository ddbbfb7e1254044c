"""SAP Concur approved expense reports (Expense v4, fetched) → expense reports.

A ``statusChanged`` event to an approved status (``approved_statuses``, default ``A_APPR``) is fetched; the
report as it is *now* decides (an event that arrives after the report was sent back is recorded, not posted).
Amounts are v4 ``Amount`` objects ``{"value": 25.00000000, "currencyCode": "USD"}``: a decimal number in
major units (parsed exactly; trailing zeros are fine, ``25.125`` USD is refused) whose currency must be the
report's. Each expense posts its ``approvedAmount``; personal expenses (``isPersonalExpense``) post nothing.

Expenses the employee paid (``paymentType.code`` in ``cash_payment_types``, default ``CASH``) become one
ExpenseReport owed to the employee (Dr expense.<expense type> per line · Cr employee_payable); expenses on a
company card become a second one against the card (Cr card_liability). Each is identified by the report id and
its side, so every later event of the same report posts nothing new. When the report has no personal expenses,
the lines must add up to the report's ``approvedAmount`` (``amounts_inconsistent`` otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import ConcurSource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    category_key,
    major_money,
    parse_day,
    parse_instant,
)
from ledgerlink.connectors.sources.concur.api import facts
from ledgerlink.connectors.sources.expenses import ApprovedReport, ExpenseSides, expense_reports
from ledgerlink.connectors.sources.reading import (
    fetched_json,
    get,
    obj_at,
    obj_or_none,
    source_of,
    text,
    text_or_none,
)
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import ExpenseLine, Party
from ledgerlink.model.json import JsonArray, JsonObject, JsonValue
from ledgerlink.model.money import Money, sum_money

SYSTEM = "concur"


def _source(ctx: NormalizeContext) -> ConcurSource:
    return source_of(ctx, ConcurSource, "a SAP Concur source")


def _amount(holder: JsonValue, currency: str, *, field: str) -> Money:
    if not isinstance(holder, dict):
        raise NormalizationError(f"{field} is missing", reason="missing_field", field=field)
    if str(holder.get("currencyCode") or "").upper() != currency:
        raise NormalizationError(f"{field} is in {holder.get('currencyCode')}, the report in {currency}",
                                 reason="currency_mismatch", field=f"{field}.currencyCode")
    return major_money(holder.get("value"), currency, field=f"{field}.value")  # 525.00000000 USD is fine


def _fetched(event: JsonObject) -> tuple[JsonObject, JsonArray]:
    """The report and its expenses, as the fetch step read them."""
    fetched = event.get("fetched") or {}
    report, expenses = fetched_json(fetched, "report", "Concur"), fetched_json(fetched, "expenses", "Concur")
    if isinstance(expenses, dict):  # some v4 responses envelope lists
        expenses = expenses.get("items") or expenses.get("expenses") or []
    if not isinstance(report, dict) or not isinstance(expenses, list):
        raise NormalizationError("Concur report or expenses have an unexpected shape", reason="malformed_payload")
    return report, expenses


def _expense_line(expense: JsonObject, position: int, report_id: str, amount: Money,
                  source: ConcurSource) -> ExpenseLine:
    expense_type = obj_at(expense, "expenseType")
    vendor = obj_at(expense, "vendor")
    return ExpenseLine(
        line_id=str(expense.get("expenseId") or f"{report_id}:{position}"),
        category=category_key(expense_type.get("id") or expense_type.get("name"), source.default_category),
        amount=amount, merchant=text_or_none(vendor, "description") or text_or_none(vendor, "name"),
        transaction_date=parse_day(expense.get("transactionDate"), field=f"expenses[{position}].transactionDate"),
        description=text_or_none(expense, "businessPurpose"))


def _lines(expenses: JsonArray, report_id: str, currency: str, source: ConcurSource) -> tuple[ExpenseSides, bool]:
    """The business expenses by who paid them, and whether any expense is personal."""
    lines, personal = ExpenseSides(), False
    for position, expense in enumerate(expenses):
        if not isinstance(expense, dict):
            raise NormalizationError(f"expense {position} is not an object", reason="malformed_payload")
        if expense.get("isPersonalExpense") is True:
            personal = True
            continue
        amount = _amount(expense.get("approvedAmount"), currency, field=f"expenses[{position}].approvedAmount")
        lines.amounts.append(amount)
        if amount.is_zero():
            continue
        employee_paid = get(expense.get("paymentType"), "code") in source.cash_payment_types
        lines.sides[employee_paid].append(_expense_line(expense, position, report_id, amount, source))
    return lines, personal


def _check_total(report: JsonObject, report_id: str, currency: str, lines: ExpenseSides, personal: bool) -> None:
    """Without personal expenses, the lines add up to the report's ``approvedAmount``."""
    if personal or not lines.amounts:
        return
    approved = _amount(report.get("approvedAmount"), currency, field="approvedAmount")
    if sum_money(lines.amounts, currency) != approved:
        raise NormalizationError(f"report {report_id}: expenses sum to {sum_money(lines.amounts, currency)}, the "
                                 f"report's approvedAmount is {approved}", reason="amounts_inconsistent")


def _entity(known: Mapping[str, object], source: ConcurSource, ctx: NormalizeContext) -> tuple[Entity, str]:
    company = str(known.get("companyId") or "")
    entity_id = source.entity_for_account(company)  # an unmapped company is a case unless the source opted in
    if entity_id is None:
        raise unknown_account("SAP Concur", "companyId", company, ctx.source_id)
    return ctx.config.entity(entity_id), company


def _not_posted(notification: JsonObject, known: Mapping[str, object], source: ConcurSource) -> Ignored | None:
    event_type = notification.get("eventType")
    if event_type != "statusChanged":
        return Ignored("unsupported_event_type", str(event_type))
    if known.get("currentApprovalStatus") not in source.approved_statuses:
        return Ignored("not_approved", f"report {known.get('reportId')}: {known.get('currentApprovalStatus')}")
    return None


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    notification = obj_or_none(event.get("notification")) or event
    known = facts(notification)
    ignored = _not_posted(notification, known, source)
    if ignored is not None:
        result.ignored.append(ignored)
        return result
    report, expenses = _fetched(event)
    report_id = str(report.get("reportId") or known.get("reportId") or "")
    if not report_id:
        raise NormalizationError("Concur report has no reportId", reason="missing_field", field="reportId")
    if report.get("approvalStatusId") not in source.approved_statuses:
        result.ignored.append(Ignored("report_not_approved",
                                      f"report {report_id} is now {report.get('approvalStatusId')}"))
        return result
    currency = str(report.get("currencyCode") or "").upper()
    entity, company = _entity(known, source, ctx)
    approved_at = parse_instant(known.get("lastModifiedDate") or notification.get("timeStamp"),
                                field="facts.lastModifiedDate")
    lines, personal = _lines(expenses, report_id, currency, source)
    _check_total(report, report_id, currency, lines, personal)
    result.documents.extend(expense_reports(ApprovedReport(
        system=SYSTEM, object_type="expense_report", report_id=report_id, event_id=text(notification, "id"),
        event_type="statusChanged", account=company or None,
        employee=Party(role="employee", source_id=str(report.get("userId") or "concur-user")), currency=currency,
        approved_at=approved_at, memo=f"Concur expense report {report_id}"), lines, entity, ctx))
    if not result.documents:
        result.ignored.append(Ignored("nothing_to_post", f"report {report_id} has no business expense"))
    return result
