"""`ledgerlink local up --faults` (issue 18, item 7): an operator rehearses incidents on a running local stack —
ERP write faults (503, 429, timeouts, committed-then-dropped) and throttled DynamoDB writes at given rates — and
the stack still ends with every accepted event posted once, ignored with a reason, or an open case."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from ledgerlink.cli import build_parser
from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.demo import post, run_bean_check
from ledgerlink.local.faults import FaultPlan, FaultSpecError, parse_faults
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.store.books import FileBookStore
from ledgerlink.store.ledger import DynamoLedger

from tests.conftest import EVENTS, EXAMPLE_CONFIG

SAMPLES = ("01-invoice.finalized.json", "02-invoice.paid.json", "06-invoice.paid.current-api.json",
           "07-invoice.finalized.jpy.json", "13-invoice.paid.connect-uk.json", "14-invoice.paid.annual-subscription.json")


def test_the_faults_option_is_read_strictly():
    assert parse_faults("erp=0.2,throttle=0.05", seed=3) == FaultPlan(erp=0.2, throttle=0.05, seed=3)
    for bad in ("erp", "erp=2", "disk=0.1", "erp=x", ""):
        with pytest.raises(FaultSpecError):
            parse_faults(bad)
    args = build_parser().parse_args(["local", "up", "--faults", "throttle=0.1", "--faults-seed", "9"])
    assert args.faults == FaultPlan(throttle=0.1) and args.faults_seed == 9
    with pytest.raises(SystemExit) as refused:   # a usage error (exit 2), not a traceback
        build_parser().parse_args(["local", "up", "--faults", "erp=1.5"])
    assert refused.value.code == 2


def test_a_stack_running_with_faults_posts_every_event_once(tmp_path):
    plan = FaultPlan(erp=0.6, throttle=0.05, seed=11)
    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=tmp_path / "state", port=0,
                                        visibility_timeout_seconds=2, max_receive_count=6,
                                        secrets_default_file=tmp_path / "secrets.json", flush_interval_seconds=0,
                                        injected_faults=plan))
    runtime.start()
    try:
        assert runtime.injected is not None and "create" in FileBookStore.__dict__   # the ERP seam is wrapped
        url, secret = runtime.webhook_url("stripe"), runtime.secrets["stripe"].values[0]
        statuses = Counter()
        for name in SAMPLES:
            body = (EVENTS / "stripe" / name).read_bytes()
            for _ in range(4):   # a 503 (storage throttled past the SDK's retries) is retried, as providers do
                status, _ = post(url, body, signature_header(body, secret, int(time.time())))
                if status != 503:
                    break
            statuses[status] += 1
        assert statuses[202] == len(SAMPLES), statuses
        assert runtime.wait_idle(timeout=240)
        injected = runtime.injected.injected()
        assert sum(n for kind, n in injected.items() if kind.startswith("erp:")) > 0, injected
        tables = runtime.resources.tables
        documents = DynamoLedger(tables["ledger"], totals_table=tables["totals"]).scan()
        assert {d["status"] for d in documents} <= {"posted", "exception", "ignored"}, documents
        # one book file per posted document of the book's connection — a committed-then-dropped write included
        postings = sorted(p.name for p in (runtime.books_dir / "main" / "postings").glob("*.beancount"))
        assert postings and postings == sorted(f"{d['document_id']}.beancount" for d in documents
                                               if d["status"] == "posted" and d.get("erp_connection") == "books")
        code, output = run_bean_check(runtime.book_main_file("books"))
        assert code == 0, output
    finally:
        runtime.stop()
    assert "create" not in FileBookStore.__dict__   # removed with the stack
