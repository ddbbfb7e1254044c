"""End to end on the local runtime: moto server, HTTP front, SQS poller, Step Functions engine, book.

These are the README's promises: `make demo` posts every sample exactly once into a book that passes
bean-check, and `ledgerlink local up` serves webhooks that anyone can sign with the printed secret.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerlink.local.demo import DEMO_AS_OF, demo_ok, format_report, run_demo, summary_lines

from tests.conftest import EVENTS, EXAMPLE_CONFIG, REPO
from tests.readme_sections import readme_demo_summary

pytestmark = pytest.mark.slow


def test_demo_posts_every_sample_once_and_the_books_pass_bean_check(tmp_path):
    # When the demo runs on the embedded defaults
    report = run_demo(EXAMPLE_CONFIG, EVENTS, state_dir=tmp_path / "demo", port=0)
    # Then it reports no problem and the numbers add up: every webhook source, then one camt.053 file
    assert demo_ok(report) == [], format_report(report)
    # Stripe, Brex, Ramp, HubSpot and SAP Concur answer 202; Adyen and Salesforce their own acknowledgement
    assert report.count(lambda d: d.status == 202) == 41
    # Adyen's three deliveries and Salesforce's two, plus each one's provider retry
    assert report.count(lambda d: d.body.get("ack") in ("[accepted]", "SOAP Ack")) == 7
    assert report.count(lambda d: d.status == 401) == 7           # one forgery per webhook source
    assert [d.body["outcome"] for d in report.bank_files] == ["accepted"]
    # Expensify is polled twice: the second poll reads the high-water mark's day again and accepts nothing new
    assert [(d.body["accepted"], d.body["cursor_after"]) for d in report.polls] == [(2, "2024-05-03"),
                                                                                   (0, "2024-05-03")]
    # the payout credit is applied to the Stripe payout; the bank fee debit matches nothing: one case
    assert [case["reason"] for case in report.exceptions] == ["cash_unmatched"]
    # 60 in the book (13 of them revenue release journals: as of 2026-12-15 every month from March to November
    # 2026 is released in its own period), 2 in gb01's GL file; a subscription change and a meter-event batch
    # are recorded, never posted
    assert report.statuses == {"posted": 62, "ignored": 5, "exception": 1}
    posted = Counter((item["source_id"], item["document_type"]) for item in report.ledger
                     if item["status"] == "posted")
    assert {key: count for key, count in posted.items() if key[0] in ("ramp", "hubspot", "concur", "expensify")
            or key == ("adyen", "payout")} == {
        ("ramp", "card_transaction"): 1,        # transactions.cleared + .ready_to_sync: one transaction
        ("ramp", "expense_report"): 1,          # the reimbursement
        ("ramp", "bill"): 2,                    # bills.approved + .ready_to_sync of one bill, and a second bill
        ("ramp", "reversal"): 1,                # the first bill archived after approval
        ("hubspot", "contract_event"): 1,       # the closed-won deal (its customer is recorded, not posted)
        ("concur", "expense_report"): 2,        # one report: the employee's side and the company card's
        ("expensify", "expense_report"): 3,     # two reports, one of them with card expenses
        ("adyen", "payout"): 2}                 # the settlement details reports of batches 7 and 8
    # the Stripe payouts of March 2022 (11.00 and 18.12) were cleared by their bank lines; the Adyen payouts of
    # batches 7 and 8 (90.00 + 199.00) and the November 2026 Stripe payout (113.26) are still in transit
    assert report.trial_balance[("Assets:US01:Clearing:PayoutsInTransit", "USD")] == Decimal("402.26")
    # the automatic payouts booked Stripe's fees: 0.88 on the 20.00 charge (the vendor's balance transaction) and
    # 4.35 on the EUR charge settled in USD; that EUR left clearing in EUR (128.52 − 20.00 refunded = 108.52);
    # Adyen's captures are sales receipts their payments settle, and batch 8 settled the chargeback: nothing below
    # zero
    assert report.trial_balance[("Expenses:US01:PaymentProcessing:Stripe", "USD")] == Decimal("5.23")
    assert report.trial_balance[("Assets:US01:Clearing:Stripe", "EUR")] == Decimal("0.00")
    assert report.trial_balance[("Assets:US01:AccountsReceivable:Orders", "USD")] == Decimal("0.00")
    assert report.trial_balance[("Assets:US01:Clearing:Adyen", "USD")] == Decimal("0.00")
    (us01, gb01) = report.close_checks
    assert us01.status == "tied" and len(us01.tieouts) == 14, us01.table()
    assert gb01[:2] == ("gb01", "2026-11") and gb01[2].startswith("erp_not_readable")
    # the archived bill reversed in full: only the second bill (425.00) is owed; its vendor is in the book once
    assert report.trial_balance[("Liabilities:US01:AccountsPayable", "USD")] == Decimal("-425.00")
    vendors = sorted((report.book_file.parent / "parties").glob("vendor-*.beancount"))
    assert len(vendors) == 1 and "Northwind Hosting LLC" in vendors[0].read_text()
    assert report.bean_check[0] == 0
    postings = sorted((report.book_file.parent / "postings").glob("*.beancount"))
    assert len(postings) == 60
    # every posting carries its document id and the correlation id of the webhook that caused it
    # the UK company (a Stripe Connect account) routes to the legacy GL file: one import file, trailer ties out
    by_document = {item["document_id"]: item for item in report.ledger}
    assert {item["erp_connection"] for item in report.ledger if item["entity_id"] == "gb01"} == {"legacy-gl"}
    (legacy,) = report.legacy_files
    assert legacy.entity == "gb01" and legacy.problems == [] and legacy.lines == 4
    assert legacy.totals == {"GBP": ("40.00", "40.00")}
    # every posting carries its document id and the correlation id of the webhook that caused it
    for path in postings:
        text = path.read_text()
        document_id = path.stem
        assert f'document_id: "{document_id}"' in text
        assert f'correlation_id: "{by_document[document_id]["correlation_id"]}"' in text
    # and the summary it prints is the README's, line for line (`make readme` rewrites the README from a run)
    assert summary_lines(report, state_label=".ledgerlink/demo") == readme_demo_summary()
    assert "\n".join(summary_lines(report)) in format_report(report)


def _read_until(stream, pattern: str, timeout: float = 60.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            time.sleep(0.05)
            continue
        lines.append(line)
        if re.search(pattern, line):
            return lines
    raise TimeoutError(f"{pattern!r} not printed; got {lines}")


def test_local_up_serves_webhooks_signed_with_the_documented_secret(tmp_path):
    # Given a secrets file of our own, as the README documents
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"stripe": "whsec_readme_example_secret"}))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ledgerlink.cli", "local", "up", "--config", str(EXAMPLE_CONFIG), "--port", "0",
         "--secrets", str(secrets_file), "--state-dir", str(tmp_path / "state")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = _read_until(process.stdout, r"Ctrl-C to stop")
        output = "".join(lines)
        url = re.search(r"POST (http://127\.0\.0\.1:\d+/webhooks/stripe)", output).group(1)
        assert str(secrets_file) in output  # says where the signing secret comes from
        # When someone signs a sample with that secret using the CLI helper, as they would for curl
        sample = EVENTS / "stripe" / "01-invoice.finalized.json"
        header = subprocess.run(
            [sys.executable, "-m", "ledgerlink.cli", "local", "sign", str(sample), "--secrets", str(secrets_file)],
            cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        name, value = header.split(": ", 1)
        request = urllib.request.Request(url, data=sample.read_bytes(), method="POST",
                                         headers={"Content-Type": "application/json", name: value})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            answer = json.loads(response.read())
        # Then it is accepted, and a forged one is not
        assert answer["status"] == "accepted"
        forged = urllib.request.Request(url, data=sample.read_bytes(), method="POST",
                                        headers={"Stripe-Signature": "t=1,v1=00"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=30)  # noqa: S310
        assert refused.value.code == 401
        # And the posting lands in the book
        book = Path(re.search(r"books \(books\): (\S+)", output).group(1))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((book.parent / "postings").glob("*.beancount")):
            time.sleep(0.2)
        assert len(list((book.parent / "postings").glob("*.beancount"))) == 1
        # And the operator commands reach the running stack from another process
        state = ["--state-dir", str(tmp_path / "state")]
        status = json.loads(subprocess.run(
            [sys.executable, "-m", "ledgerlink.cli", "status", "--json", *state], cwd=REPO, capture_output=True,
            text=True, check=True).stdout)
        assert status["queues"]["inbound-dlq"] == {"visible": 0, "in_flight": 0}
        assert status["open_exceptions"] == 0
        assert set(status["happy_path"]) == {"running"}   # the local stack lists its Express executions
        reconciled = subprocess.run(
            [sys.executable, "-m", "ledgerlink.cli", "reconcile", "--date", "2022-03-26", "--json", *state],
            cwd=REPO, capture_output=True, text=True)
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
        report = json.loads(reconciled.stdout)
        assert report["status"] == "balanced" and report["entities"][0]["documents"][0]["posted_count"] == 1
        after = json.loads(subprocess.run(
            [sys.executable, "-m", "ledgerlink.cli", "status", "--json", *state], cwd=REPO, capture_output=True,
            text=True, check=True).stdout)
        assert after["last_reconciliation"]["status"] == "balanced"
        assert subprocess.run([sys.executable, "-m", "ledgerlink.cli", "dlq", "list", "--json", *state], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip() == "[]"
        # And a reviewed configuration change: diff (CI-style exit code), apply (audited), history
        changed = tmp_path / "changed.yaml"
        changed.write_text(EXAMPLE_CONFIG.read_text() + "\ntax_codes:\n  - entity: us01\n    treatment: '*'\n"
                                                          "    tax_code: TAX-STD\n")
        cli = [sys.executable, "-m", "ledgerlink.cli", "config"]
        diff = subprocess.run([*cli, "diff", str(changed), "--json", "--exit-code", *state], cwd=REPO,
                              capture_output=True, text=True)
        assert diff.returncode == 1, diff.stderr
        assert [(c["kind"], c["path"]) for c in json.loads(diff.stdout)["changes"]] == [
            ("added", "tax_codes[entity=us01 treatment=*]")]
        applied = subprocess.run([*cli, "apply", str(changed), "--by", "alice", *state], cwd=REPO,
                                 capture_output=True, text=True, check=True).stdout
        assert "applied by alice" in applied and "1 change(s), 1 added" in applied
        assert subprocess.run([*cli, "diff", str(changed), "--exit-code", *state], cwd=REPO, capture_output=True,
                              text=True).returncode == 0
        history = json.loads(subprocess.run([*cli, "history", "--json", *state], cwd=REPO, capture_output=True,
                                            text=True, check=True).stdout)
        assert [item["applied_by"] for item in history][-1] == "alice"
        assert history[-1]["changes"]["added"] == 1   # an object, not JSON in a string (issue 20)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == 0


def test_cli_reports_a_bad_config_with_file_and_line_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE_CONFIG.read_text().replace("America/New_York", "Mars/Olympus_Mons"))
    result = subprocess.run([sys.executable, "-m", "ledgerlink.cli", "config", "validate", str(bad)],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert f"{bad}:9: entities[0].time_zone: unknown IANA time zone 'Mars/Olympus_Mons'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_demo_waterfall_matches_an_independent_computation(tmp_path):
    from tests import revenue_oracle

    # Given the demo: every sample, among them an annual subscription, its mid-term upgrade (a proration
    # invoice), a partial refund and a metered usage invoice; the release runs twice at the end
    report = run_demo(EXAMPLE_CONFIG, EVENTS, state_dir=tmp_path / "demo", port=0)
    assert demo_ok(report) == [], format_report(report)
    today = DEMO_AS_OF.astimezone(revenue_oracle.NEW_YORK).date()   # the demo runs as of this instant
    released_through = revenue_oracle.month(today.replace(day=1) - timedelta(days=1))
    # When the waterfall is computed again from the raw samples, independently of LedgerLink
    lines = revenue_oracle.demo_lines(["14-invoice.paid.annual-subscription.json",
                                       "16-invoice.paid.upgrade-proration.json", "19-invoice.paid.api-usage.json"],
                                      ["17-charge.refunded.partial.annual.json"])
    expected = revenue_oracle.waterfall(lines, "USD", released_through=released_through)
    got = report.waterfalls["us01"]["currencies"]["USD"]
    # Then billed, recognized, taken out and the closing deferred balance agree period by period
    columns = ("period", "billed", "recognized", "adjusted", "closing_deferred")
    assert [{k: row[k] if k == "period" else Decimal(row[k]).quantize(Decimal("0.01")) for k in columns}
            for row in got["rows"]] == [{k: row[k] for k in columns} for row in expected]
    # and the release posted every month through the latest ended month in its own period, exactly once (the
    # second run posts nothing)
    released = {row["period"]: Decimal(row["released"]) for row in got["rows"] if Decimal(row["released"])}
    assert released == {row["period"]: row["released"] for row in expected if row["released"]}
    assert max(released) == released_through
    assert Decimal(got["deferred_now"]) == revenue_oracle.deferred_after(lines, "USD", released_through)
    # and the book's deferred revenue is what the schedules still defer
    assert report.trial_balance[("Liabilities:US01:DeferredRevenue", "USD")] == -Decimal(got["deferred_now"])
    assert [e["journals_posted"] for e in report.releases[1]["entities"]] == [[], []]


def test_stopping_the_runtime_stops_its_running_executions(tmp_path):
    """moto runs executions on threads that outlive its server: a runtime stopped halfway (a failed check in a
    chaos round) must not leave them to invoke the next runtime's handlers for documents it never saw."""
    from ledgerlink.local.runtime import LocalOptions, LocalRuntime

    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=tmp_path / "state", port=0,
                                        secrets_default_file=tmp_path / "secrets.json"))
    runtime.start()
    try:
        sfn = runtime.client("stepfunctions")
        # a document the ledger never saw, handed over as rejected: its open-exception step keeps failing and
        # the execution keeps retrying it (seconds apart) — still running when the stack stops
        state = {"document_id": "doc_never_registered", "correlation_id": "c-1", "source_id": "stripe",
                 "archive_key": "raw/x", "config_version": 1, "received_at": None, "document": {},
                 "error": {"Error": "DocumentRejected", "Cause": json.dumps({"reason": "period_closed"})}}
        arn = sfn.start_execution(stateMachineArn=runtime.resources.state_machine_arn, name="left-running",
                                  input=json.dumps(state))["executionArn"]
        time.sleep(0.5)
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        assert runtime.stop_executions() == 1
        deadline = time.monotonic() + 30   # the worker notices the stop when its current wait or task ends
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
        assert runtime.stop_executions() == 0
    finally:
        runtime.stop()
