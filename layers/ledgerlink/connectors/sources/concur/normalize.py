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
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.config.sources import ConcurSource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    category_key,
    local_date,
    major_money,
    parse_day,
    parse_instant,
)
from ledgerlink.connectors.sources.concur.api import facts
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
from ledgerlink.model.documents import ExpenseLine, ExpenseReport, Party, SourceRef
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


@dataclass(slots=True)
class _Lines:
    """A report's business expenses by who paid them (True: the employee), and every amount read."""

    sides: dict[bool, list[ExpenseLine]] = field(default_factory=lambda: {True: [], False: []})
    amounts: list[Money] = field(default_factory=list)
    personal: bool = False


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


def _lines(expenses: JsonArray, report_id: str, currency: str, source: ConcurSource) -> _Lines:
    lines = _Lines()
    for position, expense in enumerate(expenses):
        if not isinstance(expense, dict):
            raise NormalizationError(f"expense {position} is not an object", reason="malformed_payload")
        if expense.get("isPersonalExpense") is True:
            lines.personal = True
            continue
        amount = _amount(expense.get("approvedAmount"), currency, field=f"expenses[{position}].approvedAmount")
        lines.amounts.append(amount)
        if amount.is_zero():
            continue
        employee_paid = get(expense.get("paymentType"), "code") in source.cash_payment_types
        lines.sides[employee_paid].append(_expense_line(expense, position, report_id, amount, source))
    return lines


def _check_total(report: JsonObject, report_id: str, currency: str, lines: _Lines) -> None:
    """Without personal expenses, the lines add up to the report's ``approvedAmount``."""
    if lines.personal or not lines.amounts:
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


def _reports(report: JsonObject, report_id: str, currency: str, lines: _Lines, approved_at: datetime,
             entity: Entity, company: str, notification: JsonObject,
             ctx: NormalizeContext) -> list[ExpenseReport]:
    employee = Party(role="employee", source_id=str(report.get("userId") or "concur-user"))
    documents = []
    for employee_paid, side_lines in lines.sides.items():
        if not side_lines:
            continue
        side = "employee" if employee_paid else "company_card"
        ref = SourceRef(system=SYSTEM, object_type="expense_report", object_id=report_id, version=f"approved:{side}",
                        event_id=text(notification, "id"), event_type="statusChanged", account=company or None,
                        archive_key=ctx.archive_key, source_id=ctx.source_id)
        documents.append(ExpenseReport(
            document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
            occurred_at=approved_at, accounting_date=local_date(approved_at, entity), currency=currency,
            employee=employee, report_id=report_id, lines=tuple(side_lines),
            total=sum_money([line.amount for line in side_lines], currency), reimbursable=employee_paid,
            memo=f"Concur expense report {report_id} ({side.replace('_', ' ')})"))
    return documents


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
    lines = _lines(expenses, report_id, currency, source)
    _check_total(report, report_id, currency, lines)
    try:
        result.documents.extend(_reports(report, report_id, currency, lines, approved_at, entity, company,
                                         notification, ctx))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"report {report_id}: {first.get('msg')}", reason="invalid_document") from None
    if not result.documents:
        result.ignored.append(Ignored("nothing_to_post", f"report {report_id} has no business expense"))
    return result
