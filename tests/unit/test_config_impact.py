"""A proposed configuration checked against the open exception cases, the diff between stored versions, and a
proposal pasted as YAML. Documents come from the real Stripe samples; the cases and the ledger are in memory."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from ledgerlink.config.loader import parse_config_text
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.errors import ConfigError, DocumentRejected
from ledgerlink.pipeline.engine import enriched
from ledgerlink.service.config_impact import (
    NOT_CONFIG_FIXABLE,
    ProposedConfigInvalid,
    cases_fixed_by,
    parse_proposed,
    version_diff,
)

from tests.conftest import EXAMPLE_CONFIG, event_json

TEXT = EXAMPLE_CONFIG.read_text()


def without_refunds_account() -> str:
    """The example configuration's YAML without the us01/stripe ``refunds`` account (the governance scenario)."""
    data = yaml.safe_load(TEXT)
    del data["account_mappings"][0]["accounts"]["refunds"]
    return yaml.safe_dump(data)


FIXED = parse_config_text(TEXT)
BROKEN = parse_config_text(without_refunds_account())


def refund() -> Any:
    context = NormalizeContext(config=FIXED, source_id="stripe", correlation_id="c", archive_key="raw/stripe/r.json")
    (document,) = normalize(event_json("stripe/04-charge.refunded.json"), context).documents
    return document


class Cases:
    def __init__(self, cases: list[dict[str, Any]]) -> None:
        self.cases = cases
        self.asked: list[str | None] = []

    def list(self, status: str | None = "open") -> list[dict[str, Any]]:
        self.asked.append(status)
        return [case for case in self.cases if status is None or case["status"] == status]


class Ledger:
    def __init__(self, *documents: Any) -> None:
        self.items = {d.document_id: {"document_id": d.document_id, "status": "exception",
                                      "document": d.model_dump_json()} for d in documents}
        self.reads: list[str] = []

    def get(self, document_id: str) -> dict[str, Any] | None:
        self.reads.append(document_id)
        return self.items.get(document_id)


def case(exception_id: str, reason: str, document_id: str | None, status: str = "open") -> dict[str, Any]:
    return {"exception_id": exception_id, "reason": reason, "document_id": document_id, "status": status,
            "opened_at": f"2026-11-0{len(exception_id)}T00:00:00+00:00", "entity_id": "us01", "source": "stripe"}


@pytest.fixture
def scenario() -> tuple[Cases, Ledger, str]:
    document = refund()
    # the case the posting steps would open for it under the broken configuration
    with pytest.raises(DocumentRejected) as rejected:
        enriched(document, BROKEN, config_version=1)
    assert rejected.value.reason == "mapping_missing"
    cases = Cases([case("e1", "mapping_missing", document.document_id),
                   case("e22", "erp_unavailable", document.document_id),       # a reason no configuration fixes
                   case("e333", "normalization_failed", None),                  # a payload that never normalized
                   case("e4444", "fx_rate_missing", "rev_us01_2026-10"),        # a subject not in the ledger
                   case("e666666", "mapping_missing", "doc_garbled"),           # a document stored as broken JSON
                   case("e55555", "mapping_missing", document.document_id, status="resolved")])
    ledger = Ledger(document)
    ledger.items["doc_garbled"] = {"document_id": "doc_garbled", "status": "exception", "document": "{not json"}
    return cases, ledger, document.document_id


def test_a_mapping_missing_case_would_be_fixed_by_the_config_that_adds_the_mapping(scenario):
    cases, ledger, document_id = scenario
    report = cases_fixed_by(FIXED, cases=cases, ledger=ledger, current_version=4)
    assert [(c.exception_id, c.outcome) for c in report.cases] == [
        ("e1", "would_fix"), ("e22", "not_applicable"), ("e333", "not_applicable"), ("e4444", "not_applicable"),
        ("e666666", "not_applicable")]
    assert report.counts == {"would_fix": 1, "still_fails": 0, "not_applicable": 4}
    assert report.cases[1].why == NOT_CONFIG_FIXABLE["erp_unavailable"]
    assert "never became a canonical document" in str(report.cases[2].why)
    assert "not a document in the ledger" in str(report.cases[3].why)
    assert "no longer reads" in str(report.cases[4].why)
    assert cases.asked == ["open"] and ledger.reads == [document_id, "rev_us01_2026-10", "doc_garbled"]
    assert report.to_dict()["proposed_version"] == 5
    assert report.to_dict()["by_reason"]["mapping_missing"] == {"would_fix": 1, "not_applicable": 1}


def test_the_same_case_still_fails_under_the_current_config_with_the_new_reason_and_message(scenario):
    cases, ledger, _ = scenario
    report = cases_fixed_by(BROKEN, cases=cases, ledger=ledger, current_version=4)
    (still,) = report.of("still_fails")
    assert (still.exception_id, still.new_reason) == ("e1", "mapping_missing")
    assert "refunds" in str(still.message) and "accounts.refunds" in str(still.suggested_fix)
    assert json.loads(json.dumps(report.to_dict()))["cases"][0]["outcome"] == "still_fails"


def test_the_check_writes_nothing(scenario):
    cases, ledger, document_id = scenario
    before = json.dumps(ledger.items, sort_keys=True), json.dumps(cases.cases, sort_keys=True)
    cases_fixed_by(FIXED, cases=cases, ledger=ledger, current_version=4)
    assert (json.dumps(ledger.items, sort_keys=True), json.dumps(cases.cases, sort_keys=True)) == before


class Versions:
    def __init__(self, *configs: str) -> None:
        self.bodies = {n: parse_config_text(text).model_dump(mode="json") for n, text in enumerate(configs, 1)}

    def version_raw(self, version: int) -> dict[str, Any]:
        if version not in self.bodies:
            raise ConfigError(f"configuration version {version} does not exist", reason="config_version_missing")
        return self.bodies[version]

    def record(self, version: int) -> dict[str, object]:
        self.version_raw(version)
        return {"version": version, "applied_by": f"user{version}",
                "applied_at": f"2026-11-0{version}T09:00:00+00:00", "content_hash": f"h{version}"}


def test_the_diff_between_two_versions_names_the_changed_lines_and_who_applied_the_later_one():
    changed = version_diff(Versions(without_refunds_account(), TEXT), 1, 2)
    assert [(c.kind, c.path) for c in changed.changes] == [
        ("added", "account_mappings[entity=us01 source=stripe].accounts.refunds")]
    data = changed.to_dict()
    assert (data["applied_by"], data["applied_at"], data["total"], data["added"]) == (
        "user2", "2026-11-02T09:00:00+00:00", 1, 1)
    assert data["sections"] == [{"section": "account_mappings", "count": 1,
                                 "lines": [changed.changes[0].line()]}]
    backwards = version_diff(Versions(without_refunds_account(), TEXT), 2, 1)
    assert [(c.kind, c.path) for c in backwards.changes] == [
        ("removed", "account_mappings[entity=us01 source=stripe].accounts.refunds")]
    assert backwards.applied_by == "user1"
    with pytest.raises(ConfigError) as missing:
        version_diff(Versions(TEXT), 1, 7)
    assert missing.value.reason == "config_version_missing"


def test_a_valid_proposal_parses_to_the_configuration():
    assert isinstance(parse_proposed(TEXT), LedgerLinkConfig)
    assert parse_proposed(without_refunds_account()) == BROKEN


def line_of_text(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(("edit", "finding"), [
    (lambda t: t.replace("time_zone: America/New_York", "time_zone: America/New_Yrok", 1), "time_zone"),
    (lambda t: t.replace("      refunds:", "      refundz:", 1), "refundz"),
    (lambda t: t + "\nentities: [\n", "not valid YAML"),
    (lambda t: "   ", "empty"),
])
def test_an_invalid_proposal_is_refused_with_every_finding_and_its_line(edit, finding):
    text = edit(TEXT)
    with pytest.raises(ProposedConfigInvalid) as refused:
        parse_proposed(text)
    assert refused.value.reason == "config_invalid"
    assert any(finding in each for each in refused.value.findings), refused.value.findings
    assert refused.value.to_dict()["findings"] == refused.value.findings
    if finding in ("time_zone", "refundz"):   # the finding names the line of the offending key
        needle = "America/New_Yrok" if finding == "time_zone" else "refundz:"
        assert any(f"proposed.yaml:{line_of_text(text, needle)}:" in each for each in refused.value.findings)
