"""Chaos on the local stack: duplicates, out-of-order delivery, crashes before and after the ERP call,
SQS redelivery, a poisoned message parked in the DLQ and redriven, and a replay of the whole day; then every
source kind at once under ERP faults (503, 429, timeouts, committed-then-dropped) and throttled DynamoDB writes.

Afterwards every source document is posted exactly once, the book passes bean-check, reconciliation
shows zero difference on every day, and every accepted event's raw body is in the archive.
Seeded and bounded; `make chaos` runs a longer version (CHAOS_ROUNDS).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from datetime import date
from typing import Any

import botocore.endpoint
import pytest

from ledgerlink import wiring
from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.demo import post, reconcile_everything, run_bean_check
from ledgerlink.local.faults import DynamoThrottles, ErpFaults, decide
from ledgerlink.local.functions import FunctionError, LambdaCrash
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.ops.dlq import DlqTool
from ledgerlink.ops.replay import Replayer
from ledgerlink.service import posting
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


def assert_books_exact_and_reconciled(runtime: LocalRuntime, documents: list[dict[str, Any]],
                                      postings: list[str]) -> None:
    """One book file per posted document of the book's connection, bean-check clean, every day reconciled to zero."""
    assert postings == sorted(f"{d['document_id']}.beancount" for d in documents
                              if d["status"] == "posted" and d.get("erp_connection") == "books")
    code, output = run_bean_check(runtime.book_main_file("books"))
    assert code == 0, output
    wiring.reset()
    reports = reconcile_everything(documents)
    assert [(r.business_date, d.kind, d.detail) for r in reports for d in r.differences] == []


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
        assert_books_exact_and_reconciled(runtime, documents, postings)
        for claim in inbox.scan():
            assert claim["status"] == "processed"
            assert archive.get(claim["archive_key"])  # the raw body is there
        assert chaos.crashes, "the chaos plan should have injected crashes"
        assert died_after_write, "at least one ERP write should have been followed by a crash"
    finally:
        runtime.stop()


# ---- mixed sources under ERP faults and throttled DynamoDB writes ---------------------------------------------

THROTTLE_NAMES = ("ProvisionedThroughputExceededException", "ThrottlingException", "TransactionCanceledException")
# moto really sleeps the ASL's retry intervals (RateLimited: 30 s × 1.5^n) and botocore its retry backoff
# (up to 20 s): both compressed, so a throttled run keeps its order of events and takes a fraction of the time
RETRY_WAIT_SCALE = 0.03


class _ScaledTime:
    """``time`` for moto's retrier and botocore's endpoint: same order and backoff shape, less wall time."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds * RETRY_WAIT_SCALE)


def _mixed_deliveries(runtime: LocalRuntime, rng: random.Random) -> list[tuple[str, bytes, dict[str, str], str]]:
    """Every webhook sample of every source, signed as its provider signs, plus provider retries, shuffled."""
    from ledgerlink.connectors.sources import WEBHOOK_KINDS
    from ledgerlink.local.signers import sign

    assert runtime.config is not None
    deliveries = []
    for source in runtime.config.sources:
        if source.kind not in WEBHOOK_KINDS:
            continue
        url = runtime.webhook_url(source.id)
        for sample in sorted(p for p in (EVENTS / source.id).glob("*") if p.suffix in (".json", ".xml")):
            signed = sign(source.kind, sample.read_bytes(), runtime.secrets[source.id].values[0], url=url)
            deliveries.append((url + signed.url_suffix, signed.body, signed.headers, signed.content_type))
    retries = rng.sample(deliveries, k=len(deliveries) // 4)   # the provider did not see our 2xx in time
    mixed = deliveries + retries
    rng.shuffle(mixed)
    return mixed


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_mixed_sources_under_erp_faults_and_throttled_dynamodb_post_once_or_open_a_case(tmp_path, monkeypatch,
                                                                                        round_):
    _mixed_sources_under_faults(tmp_path, monkeypatch, seed=SEED + 1000 + round_, replay="day")


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_mixed_sources_then_each_case_replayed_on_its_own_post_once(tmp_path, monkeypatch, round_):
    """The same incident, finished the way an operator works the queue: every open case and every event left
    unprocessed replayed one by one — several of them from the same archived batch (an Adyen notification
    carries many events, a bank statement many lines), so the same event can be in flight twice at once."""
    _mixed_sources_under_faults(tmp_path, monkeypatch, seed=SEED + 2000 + round_, replay="each")


def _mixed_sources_under_faults(tmp_path: Any, monkeypatch: Any, *, seed: int, replay: str) -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    from ledgerlink.store.exceptions import DynamoExceptions

    rng = random.Random(seed)
    chaos = Chaos(seed)
    chaos.poisoned = False
    erp = ErpFaults(seed, probability=0.35)
    throttles = DynamoThrottles(seed, probability=0.12)
    monkeypatch.setattr(retrier_decl, "time", _ScaledTime)
    monkeypatch.setattr(botocore.endpoint, "time", _ScaledTime)   # the SDK's retry backoff, likewise
    # and the post step's lease, which the PostingInProgress retries wait out: a lease left behind by a throttled
    # release runs out within the compressed retries, as the real one does within the real ones
    monkeypatch.setattr(posting, "POST_LEASE_SECONDS", max(1, round(posting.POST_LEASE_SECONDS * RETRY_WAIT_SCALE)))
    monkeypatch.setattr(FileBookStore, "create", erp.wrap(FileBookStore.create))
    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=tmp_path / "state", port=0,
                                        visibility_timeout_seconds=2, max_receive_count=4, batch_size=3,
                                        faults=chaos, secrets_default_file=tmp_path / "secrets.json",
                                        flush_interval_seconds=0))
    runtime.start()
    try:
        clients.client("dynamodb").meta.events.register("before-send", throttles)
        throttles.on = True
        accepted: Counter[int] = Counter()
        for url, body, headers, content_type in _mixed_deliveries(runtime, rng):
            for _ in range(6):   # a 503 (storage throttled past the SDK's retries) is retried, as providers do
                status, answer = post(url, body, headers, content_type)
                if status != 503:
                    break
                assert answer.get("reason") == "temporarily_unavailable", answer
                time.sleep(0.2)
            assert status in (200, 202), (url, status, answer)
            accepted[status] += 1
        polled = []
        for source in runtime.config.sources:   # the sources without webhooks: what the schedule does
            if source.kind == "expensify":
                for _ in range(6):   # a failed scheduled run is retried, as EventBridge Scheduler does (185 times by default)
                    try:
                        polled.append(runtime.poll(source.id))
                        break
                    except FunctionError:
                        time.sleep(0.2)
                assert polled, "the poll kept failing after its retries"
        assert runtime.wait_idle(timeout=240)
        statement = next((EVENTS / "bank").glob("*.xml"))   # after its payouts and invoices are registered
        outcomes = []
        for _ in range(3):   # the S3 event's asynchronous invocation: Lambda retries a failed one twice
            try:
                outcomes.append(runtime.drop_bank_file("bank", statement.name, statement.read_bytes())["files"][0])
                break
            except FunctionError:
                time.sleep(0.2)
        assert [file["outcome"] for file in outcomes] == ["accepted"]
        assert runtime.wait_idle(timeout=240)

        # the incident is over: a replay of the day from the archive finishes what was left (cases opened by
        # exhausted transient retries, events accepted but never processed) and posts nothing twice
        throttles.on = False
        tables = runtime.resources.tables
        ledger = DynamoLedger(tables["ledger"], totals_table=tables["totals"])
        inbox = DynamoInbox(tables["inbox"], totals_table=tables["totals"])
        archive = S3Archive(runtime.resources.archive_bucket)
        postings_dir = runtime.books_dir / "main" / "postings"
        before_replay = sorted(p.name for p in postings_dir.glob("*.beancount"))
        exceptions = DynamoExceptions(tables["exceptions"])
        replayer = Replayer(config=DynamoConfigStore(tables["config"]).active, archive=archive, ledger=ledger,
                            inbox=inbox, queue=SqsQueue(runtime.resources.inbound_queue_url))
        in_exception = {d["document_id"] for d in ledger.scan() if d["status"] == "exception"}
        for case in exceptions.list("open"):
            # Known gap (docs/decisions.md D70): a DynamoDB throttle that outlasts the SDK's retries inside a task
            # Lambda surfaces as its modeled error name, which the ASL's retry lists do not name ("ClientError" is
            # never an errorType), so the execution opens a case instead of retrying. Nothing else may be unexpected.
            if case["reason"] == "unexpected_error":
                assert any(code in case["message"] for code in THROTTLE_NAMES), (case, ledger.get(case["document_id"]))
        # an event whose claim was left pending (its release was throttled too, D69) is named by reconciliation
        # ("event_not_processed") until the provider's retry after the lease, or a replay, completes it
        never_processed = [claim for claim in inbox.scan() if claim["status"] == "pending"]
        today = date.fromisoformat(time.strftime("%Y-%m-%d", time.gmtime()))
        if replay == "day":
            assert replayer.execute(replayer.plan_range(today, today)) > 0
        else:
            plans = [replayer.plan_document(document_id) for document_id in sorted(in_exception)]
            plans += [replayer.plan_event(claim["source"], claim["archive_key"], claim["event_id"])
                      for claim in never_processed]
            for plan in plans:   # an operator who clicks twice: the same event is in flight twice at once
                assert replayer.execute(plan) == replayer.execute(plan) == len(plan.messages)
        assert runtime.wait_idle(timeout=240)

        # Then: every document posted exactly once, or an open case with a reason, or ignored with a reason
        documents = ledger.scan()
        postings = sorted(p.name for p in postings_dir.glob("*.beancount"))
        claims = inbox.scan()
        pending_keys = {claim["pk"] for claim in never_processed}
        completed = {doc for claim in claims if claim["pk"] in pending_keys for doc in claim.get("document_ids", [])}
        # the replay posted nothing that had posted: only documents that were exception cases (D36) or whose event
        # had been accepted and never processed
        assert set(before_replay) <= set(postings)
        assert {name.removesuffix(".beancount") for name in set(postings) - set(before_replay)} <= \
            in_exception | completed
        cases = {case["exception_id"]: case for case in exceptions.list("open")}
        for document in documents:
            status = document["status"]
            assert status in ("posted", "exception", "ignored"), document   # nothing stuck in flight
            if status == "exception":
                case = cases.get(document["exception_id"])
                assert case is not None and case["reason"] not in ("", "unexpected_error"), (document, case)
            if status == "ignored":
                assert document.get("ignored_reason"), document
        assert_books_exact_and_reconciled(runtime, documents, postings)
        assert len(claims) >= accepted[202]
        for claim in claims:   # nothing accepted is missing from the raw archive, and every event was processed
            assert claim["status"] == "processed", claim
            assert archive.get(claim["archive_key"])
        kinds = {document["source_id"] for document in documents}
        assert {"stripe", "brex", "adyen", "salesforce", "ramp", "hubspot", "concur", "expensify", "bank"} <= kinds
        assert all(erp.injected[kind] for kind in ErpFaults.KINDS), erp.injected
        assert sum(throttles.injected.values()) >= 10, throttles.injected
        assert any(key.endswith("TransactionCanceledException") for key in throttles.injected), throttles.injected
    finally:
        throttles.on = False
        runtime.stop()
