"""The pure core's fast paths give exactly what the validated path gives.

Given every JSON sample in events/ (and variants that push text, amounts and dates onto the slow paths),
normalized with the example configuration and with one that has tax codes, dimension rules, employees and
controls, when enrich and validate run once with their fast paths (journals assembled by
``model.prevalidated``, lookups memoized by ``pipeline.lookups``) and once with the validating constructors
and the configuration's own lookups, then the journals are equal field for field (``model_fields_set``
included) and the errors are the same type, message and reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources import normalize_module
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe import normalize as stripe_normalize
from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
from ledgerlink.model.money import Money
from ledgerlink.model.prevalidated import journal_entry, journal_line, with_dimensions
from ledgerlink.pipeline import enrich as enrich_module
from ledgerlink.pipeline import lookups as lookups_module
from ledgerlink.pipeline import validate as validate_module
from ledgerlink.pipeline.enrich import enrich, postable
from ledgerlink.pipeline.validate import validate

from tests.conftest import EVENTS

SAMPLES = sorted(path for path in EVENTS.glob("*/*.json"))


# ---- the reference: what enrich and validate did before the fast paths ---------------------------

def _validated_line(*, account: str, amount: Money, role: str | None, memo: str | None,
                    dimensions: dict[str, str] | None = None) -> JournalLine:
    line = JournalLine(account=account, amount=amount, role=role, memo=memo)
    return line.model_copy(update={"dimensions": dimensions}) if dimensions is not None else line


def _validated_entry(**fields: Any) -> JournalEntry:
    return JournalEntry(**fields)


def _copied_with_dimensions(line: JournalLine, dimensions: dict[str, str]) -> JournalLine:
    return line.model_copy(update={"dimensions": dimensions})


class _DirectLookups:
    """The configuration's own (scanning) lookups behind MappingLookups' interface."""

    def __init__(self, config: LedgerLinkConfig) -> None:
        self.config = config

    def entity(self, entity_id: str) -> Any:
        return self.config.entity(entity_id)

    def source(self, source_id: str) -> Any:
        return self.config.source(source_id)

    def accounts(self, entity_id: str, source_id: str, on: date | None) -> dict[str, str]:
        return self.config.accounts_for(entity_id, source_id, on)

    def tax_code(self, entity_id: str, treatment: str | None, on: date) -> str | None:
        return self.config.tax_code(entity_id, treatment, on)

    def dimensions(self, entity_id: str, **kwargs: Any) -> dict[str, str]:
        return self.config.dimensions_for(entity_id, **kwargs)

    def employee(self, source: str, employee_id: str, on: date) -> Any:
        return self.config.employee(source, employee_id, on)

    def chart(self, entity_id: str) -> set[str]:
        return {account for mapping in self.config.account_mappings if mapping.entity == entity_id
                for account in mapping.accounts.values()}

    def controls(self, entity_id: str) -> Any:
        return self.config.controls_for(entity_id)


@pytest.fixture
def validated_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    def switch() -> None:
        monkeypatch.setattr(enrich_module, "journal_line", _validated_line)
        monkeypatch.setattr(enrich_module, "journal_entry", _validated_entry)
        monkeypatch.setattr(enrich_module, "with_dimensions", _copied_with_dimensions)
        for module in (enrich_module, validate_module, stripe_normalize):
            monkeypatch.setattr(module, "lookups_for", _DirectLookups)
    return switch


# ---- inputs -------------------------------------------------------------------------------------

def _rich_config(example: LedgerLinkConfig) -> LedgerLinkConfig:
    """The example plus every table enrich and validate consult, with dated rows either side of 2024."""
    raw = example.model_dump(mode="json")
    raw["tax_codes"] = [
        {"entity": "us01", "treatment": "*", "tax_code": "TAX-DEFAULT"},
        {"entity": "us01", "treatment": "standard_rated", "tax_code": "TAX-STD", "effective_to": "2024-06-30"},
        {"entity": "us01", "treatment": "standard_rated", "tax_code": "TAX-STD-2", "effective_from": "2024-07-01"},
        {"entity": "gb01", "treatment": "*", "tax_code": "20.0% S"},
    ]
    raw["dimension_rules"] = [
        {"entity": "us01", "dimensions": {"department": "GENERAL"}},
        {"entity": "us01", "source": "stripe", "dimensions": {"department": "SALES"}},
        {"entity": "us01", "product_id": "prod_ledgerlink_pro", "dimensions": {"class": "PRO", "department": "PRO"}},
        {"entity": "us01", "category": "software", "dimensions": {"location": "NYC"},
         "effective_from": "2020-01-01"},
        {"entity": "gb01", "dimensions": {"location": "LON"}, "effective_to": "2023-12-31"},
    ]
    raw["employees"] = [{"employee_id": employee, "entity": "us01", "cost_center": "CC-7"}
                        for employee in ("usr_1", "u_1", "user_1", "emp_1")]
    raw["controls"] = [{"entity": "us01", "approval_thresholds": [{"amount": "100000", "currency": "USD"}],
                        "required_dimensions": {"bill": ["department"]}},
                       {"entity": "gb01", "allowed_currencies": ["GBP", "EUR"]}]
    return LedgerLinkConfig.model_validate(raw)


def _walk(value: Any, change: Callable[[str, Any], Any]) -> None:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in list(items):
        replaced = change(key, item) if isinstance(key, str) else None
        if replaced is not None:
            value[key] = replaced
        else:
            _walk(item, change)


_VARIANTS: dict[str, Callable[[str, Any], Any]] = {
    "as sent": lambda key, value: None,
    "non-ASCII text": lambda key, value: f"Zürich — {value}" if key in (
        "description", "number", "customer_name", "reason", "memo", "merchant") and isinstance(value, str) else None,
    "memo at the length limit": lambda key, value: "x" * 509 if key in ("description", "memo") and isinstance(
        value, str) else None,
    "number too long for a memo": lambda key, value: "N" * 505 if key == "number" and isinstance(value, str) else None,
    "text with whitespace at its ends": lambda key, value: f"\x1f{value} " if key == "description" and isinstance(
        value, str) else None,
    "zero amounts": lambda key, value: 0 if key == "amount" and isinstance(value, int) else None,
    "an odd tax treatment": lambda key, value: "reverse charge!" if key == "taxability_reason" else None,
    "dated in a later year": lambda key, value: value + 3 * 366 * 86_400 if key in (
        "created", "finalized_at", "paid_at", "arrival_date") and isinstance(value, int) else None,
}


def _cases() -> Iterator[Any]:
    for path in SAMPLES:
        for variant in _VARIANTS:
            yield pytest.param(path, variant, id=f"{path.parent.name}/{path.stem}:{variant}")


def _outcome(run: Callable[[], Any]) -> Any:
    try:
        journal = run()
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        return ("error", type(exc).__name__, str(exc), getattr(exc, "reason", None), getattr(exc, "detail", None))
    return ("journal", journal, journal.model_dump_json(), sorted(journal.model_fields_set),
            [sorted(line.model_fields_set) for line in journal.lines])


def _pipeline(event: dict[str, Any], source_id: str, config: LedgerLinkConfig) -> list[Any]:
    kind = config.source(source_id).kind
    context = NormalizeContext(config=config, source_id=source_id, correlation_id="equivalence",
                               archive_key="raw/equivalence")
    try:
        normalized = normalize_module(kind).normalize(copy.deepcopy(event), context)
    except Exception as exc:  # noqa: BLE001
        return [("normalize error", type(exc).__name__, str(exc), getattr(exc, "reason", None))]
    results: list[Any] = []
    for document in normalized.documents:
        results.append(document.model_dump_json())
        if postable(document.document_type):
            results.append(_outcome(lambda document=document: validate(
                enrich(document, config, config_version=7), config, document.document_type)))
    return results


@pytest.mark.parametrize(("path", "variant"), list(_cases()))
def test_fast_and_validated_paths_give_the_same_journals_and_errors(
        path: Any, variant: str, example_config: LedgerLinkConfig, validated_path: Callable[[], None]) -> None:
    source_id = path.parent.name
    if example_config.source(source_id) is None:
        pytest.skip(f"no {source_id} source in the example configuration")
    event = json.loads(path.read_text())
    _walk(event, _VARIANTS[variant])
    configs = (example_config, _rich_config(example_config))

    fast = [_pipeline(event, source_id, config) for config in configs]
    validated_path()
    reference = [_pipeline(event, source_id, config) for config in configs]

    assert fast == reference


# ---- the constructors at their edges ------------------------------------------------------------

USD = Money(Decimal("12.50"), "USD")


@pytest.mark.parametrize(("fields", "slow"), [
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "plan"}, False),
    ({"account": "4000", "amount": USD, "role": "revenue.prod_1", "memo": None, "dimensions": {"tax_code": "T"}},
     False),
    ({"account": " 4000", "amount": USD, "role": "revenue", "memo": None}, True),            # stripped
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "Pro × 1 (Zürich)"}, False),
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "plan\u00a0"}, True),      # no-break space
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "\u3000plan"}, True),      # ideographic space
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "plan\x1c"}, True),        # Python-only space
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "plan\ud800"}, True),      # lone surrogate
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "é" * 512}, False),
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "é" * 513}, True),
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": "m" * 513}, True),       # too long
    ({"account": "4000", "amount": USD, "role": "revenue", "memo": ""}, True),              # empty
    ({"account": "4000", "amount": USD, "role": "bad role", "memo": None}, True),           # not an identifier
    ({"account": "4000", "amount": Money("0", "USD"), "role": None, "memo": None}, True),   # zero
    ({"account": "4000", "amount": Money("0.001", "USD"), "role": None, "memo": None}, True),  # below a cent
    ({"account": "4000", "amount": Money("5", "JPY"), "role": None, "memo": None}, False),
    ({"account": "", "amount": USD, "role": None, "memo": None}, True),
    ({"account": "4000", "amount": USD, "role": None, "memo": None, "dimensions": {"a": 1}}, True),
])
def test_a_journal_line_is_the_validated_line_or_its_error(fields: dict[str, Any], slow: bool) -> None:
    expected = _outcome_of(lambda: _validated_line(**fields))
    assert _outcome_of(lambda: journal_line(**fields)) == expected
    if not slow:
        assert expected[0] == "value"


def _outcome_of(build: Callable[[], Any]) -> Any:
    try:
        value = build()
    except ValidationError as exc:
        return ("error", exc.errors(include_url=False, include_context=False))
    return ("value", value, value.model_dump(warnings=False), value.model_fields_set)


def _entry_fields(**changes: Any) -> dict[str, Any]:
    source = SourceRef(system="stripe", object_type="invoice", object_id="in_1", version="finalized")
    lines = (JournalLine(account="1200", amount=USD), JournalLine(account="4000", amount=-USD))
    fields = {"document_id": source.document_id(), "source": source, "entity_id": "us01", "correlation_id": "c-1",
              "occurred_at": datetime(2024, 5, 1, 12, tzinfo=UTC), "accounting_date": date(2024, 5, 1),
              "currency": "USD", "memo": "invoice 1", "related_document_ids": ("doc_x",), "lines": lines,
              "mapping_version": 3}
    return {**fields, **changes}


@pytest.mark.parametrize("changes", [
    {},
    {"memo": None},
    {"memo": "é" * 3},
    {"memo": "m" * 600},
    {"document_id": "doc_not_the_source"},
    {"entity_id": "not an id"},
    {"currency": "usd"},
    {"lines": (JournalLine(account="1200", amount=USD),)},
    {"lines": (JournalLine(account="1200", amount=USD), JournalLine(account="4000", amount=USD))},
    {"lines": (JournalLine(account="1200", amount=USD), JournalLine(account="4000", amount=-Money("12.50", "EUR")))},
    {"mapping_version": None},
    {"related_document_ids": ()},
])
def test_a_journal_is_the_validated_journal_or_its_error(changes: dict[str, Any]) -> None:
    fields = _entry_fields(**changes)
    assert _outcome_of(lambda: journal_entry(**fields)) == _outcome_of(lambda: _validated_entry(**fields))


def test_a_copy_of_an_assembled_line_leaves_the_shared_field_set_alone() -> None:
    first = journal_line(account="4000", amount=USD, role="revenue", memo=None)
    second = journal_line(account="4001", amount=USD, role="revenue", memo=None)

    copied = first.model_copy(update={"original_amount": USD})
    dimensioned = with_dimensions(second, {"department": "SALES"})

    assert copied.model_fields_set == {"account", "amount", "role", "memo", "original_amount"}
    assert dimensioned.model_fields_set == {"account", "amount", "role", "memo", "dimensions"}
    assert first.model_fields_set == second.model_fields_set == {"account", "amount", "role", "memo"}
    assert dimensioned == _copied_with_dimensions(second, {"department": "SALES"})


def test_lookups_are_per_configuration_object(example_config: LedgerLinkConfig) -> None:
    rich = _rich_config(example_config)

    assert lookups_module.lookups_for(rich) is lookups_module.lookups_for(rich)
    assert lookups_module.lookups_for(rich) is not lookups_module.lookups_for(example_config)
    assert lookups_module.lookups_for(rich).tax_code("us01", "standard_rated", date(2024, 7, 1)) == "TAX-STD-2"
    assert lookups_module.lookups_for(example_config).tax_code("us01", "standard_rated", date(2024, 7, 1)) is None


def test_dimensions_are_a_fresh_dict_each_time(example_config: LedgerLinkConfig) -> None:
    lookups = lookups_module.lookups_for(_rich_config(example_config))
    first = lookups.dimensions("us01", source="stripe", on=date(2024, 1, 2))
    first["cost_center"] = "changed by the caller"

    assert lookups.dimensions("us01", source="stripe", on=date(2024, 1, 2)) == {"department": "SALES"}
