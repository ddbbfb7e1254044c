"""What an approved expense report posts, whichever expense tool sent it (SAP Concur, Expensify): its lines split by
who paid them — one ExpenseReport owed to the employee (the lines they paid: Dr expense · Cr employee_payable) and one
against the company card (Cr card_liability) — each named by the report id and its side (``approved:employee`` /
``approved:company_card``), so a report read again posts nothing twice."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from ledgerlink.config.model import Entity
from ledgerlink.connectors.sources.base import NormalizeContext, local_date
from ledgerlink.errors import NormalizationError
from ledgerlink.model.documents import ExpenseLine, ExpenseReport, Party, SourceRef
from ledgerlink.model.money import Money, sum_money


@dataclass(slots=True)
class ExpenseSides:
    """A report's lines by who paid them (True: the employee, to be reimbursed), and every amount read."""

    sides: dict[bool, list[ExpenseLine]] = field(default_factory=lambda: {True: [], False: []})
    amounts: list[Money] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ApprovedReport:
    """One approved report as an expense connector read it."""

    system: str                 # "concur", "expensify"
    object_type: str            # "expense_report", "report"
    report_id: str
    event_id: str | None
    event_type: str
    account: str | None         # the company / policy it belongs to
    employee: Party
    currency: str
    approved_at: datetime
    memo: str                   # "Concur expense report R1" — the side is appended


def expense_reports(report: ApprovedReport, lines: ExpenseSides, entity: Entity,
                    ctx: NormalizeContext) -> list[ExpenseReport]:
    """One ExpenseReport per side that has lines (``invalid_document`` when one does not validate)."""
    documents = []
    try:
        for employee_paid, side_lines in lines.sides.items():
            if not side_lines:
                continue
            side = "employee" if employee_paid else "company_card"
            ref = SourceRef(system=report.system, object_type=report.object_type, object_id=report.report_id,
                            version=f"approved:{side}", event_id=report.event_id, event_type=report.event_type,
                            account=report.account, archive_key=ctx.archive_key, source_id=ctx.source_id)
            documents.append(ExpenseReport(
                document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
                occurred_at=report.approved_at, accounting_date=local_date(report.approved_at, entity),
                currency=report.currency, employee=report.employee, report_id=report.report_id,
                lines=tuple(side_lines), total=sum_money([line.amount for line in side_lines], report.currency),
                reimbursable=employee_paid, memo=f"{report.memo} ({side.replace('_', ' ')})"))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise NormalizationError(f"report {report.report_id}: {first.get('msg')}", reason="invalid_document") from None
    return documents
