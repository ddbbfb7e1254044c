"""The mapping service's tables: reviewed configuration, versioned as a whole, effective-dated per row.

Every row may carry ``effective_from`` / ``effective_to`` (inclusive dates); lookups are *as of* the
document's accounting date, so a mapping change on the 1st never re-maps documents dated before it, and a
replay pinned to an older configuration version reproduces the old mapping exactly.

- ``tax_codes``: a tax treatment (Stripe ``taxability_reason``, a rate id, ``standard``…) → the ERP's tax code;
- ``dimension_rules``: department / location / class / project (any dimension name) for lines matching a
  source, a product, a category or an employee;
- ``employees``: employee → legal entity, cost center, manager, active (HR master data);
- ``master_data``: per source and party role, ``create`` the party in the ERP from the document, or
  ``wait`` until the CRM announced it (quote-to-cash), bounded by the state machine;
- ``controls``: per entity, allowed currencies, approval thresholds and required dimensions.
"""

from datetime import date
from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from ledgerlink.config.base import ConfigModel
from ledgerlink.model.base import Identifier
from ledgerlink.model.money import Currency


class Effective(ConfigModel):
    effective_from: date | None = Field(default=None, description="first day the row applies (inclusive)")
    effective_to: date | None = Field(default=None, description="last day the row applies (inclusive)")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.effective_from and self.effective_to and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self

    def applies(self, on: date | None) -> bool:
        if on is None:
            return self.effective_to is None
        return (self.effective_from is None or self.effective_from <= on) and (
            self.effective_to is None or on <= self.effective_to)


class TaxCode(Effective):
    entity: Identifier
    treatment: str = Field(min_length=1, description="the source's tax treatment / rate id, or '*' for the default")
    tax_code: str = Field(min_length=1)


class DimensionRule(Effective):
    entity: Identifier
    source: Identifier | Literal["*"] = "*"
    product_id: str | None = None
    category: str | None = None
    employee: str | None = None
    dimensions: dict[str, str] = Field(min_length=1, description="dimension name → value (department: SALES)")

    def matches(self, *, source: str, product_id: str | None, category: str | None, employee: str | None) -> bool:
        return (self.source in ("*", source) and (self.product_id is None or self.product_id == product_id)
                and (self.category is None or self.category == category)
                and (self.employee is None or self.employee == employee))

    @property
    def specificity(self) -> int:
        return sum(value is not None for value in (self.product_id, self.category, self.employee)) + (
            self.source != "*")


class Employee(Effective):
    source: Identifier | Literal["*"] = "*"
    employee_id: str = Field(min_length=1, description="the employee's id in the source (Brex user, Concur login…)")
    entity: Identifier
    cost_center: str | None = None
    manager: str | None = None
    active: bool = True


class MasterDataPolicy(ConfigModel):
    source: Identifier | Literal["*"] = "*"
    role: Literal["customer", "vendor", "employee"] = "customer"
    policy: Literal["create", "wait"] = Field(
        default="create", description="create: sync the party to the ERP from the document; wait: the CRM must "
                                      "announce it first (the posting waits, bounded, then opens an exception)")


class ApprovalThreshold(ConfigModel):
    document_type: str = "*"
    amount: Decimal = Field(gt=0)
    currency: Currency


class EntityControls(ConfigModel):
    entity: Identifier
    allowed_currencies: list[Currency] | None = Field(
        default=None, description="documents in other currencies open currency_not_allowed (default: any)")
    approval_thresholds: list[ApprovalThreshold] = Field(
        default_factory=list, description="a document above the amount opens approval_required")
    required_dimensions: dict[str, list[str]] = Field(
        default_factory=dict, description="document type (or '*') → dimensions every line must carry")


def as_of[T: Effective](rows: list[T], on: date | None) -> list[T]:
    return [row for row in rows if row.applies(on)]
