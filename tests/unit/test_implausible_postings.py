"""Issue 17: plausible-looking but wrong postings become cases (unit tier). Figures come from the issue.

- an unmapped provider account is ``unknown_account`` (opt-in: ``unmapped_accounts: default_entity``);
- an absurd amount is ``amount_implausible``; an amount the ERP cannot hold is ``amount_not_representable``;
- a negative source amount is never flipped (Brex −1030 purchase = a 10.30 credit to the expense);
- a payment larger than its invoice applies the invoice's amount; the excess is the customer's credit.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources.adyen import webhook as adyen
from ledgerlink.connectors.sources.salesforce import webhook as salesforce
from ledgerlink.errors import DocumentRejected, NormalizationError
from ledgerlink.model.documents import JournalEntry, JournalLine, Party, Payment, SourceRef
from ledgerlink.model.money import AmountOutOfRange, Money
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.validate import DEFAULT_MAX_AMOUNT, validate

from tests.conftest import EVENTS
from tests.unit.test_api_source_connectors import concur_event, hubspot_event, lines_of, ramp_event, run


def changed(config: LedgerLinkConfig, edit: Any) -> LedgerLinkConfig:
    data = config.model_dump(mode="json")
    edit(data)
    return LedgerLinkConfig.model_validate(data)


def source_of(data: dict[str, Any], source_id: str) -> dict[str, Any]:
    return next(source for source in data["sources"] if source["id"] == source_id)


def opted_in(config: LedgerLinkConfig, source_id: str) -> LedgerLinkConfig:
    return changed(config, lambda data: source_of(data, source_id).update(unmapped_accounts="default_entity"))


def unknown_reason(call: Any) -> tuple[str, str]:
    with pytest.raises(NormalizationError) as caught:
        call()
    return caught.value.reason, caught.value.detail["account"]


# ---- unknown accounts ------------------------------------------------------------------------------

def stripe_event(account: str | None) -> dict[str, Any]:
    event = json.loads((EVENTS / "stripe" / "13-invoice.paid.connect-uk.json").read_text())
    if account is None:
        event.pop("account", None)
    else:
        event["account"] = account
    return event


def test_a_stripe_event_from_an_unmapped_connect_account_is_unknown_account_not_the_default_entity(example_config):
    assert unknown_reason(lambda: run("stripe", stripe_event("acct_1Unmapped"), example_config)) == (
        "unknown_account", "acct_1Unmapped")
    # the mapped Connect account still routes to its entity, and the platform's own event to the default entity
    assert {d.entity_id for d in run("stripe", stripe_event("acct_1LedgerLinkUkLtd01"), example_config).documents} \
        == {"gb01"}
    assert {d.entity_id for d in run("stripe", stripe_event(None), example_config).documents} == {"us01"}
    # with the explicit opt-in, the unmapped account posts to the default entity
    opted = opted_in(example_config, "stripe")
    assert {d.entity_id for d in run("stripe", stripe_event("acct_1Unmapped"), opted).documents} == {"us01"}


def test_an_adyen_notification_from_an_unmapped_merchant_account_is_unknown_account(example_config):
    (event,) = adyen.parse_events((EVENTS / "adyen" / "01-capture.json").read_bytes())
    item = {**event.payload["NotificationRequestItem"], "merchantAccountCode": "SomeoneElsesECOM"}
    payload = {**event.payload, "NotificationRequestItem": item}
    assert unknown_reason(lambda: run("adyen", payload, example_config)) == ("unknown_account", "SomeoneElsesECOM")
    assert run("adyen", payload, opted_in(example_config, "adyen")).documents[0].entity_id == "us01"


def test_brex_hubspot_concur_and_ramp_refuse_unmapped_accounts_too(example_config):
    brex = json.loads((EVENTS / "brex" / "01-expense-payment-updated.purchase.json").read_text())
    assert unknown_reason(lambda: run("brex", {**brex, "company_id": "cuacc_other"}, example_config)) == (
        "unknown_account", "cuacc_other")
    hubspot = hubspot_event()
    hubspot["notification"] = {**hubspot["notification"], "portalId": 99999}
    assert unknown_reason(lambda: run("hubspot", hubspot, example_config)) == ("unknown_account", "99999")
    concur = concur_event(companyId="00000000-0000-0000-0000-000000000000")
    assert unknown_reason(lambda: run("concur", concur, example_config))[0] == "unknown_account"
    ramp = ramp_event("01-transactions.cleared.json", "transaction")
    ramp["notification"] = {**ramp["notification"], "business_id": "not-our-business"}
    ramp["fetched"]["transaction"] = ramp["fetched"]["transaction"].replace(
        "24850cdb-1b3f-4eb9-bf20-967ca9f97605", "not-our-entity")
    assert unknown_reason(lambda: run("ramp", ramp, example_config))[0] == "unknown_account"
    # each opts in on its own source
    assert run("brex", {**brex, "company_id": "cuacc_other"}, opted_in(example_config, "brex")).documents[0] \
        .entity_id == "us01"
    assert run("ramp", ramp, opted_in(example_config, "ramp")).documents[0].entity_id == "us01"


def mapped(config: LedgerLinkConfig, source_id: str, account_entities: dict[str, str]) -> LedgerLinkConfig:
    return changed(config, lambda data: source_of(data, source_id).update(account_entities=account_entities))


def expensify_report(**changes: Any) -> dict[str, Any]:
    first = json.loads((EVENTS / "expensify" / "api" / "reports.json").read_text())[0]  # policy F1A2B3C4D5E6F708
    return {**first, **changes}


def test_an_expensify_report_from_an_unmapped_policy_is_unknown_account_not_the_default_entity(example_config):
    unmapped = expensify_report(policyID="0NOBODYMAPPED000")
    assert unknown_reason(lambda: run("expensify", unmapped, example_config)) == ("unknown_account",
                                                                                  "0NOBODYMAPPED000")
    # the mapped policy routes to its entity (gb01 here, so the mapping and not the default decides)
    to_gb = mapped(example_config, "expensify", {"F1A2B3C4D5E6F708": "gb01"})
    assert {d.entity_id for d in run("expensify", expensify_report(), to_gb).documents} == {"gb01"}
    # a report naming no policy goes to the default entity; the opt-in posts the unmapped policy there too
    assert {d.entity_id for d in run("expensify", expensify_report(policyID=""), to_gb).documents} == {"us01"}
    assert {d.entity_id for d in run("expensify", unmapped, opted_in(example_config, "expensify")).documents} \
        == {"us01"}
    # a report with nothing to post is still recorded as such, whatever its policy
    zero = {**unmapped, "total": 0, "transactions": [{**t, "amount": 0, "convertedAmount": 0}
                                                     for t in unmapped["transactions"]]}
    assert [item.reason for item in run("expensify", zero, example_config).ignored] == ["nothing_to_post"]


SALESFORCE_ORG_18 = "00D5e000000LdgrEAC"   # the organization of events/salesforce/*.xml (the configured one)
SALESFORCE_ORG_15 = "00D5e000000Ldgr"      # its 15-character form


def salesforce_won(**changes: Any) -> dict[str, Any]:
    (event, _open) = salesforce.parse_events((EVENTS / "salesforce" / "02-opportunities.batch.xml").read_bytes())
    assert event.payload["organization_id"] == SALESFORCE_ORG_18
    return {**event.payload, **changes}


def test_a_salesforce_organization_missing_from_account_entities_is_unknown_account(example_config):
    unmapped = mapped(example_config, "salesforce", {})
    assert unknown_reason(lambda: run("salesforce", salesforce_won(), unmapped)) == ("unknown_account",
                                                                                     SALESFORCE_ORG_18)
    # the org may be mapped by its 18- or its 15-character id, whichever form the message carries
    for key in (SALESFORCE_ORG_18, SALESFORCE_ORG_15):
        to_gb = mapped(example_config, "salesforce", {key: "gb01"})
        for received in (SALESFORCE_ORG_18, SALESFORCE_ORG_15):
            documents = run("salesforce", salesforce_won(organization_id=received), to_gb).documents
            assert {d.entity_id for d in documents} == {"gb01"}, (key, received)
    # with the explicit opt-in, the unmapped organization posts to the default entity
    opted = opted_in(unmapped, "salesforce")
    assert {d.entity_id for d in run("salesforce", salesforce_won(), opted).documents} == {"us01"}


# ---- signs -----------------------------------------------------------------------------------------

def brex_event(payment_type: str, minor_units: int, **changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / "brex" / "01-expense-payment-updated.purchase.json").read_text())
    return {**event, "payment_type": payment_type, "amount": {"amount": minor_units, "currency": "USD"}, **changes}


def test_a_brex_purchase_of_minus_1030_credits_the_expense_10_30_never_debits_it(example_config):
    (card,) = run("brex", brex_event("PURCHASE", -1030), example_config).documents
    assert card.amount == Money.of("-10.30", "USD")
    assert lines_of(card, example_config) == {"Expenses:US01:Software": Decimal("-10.30"),
                                              "Liabilities:US01:CreditCards:Brex": Decimal("10.30")}
    # its decline mirrors it: the expense back to where it was
    declined = brex_event("PURCHASE", -1030, payment_status="DECLINED", version=2)
    assert run("brex", declined, example_config).documents[0].amount == Money.of("10.30", "USD")


def test_a_brex_refund_posts_as_a_credit_and_a_negative_refund_is_a_case_not_a_guess(example_config):
    (refund,) = run("brex", brex_event("REFUND", 500), example_config).documents
    assert lines_of(refund, example_config) == {"Expenses:US01:Software": Decimal("-5.00"),
                                                "Liabilities:US01:CreditCards:Brex": Decimal("5.00")}
    with pytest.raises(NormalizationError) as caught:
        run("brex", brex_event("REFUND", -500), example_config)
    assert caught.value.reason == "amount_sign_ambiguous"


def test_a_ramp_card_transaction_of_minus_10_30_credits_the_expense_10_30_never_debits_it(example_config):
    # a merchant credit: the settled amount and its line items both say -10.30 USD (-1030 minor units)
    refund = ramp_event("01-transactions.cleared.json", "transaction", amount=Decimal("-10.30"),
                        line_items=[{"amount": {"amount": -1030, "currency_code": "USD"}}])
    (card,) = run("ramp", refund, example_config).documents
    assert card.amount == Money.of("-10.30", "USD")
    # Dr card liability 10.30 · Cr expense 10.30 (the sample is coded SaaS → Expenses:US01:Software)
    assert lines_of(card, example_config) == {"Expenses:US01:Software": Decimal("-10.30"),
                                              "Liabilities:US01:CreditCards:Ramp": Decimal("10.30")}
    journal = enrich(card, example_config, config_version=1)
    assert {(line.account, line.amount.amount > 0) for line in journal.lines} == {
        ("Liabilities:US01:CreditCards:Ramp", True), ("Expenses:US01:Software", False)}
    # the same credit without line items: still a credit, never flipped
    (bare,) = run("ramp", ramp_event("01-transactions.cleared.json", "transaction", amount=Decimal("-10.30"),
                                     line_items=[]), example_config).documents
    assert bare.amount == Money.of("-10.30", "USD")
    # zero is still recorded, not posted
    zero = run("ramp", ramp_event("01-transactions.cleared.json", "transaction", amount=0, line_items=[]),
               example_config)
    assert zero.documents == [] and [item.reason for item in zero.ignored] == ["zero_amount"]


def test_a_negative_ramp_reimbursement_owed_to_the_employee_is_a_case_and_zero_is_recorded(example_config):
    negative = {"amount": Decimal("-484.46"), "payee_amount": {"amount": -48446, "currency_code": "USD"},
                "line_items": [{"amount": {"amount": -43446, "currency_code": "USD"}},
                               {"amount": {"amount": -5000, "currency_code": "USD"}}]}
    for changes in (negative, {"amount": Decimal("-484.46")}):   # its lines negative too, or still positive
        event = ramp_event("03-reimbursements.ready_to_sync.json", "reimbursement", **changes)
        with pytest.raises(NormalizationError) as caught:
            run("ramp", event, example_config)
        assert caught.value.reason == "amount_sign_ambiguous"
    zero = ramp_event("03-reimbursements.ready_to_sync.json", "reimbursement", amount=0, line_items=[],
                      payee_amount={"amount": 0, "currency_code": "USD"})
    result = run("ramp", zero, example_config)
    assert result.documents == [] and [item.reason for item in result.ignored] == ["zero_amount"]


def test_ramp_line_items_that_disagree_in_sign_with_the_amount_are_a_case(example_config):
    refund = ramp_event("01-transactions.cleared.json", "transaction", amount=Decimal("-90.00"))
    with pytest.raises(NormalizationError) as caught:
        run("ramp", refund, example_config)   # line items still say +90.00: which one is true is not ours to pick
    assert caught.value.reason == "amounts_inconsistent"


# ---- magnitudes ------------------------------------------------------------------------------------

def invoice_journal(amount: str, currency: str = "USD", *, entity: str = "us01", source: str = "stripe",
                    on: date = date(2024, 5, 2)) -> JournalEntry:
    ref = SourceRef(system="stripe", object_type="invoice", object_id="in_absurd", version="finalized",
                    source_id=source)
    accounts = ("Assets:US01:AccountsReceivable:Stripe", "Income:US01:Revenue:Subscriptions") if entity == "us01" \
        else ("1100", "4000")
    return JournalEntry(
        document_id=ref.document_id(), source=ref, entity_id=entity, correlation_id="corr-1",
        occurred_at=datetime(on.year, on.month, on.day, 15, tzinfo=UTC), accounting_date=on, currency=currency,
        lines=(JournalLine(account=accounts[0], amount=Money.of(amount, currency)),
               JournalLine(account=accounts[1], amount=-Money.of(amount, currency))))


def rejection(call: Any) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        call()
    return caught.value


def test_a_10_to_the_17_minor_unit_invoice_is_amount_implausible(example_config):
    # 10^17 minor units of USD = 1,000,000,000,000,000.00 USD
    absurd = invoice_journal(str(Money.from_minor(10**17, "USD").amount))
    caught = rejection(lambda: validate(absurd, example_config, "invoice"))
    assert caught.reason == "amount_implausible" and caught.detail["amount"] == "1000000000000000.00"
    assert caught.detail["suggested_fix"]


def test_the_lowest_ceiling_of_source_and_entity_applies_per_currency_with_a_documented_default(example_config):
    no_ceiling = changed(example_config, lambda data: data["entities"][0].pop("max_amount"))
    assert validate(invoice_journal("999999999.99"), no_ceiling, "invoice")       # just under the default
    assert rejection(lambda: validate(invoice_journal("1000000000.01"), no_ceiling, "invoice")).detail[
        "ceiling"] == str(DEFAULT_MAX_AMOUNT)
    # the example entity us01 sets USD 50,000,000; the source sets USD 1,000 and 5,000 for any other currency
    tight = changed(example_config, lambda data: source_of(data, "stripe").update(max_amount={"USD": "1000",
                                                                                              "*": "5000"}))
    assert rejection(lambda: validate(invoice_journal("1000.01"), tight, "invoice")).detail["ceiling"] == "1000"
    assert validate(invoice_journal("1000.00"), tight, "invoice")
    assert rejection(lambda: validate(invoice_journal("5001", "JPY"), tight, "invoice")).reason == "amount_implausible"
    # another source of the same entity only has the entity's ceiling
    assert validate(invoice_journal("1000.01", source="adyen"), tight, "invoice")
    # a summary journal (no document type) aggregates documents that each passed the gate
    assert validate(invoice_journal("1000.01"), tight)


@pytest.mark.parametrize(("kind", "extra", "fits", "too_big"), [
    ("business_central", {"tenant_id": "contoso", "company_id": "00000000-0000-0000-0000-000000000001",
                          "journal_id": "00000000-0000-0000-0000-000000000002"},
     "999999999999999.99", "1000000000000000.00"),
    ("netsuite", {"account_id": "1234567"}, "999999999999999.99", "1000000000000000.00"),
    ("xero", {"tenant_id": "00000000-0000-0000-0000-000000000000"}, "9999999999999.99", "10000000000000.00"),
    ("quickbooks_online", {"realm_id": "1234567890"}, "9999999999999.99", "10000000000000.00"),
])
def test_an_amount_the_target_erp_cannot_hold_is_refused_before_any_write(example_config, kind, extra, fits,
                                                                           too_big):
    # Given gb01 (numeric GL accounts) posting to an API ERP, with no plausibility ceiling in the way
    def to_erp(data: dict[str, Any]) -> None:
        data["erp_connections"].append({"id": "target", "kind": kind, "credentials": {"secret_id": "x"}, **extra})
        data["entities"][1].update(erp_connection="target", max_amount={"*": "1e20"})
    config = changed(example_config, to_erp)
    assert validate(invoice_journal(fits, "GBP", entity="gb01"), config, "invoice")
    caught = rejection(lambda: validate(invoice_journal(too_big, "GBP", entity="gb01"), config, "invoice"))
    assert caught.reason == "amount_not_representable" and caught.detail["connection"] == "target"


def test_the_embedded_book_holds_any_amount_money_admits_and_a_fixed_width_legacy_file_holds_18_characters(
        example_config):
    def no_ceilings(data: dict[str, Any]) -> None:
        for entity in data["entities"]:
            entity["max_amount"] = {"*": "1e30"}
    huge = changed(example_config, no_ceilings)
    # beancount: Decimal, no limit of its own — the largest amount Money admits (below 10^18, D93) posts
    assert validate(invoice_journal("9" * 18 + ".99"), huge, "invoice")
    with pytest.raises(AmountOutOfRange):                                         # 10^20: no document carries it
        invoice_journal("1" + "0" * 20 + ".00")
    fixed = changed(huge, lambda data: next(c for c in data["erp_connections"] if c["id"] == "legacy-gl")
                    .update(format="fixed_width"))
    gb = invoice_journal("999999999999999.99", "GBP", entity="gb01")             # 18 characters: fits
    assert validate(gb, fixed, "invoice")
    caught = rejection(lambda: validate(invoice_journal("1000000000000000.00", "GBP", entity="gb01"), fixed,
                                        "invoice"))
    assert caught.reason == "amount_not_representable"


# ---- overpayments ----------------------------------------------------------------------------------

def test_a_9999_99_payment_of_a_20_00_invoice_applies_20_00_and_puts_9979_99_on_customer_credit(example_config):
    event = json.loads((EVENTS / "stripe" / "02-invoice.paid.json").read_text())
    event["data"]["object"]["amount_paid"] = 999_999
    invoice, applied, unapplied = run("stripe", event, example_config).documents
    assert invoice.total == Money.of("20.00", "USD")
    assert applied.amount == Money.of("20.00", "USD") and applied.applies_to_document_id == invoice.document_id
    assert unapplied.amount == Money.of("9979.99", "USD") and unapplied.applies_to_document_id is None
    assert unapplied.related_document_ids == (invoice.document_id,)
    credited = changed(example_config, lambda data: data["account_mappings"][0]["accounts"].update(
        customer_credit="Liabilities:US01:CustomerCredit"))
    assert lines_of(applied, credited) == {"Assets:US01:Clearing:Stripe": Decimal("20.00"),
                                           "Assets:US01:AccountsReceivable:Stripe": Decimal("-20.00")}
    assert lines_of(unapplied, credited) == {"Assets:US01:Clearing:Stripe": Decimal("9979.99"),
                                             "Liabilities:US01:CustomerCredit": Decimal("-9979.99")}
    # without a customer_credit account the remainder is a mapping_missing case, never the receivable
    def unmapped(data: dict[str, Any]) -> None:
        for mapping in data["account_mappings"]:
            mapping.get("accounts", {}).pop("customer_credit", None)
    with pytest.raises(DocumentRejected) as caught:
        enrich(unapplied, changed(example_config, unmapped), config_version=1)
    assert caught.value.reason == "mapping_missing" and caught.value.detail["role"] == "customer_credit"


def test_a_payment_of_exactly_the_invoice_makes_no_unapplied_remainder(example_config):
    event = json.loads((EVENTS / "stripe" / "02-invoice.paid.json").read_text())
    kinds = [d.source.object_type for d in run("stripe", event, example_config).documents]
    assert kinds == ["invoice", "invoice_payment"]


def test_enrich_credits_customer_credit_only_for_an_unapplied_payment(example_config):
    def payment(object_type: str) -> Payment:
        ref = SourceRef(system="stripe", object_type=object_type, object_id="in_1", version="paid",
                        source_id="stripe")
        return Payment(document_id=ref.document_id(), source=ref, entity_id="us01", correlation_id="c",
                       occurred_at=datetime(2024, 5, 2, tzinfo=UTC), accounting_date=date(2024, 5, 2),
                       currency="USD", amount=Money.of("9979.99", "USD"), party=Party(role="customer",
                                                                                      source_id="cus_1"))
    receivable = {line.role for line in enrich(payment("invoice_payment"), example_config, config_version=1).lines}
    assert receivable == {"cash_clearing", "receivable"}
