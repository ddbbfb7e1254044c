"""Master data first: which parties a document references, in the order they must exist.

Employees come first (HR data: known and active for the document's date, per the mapping service's
``employees`` table), then the counterparties (customers, vendors), then the transaction itself.
"""

from __future__ import annotations

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import Document, Party


def parties_of(document: Document) -> list[Party]:
    """Employees first, then counterparties; a document without parties returns []."""
    employees = [p for p in (getattr(document, "employee", None), getattr(document, "cardholder", None)) if p]
    others = [p for p in (getattr(document, "party", None),) if p is not None and p.role != "employee"]
    return [*employees, *others]


def check_employee(document: Document, employee: Party, config: LedgerLinkConfig, source_id: str) -> None:
    """When the configuration lists employees (for this source or all), the one on the document must be
    known, active on the document's date and belong to the document's entity."""
    listed = [e for e in config.employees if e.source in (source_id, "*")]
    if not listed:
        return  # no HR master data configured for this source: nothing to check against
    record = config.employee(source_id, employee.source_id, document.accounting_date)
    if record is None:
        reason = "employee_inactive" if config.knows_employee(source_id, employee.source_id) else "employee_unknown"
        raise DocumentRejected(
            f"employee {employee.source_id} is {'not active on' if reason == 'employee_inactive' else 'unknown as of'} "
            f"{document.accounting_date}", reason=reason, employee=employee.source_id,
            suggested_fix="add or update the employee in the configuration's employees table (HR data first), "
                          "apply it and retry")
    if not record.active:
        raise DocumentRejected(f"employee {employee.source_id} is inactive", reason="employee_inactive",
                               employee=employee.source_id,
                               suggested_fix="reactivate the employee if the expense is valid, or ignore the case")
    if record.entity != document.entity_id:
        raise DocumentRejected(
            f"employee {employee.source_id} belongs to entity {record.entity}, the document to {document.entity_id}",
            reason="employee_wrong_entity", employee=employee.source_id, entity=record.entity,
            suggested_fix="map the source account to the employee's entity, or correct the employee's entity")
