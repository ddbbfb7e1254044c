"""Approvals as the posting steps read them: an approval lifts exactly the approval thresholds it covers (same
currency, approved amount at least the journal's size), nothing else; the state carries it typed; separation of
duties finds who last set an entity's thresholds; the queue's amount reading and filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ledgerlink import clock
from ledgerlink.config import LedgerLinkConfig
from ledgerlink.errors import OpsError
from ledgerlink.model.json import JsonObject
from ledgerlink.model.posting import Approval, PostingState
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.validate import validate
from ledgerlink.service.exceptions import ExceptionsService, case_amount, threshold_setter
from ledgerlink.service.posting import validate_step

from tests.unit.fakes import Configs
from tests.unit.test_governance import config_with, invoice, rejected


def approval(**amounts: str) -> Approval:
    return Approval(by="bob", at="2024-03-15T12:00:00+00:00", exception_id="exc_1",
                    amounts={currency: Decimal(amount) for currency, amount in amounts.items()})


@pytest.fixture
def held(example_config: LedgerLinkConfig) -> LedgerLinkConfig:
    return config_with(example_config, controls=[{"entity": "us01", "approval_thresholds": [
        {"amount": "1000.00", "currency": "USD"}]}])


def test_an_approval_covering_the_journal_lifts_the_threshold(held: LedgerLinkConfig) -> None:
    journal = enrich(invoice(date(2024, 3, 15), "1500.00"), held, config_version=1)
    error = rejected(validate, journal, held, "invoice")
    assert error.reason == "approval_required"
    assert (error.detail["amount"], error.detail["currency"]) == ("1500.00", "USD")
    assert error.detail["totals"] == "1500.00 USD"
    # approved exactly the journal's size, or more: it posts
    assert validate(journal, held, "invoice", approval=approval(USD="1500.00")) == journal
    assert validate(journal, held, "invoice", approval=approval(USD="2000")) == journal


@pytest.mark.parametrize("amounts", [{"USD": "1499.99"}, {"EUR": "1500.00"}, {"EUR": "9999", "USD": "100"}])
def test_an_approval_that_does_not_cover_the_journal_still_holds_it(held: LedgerLinkConfig,
                                                                     amounts: dict[str, str]) -> None:
    journal = enrich(invoice(date(2024, 3, 15), "1500.00"), held, config_version=1)
    assert rejected(validate, journal, held, "invoice", approval=approval(**amounts)).reason == "approval_required"


def test_an_approval_lifts_no_other_gate(example_config: LedgerLinkConfig) -> None:
    config = config_with(example_config, controls=[{"entity": "us01", "allowed_currencies": ["EUR"],
                                                     "approval_thresholds": [{"amount": "10", "currency": "USD"}]}])
    journal = enrich(invoice(date(2024, 3, 15), "1500.00"), config, config_version=1)
    error = rejected(validate, journal, config, "invoice", approval=approval(USD="1500.00"))
    assert error.reason == "currency_not_allowed"


def test_the_validate_step_reads_the_approval_from_the_state(held: LedgerLinkConfig) -> None:
    journal = enrich(invoice(date(2024, 3, 15), "1500.00"), held, config_version=1)
    state: JsonObject = {"document_id": journal.document_id, "correlation_id": "c", "config_version": 1,
                         "document": {"document_type": "invoice", "entity_id": "us01"},
                         "journal": journal.model_dump(mode="json")}
    assert rejected(validate_step, {**state, "approval": None}, Configs(held)).reason == "approval_required"
    approved = validate_step({**state, "approval": approval(USD="1500.00").to_json()}, Configs(held))
    assert approved["approval"] == {"by": "bob", "at": "2024-03-15T12:00:00+00:00", "exception_id": "exc_1",
                                    "amounts": {"USD": "1500.00"}}   # carried on to the post step


def test_the_state_parses_an_approval_and_refuses_a_malformed_one() -> None:
    raw = {"by": "bob", "at": "t", "exception_id": "exc_1", "amounts": {"USD": "12.50", "EUR": 3}}
    parsed = PostingState.parse({"approval": raw}).approval
    assert parsed == Approval(by="bob", at="t", exception_id="exc_1",
                              amounts={"USD": Decimal("12.50"), "EUR": Decimal(3)})
    assert parsed.covers("USD", Decimal("12.5")) and not parsed.covers("USD", Decimal("12.51"))
    assert not parsed.covers("GBP", Decimal("1"))
    assert PostingState.parse({}).approval is None and PostingState.parse({"approval": None}).approval is None
    for bad in ("yes", {"by": "bob"}, {"by": "", "amounts": {"USD": "1"}}, {"by": "b", "amounts": {"USD": "x"}},
                {"by": "b", "amounts": {"USD": "NaN"}}, {"by": "b", "amounts": {"USD": None}},
                {"by": "b", "amounts": {}}):
        with pytest.raises(ValueError):
            PostingState.parse({"approval": bad})


# ---- separation of duties --------------------------------------------------------------------------------------

class Versions:
    """Applied configuration versions: (who, us01's thresholds, other entity's thresholds)."""

    def __init__(self, *versions: tuple[str, list[dict[str, str]] | None]) -> None:
        self.versions = versions
        self.read: list[int] = []

    def history(self) -> list[dict[str, object]]:
        return [{"version": n, "applied_by": who} for n, (who, _) in enumerate(self.versions, start=1)]

    def version_raw(self, version: int) -> JsonObject:
        self.read.append(version)
        thresholds = self.versions[version - 1][1]
        controls: list[Any] = [{"entity": "gb01", "approval_thresholds": [{"amount": str(version), "currency": "GBP"}]}]
        if thresholds is not None:
            controls.append({"entity": "us01", "approval_thresholds": thresholds})
        return {"controls": controls}


USD_10 = [{"amount": "10", "currency": "USD", "document_type": "*"}]
USD_20 = [{"amount": "20", "currency": "USD", "document_type": "*"}]
EUR_5 = [{"amount": "5", "currency": "EUR", "document_type": "*"}]


def test_who_set_the_thresholds_is_the_applier_of_the_version_that_last_changed_them() -> None:
    # v1 alice sets them, v2 bob changes them, v3 carol and v4 dave change other things (gb01 changes every time)
    versions = Versions(("alice", USD_10), ("bob", USD_20), ("carol", USD_20), ("dave", USD_20))
    assert threshold_setter(versions, "us01", 4) == "bob"
    assert versions.read == [4, 3, 2, 1]          # newest → oldest, stopping where they changed
    assert threshold_setter(versions, "us01", 1) == "alice"   # the initial version
    assert threshold_setter(versions, "gb01", 4) == "dave"    # changed in every version
    # order within the list is no change; a removal is one
    reordered = Versions(("alice", [*USD_10, *EUR_5]), ("bob", [*EUR_5, *USD_10]))
    assert threshold_setter(reordered, "us01", 2) == "alice"
    removed = Versions(("alice", USD_10), ("bob", None), ("carol", None))
    assert threshold_setter(removed, "us01", 3) == "bob"
    assert threshold_setter(Versions(), "us01", 5) is None


# ---- the queue ---------------------------------------------------------------------------------------------------

class Cases:
    def __init__(self, *cases: dict[str, Any]) -> None:
        self.cases = list(cases)

    def list(self, status: str | None = "open") -> list[dict[str, Any]]:
        return [c for c in self.cases if status is None or c["status"] == status]


def queue(*cases: dict[str, Any]) -> ExceptionsService:
    return ExceptionsService(cases=Cases(*cases), ledger=None, workflow=None, audit=None,  # type: ignore[arg-type]
                             config=lambda: (1, None))   # type: ignore[arg-type,return-value]


def case(exception_id: str, opened: datetime, *, amount: str | None = None, reason: str = "approval_required",
         status: str = "open", **more: Any) -> dict[str, Any]:
    return {"exception_id": exception_id, "status": status, "reason": reason, "opened_at": opened.isoformat(),
            "detail": {"amount": amount} if amount is not None else {}, **more}


def test_case_amounts_are_read_from_the_detail() -> None:
    now = datetime(2024, 3, 15, tzinfo=UTC)
    assert case_amount(case("a", now, amount="1234.56")) == Decimal("1234.56")
    assert case_amount(case("a", now, amount="1234.56 USD")) == Decimal("1234.56")
    assert case_amount(case("a", now, amount="1,234.56")) == Decimal("1234.56")
    assert case_amount(case("a", now)) is None
    assert case_amount(case("a", now, amount="a lot")) is None
    assert case_amount(case("a", now, amount="Infinity")) is None
    assert case_amount({"detail": "not a map"}) is None


def test_the_queue_filters_by_age_against_the_ledgerlink_clock() -> None:
    now = datetime(2024, 3, 15, 12, tzinfo=UTC)
    service = queue(case("old", now - timedelta(days=10)), case("week", now - timedelta(days=7, seconds=1)),
                    case("new", now - timedelta(hours=1)), case("unknown", now, opened_at="not a time"))
    with clock.use(clock.FixedClock(now)):
        assert [c["exception_id"] for c in service.list(min_age_days=7)] == ["old", "week"]
        assert [c["exception_id"] for c in service.list(min_age_days=0.5)] == ["old", "week"]
        assert len(service.list()) == 4
        with pytest.raises(OpsError) as refused:
            service.list(min_age_days=-1)
        assert refused.value.status == 400


def test_the_queue_sorts_and_counts() -> None:
    t = datetime(2024, 3, 15, tzinfo=UTC)
    service = queue(case("b", t, amount="5", entity_id="us01"), case("a", t - timedelta(1), amount="50",
                                                                       entity_id="gb01"),
                    case("c", t + timedelta(1), reason="mapping_missing", entity_id="us01"),
                    case("d", t + timedelta(2), amount="5", entity_id="de01"),
                    case("x", t, status="resolved", reason="mapping_missing"))
    order = {sort: [c["exception_id"] for c in service.list(sort=sort)] for sort in
             ("opened_at", "-opened_at", "amount", "-amount", "reason", "entity")}
    assert order == {"opened_at": ["a", "b", "c", "d"], "-opened_at": ["d", "c", "b", "a"],
                     "amount": ["b", "d", "a", "c"], "-amount": ["a", "b", "d", "c"],
                     "reason": ["a", "b", "d", "c"], "entity": ["d", "a", "b", "c"]}
    assert service.counts_by_reason() == {"approval_required": 3, "mapping_missing": 1}
    assert service.counts_by_reason(None) == {"approval_required": 3, "mapping_missing": 2}
    assert [c["exception_id"] for c in service.list(status=None, reason="mapping_missing")] == ["x", "c"]


def test_the_queue_lists_several_statuses_in_one_order() -> None:
    t = datetime(2024, 3, 15, tzinfo=UTC)
    service = queue(case("r", t, status="retrying", amount="9"), case("o", t - timedelta(1), amount="20"),
                    case("x", t + timedelta(1), status="resolved", amount="50"), case("i", t, status="ignored"))
    assert [c["exception_id"] for c in service.list(status=("open", "retrying"), sort="-amount")] == ["o", "r"]
    assert [c["exception_id"] for c in service.list(status=("resolved", "ignored", "rejected"))] == ["i", "x"]
