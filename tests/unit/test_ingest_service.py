"""IngestService with small in-memory fakes: statuses by error type, archive before enqueue, dedupe, 503s.

Requests are built the way API Gateway (REST, proxy integration) delivers them, and signed with the
official ``stripe`` library so the signer is not the code under test.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.errors import ConfigError
from ledgerlink.service.ingest import IngestService, WebhookRequest, WebhookResponse
from ledgerlink.store.inbox import Claim

from tests.conftest import EVENTS

SECRET = "whsec_ingest_unit_test_secret"
NOW = 1_700_000_000
BODY = (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes()
EVENT_ID = json.loads(BODY)["id"]


# ---- fakes ------------------------------------------------------------------------------------------

@dataclass
class CallLog:
    """What happened, in order, across all fakes."""

    calls: list[str] = field(default_factory=list)


@dataclass
class FakeInbox:
    log: CallLog
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)

    def claim(self, source: str, event_id: str, *, correlation_id: str, archive_key: str, event_type: str,
              now: float | None = None) -> Claim:
        self.log.calls.append("claim")
        existing = self.claims.get((source, event_id))
        if existing:
            return Claim(is_new=False, archive_key=existing.archive_key, correlation_id=existing.correlation_id,
                         status=existing.status)
        claim = Claim(is_new=True, archive_key=archive_key, correlation_id=correlation_id, status="pending")
        self.claims[(source, event_id)] = claim
        return claim

    def release(self, source: str, event_id: str, *, correlation_id: str, day: str) -> bool:
        self.log.calls.append("release")
        existing = self.claims.get((source, event_id))
        if existing is None or existing.status != "pending" or existing.correlation_id != correlation_id:
            return False
        del self.claims[(source, event_id)]
        return True


@dataclass
class FakeArchive:
    log: CallLog
    objects: dict[str, bytes] = field(default_factory=dict)

    def put(self, key: str, body: bytes, *, correlation_id: str, source: str, event_id: str) -> None:
        self.log.calls.append("archive")
        self.objects[key] = body


@dataclass
class FakeQueue:
    log: CallLog
    messages: list[dict[str, Any]] = field(default_factory=list)

    def send(self, message: dict[str, Any], *, correlation_id: str) -> str:
        self.log.calls.append("enqueue")
        self.messages.append(message)
        return f"msg-{len(self.messages)}"


@dataclass
class FakeSecrets:
    values: dict[str, list[str]]

    def get(self, secret_id: str) -> list[str]:
        return self.values[secret_id]


@dataclass
class FlakyQueue(FakeQueue):
    """Accepts ``good`` messages, then fails the next one (throttled, timed out), then works again."""

    good: int = 0
    failed: bool = False

    def send(self, message: dict[str, Any], *, correlation_id: str) -> str:
        if not self.failed and len(self.messages) == self.good:
            self.failed = True
            raise ConnectionError("sqs: throttled")
        return super().send(message, correlation_id=correlation_id)


class Exploding:
    """Any adapter whose AWS call fails (throttling, outage)."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError(f"{name}: AWS is having a bad day")
        return fail


@dataclass
class Harness:
    service: IngestService
    inbox: FakeInbox
    archive: FakeArchive
    queue: FakeQueue
    log: CallLog


@pytest.fixture
def raw_config(example_config: LedgerLinkConfig) -> dict[str, Any]:
    return example_config.model_dump(mode="json")


@pytest.fixture
def harness(raw_config: dict[str, Any]) -> Harness:
    return build(raw_config)


def build(raw_config: dict[str, Any], **overrides: Any) -> Harness:
    log = CallLog()
    inbox, archive, queue = FakeInbox(log), FakeArchive(log), FakeQueue(log)
    secret_id = raw_config["sources"][0]["signing_secret"]["secret_id"]
    ports: dict[str, Any] = {"config": lambda: (3, raw_config), "secrets": FakeSecrets({secret_id: [SECRET]}),
                             "inbox": inbox, "archive": archive, "queue": queue, "clock": lambda: float(NOW)}
    ports.update(overrides)
    return Harness(IngestService(**ports), inbox, archive, queue, log)


def gateway_event(body: bytes = BODY, *, source: str = "stripe", method: str = "POST", secret: str = SECRET,
                  timestamp: int = NOW, headers: dict[str, str] | None = None, base64_body: bool = False,
                  signed: bool = True) -> dict[str, Any]:
    all_headers = {"Content-Type": "application/json"}
    if signed:
        all_headers["Stripe-Signature"] = stripe.WebhookSignature.generate_signature_header(
            body.decode("utf-8", "replace"), secret, timestamp=timestamp)
    all_headers.update(headers or {})
    return {
        "httpMethod": method, "path": f"/webhooks/{source}", "pathParameters": {"source": source},
        "headers": all_headers, "requestContext": {"requestId": "req-1234-abcd"},
        "body": base64.b64encode(body).decode() if base64_body else body.decode("utf-8", "replace"),
        "isBase64Encoded": base64_body,
    }


def receive(harness: Harness, event: dict[str, Any]) -> WebhookResponse:
    return harness.service.receive(WebhookRequest.from_api_gateway(event))


def assert_rejection(response: WebhookResponse, status: int, reason: str) -> None:
    assert response.status == status
    assert response.body["reason"] == reason
    assert response.body["correlation_id"] == response.correlation_id
    gateway = response.to_api_gateway()
    assert gateway["statusCode"] == status
    assert json.loads(gateway["body"])["reason"] == reason
    assert gateway["headers"]["X-Correlation-Id"] == response.correlation_id


# ---- accepted ---------------------------------------------------------------------------------------

def test_valid_webhook_is_archived_then_enqueued_once_and_answered_202(harness: Harness) -> None:
    # Given a signed Stripe delivery
    # When it is received
    response = receive(harness, gateway_event())
    # Then it is accepted, archived before it is enqueued, and the message carries the raw body
    assert response.status == 202
    assert response.outcome == "accepted"
    assert response.body["event_id"] == EVENT_ID
    assert harness.log.calls == ["claim", "archive", "enqueue"]
    (message,) = harness.queue.messages
    assert message["body"].encode() == BODY
    assert harness.archive.objects[message["archive_key"]] == BODY
    assert message["event_id"] == EVENT_ID
    assert message["source"] == "stripe" and message["kind"] == "stripe"
    assert message["correlation_id"] == response.correlation_id
    assert EVENT_ID in message["archive_key"]


def test_base64_encoded_gateway_body_is_verified_on_the_decoded_bytes(harness: Harness) -> None:
    response = receive(harness, gateway_event(base64_body=True))
    assert response.status == 202
    assert harness.queue.messages[0]["body"].encode() == BODY


def test_supplied_correlation_id_is_echoed(harness: Harness) -> None:
    correlation = "0b4c7a10-5c3e-4b55-9d8e-3f0fbb3e1a77"
    response = receive(harness, gateway_event(headers={"X-Correlation-Id": correlation}))
    assert response.correlation_id == correlation
    assert response.body["correlation_id"] == correlation
    assert response.to_api_gateway()["headers"]["X-Correlation-Id"] == correlation
    assert harness.queue.messages[0]["correlation_id"] == correlation


def test_unusable_correlation_id_is_replaced_by_the_request_id(harness: Harness) -> None:
    response = receive(harness, gateway_event(headers={"X-Correlation-Id": "bad id; drop table"}))
    assert response.correlation_id == "req-1234-abcd"


# ---- duplicates ---------------------------------------------------------------------------------------

def test_duplicate_delivery_answers_200_and_enqueues_nothing(harness: Harness) -> None:
    first = receive(harness, gateway_event(headers={"X-Correlation-Id": "first-delivery-0001"}))
    harness.log.calls.clear()
    # Stripe retries: same event, new signature a minute later
    second = receive(harness, gateway_event(timestamp=NOW - 60))
    assert (first.status, second.status) == (202, 200)
    assert second.outcome == "duplicate"
    assert second.body["correlation_id"] == "first-delivery-0001"  # points at the original trace
    assert harness.log.calls == ["claim"]
    assert len(harness.queue.messages) == 1


# ---- rejections ---------------------------------------------------------------------------------------

def test_unknown_source_is_404(harness: Harness) -> None:
    assert_rejection(receive(harness, gateway_event(source="paypal")), 404, "unknown_source")
    assert harness.log.calls == []


def test_non_post_is_405(harness: Harness) -> None:
    assert_rejection(receive(harness, gateway_event(method="GET")), 405, "method_not_allowed")


def test_oversized_body_is_413_before_any_work(raw_config: dict[str, Any]) -> None:
    raw_config["sources"][0]["max_body_bytes"] = 1024
    harness = build(raw_config)
    big = json.dumps({"id": "evt_big", "type": "invoice.paid", "data": {"object": {"pad": "x" * 2000}}}).encode()
    assert_rejection(receive(harness, gateway_event(big)), 413, "payload_too_large")
    assert harness.log.calls == []


def test_body_exactly_at_the_limit_is_not_too_large(raw_config: dict[str, Any]) -> None:
    raw_config["sources"][0]["max_body_bytes"] = len(BODY)
    assert receive(build(raw_config), gateway_event()).status == 202


def test_forged_signature_is_401(harness: Harness) -> None:
    assert_rejection(receive(harness, gateway_event(secret="whsec_attacker")), 401, "signature_mismatch")
    assert harness.log.calls == []


def test_expired_signature_is_401(harness: Harness) -> None:
    assert_rejection(receive(harness, gateway_event(timestamp=NOW - 3600)), 401, "signature_expired")


def test_missing_signature_is_401(harness: Harness) -> None:
    assert_rejection(receive(harness, gateway_event(signed=False)), 401, "signature_missing")


def test_non_ascii_signature_is_401_not_503(harness: Harness) -> None:
    event = gateway_event(signed=False, headers={"Stripe-Signature": f"t={NOW},v1=\u00e9abc"})
    assert_rejection(receive(harness, event), 401, "signature_mismatch")


def test_signed_body_that_is_not_json_is_400(harness: Harness) -> None:
    assert_rejection(receive(harness, gateway_event(b"{this is not json")), 400, "malformed_json")
    assert harness.log.calls == []


def test_signed_json_without_event_id_is_400(harness: Harness) -> None:
    body = json.dumps({"type": "invoice.paid", "data": {"object": {}}}).encode()
    assert_rejection(receive(harness, gateway_event(body)), 400, "missing_event_id")


@pytest.mark.parametrize("event_id", ["evt_caf\u00e9", "evt_" + "x" * 200, "evt_with space", "evt_/../x", "evt_\x01"])
def test_signed_event_whose_id_cannot_be_stored_is_400_not_503(harness: Harness, event_id: str) -> None:
    # an id becomes a DynamoDB key, an archive name and S3 metadata: one that cannot be would 503 on every retry
    body = json.dumps({**json.loads(BODY), "id": event_id}).encode()
    assert_rejection(receive(harness, gateway_event(body)), 400, "invalid_event_id")
    assert harness.log.calls == []   # refused before any claim


def test_an_event_id_of_200_printable_characters_is_accepted(harness: Harness) -> None:
    body = json.dumps({**json.loads(BODY), "id": "evt_" + "A:b-c.d_" * 24 + "x" * 4}).encode()
    assert receive(harness, gateway_event(body)).status == 202


# ---- infrastructure failures: 503, never 500 ------------------------------------------------------------

@pytest.mark.parametrize("broken", ["inbox", "archive", "queue", "secrets"])
def test_failing_adapter_answers_503_and_never_raises(raw_config: dict[str, Any], broken: str) -> None:
    # Given one AWS dependency that fails
    harness = build(raw_config, **{broken: Exploding()})
    # When a valid webhook arrives
    response = receive(harness, gateway_event())
    # Then the provider is told to retry, and nothing was acknowledged as accepted
    assert response.status == 503
    assert response.outcome == "unavailable"
    assert response.body["reason"] == "temporarily_unavailable"
    assert response.body["correlation_id"] == response.correlation_id
    assert "Retry-After" in response.to_api_gateway()["headers"]


def test_archive_failure_means_nothing_is_enqueued(raw_config: dict[str, Any]) -> None:
    harness = build(raw_config, archive=Exploding())
    receive(harness, gateway_event())
    assert harness.queue.messages == []


def test_failing_config_read_answers_503(raw_config: dict[str, Any]) -> None:
    def config() -> tuple[int, dict[str, Any]]:
        raise TimeoutError("DynamoDB timed out")

    response = receive(build(raw_config, config=config), gateway_event())
    assert response.status == 503


def test_missing_configuration_answers_503_with_its_reason(raw_config: dict[str, Any]) -> None:
    def config() -> tuple[int, dict[str, Any]]:
        raise ConfigError("no configuration has been applied", reason="config_missing")

    response = receive(build(raw_config, config=config), gateway_event())
    assert response.status == 503
    assert response.body["reason"] == "config_missing"


# ---- a failure after the claim releases what was not enqueued, so the provider's retry is not a "duplicate" ----

def test_enqueue_failure_releases_the_claim_and_the_immediate_retry_is_accepted(raw_config: dict[str, Any]) -> None:
    # Given a queue that fails once (throttled) right after the event was claimed and archived
    log = CallLog()
    queue, inbox = FlakyQueue(log), FakeInbox(log)
    harness = build(raw_config, queue=queue, inbox=inbox, archive=FakeArchive(log))
    first = receive(harness, gateway_event(headers={"X-Correlation-Id": "first-attempt-0001"}))
    # Then the provider is told to retry and the claim it made is undone
    assert first.status == 503
    assert log.calls == ["claim", "archive", "release"]
    assert inbox.claims == {}
    # When the provider retries seconds later (well inside the claim lease)
    second = receive(harness, gateway_event(timestamp=NOW + 5))
    # Then it is accepted and enqueued, not answered "duplicate" for an event nothing would process
    assert second.status == 202 and second.outcome == "accepted"
    (message,) = queue.messages
    assert message["event_id"] == EVENT_ID


def _adyen(raw_config: dict[str, Any], queue: FakeQueue, inbox: FakeInbox, log: CallLog) -> tuple[Harness, bytes]:
    from ledgerlink.local.signers import sign

    key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
    adyen = next(raw for raw in raw_config["sources"] if raw["kind"] == "adyen")
    stripe_secret = raw_config["sources"][0]["signing_secret"]["secret_id"]
    secrets = FakeSecrets({stripe_secret: [SECRET], adyen["signing_secret"]["secret_id"]: [key]})
    harness = build(raw_config, queue=queue, inbox=inbox, archive=FakeArchive(log), secrets=secrets)
    return harness, sign("adyen", (EVENTS / "adyen" / "02-batch.json").read_bytes(), key).body


def test_a_batch_that_fails_part_way_releases_only_the_items_it_did_not_enqueue(raw_config: dict[str, Any]) -> None:
    # Given an Adyen batch of five notifications and a queue that fails on the third message
    log = CallLog()
    queue, inbox = FlakyQueue(log, good=2), FakeInbox(log)
    harness, body = _adyen(raw_config, queue, inbox, log)
    event = gateway_event(body, source="adyen", signed=False)
    first = receive(harness, event)
    # Then the two enqueued items keep their claims (normalize will process them), the other three are released
    assert first.status == 503
    assert log.calls.count("release") == 3
    assert [m["event_id"] for m in queue.messages] == [event_id for (_, event_id) in inbox.claims]
    # When Adyen retries the whole batch at once
    second = receive(harness, event)
    # Then only the three released items are accepted and enqueued: every item is on the queue exactly once
    assert second.status == 200 and second.body["duplicates"] == 2 and len(second.body["event_ids"]) == 3
    assert len(queue.messages) == 5 and len({m["event_id"] for m in queue.messages}) == 5


def test_a_release_that_fails_too_still_answers_503(raw_config: dict[str, Any]) -> None:
    class StuckInbox(FakeInbox):
        def release(self, source: str, event_id: str, *, correlation_id: str, day: str) -> bool:
            raise ConnectionError("dynamodb: throttled")

    log = CallLog()
    inbox = StuckInbox(log)
    response = receive(build(raw_config, inbox=inbox, queue=Exploding()), gateway_event())
    # the claim stays pending: the provider's retry after the lease takes it over, reconciliation names it meanwhile
    assert response.status == 503 and response.body["reason"] == "temporarily_unavailable"
    assert list(inbox.claims) == [("stripe", EVENT_ID)]
