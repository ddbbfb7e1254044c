"""Chaos on the local stack: duplicates, out-of-order delivery, crashes before and after the ERP call,
SQS redelivery, a poisoned message parked in the DLQ and redriven, and a replay of the whole day.

Afterwards every source document is posted exactly once, the book passes bean-check, reconciliation
shows zero difference on every day, and every accepted event's raw body is in the archive.
Seeded and bounded; `make chaos` runs a longer version (CHAOS_ROUNDS).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
import time
from datetime import date
from typing import Any

import pytest

from ledgerlink import wiring
from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.demo import post, reconcile_everything, run_bean_check
from ledgerlink.local.functions import LambdaCrash
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.ops.dlq import DlqTool
from ledgerlink.ops.replay import Replayer
from ledgerlink.store import clients
from ledgerlink.store.archive import S3Archive
from ledgerlink.store.books import FileBookStore
from ledgerlink.store.config_store import DynamoConfigStore
from ledgerlink.store.inbox import DynamoInbox
from ledgerlink.store.ledger import DynamoLedger
from ledgerlink.store.queue import SqsQueue

from tests.conftest import EVENTS, EXAMPLE_CONFIG

pytestmark = pytest.mark.slow
SEED = int(os.environ.get("CHAOS_SEED", "20261124"))
ROUNDS = int(os.environ.get("CHAOS_ROUNDS", "1"))
POISON = "evt_1KjpyLedgerLinkInvFinal1"  # the JPY invoice: its normalize fails until the DLQ has it


def decide(seed: int, key: str, probability: float) -> bool:
    """A seeded coin per key: the same run makes the same decisions whatever the thread interleaving."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < probability


class Chaos:
    """Crash normalize before/after its work on first deliveries, crash post before and after the ERP
    write, and poison one event until it is parked in the DLQ."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.seen: set[str] = set()
        self.poisoned = True
        self.crashes: dict[str, int] = {}
        self._lock = threading.Lock()

    def _first_time(self, key: str, probability: float) -> bool:
        with self._lock:
            if key in self.seen:
                return False
            self.seen.add(key)
        return decide(self.seed, key, probability)

    def _crash(self, where: str) -> None:
        self.crashes[where] = self.crashes.get(where, 0) + 1
        raise LambdaCrash(f"chaos: crash {where}")

    def before(self, name: str, event: Any) -> None:
        if name == "normalize":
            ids = [json.loads(r["body"]).get("event_id") for r in event["Records"]]
            if self.poisoned and POISON in ids:
                self._crash("normalize (poisoned batch)")
            if self._first_time("normalize-before:" + ",".join(sorted(map(str, ids))), 0.3):
                self._crash("before normalize")
        if name == "post" and self._first_time("post-before:" + event["document_id"], 0.3):
            self._crash("before post")

    def after(self, name: str, event: Any, result: Any) -> None:
        if name == "normalize":
            ids = [json.loads(r["body"]).get("event_id") for r in event["Records"]]
            if self._first_time("normalize-after:" + ",".join(sorted(map(str, ids))), 0.3):
                self._crash("after normalize")
        if name == "post" and self._first_time("post-after:" + event["document_id"], 0.3):
            self._crash("after post (result lost)")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_chaos_run_posts_everything_exactly_once_and_reconciles_to_zero(tmp_path, monkeypatch, round_):
    seed = SEED + round_
    rng = random.Random(seed)
    chaos = Chaos(seed)
    # the ERP write itself succeeds, then the process dies: only the external-id lookup prevents a repost
    original_create = FileBookStore.create
    died_after_write: set[str] = set()
    lock = threading.Lock()

    def create_then_die(self, name, text):
        created = original_create(self, name, text)
        with lock:  # the first posting always, then a seeded 30 %
            die = name not in died_after_write and (not died_after_write or decide(seed, "erp:" + name, 0.3))
            if die:
                died_after_write.add(name)
        if die:
            raise LambdaCrash("chaos: crash right after the ERP call")
        return created

    monkeypatch.setattr(FileBookStore, "create", create_then_die)
    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=tmp_path / "state", port=0,
                                        visibility_timeout_seconds=2, max_receive_count=3, batch_size=3,
                                        faults=chaos, secrets_default_file=tmp_path / "secrets.json"))
    runtime.start()
    try:
        url, secret = runtime.webhook_url("stripe"), runtime.secrets["stripe"].values[0]
        samples = sorted((EVENTS / "stripe").glob("*.json"))
        deliveries = samples + rng.sample(samples, k=4)          # provider retries of the same events
        rng.shuffle(deliveries)                                   # out of order
        answers = []
        for sample in deliveries:
            body = sample.read_bytes()
            answers.append(post(url, body, signature_header(body, secret, int(time.time())))[0])
        assert sorted(set(answers)) == [200, 202] and answers.count(202) == len(samples)

        # the poisoned event ends in the DLQ; then the cause is fixed and the DLQ redriven
        tables = runtime.resources.tables
        dlq = DlqTool(clients.client("sqs"), dlq_url=runtime.resources.inbound_dlq_url,
                      source_url=runtime.resources.inbound_queue_url)
        deadline = time.monotonic() + 90
        while dlq.depth() == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert dlq.depth() >= 1, "the poisoned message should have been parked in the DLQ"
        assert runtime.wait_idle(timeout=120)
        chaos.poisoned = False
        assert dlq.redrive().moved >= 1
        assert runtime.wait_idle(timeout=120)

        # and the whole day is replayed from the archive, which must change nothing
        ledger = DynamoLedger(tables["ledger"], totals_table=tables["totals"])
        inbox = DynamoInbox(tables["inbox"], totals_table=tables["totals"])
        archive = S3Archive(runtime.resources.archive_bucket)
        replayer = Replayer(config=DynamoConfigStore(tables["config"]).active, archive=archive, ledger=ledger,
                            inbox=inbox, queue=SqsQueue(runtime.resources.inbound_queue_url))
        today = date.fromisoformat(time.strftime("%Y-%m-%d", time.gmtime()))
        before_replay = sorted(p.name for p in (runtime.books_dir / "main" / "postings").glob("*.beancount"))
        assert replayer.execute(replayer.plan_range(today, today)) == len(samples)
        assert runtime.wait_idle(timeout=120)

        # Then: exactly once, balanced, reconciled, nothing missing from the archive
        documents = ledger.scan()
        postings = sorted(p.name for p in (runtime.books_dir / "main" / "postings").glob("*.beancount"))
        assert postings == before_replay
        statuses = {d["document_id"]: d["status"] for d in documents}
        assert set(statuses.values()) <= {"posted", "ignored"}, statuses          # no exception, nothing stuck
        assert all(d.get("ignored_reason") == "no_posting_rule" for d in documents if d["status"] == "ignored")
        # (gb01 posts to the legacy GL file, not the book)
        assert postings == sorted(f"{d['document_id']}.beancount" for d in documents
                                  if d["status"] == "posted" and d.get("erp_connection") == "books")
        code, output = run_bean_check(runtime.book_main_file("books"))
        assert code == 0, output
        wiring.reset()
        reports = reconcile_everything(documents)
        assert [(r.business_date, d.kind, d.detail) for r in reports for d in r.differences] == []
        for claim in inbox.scan():
            assert claim["status"] == "processed"
            assert archive.get(claim["archive_key"])  # the raw body is there
        assert chaos.crashes, "the chaos plan should have injected crashes"
        assert died_after_write, "at least one ERP write should have been followed by a crash"
    finally:
        runtime.stop()
