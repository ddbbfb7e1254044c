"""Config loader: the example loads; a bad file fails with a ConfigError naming the field *and* the line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from ledgerlink.config import LedgerLinkConfig, config_hash, config_json_schema, load_config_file
from ledgerlink.errors import ConfigError

from tests.conftest import EXAMPLE_CONFIG, REPO

SCHEMA_FILE = REPO / "config" / "ledgerlink.schema.json"

GOOD = """\
version: 1
entities:
  - id: us01
    name: Demo Inc.
    base_currency: usd
    time_zone: America/New_York
    erp_connection: books
erp_connections:
  - id: books
    kind: beancount
sources:
  - id: stripe
    kind: stripe
    signing_secret:
      secret_id: ledgerlink/stripe
    default_entity: us01
account_mappings:
  - entity: us01
    accounts:
      receivable: Assets:US01:Receivable
      revenue: Income:US01:Revenue
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ledgerlink.yaml"
    path.write_text(text)
    return path


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (the place a human would look)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the test YAML")


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    return caught.value


# ---- good configs ---------------------------------------------------------------------------------

def test_the_example_config_loads(example_config: LedgerLinkConfig) -> None:
    entity = example_config.entity("us01")
    assert entity.time_zone == "America/New_York"
    assert entity.closed_period_policy == "next_open_period"
    assert example_config.source("stripe") is not None
    assert example_config.accounts_for("us01", "stripe")["revenue.prod_ledgerlink_pro"] == "Income:US01:Revenue:Pro"
    assert example_config.policy_for("stripe", "invoice").enabled


def test_a_minimal_config_loads_and_normalizes_the_currency(tmp_path: Path) -> None:
    config = load_config_file(write(tmp_path, GOOD))
    assert config.entity("us01").base_currency == "USD"
    assert config.all_accounts == {"books": {"Assets:US01:Receivable", "Income:US01:Revenue"}}


def test_source_specific_mappings_override_wildcard_ones(tmp_path: Path) -> None:
    text = GOOD + """\
  - entity: us01
    source: stripe
    accounts:
      revenue: Income:US01:Revenue:Stripe
"""
    config = load_config_file(write(tmp_path, text))
    assert config.accounts_for("us01", "stripe")["revenue"] == "Income:US01:Revenue:Stripe"
    assert config.accounts_for("us01", "other")["revenue"] == "Income:US01:Revenue"
    assert config.accounts_for("us01", "stripe")["receivable"] == "Assets:US01:Receivable"


def test_posting_policy_prefers_the_source_specific_rule(tmp_path: Path) -> None:
    text = GOOD + """\
posting_policies:
  - source: "*"
    document_type: invoice
    enabled: true
  - source: stripe
    document_type: invoice
    enabled: false
"""
    config = load_config_file(write(tmp_path, text))
    assert config.policy_for("stripe", "invoice").enabled is False
    assert config.policy_for("stripe", "payment").enabled is True  # no rule: default on


def test_config_hash_is_stable_and_changes_with_content(tmp_path: Path) -> None:
    first = config_hash(load_config_file(write(tmp_path, GOOD)))
    again = config_hash(load_config_file(write(tmp_path, "# comment only changes\n" + GOOD)))
    changed = config_hash(load_config_file(write(tmp_path, GOOD.replace("Demo Inc.", "Demo GmbH"))))
    assert first == again
    assert first != changed


# ---- bad configs: field and line ------------------------------------------------------------------

@pytest.mark.parametrize(("case", "old", "new", "needle", "field"), [
    ("unknown time zone", "America/New_York", "America/New_Yrok", "America/New_Yrok", "entities[0].time_zone"),
    ("unknown entity reference", "default_entity: us01", "default_entity: eu01", "default_entity: eu01",
     "sources[0].default_entity"),
    ("unknown ERP connection", "erp_connection: books", "erp_connection: sap", "erp_connection: sap",
     "entities[0].erp_connection"),
    ("invalid Beancount account", "revenue: Income:US01:Revenue", "revenue: income:us01 revenue",
     "income:us01 revenue", "account_mappings[0].accounts.revenue"),
    ("extra field", "    kind: beancount\n", "    kind: beancount\n    colour: blue\n", "colour: blue",
     "erp_connections[0].colour"),
    ("unknown currency", "base_currency: usd", "base_currency: usx", "base_currency: usx",
     "entities[0].base_currency"),
    ("mapping for an unknown entity", "  - entity: us01", "  - entity: de01", "entity: de01",
     "account_mappings[0].entity"),
])
def test_bad_config_names_the_field_and_the_file_line(tmp_path: Path, case: str, old: str, new: str,
                                                      needle: str, field: str) -> None:
    # Given a config with one mistake
    assert old in GOOD, case
    text = GOOD.replace(old, new, 1)
    # When it is loaded
    error = load_error(tmp_path, text)
    # Then the message points at the file line and names the field
    expected_place = f"{tmp_path / 'ledgerlink.yaml'}:{line_of(text, needle)}: {field}:"
    assert expected_place in error.message, error.message
    assert error.reason == "config_invalid"


def test_invalid_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    # "key: a: b" is a YAML error on exactly that line
    text = GOOD.replace("    name: Demo Inc.", "    name: Demo: Inc.")
    error = load_error(tmp_path, text)
    assert f"{tmp_path / 'ledgerlink.yaml'}:{line_of(text, 'name: Demo: Inc.')}: not valid YAML" in error.message


def test_top_level_list_is_refused_with_the_file_name(tmp_path: Path) -> None:
    error = load_error(tmp_path, "- id: us01\n- id: eu01\n")
    assert str(tmp_path / "ledgerlink.yaml") in error.message
    assert "mapping at the top level" in error.message


def test_several_field_problems_are_all_reported(tmp_path: Path) -> None:
    text = GOOD.replace("America/New_York", "Mars/Olympus").replace("kind: beancount", "kind: beancount\n    x: 1")
    error = load_error(tmp_path, text)
    assert len(error.detail["errors"]) == 2
    assert any("entities[0].time_zone" in message for message in error.detail["errors"])
    assert any("erp_connections[0].x" in message for message in error.detail["errors"])


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    text = GOOD.replace("erp_connections:\n  - id: books\n    kind: beancount\n",
                        "erp_connections:\n  - id: books\n    kind: beancount\n  - id: books\n    kind: beancount\n")
    error = load_error(tmp_path, text)
    assert "erp_connections[1].id: duplicate id 'books'" in error.message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config_file(tmp_path / "absent.yaml")


# ---- JSON schema ----------------------------------------------------------------------------------

def test_exported_schema_describes_the_top_level() -> None:
    schema = config_json_schema()
    assert isinstance(schema, dict)
    assert set(schema["properties"]) == {"version", "entities", "erp_connections", "sources",
                                         "account_mappings", "posting_policies", "fx_rates", "tax_codes",
                                         "dimension_rules", "employees", "master_data", "controls",
                                         "revenue_recognition"}
    assert {"entities", "erp_connections", "sources"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
    assert schema["$schema"].startswith("https://json-schema.org/")


def test_committed_schema_file_equals_the_exported_schema() -> None:
    # regenerate with: .venv/bin/ledgerlink config schema -o config/ledgerlink.schema.json
    assert json.loads(SCHEMA_FILE.read_text()) == config_json_schema()


def example_as_editor_sees_it() -> dict:
    # YAML dates as strings, the way a schema-aware editor validates them
    return json.loads(json.dumps(yaml.safe_load(EXAMPLE_CONFIG.read_text()), default=str))


def test_example_config_is_valid_against_the_schema_file() -> None:
    # An independent validator (jsonschema) agrees with pydantic on the reviewed example.
    data = example_as_editor_sees_it()
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(data)


def test_schema_file_refuses_an_extra_field_like_the_loader() -> None:
    data = example_as_editor_sees_it()
    data["entities"][0]["colour"] = "blue"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(data)
