"""Mapping roles are checked at validate time (issue 20, item 6): a role no posting rule uses is an error naming the
closest valid role; a role the rules need for what an entity's source sends, mapped nowhere for it, is a warning
listing the document types that would open mapping_missing."""

from __future__ import annotations

from ledgerlink.config.loader import line_of, parse_config_text
from ledgerlink.config.roles import DOCUMENT_TYPES_BY_KIND, KNOWN_ROLES, REQUIRED_ROLES, check_roles
from ledgerlink.connectors.sources import SOURCE_KINDS

from tests.conftest import EXAMPLE_CONFIG


def config_with(old: str, new: str):
    text = EXAMPLE_CONFIG.read_text()
    assert old in text
    return parse_config_text(text.replace(old, new, 1))


def test_the_example_configuration_has_no_finding(example_config):
    assert check_roles(example_config) == []


def test_a_misspelt_role_is_an_error_with_the_closest_valid_name():
    config = config_with("      chargebacks: Expenses:US01:Chargebacks", "      chargebakcs: Expenses:US01:Chargebacks")
    errors = [finding for finding in check_roles(config) if finding.severity == "error"]
    assert [(f.suggestion, f.loc[-1]) for f in errors] == [("chargebacks", "chargebakcs")]
    assert "unknown mapping role 'chargebakcs'" in errors[0].message and "did you mean 'chargebacks'" in errors[0].message


def test_a_refined_role_keeps_its_refinement_in_the_suggestion_and_known_refinements_pass():
    config = config_with("      fees.dispute: Expenses:US01:PaymentProcessing:Disputes",
                         "      feez.dispute: Expenses:US01:PaymentProcessing:Disputes\n"
                         "      fees.anything_new: Expenses:US01:PaymentProcessing:Disputes\n"
                         "      revenue.prod_new: Income:US01:Revenue:Pro")
    (error,) = [finding for finding in check_roles(config) if finding.severity == "error"]
    assert error.suggestion == "fees.dispute"


def test_a_role_far_from_any_known_one_lists_the_known_roles():
    config = config_with("      chargebacks: Expenses:US01:Chargebacks", "      zzz: Expenses:US01:Chargebacks")
    (error,) = [finding for finding in check_roles(config) if finding.severity == "error"]
    assert error.suggestion is None and "known roles: accounts_payable, adjustments" in error.message


def test_a_needed_role_missing_for_an_entitys_source_is_a_warning_naming_the_document_types():
    config = config_with("      card_liability: Liabilities:US01:CreditCards:Brex\n", "")
    (warning,) = check_roles(config)
    assert warning.severity == "warning"
    assert warning.message.startswith("entity us01 source brex: no account for role 'card_liability'")
    assert "needed by" not in warning.message and "for card_transaction:" in warning.message
    # the line of the entity's mapping row for that source
    text = EXAMPLE_CONFIG.read_text()
    row = text.splitlines().index("    source: brex")   # 0-based: the 1-based number of the "- entity:" line above
    assert line_of(text, warning.loc) == row


def test_a_role_mapped_for_every_source_of_the_entity_counts():
    # receivable removed from us01/stripe but mapped for us01/'*': nothing is missing
    config = config_with("      receivable: Assets:US01:AccountsReceivable:Stripe\n", "")
    assert any("role 'receivable'" in finding.message for finding in check_roles(config))
    text = EXAMPLE_CONFIG.read_text().replace("      receivable: Assets:US01:AccountsReceivable:Stripe\n", "", 1)
    text = text.replace("      fx_gain_loss: Income:US01:FX:GainLoss",
                        "      fx_gain_loss: Income:US01:FX:GainLoss\n      receivable: Assets:US01:AccountsReceivable", 1)
    assert check_roles(parse_config_text(text)) == []


def test_a_disabled_document_type_needs_no_role():
    text = EXAMPLE_CONFIG.read_text().replace("      card_liability: Liabilities:US01:CreditCards:Brex\n", "", 1)
    text = text.replace("posting_policies:\n", "posting_policies:\n  - source: brex\n    document_type: card_transaction\n"
                                                "    enabled: false\n", 1)
    assert check_roles(parse_config_text(text)) == []


def test_the_tables_cover_every_source_kind_and_name_only_known_roles():
    assert set(DOCUMENT_TYPES_BY_KIND) == set(SOURCE_KINDS)
    assert {role for roles in REQUIRED_ROLES.values() for role in roles} <= set(KNOWN_ROLES)
