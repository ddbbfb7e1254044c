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

from typing import Any

from pydantic import ValidationError

from ledgerlink.config.sources import ConcurSource
from ledgerlink.connectors.sources.base import (
    Ignored,
    NormalizeContext,
    Normalized,
    category_key,
    load_exact,
    local_date,
    major_money,
    parse_day,
    parse_instant,
)
from ledgerlink.connectors.sources.concur.api import facts
from ledgerlink.errors import NormalizationError, unknown_account
from ledgerlink.model.documents import ExpenseLine, ExpenseReport, Party, SourceRef
from ledgerlink.model.money import Money, sum_money

SYSTEM = "concur"


def _source(ctx: NormalizeContext) -> ConcurSource:
    source = ctx.config.source(ctx.source_id)
    if not isinstance(source, ConcurSource):
        raise NormalizationError(f"source {ctx.source_id!r} is not a SAP Concur source", reason="source_mismatch")
    return source


def _amount(holder: Any, currency: str, *, field: str) -> Money:
    if not isinstance(holder, dict):
        raise NormalizationError(f"{field} is missing", reason="missing_field", field=field)
    if str(holder.get("currencyCode") or "").upper() != currency:
        raise NormalizationError(f"{field} is in {holder.get('currencyCode')}, the report in {currency}",
                                 reason="currency_mismatch", field=f"{field}.currencyCode")
    return major_money(holder.get("value"), currency, field=f"{field}.value")  # 525.00000000 USD is fine


def _loaded(fetched: dict[str, Any], name: str) -> Any:
    text = fetched.get(name)
    if not isinstance(text, str):
        raise NormalizationError(f"no fetched {name} for this event", reason="missing_field", field=name)
    return load_exact(text, what=f"Concur {name}")


def normalize(event: dict[str, Any], ctx: NormalizeContext) -> Normalized:
    result = Normalized()
    source = _source(ctx)
    notification = event.get("notification") if isinstance(event.get("notification"), dict) else event
    event_type, known = notification.get("eventType"), facts(notification)
    if event_type != "statusChanged":
        result.ignored.append(Ignored("unsupported_event_type", str(event_type)))
        return result
    if known.get("currentApprovalStatus") not in source.approved_statuses:
        result.ignored.append(Ignored("not_approved", f"report {known.get('reportId')}: "
                                                      f"{known.get('currentApprovalStatus')}"))
        return result
    fetched = event.get("fetched") or {}
    report, expenses = _loaded(fetched, "report"), _loaded(fetched, "expenses")
    if isinstance(expenses, dict):  # some v4 responses envelope lists
        expenses = expenses.get("items") or expenses.get("expenses") or []
    if not isinstance(report, dict) or not isinstance(expenses, list):
        raise NormalizationError("Concur report or expenses have an unexpected shape", reason="malformed_payload")
    report_id = str(report.get("reportId") or known.get("reportId") or "")
    if not report_id:
        raise NormalizationError("Concur report has no reportId", reason="missing_field", field="reportId")
    if report.get("approvalStatusId") not in source.approved_statuses:
        result.ignored.append(Ignored("report_not_approved",
                                      f"report {report_id} is now {report.get('approvalStatusId')}"))
        return result
    currency = str(report.get("currencyCode") or "").upper()
    company = str(known.get("companyId") or "")
    entity_id = source.entity_for_account(company)  # an unmapped company is a case unless the source opted in
    if entity_id is None:
        raise unknown_account("SAP Concur", "companyId", company, ctx.source_id)
    entity = ctx.config.entity(entity_id)
    approved_at = parse_instant(known.get("lastModifiedDate") or notification.get("timeStamp"),
                                field="facts.lastModifiedDate")
    sides: dict[bool, list[ExpenseLine]] = {True: [], False: []}
    all_lines: list[Money] = []
    personal = False
    for position, expense in enumerate(expenses):
        if not isinstance(expense, dict):
            raise NormalizationError(f"expense {position} is not an object", reason="malformed_payload")
        if expense.get("isPersonalExpense") is True:
            personal = True
            continue
        amount = _amount(expense.get("approvedAmount"), currency, field=f"expenses[{position}].approvedAmount")
        all_lines.append(amount)
        if amount.is_zero():
            continue
        payment = expense.get("paymentType") if isinstance(expense.get("paymentType"), dict) else {}
        employee_paid = payment.get("code") in source.cash_payment_types
        expense_type = expense.get("expenseType") if isinstance(expense.get("expenseType"), dict) else {}
        vendor = expense.get("vendor") if isinstance(expense.get("vendor"), dict) else {}
        sides[employee_paid].append(ExpenseLine(
            line_id=str(expense.get("expenseId") or f"{report_id}:{position}"),
            category=category_key(expense_type.get("id") or expense_type.get("name"), source.default_category),
            amount=amount, merchant=vendor.get("description") or vendor.get("name") or None,
            transaction_date=parse_day(expense.get("transactionDate"), field=f"expenses[{position}].transactionDate"),
            description=expense.get("businessPurpose") or None))
    if not personal and all_lines:
        approved = _amount(report.get("approvedAmount"), currency, field="approvedAmount")
        if sum_money(all_lines, currency) != approved:
            raise NormalizationError(f"report {report_id}: expenses sum to {sum_money(all_lines, currency)}, the "
                                     f"report's approvedAmount is {approved}", reason="amounts_inconsistent")
    employee = Party(role="employee", source_id=str(report.get("userId") or "concur-user"))
    try:
        for employee_paid, lines in sides.items():
            if not lines:
                continue
            side = "employee" if employee_paid else "company_card"
            ref = SourceRef(system=SYSTEM, object_type="expense_report", object_id=report_id, version=f"approved:{side}",
                            event_id=notification.get("id"), event_type="statusChanged", account=company or None,
                            archive_key=ctx.archive_key, source_id=ctx.source_id)
            result.documents.append(ExpenseReport(
                document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
                occurred_at=approved_at, accounting_date=local_date(approved_at, entity), currency=currency,
                employee=employee, report_id=report_id, lines=tuple(lines),
                total=sum_money([line.amount for line in lines], currency), reimbursable=employee_paid,
                memo=f"Concur expense report {report_id} ({side.replace('_', ' ')})"))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"report {report_id}: {first.get('msg')}", reason="invalid_document") from None
    if not result.documents:
        result.ignored.append(Ignored("nothing_to_post", f"report {report_id} has no business expense"))
    return result
