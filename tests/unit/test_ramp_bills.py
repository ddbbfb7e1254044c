"""Ramp Bill Pay: thin ``bills.*`` notifications, the fetched Bill → a canonical vendor bill (and its reversal when
an approved bill is archived), its posting lines, the ERP-native bill, and master data first (the vendor exists in
the ERP before the bill). No network: the Bill objects are the fixtures in ``events/ramp/api/bills/``."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources.base import NormalizeContext, Normalized
from ledgerlink.connectors.sources.ramp import api as ramp_api
from ledgerlink.connectors.sources.ramp import normalize as ramp
from ledgerlink.errors import DocumentRejected, MasterDataPending, NormalizationError
from ledgerlink.model.documents import Bill, DocumentAdapter, Party, Reversal
from ledgerlink.model.money import Money
from ledgerlink.pipeline.compensation import reversal_journal
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.erp_documents import erp_document
from ledgerlink.service.master_data import master_data_step

from tests.conftest import EVENTS
from tests.unit.fakes import Configs, FakeErp, FakeParties

BILL_A = "0de4a669-e116-4f45-9e37-4a0b9d8c5e3f"
BILL_B = "7a5e3c1b-2d4f-4e6a-8b9c-0d1e2f3a4b5c"
VENDOR = "e2b7c1d4-8f3a-4b6e-9d5c-1a2b3c4d5e6f"


def notification(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / "ramp" / name).read_text())


def bill_object(bill_id: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((EVENTS / "ramp" / "api" / "bills" / f"{bill_id}.json").read_text()), **changes}


def run(config: LedgerLinkConfig, name: str, obj: dict[str, Any] | None = None) -> Normalized:
    note = notification(name)
    fetched = {"bill": json.dumps(obj if obj is not None else bill_object(note["object"]["id"]))}
    ctx = NormalizeContext(config=config, source_id="ramp", correlation_id="corr-1", archive_key="raw/ramp/x")
    return ramp.normalize({"notification": note, "fetched": fetched}, ctx)


def the_bill(config: LedgerLinkConfig, name: str = "06-bills.approved.json", **changes: Any) -> Bill:
    obj = bill_object(notification(name)["object"]["id"], **changes) if changes else None
    (document,) = run(config, name, obj).documents
    assert isinstance(document, Bill)
    return document


def accounts(journal: Any) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in journal.lines:
        totals[line.account] = totals.get(line.account, Decimal(0)) + line.amount.amount
    return totals


# ---- fetching ---------------------------------------------------------------------------------------

def test_approved_ready_and_archived_bills_are_fetched_the_rest_is_recorded_without_an_api_call(example_config):
    source = example_config.source("ramp")
    fetched = {t for t in ("bills.created", "bills.approved", "bills.ready_to_sync", "bills.rejected", "bills.paid",
                           "bills.archived") if ramp_api.wants({"type": t}, source)}
    assert fetched == {"bills.approved", "bills.ready_to_sync", "bills.archived"}
    assert ramp_api.FETCHED["bills.approved"] == ("bill", "bills") and "bills:read" in ramp_api.SCOPES


# ---- normalization ----------------------------------------------------------------------------------

def test_an_approved_ramp_bill_becomes_a_bill_owed_to_its_vendor(example_config):
    bill = the_bill(example_config)
    assert bill.party == Party(role="vendor", source_id=VENDOR, name="Northwind Hosting LLC")
    assert bill.total == Money.of("1840.00", "USD") and bill.number == "NW-2024-0412"
    assert [(line.category, line.amount) for line in bill.lines] == [
        ("hosting", Money.of("1500.00", "USD")), ("saas", Money.of("340.00", "USD"))]
    # the invoice date Ramp states, not shifted: midnight UTC on May 1 is still April 30 in New York
    assert bill.accounting_date == date(2024, 5, 1) and bill.due_date == date(2024, 6, 2)
    assert bill.entity_id == "us01" and bill.source.version == "approved"


def test_bills_ready_to_sync_names_the_same_bill_one_document(example_config):
    assert the_bill(example_config, "07-bills.ready_to_sync.json").document_id == the_bill(example_config).document_id
    other = the_bill(example_config, "08-bills.approved.json")
    assert other.document_id != the_bill(example_config).document_id and other.party.source_id == VENDOR


@pytest.mark.parametrize("status", ["PENDING", "REJECTED", "DRAFT"])
def test_a_bill_that_is_not_approved_is_recorded_not_posted(example_config, status):
    result = run(example_config, "06-bills.approved.json", bill_object(BILL_A, approval_status=status))
    assert result.documents == [] and result.ignored[0].reason == "not_approved"


@pytest.mark.parametrize(("name", "reason"), [("05-bills.created.json", "not_approved"),
                                              ("09-bills.paid.json", "bill_payment_from_bank")])
def test_created_rejected_and_paid_bill_events_post_nothing_and_say_why(example_config, name, reason):
    ctx = NormalizeContext(config=example_config, source_id="ramp", correlation_id="c", archive_key="raw/x")
    result = ramp.normalize({"notification": notification(name), "fetched": None}, ctx)
    assert result.documents == [] and [i.reason for i in result.ignored] == [reason]


@pytest.mark.parametrize(("changes", "reason"), [
    ({"amount": {"amount": 184001, "currency_code": "USD"}}, "amounts_inconsistent"),   # lines do not tie out
    ({"amount": {"amount": 1840.0, "currency_code": "USD"}}, "invalid_amount"),        # major units, not minor
    ({"vendor": {"remote_name": "Northwind"}}, "missing_field"),                       # no Ramp vendor id
    ({"id": ""}, "missing_field"),
])
def test_a_malformed_bill_is_a_clear_exception(example_config, changes, reason):
    with pytest.raises(NormalizationError) as caught:
        run(example_config, "06-bills.approved.json", bill_object(BILL_A, **changes))
    assert caught.value.reason == reason


def test_a_negative_approved_bill_is_a_sign_case_and_a_zero_bill_is_recorded(example_config):
    # -1,840.00 USD, its line items negative too (-1,500.00 and -340.00): a bill is owed to the vendor, so the
    # sign contradicts the type — a case, neither posted as a vendor credit nor dropped as zero
    negative = bill_object(BILL_A, amount={"amount": -184000, "currency_code": "USD"}, line_items=[
        {**item, "amount": {**item["amount"], "amount": -item["amount"]["amount"]}}
        for item in bill_object(BILL_A)["line_items"]])
    assert [item["amount"]["amount"] for item in negative["line_items"]] == [-150000, -34000]
    for obj in (negative, bill_object(BILL_A, amount={"amount": -184000, "currency_code": "USD"})):
        with pytest.raises(NormalizationError) as caught:
            run(example_config, "06-bills.approved.json", obj)
        assert caught.value.reason == "amount_sign_ambiguous"
    zero = run(example_config, "06-bills.approved.json",
               bill_object(BILL_A, amount={"amount": 0, "currency_code": "USD"}, line_items=[]))
    assert zero.documents == [] and [item.reason for item in zero.ignored] == ["zero_amount"]


def test_a_bill_without_line_items_is_one_line_in_the_default_category(example_config):
    bill = the_bill(example_config, line_items=[])
    assert [(line.category, line.amount) for line in bill.lines] == [("uncategorized", Money.of("1840.00", "USD"))]


# ---- posting ----------------------------------------------------------------------------------------

def test_a_bill_debits_the_mapped_expense_per_line_and_credits_accounts_payable(example_config):
    journal = enrich(the_bill(example_config), example_config, config_version=3)
    assert accounts(journal) == {"Expenses:US01:Hosting": Decimal("1500.00"),
                                 "Expenses:US01:Software": Decimal("340.00"),
                                 "Liabilities:US01:AccountsPayable": Decimal("-1840.00")}
    payable = [line for line in journal.lines if line.role == "accounts_payable"]
    assert payable[0].memo == f"Northwind Hosting LLC [{VENDOR}]"
    # an unmapped category falls back to the plain expense account, never a guess at another
    coded = the_bill(example_config, line_items=[{**bill_object(BILL_A)["line_items"][0],
                                                  "amount": {"amount": 184000, "currency_code": "USD"},
                                                  "accounting_field_selections": [{"type": "GL_ACCOUNT",
                                                                                   "name": "Legal fees"}]}])
    assert "Expenses:US01:Uncategorized" in accounts(enrich(coded, example_config, config_version=3))


def test_a_bill_without_a_payable_account_is_mapping_missing(example_config):
    data = example_config.model_dump(mode="json")
    for mapping in data["account_mappings"]:
        if mapping.get("source") == "ramp":
            del mapping["accounts"]["accounts_payable"]
    config = LedgerLinkConfig.model_validate(data)
    with pytest.raises(DocumentRejected) as caught:
        enrich(the_bill(config), config, config_version=1)
    assert caught.value.reason == "mapping_missing" and caught.value.detail["role"] == "accounts_payable"


def test_the_erp_native_bill_carries_the_vendor_the_expense_lines_and_the_due_date(example_config):
    bill = the_bill(example_config)
    native = erp_document(bill, enrich(bill, example_config, config_version=1))
    assert native is not None and native.kind == "bill" and native.party.source_id == VENDOR
    assert [(line.account, line.amount) for line in native.lines] == [
        ("Expenses:US01:Hosting", Money.of("1500.00", "USD")), ("Expenses:US01:Software", Money.of("340.00", "USD"))]
    assert native.account == "Liabilities:US01:AccountsPayable" and native.due_date == date(2024, 6, 2)
    assert native.total == Money.of("1840.00", "USD") and native.number == "NW-2024-0412"


# ---- compensation -----------------------------------------------------------------------------------

def test_archiving_an_approved_bill_reverses_it_in_full(example_config):
    bill = the_bill(example_config)
    (reversal,) = run(example_config, "10-bills.archived.json").documents
    assert isinstance(reversal, Reversal) and reversal.original_document_id == bill.document_id
    assert reversal.reason == "cancellation" and reversal.accounting_date == date(2024, 5, 21)
    original = enrich(bill, example_config, config_version=1)
    undo = reversal_journal(reversal, original, config_version=1)
    assert {account: -amount for account, amount in accounts(undo).items()} == accounts(original)
    assert bill.document_id in undo.related_document_ids
    assert reversal.party == bill.party
    # where bills post as ERP documents, the reversal is a vendor credit of the same vendor, applied to the bill
    credit = erp_document(reversal, undo)
    assert credit is not None and credit.kind == "vendor_credit" and credit.party == bill.party
    assert credit.applies_to == bill.document_id and credit.total == Money.of("1840.00", "USD")
    assert [(line.account, line.amount) for line in credit.lines] == [
        ("Expenses:US01:Hosting", Money.of("1500.00", "USD")), ("Expenses:US01:Software", Money.of("340.00", "USD"))]
    assert credit.account == "Liabilities:US01:AccountsPayable"
    # a reversal without a vendor (or of anything but a bill) stays a journal
    assert erp_document(reversal.model_copy(update={"party": None}), undo) is None
    assert DocumentAdapter.validate_json(reversal.model_dump_json()) == reversal


def test_archiving_a_bill_that_was_never_approved_reverses_nothing(example_config):
    result = run(example_config, "10-bills.archived.json", bill_object(BILL_A, approval_status="PENDING"))
    assert result.documents == [] and result.ignored[0].reason == "never_approved"


# ---- master data first ------------------------------------------------------------------------------

def state_of(bill: Bill) -> dict[str, Any]:
    return {"document_id": bill.document_id, "config_version": 1, "document": bill.model_dump(mode="json")}


def test_two_bills_of_one_new_vendor_create_the_vendor_once_before_either_posts(example_config):
    parties, erp = FakeParties(), FakeErp()
    first, second = the_bill(example_config), the_bill(example_config, "08-bills.approved.json")
    states = [master_data_step(state_of(bill), Configs(example_config), lambda *_: erp, parties)
              for bill in (first, second)]
    assert [p.source_id for p in erp.created] == [VENDOR] and erp.created[0].name == "Northwind Hosting LLC"
    assert [s["parties"] for s in states] == [{f"vendor:{VENDOR}": "V-1"}] * 2


def test_a_second_bill_while_the_first_creates_the_vendor_retries_instead_of_creating_it_again(example_config):
    from ledgerlink.errors import TransientError

    parties, erp = FakeParties(), FakeErp()
    first, second = the_bill(example_config), the_bill(example_config, "08-bills.approved.json")
    # the first bill's execution holds the claim (it is calling the ERP right now) ...
    assert parties.claim_creation("vendor", "ramp", VENDOR, "books", owner=first.document_id)
    with pytest.raises(TransientError) as caught:
        master_data_step(state_of(second), Configs(example_config), lambda *_: erp, parties)
    assert caught.value.reason == "master_data_in_progress" and erp.created == []
    # ... it finishes (the cross-reference is recorded); the retried second execution then finds the vendor
    master_data_step(state_of(first), Configs(example_config), lambda *_: erp, parties)
    assert master_data_step(state_of(second), Configs(example_config), lambda *_: erp, parties)["parties"] == {
        f"vendor:{VENDOR}": "V-1"}
    assert len(erp.created) == 1


def test_wait_policy_holds_the_bill_until_the_vendor_is_announced(example_config):
    data = example_config.model_dump(mode="json")
    data["master_data"] = [{"source": "ramp", "role": "vendor", "policy": "wait"}]
    config = LedgerLinkConfig.model_validate(data)
    parties, erp = FakeParties(), FakeErp()
    bill = the_bill(config)
    with pytest.raises(MasterDataPending) as caught:
        master_data_step(state_of(bill), Configs(config), lambda *_: erp, parties)
    assert caught.value.reason == "master_data_missing" and erp.created == []
    # once the vendor's master-data event announced it, the same bill goes ahead
    parties.announcements[("vendor", "ramp", VENDOR)] = {"name": "Northwind Hosting LLC"}
    assert master_data_step(state_of(bill), Configs(config), lambda *_: erp, parties)["parties"] == {
        f"vendor:{VENDOR}": "V-1"}


def test_post_validate_bill_checks_a_bill_without_posting_it(example_config):
    from ledgerlink.service.ops import validate_document

    body = the_bill(example_config).model_dump(mode="json")
    answer = validate_document("bill", body, example_config, 4)
    assert answer["valid"] and answer["findings"] == []
    assert {line["account"] for line in answer["journal"]["lines"]} >= {"Liabilities:US01:AccountsPayable"}
    wrong = {**body, "total": {"amount": "1.00", "currency": "USD"}}
    assert validate_document("bill", wrong, example_config, 4)["findings"][0]["reason"] == "invalid_document"
