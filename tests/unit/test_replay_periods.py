"""A replay's dry run with periods: where each document of a plan would post today — the same answer validate
gives — what is skipped and why, and events that have no document yet."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.ops.replay import ReplayPlan
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.periods import open_period_date
from ledgerlink.pipeline.validate import validate
from ledgerlink.service.replay_periods import replay_periods, where_it_posts

from tests.unit.console_fakes import FakeInbox, FakeLedger, invoice, item

CLOSED_THROUGH = date(2021, 12, 31)   # the example configuration's us01 (policy next_open_period)


def with_policy(config: LedgerLinkConfig, policy: str) -> LedgerLinkConfig:
    entities = [entity.model_copy(update={"closed_period_policy": policy}) if entity.id == "us01" else entity
                for entity in config.entities]
    return config.model_copy(update={"entities": entities})


def message(event_id: str, source: str = "stripe") -> dict[str, object]:
    return {"v": 1, "source": source, "kind": "stripe", "event_id": event_id, "replay": True,
            "archive_key": f"raw/stripe/2024/03/15/{event_id}.json", "body": "{}"}


LATE = invoice("in_late", "10.00", on=date(2021, 12, 20), event_id="evt_late")          # in the closed period
OPEN = invoice("in_open", "10.00", on=date(2022, 3, 15), event_id="evt_open")
POSTED = invoice("in_posted", "10.00", on=date(2022, 3, 1), event_id="evt_posted")
GB = invoice("in_gb", "10.00", currency="GBP", on=date(2021, 6, 1), event_id="evt_gb", entity_id="gb01")
NOWHERE = invoice("in_nowhere", "10.00", on=date(2022, 3, 15), event_id="evt_nowhere", entity_id="zz99")


@pytest.fixture
def ledger() -> FakeLedger:
    return FakeLedger([item(LATE, status="exception"), item(OPEN), item(POSTED, status="posted", erp_ref="JE-1"),
                       item(GB), item(NOWHERE, status="exception")])


def test_each_document_lands_where_posting_would_put_it(ledger: FakeLedger, example_config: LedgerLinkConfig
                                                        ) -> None:
    plan = ReplayPlan(messages=[message(event) for event in
                                ("evt_late", "evt_open", "evt_posted", "evt_gb", "evt_nowhere", "evt_never")],
                      skipped=[{"document_id": "doc_ignored", "reason": "already ignored"}])
    landings = replay_periods(plan, ledger=ledger, config=example_config)
    assert [(landing.event_id, landing.outcome, landing.posting_date, landing.period) for landing in landings] == [
        ("evt_late", "next_open_period", "2022-01-01", "2022-01"),   # 2021-12 is closed: the first open day
        ("evt_open", "own_period", "2022-03-15", "2022-03"),
        ("evt_posted", "skipped", None, None),
        ("evt_gb", "own_period", "2021-06-01", "2021-06"),            # gb01 closes nothing
        ("evt_nowhere", "refused", None, None),
        ("evt_never", "unknown", None, None),
        (None, "skipped", None, None),
    ]
    late, _, posted, _, nowhere, never, ignored = landings
    assert late.to_dict() == {
        "source": "stripe", "event_id": "evt_late", "document_id": LATE.document_id, "document_type": "invoice",
        "entity_id": "us01", "status": "exception", "accounting_date": "2021-12-20", "outcome": "next_open_period",
        "posting_date": "2022-01-01", "period": "2022-01",
        "reason": "its period 2021-12 is closed (entity us01 closed through 2021-12-31): posts on 2022-01-01, "
                  "the first open day, in 2022-01"}
    assert posted.reason == "already posted: a replay never posts twice" and posted.accounting_date == "2022-03-01"
    assert "zz99 is not configured" in nowhere.reason
    assert (never.document_id, never.reason) == (None, "unknown until normalized: the event has no document yet")
    assert (ignored.document_id, ignored.reason) == ("doc_ignored", "already ignored")


def test_with_policy_reject_a_closed_period_is_refused(ledger: FakeLedger, example_config: LedgerLinkConfig) -> None:
    (late,) = replay_periods(ReplayPlan(messages=[message("evt_late")]), ledger=ledger,
                             config=with_policy(example_config, "reject"))
    assert (late.outcome, late.posting_date, late.period) == ("refused", None, None)
    assert late.reason.startswith("refused: period closed")


def test_an_event_with_several_documents_lists_each_once(example_config: LedgerLinkConfig) -> None:
    first = invoice("in_a", "1.00", on=date(2022, 2, 1), event_id="evt_two")
    second = invoice("in_b", "1.00", on=date(2022, 2, 2), event_id="evt_two")
    ledger = FakeLedger([item(first), item(second)])
    plan = ReplayPlan(messages=[message("evt_two"), message("evt_two")])   # the range holds the event twice
    assert [landing.document_id for landing in replay_periods(plan, ledger=ledger, config=example_config)] == sorted(
        [first.document_id, second.document_id])


def test_the_inbox_names_a_document_another_delivery_registered(example_config: LedgerLinkConfig) -> None:
    # the document was registered by the first delivery (evt_first); a later event evt_again normalized to it too
    document = invoice("in_shared", "1.00", on=date(2022, 2, 1), event_id="evt_first")
    ledger = FakeLedger([item(document)])
    inbox = FakeInbox([{"source": "stripe", "event_id": "evt_again", "document_ids": [document.document_id]}])
    plan = ReplayPlan(messages=[message("evt_again")])
    assert replay_periods(plan, ledger=ledger, config=example_config)[0].outcome == "unknown"
    (landing,) = replay_periods(plan, ledger=ledger, config=example_config, inbox=inbox)
    assert (landing.document_id, landing.outcome) == (document.document_id, "own_period")


@pytest.mark.parametrize("policy", ["reject", "next_open_period"])
def test_the_dry_run_agrees_with_validate_around_the_closed_date(example_config: LedgerLinkConfig, policy: str
                                                                 ) -> None:
    config = with_policy(example_config, policy)
    for offset in range(-40, 40, 3):
        day = CLOSED_THROUGH + timedelta(days=offset)
        outcome, posting_date, _ = where_it_posts("us01", day.isoformat(), config)
        journal = enrich(invoice(f"in_{offset + 40}", "10.00", on=day), config, config_version=1)
        try:
            validated = validate(journal, config, "invoice")
        except DocumentRejected as rejection:
            assert rejection.reason == "period_closed" and outcome == "refused" and posting_date is None, day
            continue
        assert validated.accounting_date == posting_date, day
        assert outcome == ("own_period" if day > CLOSED_THROUGH else "next_open_period"), day


def test_open_period_date() -> None:
    from ledgerlink.config.model import Entity

    entity = Entity(id="e1", name="E", base_currency="USD", time_zone="UTC", erp_connection="books",
                    closed_through=date(2024, 1, 31), closed_period_policy="next_open_period")
    assert open_period_date(entity, date(2024, 2, 1)) == date(2024, 2, 1)
    assert open_period_date(entity, date(2024, 1, 31)) == date(2024, 2, 1)
    assert open_period_date(entity, date(2023, 6, 30)) == date(2024, 2, 1)
    rejecting = entity.model_copy(update={"closed_period_policy": "reject"})
    assert open_period_date(rejecting, date(2024, 1, 31)) is None
    assert open_period_date(rejecting, date(2024, 2, 1)) == date(2024, 2, 1)
    unclosed = entity.model_copy(update={"closed_through": None})
    assert open_period_date(unclosed, date(1999, 1, 1)) == date(1999, 1, 1)
