"""Reconciliation reads Xero back (issue 19): documents posted by the real post Lambda to Xero (the contract server
on 127.0.0.1); a journal voided in Xero is found missing by the daily reconciliation, named in its report and its
EventBridge event, and opened as a case; a replay of the document posts it again — exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledgerlink.connectors.erps import ConnectorContext
from ledgerlink.ops.replay import Replayer
from ledgerlink.service.posting import erp_connectors
from ledgerlink.service.reconcile import Reconciler
from ledgerlink.store import clients
from ledgerlink.store.archive import S3Archive
from ledgerlink.store.config_store import DynamoConfigStore
from ledgerlink.store.control_totals import DynamoControlTotals
from ledgerlink.store.queue import SqsQueue
from ledgerlink.store.reports import S3Reports
from ledgerlink.store.secrets import SecretsManagerSecrets

from tests.functional.test_erp_pipeline import credentials, spec, stack_config, xero  # noqa: F401 - fixtures


class Published:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, detail))


def reconciler(stack, events: Published) -> Reconciler:
    """The reconcile Lambda's service (``wiring.reconciler``) with the exceptions store, so a document missing in
    the ERP becomes a case a replay can post."""
    tables = stack.resources.tables
    return Reconciler(config=DynamoConfigStore(tables["config"]).active,
                      totals=DynamoControlTotals(tables["totals"]), inbox=stack.inbox, ledger=stack.ledger,
                      connectors=erp_connectors(ConnectorContext(secrets=SecretsManagerSecrets()), prepare=False),
                      reports=S3Reports(stack.resources.reports_bucket), events=events, stuck_after_seconds=0,
                      exceptions=stack.exceptions)


def replayer(stack) -> Replayer:
    tables = stack.resources.tables
    return Replayer(config=DynamoConfigStore(tables["config"]).active, archive=S3Archive(stack.resources.archive_bucket),
                    ledger=stack.ledger, inbox=stack.inbox, queue=SqsQueue(stack.resources.inbound_queue_url))


def held_for(app, document_id: str) -> list[dict[str, Any]]:
    return [j for j in app.posted_journals() if f"[{document_id}]" in j["Narration"]]


def test_a_journal_voided_in_xero_is_found_missing_and_a_replay_puts_it_back_once(stack, xero, credentials):  # noqa: F811
    app, _ = xero
    # Given a paid invoice posted by the post Lambda as two manual journals
    assert stack.send_event("02-invoice.paid.json").status == 202
    stack.drain()
    posted = sorted(stack.documents("posted"), key=lambda d: d["document_id"])
    assert len(posted) == 2 and len(app.posted_journals()) == 2
    entity, day = posted[0]["day_key"].split("#")
    events = Published()
    # And the day reconciles clean: Xero was read back (one page), every journal as posted
    clean = reconciler(stack, events).run(day, [entity])
    assert clean.status == "balanced", clean.differences
    (check,) = clean.entities[0].erp["connections"]
    assert check["checked"] and (check["ledger_posted"], check["erp_posted"], check["erp_calls"]) == (2, 2, 1)
    # When someone voids one of them in Xero
    lost = posted[0]
    (journal,) = held_for(app, lost["document_id"])
    journal["Status"] = "VOIDED"
    report = reconciler(stack, events).run(day, [entity])
    # Then reconciliation names it missing, in the report, its stored JSON and the EventBridge event
    (difference,) = report.differences
    assert difference.kind == "missing_in_erp" and difference.detail["document_id"] == lost["document_id"]
    assert difference.detail["erp_ref"] == lost["erp_ref"] and difference.detail["connection"] == "xero-us"
    stored = json.loads(clients.client("s3").get_object(Bucket=stack.resources.reports_bucket,
                                                        Key=report.report_key + ".json")["Body"].read())
    assert [d["kind"] for d in stored["entities"][0]["differences"]] == ["missing_in_erp"]
    detail_type, detail = events.events[-1]
    assert detail_type == "LedgerLink Reconciliation Difference"
    assert detail["differences"][0]["detail"]["document_id"] == lost["document_id"]
    # And the document is an open missing_in_erp case
    case = difference.detail["exception_id"]
    assert stack.exceptions.get(case)["reason"] == "missing_in_erp"
    assert stack.ledger.get(lost["document_id"])["status"] == "exception"
    # When finance ops replay the document
    tool = replayer(stack)
    tool.execute(tool.plan_document(lost["document_id"]))
    stack.drain()
    # Then Xero holds it again exactly once (and the voided copy stays voided), the ledger says posted
    assert len(held_for(app, lost["document_id"])) == 1 and len(app.posted_journals()) == 2
    assert stack.ledger.get(lost["document_id"])["status"] == "posted"
    assert stack.exceptions.get(case)["status"] == "resolved"
    # And a second replay changes nothing: it is posted
    again = tool.plan_document(lost["document_id"])
    assert again.messages == [] and again.skipped[0]["reason"] == "already posted"
    # And the day reconciles clean again
    final = reconciler(stack, events).run(day, [entity])
    assert final.status == "balanced", final.differences


@pytest.mark.parametrize("stack_config", [True], indirect=True)
def test_summarized_documents_are_read_back_as_their_summary_journal(stack, xero, credentials):  # noqa: F811
    app, _ = xero
    for name in ("02-invoice.paid.json", "06-invoice.paid.current-api.json"):
        stack.send_event(name)
    stack.drain()
    stack.host.invoke("flush", {"through": "2100-12-31"})
    posted = stack.documents("posted")
    assert posted and all(d.get("summary_id") for d in posted)
    events = Published()
    for entity, day in sorted({tuple(d["day_key"].split("#")) for d in posted}):
        report = reconciler(stack, events).run(day, [entity])
        assert report.status == "balanced", report.differences
        (check,) = report.entities[0].erp["connections"]
        # every member is posted within its bucket's one summary journal: the ERP holds one document per bucket
        buckets = {d["summary_id"] for d in posted if d["day_key"] == f"{entity}#{day}"}
        assert check["checked"] and check["ledger_posted"] == check["erp_posted"] == len(buckets)
