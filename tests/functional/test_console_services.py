"""The finance-ops console's backend services on the local stack (moto): search over the real ledger, inbox and
cases tables; a document's timeline from its trace and the Standard execution's history; a replay's dry run with
the entity's period policy."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from ledgerlink import wiring
from ledgerlink.local.http_front import ops_event
from ledgerlink.ops.commands import config_apply
from ledgerlink.ops.replay import Replayer
from ledgerlink.ops.target import Target
from ledgerlink.service.replay_periods import replay_periods
from ledgerlink.service.search import search
from ledgerlink.service.timeline import timeline
from ledgerlink.service.trace import trace
from ledgerlink.store.archive import S3Archive
from ledgerlink.store.queue import SqsQueue

from tests.functional.conftest import Stack, config_with, event_bytes, served_like

ALICE = "arn:aws:iam::123456789012:user/alice"
INVOICE_PAID = "02-invoice.paid.json"
LATE_INVOICE = "09-invoice.finalized.closed-period.json"     # dated 2021-12-20; us01 is closed through 2021-12-31


def poison(event_id: str) -> bytes:
    """An invoice whose totals are 10^30: normalize opens an amount_out_of_range case, no document."""
    event = json.loads(event_bytes(INVOICE_PAID, id=event_id))
    invoice = event["data"]["object"]
    for key in ("total", "subtotal", "amount_due", "amount_paid"):
        invoice[key] = 10 ** 30
    for line in invoice["lines"]["data"]:
        line["amount"] = 10 ** 30
    return json.dumps(event).encode()


def ops(stack: Stack, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    event = ops_event(method, path, {"content-type": "application/json"}, json.dumps(body).encode(), ALICE)
    assert event is not None
    response = stack.host.invoke("ops", event)
    return response["statusCode"], json.loads(response["body"])


def test_search_finds_documents_by_id_customer_and_amount_and_events_not_normalized_yet(stack: Stack) -> None:
    paid = json.loads(event_bytes(INVOICE_PAID))
    assert stack.send_event(INVOICE_PAID).status == 202
    stack.drain()
    posted = {item["document_id"]: item for item in stack.documents("posted")}
    assert len(posted) == 2   # the invoice and its payment
    stores: dict[str, Any] = {"ledger": stack.ledger, "inbox": stack.inbox, "cases": stack.exceptions}

    by_event = search(paid["id"], **stores)
    assert by_event.mode == "id" and by_event.scanned == 0
    assert {hit.document_id for hit in by_event.hits} == set(posted)
    assert {hit.matched_on for hit in by_event.hits} == {"event_id"}
    some = next(iter(posted.values()))
    (by_erp,) = search(some["erp_ref"], **stores).hits
    assert (by_erp.document_id, by_erp.matched_on, by_erp.status) == (some["document_id"], "erp_reference", "posted")

    by_customer = search(paid["data"]["object"]["customer"].upper(), **stores)   # case-insensitive
    assert by_customer.mode == "scan" and by_customer.scanned == 2
    assert {hit.document_id for hit in by_customer.hits} == set(posted)
    # the invoice's total and the payment's amount are both 20.00 USD (2000 cents in the event)
    by_amount = search("20.00 USD", **stores)
    assert {(hit.amount, hit.currency, hit.matched_on) for hit in by_amount.hits} == {("20.00", "USD", "amount")}
    assert len(by_amount.hits) == 2
    assert search("20.00 EUR", **stores).hits == ()

    # an event received but not normalized yet is found in the inbox, not in the ledger
    waiting = event_bytes(INVOICE_PAID, id="evt_console_waiting")
    assert stack.send(waiting).status == 202
    found = search("evt_console_waiting", **stores, sources=[source.id for source in stack.config.sources])
    assert found.hits == ()
    (event,) = found.events
    assert (event.source, event.status, event.document_ids) == ("stripe", "pending", ())

    # an event normalize could not turn into a document is found by its case (and its processed claim)
    assert stack.send(poison("evt_console_poison")).status == 202
    stack.deliver(stack.receive())
    found = search("evt_console_poison", **stores, sources=["stripe"])
    assert found.hits == ()
    (case,) = found.cases
    assert (case.reason, case.matched_on, case.document_id) == ("amount_out_of_range", "event_id", None)
    (event,) = found.events
    assert (event.status, event.outcome) == ("processed", "exception")
    assert [hit.exception_id for hit in search(case.correlation_id or "", **stores).cases] == [case.exception_id]

    with pytest.raises(ValueError, match="empty"):
        search(" ", **stores)


@pytest.fixture
def stack_config():
    return config_with(entities__0__closed_period_policy="reject")


def test_timeline_of_a_document_retried_by_a_person_after_the_period_policy_changed(stack: Stack) -> None:
    # Given an invoice dated in a closed period under policy reject: a case, the Standard execution waits on it
    stack.send_event(LATE_INVOICE)
    stack.drain()
    (case,) = stack.exceptions.list("open")
    (document,) = stack.documents("exception")
    # When finance changes the policy to next_open_period and Alice retries the case
    applied = config_apply(Target("local", stack.resources.environment()),
                           served_like(config_with(entities__0__closed_period_policy="next_open_period"), stack),
                           applied_by=ALICE)
    status, body = ops(stack, "POST", f"/exceptions/{case['exception_id']}/retry", {"note": "policy changed"})
    assert status == 200, body
    stack.wait_for_executions()
    # Then the timeline tells the story in order, with Alice on her action and the version it posted with
    services = wiring.ops_services()
    traced = trace(document["document_id"], ledger=services.ledger, inbox=services.inbox, cases=services.cases,
                   workflow=services.workflow, with_steps=True)
    entries = timeline(traced)
    assert [entry.step for entry in entries] == [
        "received", "archived", "normalized", "exception_opened", "exception_retried", "master_data", "enrich",
        "validate", "post", "posted", "exception_resolved", "execution_succeeded"]
    by_step = {entry.step: entry for entry in entries}
    assert by_step["exception_retried"].who == ALICE
    assert {entry.who for entry in entries if entry.step != "exception_retried"} == {None}
    assert by_step["posted"].config_version == applied["version"]
    assert "accounting date 2022-01-01 (moved into the next open period" in by_step["posted"].detail
    assert json.loads(json.dumps([entry.to_dict() for entry in entries]))[0]["step"] == "received"


def test_replay_dry_run_says_where_each_document_would_land(stack: Stack) -> None:
    stack.send_event(LATE_INVOICE)
    stack.send_event(INVOICE_PAID)
    stack.send(poison("evt_console_poison"))
    stack.drain()
    (late,) = stack.documents("exception")
    assert len(stack.documents("posted")) == 2
    services = wiring.ops_services()
    replayer = Replayer(config=services.config, archive=S3Archive(stack.resources.archive_bucket),
                        ledger=services.ledger, inbox=services.inbox,
                        queue=SqsQueue(stack.resources.inbound_queue_url))
    day = date.fromisoformat("-".join(late["archive_key"].split("/")[2:5]))
    plan = replayer.plan_range(day, day)
    assert len(plan.messages) == 3

    landings = replay_periods(plan, ledger=services.ledger, config=stack.config, inbox=services.inbox)
    by_document = {landing.document_id: landing for landing in landings}
    assert len(landings) == 4
    never = by_document.pop(None)   # the poison event never became a document
    assert (never.event_id, never.outcome, never.reason) == (
        "evt_console_poison", "unknown", "unknown until normalized: the event has no document yet")
    assert (by_document[late["document_id"]].outcome, by_document[late["document_id"]].accounting_date) == (
        "refused", "2021-12-20")
    assert by_document[late["document_id"]].reason.startswith("refused: period closed")
    assert {landing.outcome for document_id, landing in by_document.items() if document_id != late["document_id"]} == {
        "skipped"}
    # under next_open_period the same plan moves it to the first open day
    moving = config_with(entities__0__closed_period_policy="next_open_period")
    landing = {item.document_id: item for item in replay_periods(plan, ledger=services.ledger, config=moving)}[
        late["document_id"]]
    assert (landing.outcome, landing.posting_date, landing.period) == ("next_open_period", "2022-01-01", "2022-01")
    # a plan for one posted document skips it with the plan's reason; nothing is ever sent
    posted_id = stack.documents("posted")[0]["document_id"]
    (skipped,) = replay_periods(replayer.plan_document(posted_id), ledger=services.ledger, config=stack.config)
    assert (skipped.document_id, skipped.outcome, skipped.reason) == (posted_id, "skipped", "already posted")
    assert stack.queue_depth() == 0
