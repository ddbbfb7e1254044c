"""From what a provider sent to a trace (issue 20): `ledgerlink trace` and `documents list|show` on a running local
stack find a document by its document id, the event id and correlation id of the 202, the provider's object id and
the ERP's reference; every read command's --json has documented keys; the on-demand runs (bank file, flush, revenue
release, close check) keep their reports on disk. One stack for the whole module."""

from __future__ import annotations

import json
import time

import pytest

from ledgerlink import cli
from ledgerlink.cli_support.commands import TRACE_KEYS
from ledgerlink.cli_support.documents import SUMMARY_KEYS
from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.demo import post
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.store.ledger import DynamoLedger

from tests.conftest import EVENTS, EXAMPLE_CONFIG

pytestmark = pytest.mark.slow

SAMPLES = ("01-invoice.finalized.json", "02-invoice.paid.json")
BUSINESS_DATE = "2022-03-26"       # the samples' invoice date in us01's time zone


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli-trace")
    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=base / "state", port=0,
                                        secrets_default_file=base / "secrets.json", flush_interval_seconds=0))
    runtime.start()
    try:
        url, secret = runtime.webhook_url("stripe"), runtime.secrets["stripe"].values[0]
        answers = []
        for name in SAMPLES:
            body = (EVENTS / "stripe" / name).read_bytes()
            status, answer = post(url, body, signature_header(body, secret, int(time.time())))
            assert status == 202, answer
            answers.append(answer)
        assert runtime.wait_idle(timeout=120)
        tables = runtime.resources.tables
        ledger = DynamoLedger(tables["ledger"], totals_table=tables["totals"]).scan()
        yield {"runtime": runtime, "answers": answers, "ledger": ledger,
               "state": ["--state-dir", str(base / "state")], "state_dir": base / "state"}
    finally:
        runtime.stop()


def run(capsys, *argv):
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_trace_finds_a_document_by_every_kind_of_id(stack, capsys):
    by_event = {item["event_id"]: item for item in stack["ledger"]}
    invoice_answer, payment_answer = stack["answers"]
    payment = by_event[payment_answer["event_id"]]
    invoice = by_event[invoice_answer["event_id"]]
    assert payment["status"] == "posted" and payment["erp_ref"]
    object_id = json.loads(payment["document"])["source"]["object_id"]   # the provider's id (in_...)
    cases = [(payment["document_id"], "document", [payment["document_id"]]),
             (payment_answer["event_id"], "event", [payment["document_id"]]),
             (payment_answer["correlation_id"], "correlation", [payment["document_id"]]),
             (payment["erp_ref"], "erp", [payment["document_id"]]),
             # the invoice and its payment are both facts of the provider's invoice object
             (object_id, "external", sorted([payment["document_id"], invoice["document_id"]]))]
    for reference, kind, documents in cases:
        shown = run_json(capsys, "trace", reference, *stack["state"])
        assert (shown["query"], shown["matched_by"]) == (reference, kind)
        assert [trace["document_id"] for trace in shown["traces"]] == documents
        assert all(tuple(trace) == TRACE_KEYS for trace in shown["traces"])
    # the human form: the chain in lines, no dict reprs
    code, out, _ = run(capsys, "trace", payment_answer["event_id"], *stack["state"])
    assert code == 0 and f"document {payment['document_id']}  status posted" in out and "{" not in out
    assert payment["erp_ref"] in out and "cash_clearing" in out
    # an id nothing has: exit 1, one line
    code, out, err = run(capsys, "trace", "evt_never_sent", *stack["state"])
    assert code == 1 and err.count("\n") == 1 and "not_found" in err


def test_documents_list_filters_and_pages(stack, capsys):
    everything = run_json(capsys, "documents", "list", *stack["state"])
    expected = sorted(item["document_id"] for item in stack["ledger"])
    assert sorted(d["document_id"] for d in everything["documents"]) == expected
    assert all(tuple(d) == SUMMARY_KEYS for d in everything["documents"])
    assert set(everything) == {"documents", "next", "matched_by"} and everything["next"] is None
    # one page at a time: the cursor of the first page gives the rest, nothing twice
    first = run_json(capsys, "documents", "list", "--limit", "1", *stack["state"])
    rest = run_json(capsys, "documents", "list", "--after", first["next"], *stack["state"])
    assert [d["document_id"] for d in first["documents"] + rest["documents"]] == expected
    # the by-day index (entity + business date), status, source, amount range and id filters
    day = run_json(capsys, "documents", "list", "--entity", "us01", "--date", BUSINESS_DATE, *stack["state"])
    assert sorted(d["document_id"] for d in day["documents"]) == expected
    assert run_json(capsys, "documents", "list", "--entity", "us01", "--date", "2022-03-27",
                    *stack["state"])["documents"] == []
    amounts = {item["document_id"]: item["amount"] for item in stack["ledger"]}
    assert all(amount == "20.00" for amount in amounts.values())
    assert len(run_json(capsys, "documents", "list", "--min-amount", "20", "--max-amount", "20.00",
                        *stack["state"])["documents"]) == 2
    assert run_json(capsys, "documents", "list", "--min-amount", "20.01", *stack["state"])["documents"] == []
    assert len(run_json(capsys, "documents", "list", "--status", "posted", "--source", "stripe",
                        *stack["state"])["documents"]) == 2
    by_id = run_json(capsys, "documents", "list", "--id", stack["answers"][0]["event_id"], *stack["state"])
    assert by_id["matched_by"] == "event" and len(by_id["documents"]) == 1
    # show: the summary, the canonical document and the journal as objects
    shown = run_json(capsys, "documents", "show", expected[0], *stack["state"])
    (document,) = shown["documents"]
    assert tuple(document)[:len(SUMMARY_KEYS)] == SUMMARY_KEYS and isinstance(document["journal"], dict)
    code, out, _ = run(capsys, "documents", "list", *stack["state"])
    assert code == 0 and out.splitlines()[0].split()[:3] == ["date", "document", "status"]
    assert out.strip().endswith("2 document(s)")


def test_names_the_stack_does_not_know_are_refused_in_one_line(stack, capsys):
    for argv in (["reconcile", "--date", BUSINESS_DATE, "--entity", "zz99"],
                 ["revenue", "waterfall", "--entity", "us99"],
                 ["exceptions", "list", "--entity", "zz99"],
                 ["close-check", "--entity", "zz99", "--period", "2022-03"],
                 ["documents", "list", "--source", "strip"],
                 ["replay", "--from", BUSINESS_DATE, "--to", BUSINESS_DATE, "--source", "nope", "--dry-run"]):
        code, out, err = run(capsys, *argv, *stack["state"])
        assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, (argv, err)
        assert "error: unknown_entity:" in err or "error: unknown_source:" in err
    _, _, err = run(capsys, "documents", "list", "--source", "strip", *stack["state"])
    assert "did you mean stripe?" in err


def test_read_commands_have_documented_json_keys(stack, capsys):
    history = run_json(capsys, "config", "history", *stack["state"])
    assert [tuple(item) for item in history] == [("version", "applied_at", "applied_by", "content_hash",
                                                  "changes")] * len(history)
    assert run_json(capsys, "dlq", "list", *stack["state"]) == []
    assert run_json(capsys, "exceptions", "list", "--status", "all", *stack["state"]) == []
    code, out, _ = run(capsys, "dlq", "list", *stack["state"])
    assert code == 0 and out.strip().endswith("0 message(s) parked")
    code, out, _ = run(capsys, "config", "history", *stack["state"])
    assert code == 0 and "{" not in out and out.splitlines()[1].startswith("v1 ")


def test_on_demand_runs_keep_their_reports_on_disk(stack, capsys):
    reports = stack["state_dir"] / "reports"
    # a bank statement dropped into the running stack's bank inbox, as S3 would deliver it
    sample = next((EVENTS / "bank").glob("*.xml"))
    dropped = run_json(capsys, "local", "drop-file", str(sample), *stack["state"])
    assert (dropped["outcome"], dropped["key"]) == ("accepted", f"bank-inbox/bank/{sample.name}")
    again = run_json(capsys, "local", "drop-file", str(sample), *stack["state"])
    assert again["outcome"] == "duplicate"
    assert stack["runtime"].wait_idle(timeout=120)
    flushed = run_json(capsys, "local", "flush", "--through", "2100-12-31", *stack["state"])
    assert (reports / "flush-2100-12-31.json").is_file() and flushed["report_file"].endswith("flush-2100-12-31.json")
    released = run_json(capsys, "local", "release", "--entity", "us01", "--period", "2022-03", *stack["state"])
    assert (reports / "release-us01-2022-03.json").is_file()
    assert [entity["entity_id"] for entity in released["entities"]] == ["us01"]
    code, out, err = run(capsys, "close-check", "--entity", "us01", "--period", "2022-03", *stack["state"])
    assert code in (0, 3), err
    assert (reports / "close-check-us01-2022-03.json").is_file() and "report " in out
