"""`ledgerlink local up --state-dir DIR` keeps its state across restarts (issue 18, item 6; issue 20, item 4): a clean
restart reopens the documents, cases and books it had (the demo's, here); a `kill -9` in the middle of a burst loses
no acknowledged webhook — each one ends posted exactly once; a damaged or foreign state is refused with a reason."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.demo import reconcile_everything, run_bean_check, run_demo
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.local.state import Snapshot, StateDir
from ledgerlink.store.exceptions import DynamoExceptions
from ledgerlink.store.inbox import DynamoInbox
from ledgerlink.store.ledger import DynamoLedger

from tests.conftest import EVENTS, EXAMPLE_CONFIG, REPO

pytestmark = pytest.mark.slow

SECRET = "whsec_state_test"  # noqa: S105 - test fixture


def _files(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _stores(runtime: LocalRuntime) -> tuple[DynamoLedger, DynamoInbox, DynamoExceptions]:
    tables = runtime.resources.tables
    return (DynamoLedger(tables["ledger"], totals_table=tables["totals"]),
            DynamoInbox(tables["inbox"], totals_table=tables["totals"]), DynamoExceptions(tables["exceptions"]))


def test_a_restart_on_the_demo_state_reopens_its_documents_cases_and_books(tmp_path):
    # Given the demo's results, left in its state directory
    state = tmp_path / "demo"
    report = run_demo(EXAMPLE_CONFIG, EVENTS, state_dir=state, port=0)
    statuses = {item["document_id"]: item["status"] for item in report.ledger}
    claims = {item["pk"]: item.get("status") for item in report.inbox}
    open_cases = sorted(case["exception_id"] for case in report.exceptions)
    books = _files(state / "books")
    assert report.idle and Counter(statuses.values())["posted"] > 0 and open_cases   # something to keep
    # When the local stack starts on that directory
    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=state, port=0,
                                        flush_interval_seconds=0, snapshot_every_seconds=0))
    runtime.start()
    try:
        assert runtime.wait_idle(timeout=180)
        ledger, inbox, exceptions = _stores(runtime)
        # Then every document has its status, every event its claim, every open case is still open
        assert {item["document_id"]: item["status"] for item in ledger.scan()} == statuses
        assert {item["pk"]: item.get("status") for item in inbox.scan()} == claims
        assert sorted(case["exception_id"] for case in exceptions.list("open")) == open_cases
        # and the raw archive is there to replay from
        pages = runtime.client("s3").get_paginator("list_objects_v2").paginate(
            Bucket=runtime.resources.archive_bucket, Prefix="raw/")
        archived = {obj["Key"] for page in pages for obj in page.get("Contents", [])}
        assert {item["archive_key"] for item in report.inbox if item.get("archive_key")} <= archived
        assert runtime.recovery.items > 0 and runtime.recovery.objects >= len(archived)
        # nothing was re-driven: the demo stopped with everything done
        assert (runtime.recovery.claimed, runtime.recovery.enqueued, runtime.recovery.restarted) == (0, 0, 0)
    finally:
        runtime.stop()
    # And the books are byte for byte what the demo left
    assert _files(state / "books") == books


def _event(number: int) -> bytes:
    event = json.loads((EVENTS / "stripe" / "01-invoice.finalized.json").read_text())
    event["id"] = f"evt_kill{number:04d}"
    event["data"]["object"]["id"] = f"in_kill{number:04d}"
    return json.dumps(event).encode()


def _local_up(state: Path, secrets_file: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ledgerlink.cli", "local", "up", "--config", str(EXAMPLE_CONFIG), "--port", "0",
         "--secrets", str(secrets_file), "--state-dir", str(state), "--poll-every", "0", *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "POWERTOOLS_LOG_LEVEL": "ERROR"})


def _port(process: subprocess.Popen) -> int:
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if "Ctrl-C to stop" in line:
            return int(re.search(r"POST http://127\.0\.0\.1:(\d+)/webhooks/stripe", "".join(lines)).group(1))
    process.kill()
    raise AssertionError(f"local up did not come up: {''.join(lines)}{process.stderr.read()}")


@pytest.mark.parametrize("snapshot_every", ["1", "3600"], ids=["after-a-snapshot", "before-any-snapshot"])
def test_kill_9_in_the_middle_of_a_burst_loses_no_acknowledged_webhook_and_posts_none_twice(tmp_path, snapshot_every):
    state, secrets_file = tmp_path / "state", tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"stripe": SECRET}))
    events, kill_after = 160, 60
    # Given a stack taking a burst from 8 senders, that snapshots every second (or has not snapshotted yet: then the
    # archive written through to disk is all there is)
    process = _local_up(state, secrets_file, "--snapshot-every", snapshot_every)
    acknowledged: list[str] = []
    lock, enough = threading.Lock(), threading.Event()
    try:
        port = _port(process)

        def send(number: int) -> None:
            body = _event(number)
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request("POST", "/webhooks/stripe", body=body, headers={
                    "Content-Type": "application/json", **signature_header(body, SECRET, int(time.time()))})
                response = connection.getresponse()
                answer = json.loads(response.read() or b"{}")
                if response.status == 202 and answer.get("status") == "accepted":
                    with lock:
                        acknowledged.append(f"evt_kill{number:04d}")
                        if len(acknowledged) >= kill_after:
                            enough.set()
            except (OSError, http.client.HTTPException):
                pass   # the stack was killed before the answer was complete: not counted as acknowledged
            finally:
                connection.close()

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(send, number) for number in range(events)]
            assert enough.wait(timeout=180), f"only {len(acknowledged)} acknowledged"
            deadline = time.monotonic() + (30 if snapshot_every == "1" else 0)
            while not (state / "snapshot.json").exists() and time.monotonic() < deadline:
                time.sleep(0.05)   # a snapshot taken mid-burst: what it missed must be re-driven
            # When the process is killed (no stop, no final snapshot) while webhooks still arrive
            process.kill()
            process.wait(timeout=30)
            for future in futures:
                future.result(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with lock:
        acked = set(acknowledged)
    assert len(acked) >= kill_after
    # And the stack starts again on the same directory
    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=state, port=0, secrets_file=secrets_file,
                                        flush_interval_seconds=0, snapshot_every_seconds=0))
    runtime.start()
    try:
        recovery = runtime.recovery
        assert recovery.restored and bool(recovery.snapshot_taken_at) == (snapshot_every == "1"), recovery.describe()
        if snapshot_every != "1":
            assert recovery.claimed >= len(acked), recovery.describe()
        # something was cut short: claims without their outcome, documents without their posting, or messages
        assert recovery.enqueued + recovery.messages > 0, recovery.describe()
        assert runtime.wait_idle(timeout=600)
        ledger, inbox, exceptions = _stores(runtime)
        documents = ledger.scan()
        ledger_items = [item for item in documents if str(item.get("event_id", "")).startswith("evt_kill")]
        claims = {item["event_id"]: item for item in inbox.scan() if item["event_id"].startswith("evt_kill")}
        cases = exceptions.list("open")
        day_differences = [d for r in reconcile_everything(documents) for d in r.differences]
    finally:
        runtime.stop()
    # Then every acknowledged webhook was processed and its document posted (one document per event); so was any
    # webhook archived before the kill that never got its answer out
    by_event = Counter(item["event_id"] for item in ledger_items)
    assert acked <= set(by_event), sorted(acked - set(by_event))
    # a kill between ingest's claim and its archive write leaves a claim with no body: never acknowledged (the
    # provider delivers it again), which recovery reports instead of re-driving
    never_archived = {line.split("#", 1)[1].split(":", 1)[0] for line in recovery.not_redriven
                      if "claimed but never archived" in line}
    assert not never_archived & acked
    assert set(by_event) == set(claims) - never_archived and all(count == 1 for count in by_event.values())
    assert Counter(item["status"] for item in ledger_items) == {"posted": len(by_event)}, recovery.describe()
    assert {claim["status"] for event_id, claim in claims.items() if event_id not in never_archived} == {"processed"}
    assert cases == []
    # And the book holds exactly one transaction per event, checks clean and reconciles to zero
    book = state / "books" / "main"
    in_book = Counter(match for path in (book / "postings").glob("*.beancount")
                      for match in re.findall(r'event_id: "(evt_kill\d{4})"', path.read_text()))
    assert in_book == dict.fromkeys(by_event, 1)
    assert run_bean_check(book / "main.beancount")[0] == 0
    assert day_differences == []


def _refused(state: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"stripe": SECRET}))
    process = _local_up(state, secrets_file, *extra)
    try:
        _, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, errors


def test_a_damaged_snapshot_is_refused_with_a_reason_not_a_traceback(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    StateDir(state, prefix="ledgerlink-local").write_snapshot(Snapshot(taken_at="2026-12-01T00:00:00+00:00", tables={
        "ledger": [{"document_id": {"S": "doc_1"}, "status": {"S": "posted"}}]}, queues={}))
    path = state / "snapshot.json"
    path.write_bytes(path.read_bytes()[:-7])   # truncated
    code, errors = _refused(state, tmp_path)
    assert code == 2 and "Traceback" not in errors, errors
    assert "reason: snapshot_corrupt" in errors and "--fresh" in errors
    # a file that is no snapshot at all (another program's JSON)
    path.write_text(json.dumps({"tables": []}))
    code, errors = _refused(state, tmp_path)
    assert code == 2 and "Traceback" not in errors and "reason: snapshot_foreign" in errors, errors


def test_a_directory_that_is_not_a_state_directory_is_neither_read_nor_deleted(tmp_path):
    state = tmp_path / "documents"
    state.mkdir()
    (state / "thesis.txt").write_text("not to be deleted")
    for extra in ((), ("--fresh",)):
        code, errors = _refused(state, tmp_path, *extra)
        assert code == 2 and "Traceback" not in errors and "reason: foreign_state_dir" in errors, errors
        assert (state / "thesis.txt").read_text() == "not to be deleted"


def test_an_object_of_another_stack_stops_the_start_with_a_reason(tmp_path):
    # found only once moto runs (objects are loaded into it): the start undoes what it began and says why
    state = tmp_path / "state"
    state.mkdir()
    StateDir(state, prefix="ledgerlink-local").write_object("someone-elses-archive", "raw/x.json", b"{}", {})
    code, errors = _refused(state, tmp_path)
    assert code == 2 and "Traceback" not in errors and "reason: object_foreign" in errors, errors
