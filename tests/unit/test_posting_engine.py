"""The posting engine's pure parts: routing and cutover, FX conversion with rounding, reversals, summary
buckets and lines, ERP-native documents, and the ERP period gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.erps.base import PeriodStatus
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import (
    FxConversion,
    Invoice,
    InvoiceLine,
    JournalEntry,
    JournalLine,
    Party,
    Payment,
    Reversal,
    SourceRef,
    imbalances,
)
from ledgerlink.model.money import Money
from ledgerlink.pipeline.compensation import compensation_links, reversal_journal
from ledgerlink.pipeline.erp_documents import erp_document
from ledgerlink.pipeline.fx import convert_to_base
from ledgerlink.pipeline.periods import apply_erp_period
from ledgerlink.pipeline.route import route
from ledgerlink.pipeline.summarize import BucketScope, SummaryLine, contributions, line_key, summary_journal


def config(**entity: Any) -> LedgerLinkConfig:
    return LedgerLinkConfig.model_validate({
        "entities": [{"id": "us01", "name": "US", "base_currency": "USD", "time_zone": "America/New_York",
                      "erp_connection": "books", **entity}],
        "erp_connections": [{"id": "books", "kind": "beancount"},
                            {"id": "legacy", "kind": "legacy_file", "company_code": "ACME"}],
        "sources": [{"id": "stripe", "kind": "stripe", "signing_secret": {"secret_id": "s"}, "default_entity": "us01"}],
        "account_mappings": [{"entity": "us01", "accounts": {
            "receivable": "Assets:AR", "revenue": "Income:Sales", "fx_rounding": "Expenses:FXRounding",
            "cash_clearing": "Assets:Clearing", "tax": "Liabilities:Tax"}}],
        "fx_rates": [{"from_currency": "EUR", "to_currency": "USD", "rate": "1.0832", "valid_from": "2026-01-01",
                      "source": "ECB reference rate"},
                     {"from_currency": "EUR", "to_currency": "USD", "rate": "1.1000", "valid_from": "2026-02-01",
                      "source": "ECB reference rate"}],
    })


def journal(key: str, lines: list[tuple[str, str, str]], on: date = date(2026, 1, 20), **extra: Any) -> JournalEntry:
    source = SourceRef(system="stripe", object_type="invoice", object_id=key, source_id="stripe")
    return JournalEntry(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="c",
                        occurred_at=datetime(2026, 1, 20, tzinfo=UTC), accounting_date=on, currency=lines[0][2],
                        memo=f"journal {key}", lines=tuple(JournalLine(account=a, amount=Money.of(v, c), role=r)
                                                           for a, v, c, r in [(*x, None) for x in lines]), **extra)


# ---- routing ------------------------------------------------------------------------------------------

def test_documents_dated_before_the_cutover_go_to_the_legacy_target():
    cfg = config(legacy_connection="legacy", cutover_date="2026-02-01")
    assert route(cfg, "us01", date(2026, 1, 31)).connection_id == "legacy"
    assert route(cfg, "us01", date(2026, 2, 1)).connection_id == "books"
    assert route(config(), "us01", date(2020, 1, 1)).connection_id == "books"


def test_a_cutover_without_a_legacy_target_is_a_configuration_error():
    with pytest.raises(ValueError, match="legacy_connection"):
        config(cutover_date="2026-02-01")


def test_accounts_of_an_entity_in_coexistence_are_checked_for_both_targets():
    with pytest.raises(ValueError, match="legacy GL account"):
        LedgerLinkConfig.model_validate({**config(legacy_connection="legacy", cutover_date="2026-02-01").model_dump(
            mode="json"), "account_mappings": [{"entity": "us01", "accounts": {"receivable": "Assets:A R with space"}}]})


# ---- FX -------------------------------------------------------------------------------------------------

def converting() -> LedgerLinkConfig:
    return config(foreign_currency="convert_to_base")


def test_a_foreign_journal_is_converted_with_the_configured_rate_and_its_source():
    eur = journal("fx1", [("Assets:AR", "100.00", "EUR"), ("Income:Sales", "-100.00", "EUR")])
    converted = convert_to_base(eur, converting(), lambda: ("fx_rounding", "Expenses:FXRounding"))
    assert converted.currency == "USD" and converted.fx.rate == Decimal("1.0832")
    assert converted.fx.source == "config: ECB reference rate" and converted.fx.rate_date == date(2026, 1, 1)
    assert [line.amount for line in converted.lines] == [Money.of("108.32", "USD"), Money.of("-108.32", "USD")]
    assert converted.lines[0].original_amount == Money.of("100.00", "EUR")


def test_rounding_differences_go_to_the_rounding_account_and_the_journal_balances():
    # 3 x 33.33 + 0.01 at 1.0832: each line rounds on its own
    eur = journal("fx2", [("Assets:AR", "100.00", "EUR"), ("Income:Sales", "-33.33", "EUR"),
                          ("Income:Sales", "-33.33", "EUR"), ("Income:Sales", "-33.34", "EUR")])
    converted = convert_to_base(eur, converting(), lambda: ("fx_rounding", "Expenses:FXRounding"))
    rounding = [line for line in converted.lines if line.account == "Expenses:FXRounding"]
    assert len(rounding) == 1 and abs(rounding[0].amount.amount) <= Decimal("0.02")
    assert imbalances(converted.lines) == {}


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=12),
       st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=6))
def test_any_conversion_balances_to_the_cent(minor_amounts: list[int], rate: Decimal):
    cfg = LedgerLinkConfig.model_validate({**converting().model_dump(mode="json"), "fx_rates": [
        {"from_currency": "EUR", "to_currency": "USD", "rate": str(rate), "valid_from": "2020-01-01", "source": "t"}]})
    total = sum(minor_amounts)
    lines = [("Income:Sales", str(Decimal(-m).scaleb(-2)), "EUR") for m in minor_amounts]
    eur = journal("fxp", [("Assets:AR", str(Decimal(total).scaleb(-2)), "EUR"), *lines])
    try:
        converted = convert_to_base(eur, cfg, lambda: ("fx_rounding", "Expenses:FXRounding"))
    except DocumentRejected as exc:   # everything rounded away (tiny amounts at tiny rates): refused, not faked
        assert exc.reason == "fx_imbalance"
        return
    assert imbalances(converted.lines) == {}
    assert all(line.amount.currency == "USD" for line in converted.lines)


def test_the_documents_own_rate_wins_over_the_configuration():
    own = FxConversion(from_currency="EUR", to_currency="USD", rate=Decimal("1.05"), source="stripe balance txn",
                       rate_date=date(2026, 1, 20))
    eur = journal("fx3", [("Assets:AR", "10.00", "EUR"), ("Income:Sales", "-10.00", "EUR")], fx=own)
    converted = convert_to_base(eur, converting(), lambda: ("fx_rounding", "Expenses:FXRounding"))
    assert converted.fx == own and converted.lines[0].amount == Money.of("10.50", "USD")


def test_no_rate_is_an_exception_never_a_guess():
    gbp = journal("fx4", [("Assets:AR", "10.00", "GBP"), ("Income:Sales", "-10.00", "GBP")])
    with pytest.raises(DocumentRejected) as raised:
        convert_to_base(gbp, converting(), lambda: ("fx_rounding", "Expenses:FXRounding"))
    assert raised.value.reason == "fx_rate_missing" and "GBP->USD" in raised.value.detail["suggested_fix"]


def test_entities_that_post_as_is_keep_the_documents_currency():
    eur = journal("fx5", [("Assets:AR", "10.00", "EUR"), ("Income:Sales", "-10.00", "EUR")])
    assert convert_to_base(eur, config(), lambda: ("x", "y")) is eur


# ---- compensation ---------------------------------------------------------------------------------------

def reversal(original: JournalEntry, **fields: Any) -> Reversal:
    source = SourceRef(system="stripe", object_type="dispute", object_id="dp_1", source_id="stripe")
    return Reversal(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="c2",
                    occurred_at=datetime(2026, 3, 2, tzinfo=UTC), accounting_date=date(2026, 3, 2), currency="USD",
                    original_document_id=original.document_id, **{"reason": "chargeback", **fields})


def test_a_reversal_mirrors_the_original_on_the_event_date_and_links_it():
    original = journal("o1", [("Assets:AR", "120.00", "USD"), ("Income:Sales", "-100.00", "USD"),
                              ("Liabilities:Tax", "-20.00", "USD")])
    undone = reversal_journal(reversal(original), original, config_version=3)
    assert [line.amount.amount for line in undone.lines] == [Decimal("-120.00"), Decimal("100.00"), Decimal("20.00")]
    assert undone.accounting_date == date(2026, 3, 2) and undone.related_document_ids == (original.document_id,)
    assert undone.document_id != original.document_id       # a new entry, never an edit


def test_a_void_reverses_on_the_original_date():
    original = journal("o2", [("Assets:AR", "5.00", "USD"), ("Income:Sales", "-5.00", "USD")])
    undone = reversal_journal(reversal(original, reason="void", reverse_on="original_date"), original,
                              config_version=None)
    assert undone.accounting_date == original.accounting_date


def test_a_partial_chargeback_scales_every_line_and_still_balances():
    original = journal("o3", [("Assets:AR", "100.00", "USD"), ("Income:Sales", "-66.67", "USD"),
                              ("Income:Sales", "-33.33", "USD")])
    undone = reversal_journal(reversal(original, amount=Money.of("10.00", "USD")), original, config_version=None)
    assert imbalances(undone.lines) == {} and undone.totals_by_currency()["USD"] == Money.of("10.00", "USD")
    with pytest.raises(DocumentRejected):
        reversal_journal(reversal(original, amount=Money.of("100.01", "USD")), original, config_version=None)


def test_a_partial_reversal_splits_each_side_by_largest_remainder_not_onto_the_largest_line():
    # Given credits of 70.00, 20.00 and 10.00 and a reversal of 0.08
    original = journal("o4", [("Assets:AR", "100.00", "USD"), ("Income:A", "-70.00", "USD"),
                              ("Income:B", "-20.00", "USD"), ("Income:C", "-10.00", "USD")])
    undone = reversal_journal(reversal(original, amount=Money.of("0.08", "USD")), original, config_version=None)
    # Then (by hand) exact shares 5.6, 1.6 and 0.8 cents: floors 5 + 1 + 0 = 6; the two cents left go to the largest
    # fractional parts (C's .8, then A's .6 before B's): 0.06 + 0.01 + 0.01. Rounding each line and plugging the
    # rest onto the largest gave 0.05 + 0.02 + 0.01, moving A away from its share.
    assert [line.amount.amount for line in undone.lines] == [Decimal("-0.08"), Decimal("0.06"), Decimal("0.01"),
                                                             Decimal("0.01")]


def test_compensation_links_of_refunds_and_credit_notes():
    refund = Payment(**{**_base("refund", "re_1"), "direction": "refunded", "amount": Money.of("5", "USD"),
                        "applies_to_document_id": "doc_invoice"})
    assert compensation_links(refund) == ("doc_invoice",)


def _base(object_type: str, object_id: str) -> dict[str, Any]:
    source = SourceRef(system="stripe", object_type=object_type, object_id=object_id)
    return {"document_id": source.document_id(), "source": source, "entity_id": "us01", "correlation_id": "c",
            "occurred_at": datetime(2026, 1, 1, tzinfo=UTC), "accounting_date": date(2026, 1, 1), "currency": "USD"}


# ---- summary buckets ----------------------------------------------------------------------------------

SCOPE = BucketScope(connection_id="books", entity_id="us01", accounting_date=date(2026, 1, 20), currency="USD",
                    source_id="stripe", document_type="invoice")


def test_bucket_ids_are_deterministic_per_scope_and_sequence():
    assert SCOPE.bucket_id(1) == SCOPE.bucket_id(1) != SCOPE.bucket_id(2)
    assert replace(SCOPE, currency="EUR").bucket_id(1) != SCOPE.bucket_id(1)
    assert replace(SCOPE, document_type="payment").bucket_id(1) != SCOPE.bucket_id(1)


def test_a_journal_contributes_its_net_per_account_and_dimensions():
    entry = journal("c1", [("Assets:AR", "30.00", "USD"), ("Income:Sales", "-10.00", "USD"),
                           ("Income:Sales", "-20.00", "USD")])
    assert [(c.account, c.amount) for c in contributions(entry)] == [("Assets:AR", Decimal("30.00")),
                                                                      ("Income:Sales", Decimal("-30.00"))]


def test_a_summary_journal_keeps_drill_down_keys_and_drops_zero_lines():
    lines = [SummaryLine(line_key("Assets:AR", ()), "Assets:AR", {}, Decimal("300.00"), 3),
             SummaryLine(line_key("Income:Sales", ()), "Income:Sales", {}, Decimal("-300.00"), 3),
             SummaryLine(line_key("Assets:Clearing", ()), "Assets:Clearing", {}, Decimal("0.00"), 2)]
    summary = summary_journal(SCOPE, 1, lines, documents=3, correlation_id="flush", config_version=1)
    assert summary is not None and summary.document_id == SCOPE.bucket_id(1) and len(summary.lines) == 2
    assert all(f"drill-down {SCOPE.bucket_id(1)}/" in line.memo for line in summary.lines)
    netted = [SummaryLine(line_key("Assets:AR", ()), "Assets:AR", {}, Decimal("0"), 2)]
    assert summary_journal(SCOPE, 2, netted, documents=2, correlation_id="f", config_version=1) is None


# ---- ERP-native documents -----------------------------------------------------------------------------

def test_an_invoice_becomes_native_lines_from_its_journal():
    from ledgerlink.pipeline.enrich import enrich

    party = Party(role="customer", source_id="cus_1", name="Acme")
    invoice = Invoice(**_base("invoice", "in_1"), party=party, number="INV-1", total=Money.of("110.00", "USD"),
                      lines=(InvoiceLine(line_id="l1", amount=Money.of("100.00", "USD"), tax=Money.of("10.00", "USD")),))
    entry = enrich(invoice, config(), config_version=1)
    native = erp_document(invoice, entry)
    assert native is not None and native.kind == "invoice" and native.account == "Assets:AR"
    assert [(line.account, line.amount) for line in native.lines] == [("Income:Sales", Money.of("100.00", "USD")),
                                                                        ("Liabilities:Tax", Money.of("10.00", "USD"))]


# ---- the ERP period gate ----------------------------------------------------------------------------------

def test_a_date_the_erp_has_closed_follows_the_entity_policy():
    entry = journal("p1", [("Assets:AR", "1.00", "USD"), ("Income:Sales", "-1.00", "USD")], on=date(2026, 1, 20))
    closed = PeriodStatus(open=False, closed_through=date(2026, 1, 31), source="erp")
    rejecting = config().entity("us01")
    with pytest.raises(DocumentRejected) as raised:
        apply_erp_period(entry, rejecting, closed)
    assert raised.value.reason == "period_closed"
    moving = config(closed_period_policy="next_open_period").entity("us01")
    moved = apply_erp_period(entry, moving, closed)
    assert moved.accounting_date == date(2026, 2, 1) and moved.original_accounting_date == date(2026, 1, 20)
    assert apply_erp_period(entry, rejecting, PeriodStatus(True, None, "erp")) is entry
