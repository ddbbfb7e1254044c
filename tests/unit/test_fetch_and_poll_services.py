"""The fetch step (normalize) and the poll service with small typed fakes: what is fetched, archived, replayed;
the high-water mark across duplicates, crashes between claim and enqueue, and overlapping runs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ledgerlink.connectors.sources.api import PolledEvent
from ledgerlink.connectors.sources.http import HttpResponse, SourceApiError, SourceApiUnavailable
from ledgerlink.errors import NormalizationError
from ledgerlink.service.fetch import SourceFetcher
from ledgerlink.service.normalize import NormalizeService
from ledgerlink.service.poll import PollService
from ledgerlink.store.archive import fetched_key
from ledgerlink.store.inbox import Claim

from tests.conftest import EVENTS
from tests.unit.test_normalize_service import FakeConfig, FakeExceptions, FakeInbox, FakeLedger, FakeWorkflow

TXN = "3aa9eed1-c793-4b52-a502-e7f2a7e4c1b2"
ARCHIVE_KEY = "raw/ramp/2024/05/03/a461a658-8d78-4e66-b1fd-9c818bcfea6b.json"
EVENT_ID = "a461a658-8d78-4e66-b1fd-9c818bcfea6b"


@dataclass
class FakeHttp:
    """Ramp's token and transaction endpoints, with failures to inject."""

    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_with: int | None = None

    def request(self, method: str, url: str, *, headers: Any = None, body: bytes | None = None,
                timeout: float = 10.0) -> HttpResponse:
        self.calls.append((method, url))
        if url.endswith("/developer/v1/token"):
            return HttpResponse(200, json.dumps({"access_token": "t1", "expires_in": 3600}).encode())
        if self.fail_with:
            return HttpResponse(self.fail_with, b"{}")
        assert headers["Authorization"] == "Bearer t1"
        return HttpResponse(200, (EVENTS / "ramp" / "api" / "transactions" / f"{TXN}.json").read_bytes())


@dataclass
class FakeArchive:
    objects: dict[str, bytes] = field(default_factory=dict)

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def put(self, key: str, body: bytes, *, correlation_id: str, source: str, event_id: str) -> None:
        self.objects[key] = body


@dataclass
class FakeCredentials:
    values: dict[str, dict[str, Any]] = field(default_factory=lambda: {
        "ledgerlink/ramp/api-client": {"client_id": "id", "client_secret": "secret"}})
    forgotten: list[str] = field(default_factory=list)

    def get_json(self, secret_id: str) -> dict[str, Any]:
        return self.values.get(secret_id, {})

    def forget(self, secret_id: str) -> None:
        self.forgotten.append(secret_id)


def notification() -> dict[str, Any]:
    return json.loads((EVENTS / "ramp" / "01-transactions.cleared.json").read_text())


def fetcher(http: FakeHttp | None = None, archive: FakeArchive | None = None,
            credentials: FakeCredentials | None = None) -> tuple[SourceFetcher, FakeHttp, FakeArchive, FakeCredentials]:
    http, archive, credentials = http or FakeHttp(), archive or FakeArchive(), credentials or FakeCredentials()
    return SourceFetcher(credentials=credentials, archive=archive, http=http), http, archive, credentials


# ---- fetch ------------------------------------------------------------------------------------------

def test_fetch_archives_what_it_read_next_to_the_notification_and_reuses_the_session(example_config) -> None:
    service, http, archive, _ = fetcher()
    source = example_config.source("ramp")
    expanded = service.expand("ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID,
                              correlation_id="c1")
    assert json.loads(expanded["fetched"]["transaction"])["id"] == TXN
    key = fetched_key(ARCHIVE_KEY, EVENT_ID)
    assert key == f"fetched/ramp/2024/05/03/{EVENT_ID}/{EVENT_ID}.json"
    assert json.loads(archive.objects[key]) == expanded["fetched"]
    service.expand("ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID, correlation_id="c2")
    assert [url.rsplit("/", 1)[-1] for _, url in http.calls] == ["token", TXN, TXN]  # one token for both


def test_a_replay_reads_the_archived_object_instead_of_calling_the_api(example_config) -> None:
    service, http, archive, _ = fetcher()
    source = example_config.source("ramp")
    first = service.expand("ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID,
                           correlation_id="c1")
    calls = len(http.calls)
    replayed = service.expand("ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID,
                              correlation_id="replay-1", replay=True)
    assert replayed == first and len(http.calls) == calls
    archive.objects.clear()  # nothing archived (the first run crashed before): the replay fetches
    service.expand("ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID,
                   correlation_id="replay-2", replay=True)
    assert len(http.calls) == calls + 1


def test_events_that_need_no_object_cost_no_api_call_and_sources_without_an_api_pass_through(example_config) -> None:
    service, http, _, _ = fetcher()
    authorized = json.loads((EVENTS / "ramp" / "04-transactions.authorized.json").read_text())
    assert service.expand("ramp", example_config.source("ramp"), authorized, archive_key=ARCHIVE_KEY,
                          event_id="e", correlation_id="c") == {"notification": authorized, "fetched": None}
    # Stripe reads its API for automatic payouts only: any other event costs no call
    stripe_event = {"id": "evt_1", "type": "invoice.paid"}
    assert service.expand("stripe", example_config.source("stripe"), stripe_event, archive_key="raw/x",
                          event_id="evt_1", correlation_id="c") == {"notification": stripe_event, "fetched": None}
    brex_event = {"id": "evt_2", "type": "EXPENSE_PAYMENT_UPDATED"}   # a source kind without an API passes through
    assert service.expand("brex", example_config.source("brex"), brex_event, archive_key="raw/y",
                          event_id="evt_2", correlation_id="c") is brex_event
    assert http.calls == []


def test_a_notification_the_connector_cannot_read_is_a_case_not_a_retry(example_config) -> None:
    # Ramp's type as a list: `type in FETCHED` raised TypeError, which SQS would retry into the DLQ with no case
    service, http, _, _ = fetcher()
    odd = {**notification(), "type": ["transactions.cleared"]}
    with pytest.raises(NormalizationError) as caught:
        service.expand("ramp", example_config.source("ramp"), odd, archive_key=ARCHIVE_KEY, event_id=EVENT_ID,
                       correlation_id="c")
    assert caught.value.reason == "normalization_failed" and caught.value.detail["error_type"] == "TypeError"
    assert caught.value.detail["at"].startswith("connectors/sources/ramp/api.py:")
    assert http.calls == []


def test_unavailable_apis_are_retried_and_refused_credentials_are_read_again(example_config) -> None:
    service, http, archive, credentials = fetcher(FakeHttp(fail_with=503))
    source = example_config.source("ramp")
    with pytest.raises(SourceApiUnavailable):  # a TransientError: SQS redelivers the message
        service.expand("ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID, correlation_id="c")
    http.fail_with = 403
    with pytest.raises(SourceApiError) as caught:  # a NormalizationError: an exception case with the archive key
        service.expand("ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID, correlation_id="c")
    assert caught.value.reason == "source_api_unauthorized"
    assert credentials.forgotten == ["ledgerlink/ramp/api-client"] and archive.objects == {}
    with pytest.raises(SourceApiError) as missing:
        fetcher(credentials=FakeCredentials(values={}))[0].expand(
            "ramp", source, notification(), archive_key=ARCHIVE_KEY, event_id=EVENT_ID, correlation_id="c")
    assert missing.value.reason == "source_api_credentials_missing"


def test_normalize_turns_a_thin_ramp_notification_into_a_posted_card_transaction(example_config) -> None:
    service, _, archive, _ = fetcher()
    ledger, workflow, exceptions = FakeLedger(), FakeWorkflow(), FakeExceptions()
    normalize = NormalizeService(config=FakeConfig(1, example_config), archive=archive, inbox=FakeInbox(),
                                 ledger=ledger, exceptions=exceptions, workflow=workflow, fetcher=service)
    message = {"source": "ramp", "kind": "ramp", "event_id": EVENT_ID, "correlation_id": "c1",
               "archive_key": ARCHIVE_KEY, "body": json.dumps(notification())}
    outcome = normalize.process(message)
    assert outcome.outcome == "normalized" and len(outcome.started) == 1
    (record,) = ledger.items.values()
    assert (record["document_type"], record["amount"], record["currency"]) == ("card_transaction", "90.00", "USD")
    # a refused credential becomes an exception case naming the archived notification
    refused, _, _, _ = fetcher(FakeHttp(fail_with=401))
    failing = NormalizeService(config=FakeConfig(1, example_config), archive=FakeArchive(), inbox=FakeInbox(),
                               ledger=FakeLedger(), exceptions=exceptions, workflow=FakeWorkflow(), fetcher=refused)
    assert failing.process(message).outcome == "exception"
    assert exceptions.opened[-1]["reason"] == "source_api_unauthorized"
    assert exceptions.opened[-1]["archive_key"] == ARCHIVE_KEY


# ---- poll ---------------------------------------------------------------------------------------------

LEASE = 120


@dataclass
class LeaseInbox:
    """DynamoInbox's claim semantics: new, duplicate, or a pending claim taken over after its lease."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def claim(self, source: str, event_id: str, *, correlation_id: str, archive_key: str, event_type: str,
              now: float | None = None) -> Claim:
        now = now or 0.0
        item = self.items.get(event_id)
        if item is None or (item["status"] == "pending" and item["claimed_at"] < now - LEASE):
            self.items[event_id] = {"status": "pending", "claimed_at": now,
                                    "archive_key": item["archive_key"] if item else archive_key}
            return Claim(True, self.items[event_id]["archive_key"], correlation_id, "pending", "2024-05-03")
        return Claim(False, item["archive_key"], "earlier", item["status"], "2024-05-03")

    def process_all(self) -> None:
        for item in self.items.values():
            item["status"] = "processed"


@dataclass
class FakeQueue:
    sent: list[dict[str, Any]] = field(default_factory=list)
    crash_after: int | None = None

    def send(self, message: dict[str, Any], *, correlation_id: str) -> str:
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            raise ConnectionError("the Lambda died")
        self.sent.append(message)
        return f"m{len(self.sent)}"


@dataclass
class FakeCursors:
    positions: dict[str, str] = field(default_factory=dict)
    crash: bool = False

    def get(self, source: str) -> str | None:
        return self.positions.get(source)

    def advance(self, source: str, position: str, *, correlation_id: str, now: float | None = None) -> bool:
        if self.crash:
            raise ConnectionError("the Lambda died before the mark was written")
        if source in self.positions and self.positions[source] >= position:
            return False
        self.positions[source] = position
        return True


@dataclass
class FakeVendor:
    """Expensify's export as the connector sees it: every item approved after the requested date."""

    items: list[PolledEvent] = field(default_factory=list)
    asked: list[str | None] = field(default_factory=list)

    def export(self, cursor: str | None) -> list[PolledEvent]:
        self.asked.append(cursor)
        after = cursor or "0000-00-00"  # overlap of one day: the mark's own day is read again
        return [item for item in self.items if not item.position or item.position >= after]


class Clock:
    def __init__(self) -> None:
        self.now = 1_714_800_000.0

    def __call__(self) -> float:
        return self.now


def item(report: str, day: str) -> PolledEvent:
    return PolledEvent(event_id=f"{report}:{day}T10:00:00", event_type="report.approved",
                       body=json.dumps({"reportID": report}).encode(), position=day)


def poller(example_config, monkeypatch, vendor: FakeVendor, **parts: Any) -> tuple[PollService, dict[str, Any]]:
    from ledgerlink.connectors.sources.expensify import api as expensify_api

    monkeypatch.setattr(expensify_api, "poll", lambda source, session, cursor: vendor.export(cursor))
    deps = {"inbox": LeaseInbox(), "archive": FakeArchive(), "queue": FakeQueue(), "cursors": FakeCursors(),
            "clock": Clock(), **parts}

    class Sessions:
        def session(self, kind: str, source: Any) -> object:
            return object()

    service = PollService(config=lambda: (1, example_config), sessions=Sessions(), inbox=deps["inbox"],
                          archive=deps["archive"], queue=deps["queue"], cursors=deps["cursors"], clock=deps["clock"])
    return service, deps


def test_a_poll_claims_archives_and_enqueues_then_moves_the_mark_and_the_next_poll_reads_nothing_twice(
        example_config, monkeypatch) -> None:
    vendor = FakeVendor([item("R1", "2024-05-02"), item("R2", "2024-05-03")])
    service, deps = poller(example_config, monkeypatch, vendor)
    first = service.run("expensify", correlation_id="run-1")
    assert (first.accepted, first.duplicates, first.cursor_after) == (2, 0, "2024-05-03")
    assert [m["event_id"] for m in deps["queue"].sent] == ["R1:2024-05-02T10:00:00", "R2:2024-05-03T10:00:00"]
    message = deps["queue"].sent[0]
    assert deps["archive"].objects[message["archive_key"]] == message["body"].encode()
    deps["inbox"].process_all()
    vendor.items.append(item("R3", "2024-05-03"))  # approved later on the mark's own day: not skipped
    second = service.run("expensify", correlation_id="run-2")
    assert vendor.asked == [None, "2024-05-03"]
    assert (second.accepted, second.duplicates, second.cursor_after) == (1, 1, "2024-05-03")
    assert len(deps["queue"].sent) == 3


def test_a_crash_after_enqueueing_but_before_the_mark_costs_only_a_reread(example_config, monkeypatch) -> None:
    vendor = FakeVendor([item("R1", "2024-05-02"), item("R2", "2024-05-03")])
    service, deps = poller(example_config, monkeypatch, vendor, cursors=FakeCursors(crash=True))
    with pytest.raises(ConnectionError):
        service.run("expensify", correlation_id="run-1")
    assert deps["cursors"].positions == {} and len(deps["queue"].sent) == 2
    deps["inbox"].process_all()
    deps["cursors"].crash = False
    again = service.run("expensify", correlation_id="run-2")
    assert (again.accepted, again.duplicates, again.cursor_after) == (0, 2, "2024-05-03")
    assert len(deps["queue"].sent) == 2  # nothing enqueued twice


def test_a_crash_between_claim_and_enqueue_holds_the_mark_until_the_claim_is_taken_over(
        example_config, monkeypatch) -> None:
    vendor = FakeVendor([item("R1", "2024-05-02"), item("R2", "2024-05-03")])
    service, deps = poller(example_config, monkeypatch, vendor, queue=FakeQueue(crash_after=1))
    with pytest.raises(ConnectionError):  # R1 enqueued; R2 claimed and archived, never enqueued
        service.run("expensify", correlation_id="run-1")
    assert deps["cursors"].positions == {}
    deps["queue"].crash_after = None
    deps["inbox"].items["R1:2024-05-02T10:00:00"]["status"] = "processed"
    vendor.items.append(item("R3", "2024-05-05"))
    deps["clock"].now += 30  # a scheduler retry inside the lease: R2's claim may still belong to a live run
    held = service.run("expensify", correlation_id="run-2")
    # R3 is enqueued, but the mark stops at R2's day (re-read by the overlap), not at R3's: R2 is not skipped
    assert (held.accepted, held.held_by, held.cursor_after) == (1, ["R2:2024-05-03T10:00:00"], "2024-05-03")
    deps["inbox"].items["R3:2024-05-05T10:00:00"]["status"] = "processed"
    deps["clock"].now += LEASE  # the next schedule, after the lease: R2 is taken over and enqueued
    taken = service.run("expensify", correlation_id="run-3")
    assert (taken.accepted, taken.duplicates, taken.cursor_after) == (1, 1, "2024-05-05")
    assert [m["event_id"] for m in deps["queue"].sent] == [
        "R1:2024-05-02T10:00:00", "R3:2024-05-05T10:00:00", "R2:2024-05-03T10:00:00"]


def test_the_mark_never_moves_back_and_unreadable_items_do_not_move_it(example_config, monkeypatch) -> None:
    malformed = PolledEvent(event_id="malformed-abc", event_type="report.malformed", body=b"{}", position="")
    vendor = FakeVendor([malformed])
    service, deps = poller(example_config, monkeypatch, vendor, cursors=FakeCursors(positions={"expensify": "2024-05-03"}))
    outcome = service.run("expensify", correlation_id="run-1")
    assert (outcome.accepted, outcome.cursor_after) == (1, "2024-05-03")  # enqueued: it becomes an exception case
    assert deps["queue"].sent[0]["event_type"] == "report.malformed"
    with pytest.raises(Exception, match="no polled source"):
        service.run("stripe", correlation_id="run-2")


def test_the_poll_handler_shapes_the_scheduler_input(example_config, monkeypatch) -> None:
    vendor = FakeVendor([item("R1", "2024-05-02")])
    service, _ = poller(example_config, monkeypatch, vendor)
    assert service.polled_sources() == ["expensify"]
    handler = Path(__file__).resolve().parents[2] / "functions" / "poll" / "handler.py"
    assert "poll_service()" in handler.read_text()
