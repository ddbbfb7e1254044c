"""The mapping service and its gates: entity controls, HR master data, effective dating, tax codes, config diffs.

Each gate has a reason code that the exceptions workflow shows to finance ops; each test names the one it proves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.config.changes import diff, summary
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.errors import DocumentRejected, MasterDataPending
from ledgerlink.model.documents import ExpenseLine, ExpenseReport, Invoice, InvoiceLine, Party, SourceRef
from ledgerlink.model.money import Money
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.master_data import check_employee
from ledgerlink.pipeline.validate import validate
from ledgerlink.service.master_data import master_data_step

from tests.conftest import event_json
from tests.unit.fakes import Configs, FakeErp, FakeParties

REVENUE = "Income:US01:Revenue:Subscriptions"
RECEIVABLE = "Assets:US01:AccountsReceivable:Stripe"


def config_with(config: LedgerLinkConfig, **sections: Any) -> LedgerLinkConfig:
    data = config.model_dump(mode="json")
    data.update(sections)
    return LedgerLinkConfig.model_validate(data)


def invoice(on: date, amount: str = "20.00", currency: str = "USD", *, product: str | None = None,
            treatment: str | None = None, tax: str | None = None) -> Invoice:
    source = SourceRef(system="stripe", object_type="invoice", object_id=f"in_{on:%Y%m%d}", version="finalized",
                       source_id="stripe")
    line_tax = Money.of(tax, currency) if tax else None
    total = Money.of(amount, currency) + (line_tax or Money.zero(currency))
    return Invoice(
        document_id=source.document_id(), source=source, entity_id="us01", correlation_id="corr-gov",
        occurred_at=datetime(on.year, on.month, on.day, 12, tzinfo=UTC), accounting_date=on, currency=currency,
        party=Party(role="customer", source_id="cus_gov"), total=total,
        lines=(InvoiceLine(line_id="il_1", amount=Money.of(amount, currency), product_id=product, tax=line_tax,
                           tax_treatment=treatment),),
    )


def expense(employee: str, *, on: date = date(2024, 3, 15), category: str = "travel") -> ExpenseReport:
    source = SourceRef(system="ramp", object_type="reimbursement", object_id=f"re_{employee}", source_id="ramp")
    return ExpenseReport(
        document_id=source.document_id(), source=source, entity_id="us01", correlation_id="corr-exp",
        occurred_at=datetime(on.year, on.month, on.day, 12, tzinfo=UTC), accounting_date=on, currency="USD",
        employee=Party(role="employee", source_id=employee), report_id=f"re_{employee}", total=Money.of("42.00", "USD"),
        lines=(ExpenseLine(line_id="l1", category=category, amount=Money.of("42.00", "USD"), transaction_date=on),),
    )


def rejected(call: Any, *args: Any, **kwargs: Any) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        call(*args, **kwargs)
    return caught.value


# ---- entity controls -----------------------------------------------------------------------------------------

def test_currency_not_allowed_names_the_refused_currency(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, controls=[{"entity": "us01", "allowed_currencies": ["USD"]}])
    journal = enrich(invoice(date(2024, 3, 15), currency="EUR"), config, config_version=1)
    error = rejected(validate, journal, config, "invoice")
    assert error.reason == "currency_not_allowed"
    assert error.detail["currencies"] == "EUR"
    assert "allowed_currencies" in error.detail["suggested_fix"]
    # the same document in an allowed currency passes
    assert validate(enrich(invoice(date(2024, 3, 15)), config, config_version=1), config, "invoice")


def test_approval_threshold_applies_to_its_document_type_only(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, controls=[{"entity": "us01", "approval_thresholds": [
        {"document_type": "invoice", "amount": "1000.00", "currency": "USD"}]}])
    big = enrich(invoice(date(2024, 3, 15), "1000.01"), config, config_version=1)
    error = rejected(validate, big, config, "invoice")
    assert error.reason == "approval_required"
    assert error.detail["threshold"] == "1000.00"
    # exactly at the threshold is not above it
    assert validate(enrich(invoice(date(2024, 3, 15), "1000.00"), config, config_version=1), config, "invoice")
    # another document type is not held by an invoice threshold
    assert validate(big, config, "credit_note")


def test_required_dimension_missing_then_supplied_by_a_dimension_rule(example_config: LedgerLinkConfig) -> None:
    controls = [{"entity": "us01", "required_dimensions": {"invoice": ["department"]}}]
    config = config_with(example_config, controls=controls)
    error = rejected(validate, enrich(invoice(date(2024, 3, 15)), config, config_version=1), config, "invoice")
    assert error.reason == "dimension_missing"
    assert error.detail["dimensions"] == "department"
    # a rule for the whole entity supplies it on every line
    fixed = config_with(config, dimension_rules=[{"entity": "us01", "dimensions": {"department": "SALES"}}])
    journal = validate(enrich(invoice(date(2024, 3, 15)), fixed, config_version=2), fixed, "invoice")
    assert {line.dimensions["department"] for line in journal.lines} == {"SALES"}


def test_most_specific_dimension_rule_wins_per_dimension(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, dimension_rules=[
        {"entity": "us01", "dimensions": {"department": "SALES", "location": "NYC"}},
        {"entity": "us01", "source": "stripe", "product_id": "prod_ledgerlink_pro", "dimensions": {"department": "PRO"}},
    ])
    journal = enrich(invoice(date(2024, 3, 15), product="prod_ledgerlink_pro"), config, config_version=1)
    revenue = next(line for line in journal.lines if line.role and line.role.startswith("revenue"))
    receivable = next(line for line in journal.lines if line.role == "receivable")
    assert revenue.dimensions == {"department": "PRO", "location": "NYC"}
    assert receivable.dimensions == {"department": "SALES", "location": "NYC"}


# ---- HR master data: employees --------------------------------------------------------------------------------

EMPLOYEES = [
    {"source": "ramp", "employee_id": "u_active", "entity": "us01", "cost_center": "CC-100"},
    {"source": "ramp", "employee_id": "u_left", "entity": "us01", "effective_to": "2024-01-31"},
    {"source": "ramp", "employee_id": "u_off", "entity": "us01", "active": False},
    {"source": "ramp", "employee_id": "u_uk", "entity": "gb01"},
]


@pytest.mark.parametrize(("employee", "reason"), [
    ("u_stranger", "employee_unknown"),
    ("u_left", "employee_inactive"),
    ("u_off", "employee_inactive"),
    ("u_uk", "employee_wrong_entity"),
])
def test_employee_gates(example_config: LedgerLinkConfig, employee: str, reason: str) -> None:
    config = config_with(example_config, employees=EMPLOYEES)
    document = expense(employee)
    error = rejected(check_employee, document, document.employee, config, "ramp")
    assert error.reason == reason
    assert error.detail["employee"] == employee


def test_known_active_employee_passes_and_brings_the_cost_center(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, employees=EMPLOYEES)
    document = expense("u_active")
    check_employee(document, document.employee, config, "ramp")  # no exception
    journal = enrich(document, config, config_version=1)
    assert {line.dimensions.get("cost_center") for line in journal.lines} == {"CC-100"}


def test_no_employee_table_means_no_hr_gate(example_config: LedgerLinkConfig) -> None:
    document = expense("anyone")
    check_employee(document, document.employee, example_config, "ramp")


# ---- effective dating -------------------------------------------------------------------------------------

def test_account_mapping_change_applies_from_its_effective_date_only(example_config: LedgerLinkConfig) -> None:
    data = example_config.model_dump(mode="json")
    stripe = next(m for m in data["account_mappings"] if m["entity"] == "us01" and m["source"] == "stripe")
    stripe["effective_to"] = "2024-03-31"
    data["account_mappings"].append({"entity": "us01", "source": "stripe", "effective_from": "2024-04-01",
                                     "accounts": {**stripe["accounts"], "revenue": "Income:US01:Revenue:Platform"}})
    config = LedgerLinkConfig.model_validate(data)
    before = enrich(invoice(date(2024, 3, 31)), config, config_version=4)
    after = enrich(invoice(date(2024, 4, 1)), config, config_version=4)
    assert REVENUE in {line.account for line in before.lines}
    assert "Income:US01:Revenue:Platform" in {line.account for line in after.lines}
    assert {line.account for line in after.lines} - {"Income:US01:Revenue:Platform"} == {RECEIVABLE}


def test_tax_code_follows_the_treatment_and_its_effective_date(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, tax_codes=[
        {"entity": "us01", "treatment": "standard_rated", "tax_code": "TAX-OLD", "effective_to": "2024-06-30"},
        {"entity": "us01", "treatment": "standard_rated", "tax_code": "TAX-NEW", "effective_from": "2024-07-01"},
        {"entity": "us01", "treatment": "*", "tax_code": "TAX-DEFAULT"},
    ])
    june = enrich(invoice(date(2024, 6, 30), treatment="standard_rated", tax="2.00"), config, config_version=1)
    july = enrich(invoice(date(2024, 7, 1), treatment="standard_rated", tax="2.00"), config, config_version=1)
    other = enrich(invoice(date(2024, 7, 1), treatment="reverse_charge", tax="2.00"), config, config_version=1)
    assert {line.role: line.dimensions.get("tax_code") for line in june.lines} == {
        "receivable": None, "revenue": "TAX-OLD", "tax": "TAX-OLD"}
    assert {line.role: line.dimensions.get("tax_code") for line in july.lines} == {
        "receivable": None, "revenue": "TAX-NEW", "tax": "TAX-NEW"}
    assert {line.role: line.dimensions.get("tax_code") for line in other.lines} == {
        "receivable": None, "revenue": "TAX-DEFAULT", "tax": "TAX-DEFAULT"}
    assert next(line.memo for line in july.lines if line.role == "tax") == "tax (standard_rated)"


def test_stripe_taxability_reason_reaches_the_tax_code(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, tax_codes=[{"entity": "us01", "treatment": "standard_rated",
                                                     "tax_code": "DE19"}])
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="corr-tax")
    document = normalize(event_json("stripe/06-invoice.paid.current-api.json"), ctx).documents[0]
    assert {line.tax_treatment for line in document.lines} == {"standard_rated"}
    journal = enrich(document, config, config_version=1)
    tax = [line for line in journal.lines if line.role == "tax"]
    assert [line.dimensions["tax_code"] for line in tax] == ["DE19"]
    assert tax[0].amount == Money.of("-20.52", "EUR")


def test_invoice_with_two_treatments_gets_one_tax_line_each(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, tax_codes=[
        {"entity": "us01", "treatment": "standard_rated", "tax_code": "S"},
        {"entity": "us01", "treatment": "reduced_rated", "tax_code": "R"}])
    base = invoice(date(2024, 3, 15), treatment="standard_rated", tax="2.00")
    second = base.lines[0].model_copy(update={"line_id": "il_2", "tax_treatment": "reduced_rated",
                                              "tax": Money.of("0.70", "USD")})
    document = base.model_copy(update={"lines": (*base.lines, second), "total": Money.of("42.70", "USD")})
    journal = enrich(document, config, config_version=1)
    tax = {line.dimensions["tax_code"]: line.amount for line in journal.lines if line.role == "tax"}
    assert tax == {"S": Money.of("-2.00", "USD"), "R": Money.of("-0.70", "USD")}
    assert sum((line.amount.amount for line in journal.lines), start=Money.zero("USD").amount) == 0


# ---- master data first -------------------------------------------------------------------------------------

def state_for(document: Invoice) -> dict[str, Any]:
    return {"config_version": 1, "document": document.model_dump(mode="json")}


def test_wait_policy_raises_master_data_missing_until_the_crm_announces(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, master_data=[{"source": "stripe", "role": "customer", "policy": "wait"}])
    parties, erp = FakeParties(), FakeErp()
    state = state_for(invoice(date(2024, 3, 15)))
    with pytest.raises(MasterDataPending) as caught:
        master_data_step(state, Configs(config), lambda *_: erp, parties)
    assert caught.value.reason == "master_data_missing"
    assert caught.value.detail["party"] == "cus_gov"
    parties.announcements[("customer", "stripe", "cus_gov")] = {"name": "Gov Ltd"}
    assert master_data_step(state, Configs(config), lambda *_: erp, parties)["document"] == state["document"]


def test_create_policy_creates_each_party_once_per_connection(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, posting_policies=[
        {"source": "stripe", "document_type": "invoice", "post_as": "document"}])
    parties, erp = FakeParties(), FakeErp()
    first = master_data_step(state_for(invoice(date(2024, 3, 15))), Configs(config), lambda *_: erp, parties)
    second = master_data_step(state_for(invoice(date(2024, 3, 16))), Configs(config), lambda *_: erp, parties)
    assert [party.source_id for party in erp.created] == ["cus_gov"]
    assert first["parties"] == second["parties"] == {"customer:cus_gov": "V-1"}


# ---- configuration diffs -------------------------------------------------------------------------------------

def test_reordering_rows_is_no_change_and_a_new_dated_row_is_one_addition(example_config: LedgerLinkConfig) -> None:
    before = example_config.model_dump(mode="json")
    reordered = {**before, "account_mappings": list(reversed(before["account_mappings"]))}
    assert diff(before, reordered) == []
    after = {**before, "account_mappings": [*before["account_mappings"], {
        "entity": "us01", "source": "stripe", "effective_from": "2024-04-01", "effective_to": None,
        "accounts": {"revenue": "Income:US01:Revenue:Platform"}}]}
    changes = diff(before, after)
    assert [(c.kind, c.path) for c in changes] == [
        ("added", "account_mappings[entity=us01 source=stripe effective_from=2024-04-01]")]


def test_changed_account_is_one_change_with_before_and_after(example_config: LedgerLinkConfig) -> None:
    before = example_config.model_dump(mode="json")
    after = without_revenue = example_config.model_dump(mode="json")
    stripe = next(m for m in after["account_mappings"] if m["entity"] == "us01" and m["source"] == "stripe")
    stripe["accounts"]["revenue"] = "Income:US01:Revenue:Other"
    del stripe["accounts"]["refunds"]
    changes = diff(before, without_revenue)
    label = "account_mappings[entity=us01 source=stripe]"
    assert {(c.kind, c.path) for c in changes} == {("changed", f"{label}.accounts.revenue"),
                                                   ("removed", f"{label}.accounts.refunds")}
    changed = next(c for c in changes if c.kind == "changed")
    assert (changed.before, changed.after) == (REVENUE, "Income:US01:Revenue:Other")
    report = summary(changes)
    assert (report["total"], report["changed"], report["removed"], report["added"]) == (2, 1, 1, 0)
    assert report["sections"] == {"account_mappings": 2}
    assert any(line.startswith("~ ") and "Income:US01:Revenue:Other" in line for line in report["lines"])


def test_first_apply_lists_every_section_as_added(example_config: LedgerLinkConfig) -> None:
    after = example_config.model_dump(mode="json")
    changes = diff(None, after)
    assert {c.kind for c in changes} == {"added"}
    assert "entities[id=us01]" in {c.path for c in changes}


def test_stripe_invoice_metadata_links_the_customer_to_its_crm_account(example_config: LedgerLinkConfig) -> None:
    event = event_json("stripe/01-invoice.finalized.json")
    invoice_object = event["data"]["object"]
    invoice_object["metadata"] = {"hubspot_company_id": "9155227761", "unrelated": "x"}
    invoice_object["subscription_details"] = {"metadata": {"salesforce_account_id": "001ABC"}}
    ctx = NormalizeContext(config=example_config, source_id="stripe", correlation_id="corr-crm")
    party = normalize(event, ctx).documents[0].party
    assert party.external_ids == {"hubspot_company": "9155227761", "salesforce_account": "001ABC"}
    # a source that names no CRM keys links nothing
    data = example_config.model_dump(mode="json")
    next(s for s in data["sources"] if s["id"] == "stripe")["crm_metadata_keys"] = {}
    bare = NormalizeContext(config=LedgerLinkConfig.model_validate(data), source_id="stripe", correlation_id="c")
    assert normalize(event, bare).documents[0].party.external_ids == {}


def test_wait_policy_accepts_an_announcement_under_an_external_id(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, master_data=[{"source": "stripe", "role": "customer", "policy": "wait"}])
    parties, erp = FakeParties(), FakeErp()
    document = invoice(date(2024, 3, 15))
    linked = document.model_copy(update={"party": document.party.model_copy(
        update={"external_ids": {"hubspot_company": "42"}})})
    parties.announcements[("customer", "hubspot_company", "42")] = {"name": "Answer Corp"}
    assert master_data_step(state_for(linked), Configs(config), lambda *_: erp, parties)["document"]
    with pytest.raises(MasterDataPending):
        master_data_step(state_for(document), Configs(config), lambda *_: erp, parties)
