"""The posting engine end to end on moto: real handlers, the real state machine, the flush function.

Summarized posting (buckets → one journal each at the flush, drill-down, ledger trace, redelivery), routing
with a cutover to a legacy GL file, reversals of posted documents, FX conversion to the base currency."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from beancount import loader

from ledgerlink import wiring
from ledgerlink.config.loader import parse_config_text
from ledgerlink.connectors.erps.legacy_file import LegacyFile
from ledgerlink.local.aws import apply_config
from ledgerlink.model.documents import Reversal, SourceRef
from ledgerlink.service.normalize import ledger_record
from ledgerlink.store import clients
from ledgerlink.store.buckets import DynamoBuckets
from ledgerlink.store.objects import FileObjectStore

from tests.functional.conftest import config_with

INVOICE_PAID = "02-invoice.paid.json"
EVERYTHING = {"through": "2100-12-31"}


def book_errors(stack) -> list:
    _, errors, _ = loader.load_file(str(stack.book_dir / "main.beancount"))
    return errors


def book_balances(stack) -> dict[tuple[str, str], Decimal]:
    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.store.books import FileBookStore

    balances = BeancountBook(stack.config.connection("books"), FileBookStore(stack.book_dir)).trial_balance()
    return {key: value for key, value in balances.items() if value}


def journal_balances(items: list[dict]) -> dict[tuple[str, str], Decimal]:
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for item in items:
        for line in json.loads(item["journal"])["lines"]:
            totals[(line["account"], line["amount"]["currency"])] += Decimal(line["amount"]["amount"])
    return {key: value for key, value in sorted(totals.items()) if value}


# ---- summarized posting -------------------------------------------------------------------------------

class TestSummarized:
    @pytest.fixture
    def stack_config(self):
        return config_with(posting_policies__0__mode="summarized", posting_policies__1__mode="summarized")

    def test_documents_wait_in_buckets_and_the_flush_posts_one_journal_per_bucket(self, stack):
        # Given invoices and payments from several events (two of them describe the same facts)
        for name in (INVOICE_PAID, "03-invoice.payment_succeeded.json", "06-invoice.paid.current-api.json",
                     "07-invoice.finalized.jpy.json"):
            assert stack.send_event(name).status == 202
        stack.drain()
        # Then nothing is posted yet: every document is in a bucket
        documents = stack.documents()
        assert {d["status"] for d in documents} == {"summarized"} and stack.postings() == []
        buckets = DynamoBuckets(stack.resources.tables["buckets"])
        open_buckets = buckets.by_status("open")
        assert sum(b.documents for b in open_buckets) == len(documents)
        # When the flush runs
        report = stack.host.invoke("flush", EVERYTHING)
        # Then each bucket became exactly one posting, the book is valid and balances like the documents did
        assert report["posted"] == len(open_buckets) == len(stack.postings())
        assert book_errors(stack) == []
        assert book_balances(stack) == journal_balances(documents)
        # And every document traces to its summary: posted, with the bucket id and the summary's ERP reference
        traced = stack.documents()
        assert {d["status"] for d in traced} == {"posted"}
        for document in traced:
            assert document["erp_ref"].endswith(f"{document['summary_id']}.beancount")
        # And a summary line drills down to its source documents
        bucket = open_buckets[0]
        text = (stack.book_dir / "postings" / f"{bucket.bucket_id}.beancount").read_text()
        line = text.split("drill-down ", 1)[1].split('"', 1)[0]
        bucket_id, line_key = line.split("/")
        members = buckets.drill_down(bucket_id, line_key)
        assert members and set(members) <= {d["document_id"] for d in traced}
        # And a second flush has nothing to do
        again = stack.host.invoke("flush", EVERYTHING)
        assert again["posted"] == 0 and again["sealed"] == 0

    def test_a_redelivered_document_does_not_count_twice_in_its_bucket(self, stack):
        stack.send_event(INVOICE_PAID)
        stack.drain()
        invoice = next(d for d in stack.documents() if d["document_type"] == "invoice")
        buckets = DynamoBuckets(stack.resources.tables["buckets"])
        before = {b.bucket_id: (b.documents, buckets.lines(b.bucket_id)) for b in buckets.by_status("open")}
        # When it runs again under a new execution name: the ledger answers with the stored result
        output = stack.run_again(invoice)
        assert output["status"] == "summarized" and output["created"] is False and output["stored_result"] is True
        # and with the ledger guard removed too, the bucket's own membership check keeps it from counting twice
        stack.forget_stored_result(invoice["document_id"])
        output = stack.run_again(invoice)
        assert output["status"] == "summarized" and output["created"] is False and "stored_result" not in output
        after = {b.bucket_id: (b.documents, buckets.lines(b.bucket_id)) for b in buckets.by_status("open")}
        assert after == before

    def test_a_bucket_the_erp_refuses_becomes_one_exception_case_for_its_documents(self, stack):
        stack.send_event(INVOICE_PAID)
        stack.drain()
        # Given the period of the bucketed documents is closed (rejecting) before the flush
        closed = config_with(posting_policies__0__mode="summarized", posting_policies__1__mode="summarized",
                             entities__0__closed_through="2022-12-31", entities__0__closed_period_policy="reject")
        apply_config(stack.resources, closed, applied_by="functional-test")
        wiring.reset()   # a new container: no cached active configuration
        report = stack.host.invoke("flush", EVERYTHING)
        # Then each bucket opens one case and its documents are marked, nothing is posted
        cases = stack.exceptions.list("open")
        assert report["exceptions"] == len(cases) >= 1 and {c["reason"] for c in cases} == {"period_closed"}
        assert stack.postings() == []
        assert {d["status"] for d in stack.documents()} == {"exception"}


# ---- routing and coexistence ----------------------------------------------------------------------------

def legacy_config():
    import yaml

    from tests.conftest import EXAMPLE_CONFIG

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["entities"][0].update(legacy_connection="legacy-gl", cutover_date="2023-01-01")
    return parse_config_text(yaml.safe_dump(data), origin="legacy-config")


class TestCutover:
    @pytest.fixture
    def stack_config(self):
        return legacy_config()

    def test_documents_before_the_cutover_go_to_the_legacy_file_the_rest_to_the_erp(self, stack):
        stack.send_event(INVOICE_PAID)                       # March 2022: before the cutover
        stack.send_event("07-invoice.finalized.jpy.json")    # November 2023: after
        stack.drain()
        posted = {d["document_type"] + d["accounting_date"]: d for d in stack.documents("posted")}
        assert {d["erp_connection"] for d in posted.values()} == {"legacy-gl", "books"}
        legacy_docs = [d for d in posted.values() if d["erp_connection"] == "legacy-gl"]
        assert all(d["accounting_date"] < "2023-01-01" for d in legacy_docs) and len(legacy_docs) == 2
        assert len(stack.postings()) == 1   # the JPY invoice in the book
        # When the flush runs, the legacy day becomes a GL import file whose trailer ties out
        report = stack.host.invoke("flush", EVERYTHING)
        (name,) = report["legacy_files"]
        target = LegacyFile(stack.config.connection("legacy-gl"),
                            FileObjectStore(Path(stack.resources.legacy_files_uri.removeprefix("file://")) / "gl"))
        records = target.parse(Path(name).read_text())
        details = [r for r in records if r["type"] == "D"]
        (trailer,) = [r for r in records if r["type"] == "T"]
        assert {r["document"] for r in details} == {d["document_id"] for d in legacy_docs}
        assert Decimal(trailer["debit"]) == sum(Decimal(r["debit"]) for r in details) == Decimal(trailer["credit"])


# ---- compensation -------------------------------------------------------------------------------------

def test_a_cancellation_reverses_the_posted_invoice_with_a_new_linked_entry(stack):
    stack.send_event(INVOICE_PAID)
    stack.drain()
    invoice = next(d for d in stack.documents("posted") if d["document_type"] == "invoice")
    before = {p.name: p.read_text() for p in stack.postings()}
    source = SourceRef(system="stripe", object_type="invoice_void", object_id="in_void_1", source_id="stripe")
    reversal = Reversal(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="void-1",
                        occurred_at="2022-04-02T10:00:00Z", accounting_date="2022-04-02", currency="USD",
                        original_document_id=invoice["document_id"], reason="cancellation")
    payload = {"document_id": reversal.document_id, "correlation_id": "void-1", "source_id": "stripe",
               "archive_key": "raw/void", "config_version": 1, "document": reversal.model_dump(mode="json")}
    stack.ledger.register(ledger_record(reversal, status="received", config_version=1))
    clients.client("stepfunctions").start_execution(stateMachineArn=stack.resources.state_machine_arn,
                                                    name=reversal.document_id, input=json.dumps(payload))
    stack.wait_for_executions()
    # The original posting is untouched; a new posting mirrors it, linked to it
    assert {p.name: p.read_text() for p in stack.postings() if p.name in before} == before
    text = (stack.book_dir / "postings" / f"{reversal.document_id}.beancount").read_text()
    assert f"^{invoice['document_id']}" in text and "2022-04-02" in text
    original = json.loads(invoice["journal"])
    undone = json.loads(stack.ledger.get(reversal.document_id)["journal"])
    assert [Decimal(line["amount"]["amount"]) for line in undone["lines"]] == [
        -Decimal(line["amount"]["amount"]) for line in original["lines"]]
    assert book_errors(stack) == []


# ---- multi-currency -----------------------------------------------------------------------------------

class TestConvertToBase:
    @pytest.fixture
    def stack_config(self):
        import yaml

        from tests.conftest import EXAMPLE_CONFIG

        data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
        data["entities"][0]["foreign_currency"] = "convert_to_base"
        data["fx_rates"] = [{"from_currency": "EUR", "to_currency": "USD", "rate": "1.0873", "valid_from": "2026-01-01",
                             "source": "ECB reference rate"}]
        data["account_mappings"][0]["accounts"]["fx_rounding"] = "Expenses:US01:FX:Rounding"
        return parse_config_text(yaml.safe_dump(data), origin="fx-config")

    def test_a_eur_invoice_posts_in_usd_with_its_rate_and_source(self, stack):
        stack.send_event("06-invoice.paid.current-api.json")
        stack.drain()
        posted = stack.documents("posted")
        assert posted and book_errors(stack) == []
        for document in posted:
            journal = json.loads(document["journal"])
            assert {line["amount"]["currency"] for line in journal["lines"]} == {"USD"}
            assert journal["fx"]["rate"] == "1.0873" and journal["fx"]["source"] == "config: ECB reference rate"
        text = "".join(p.read_text() for p in stack.postings())
        assert 'fx_rate: "EUR->USD 1.0873 (config: ECB reference rate, 2026-01-01)"' in text
        assert "EUR" not in {currency for _, currency in book_balances(stack)}
