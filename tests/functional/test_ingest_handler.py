"""The webhook endpoint (API Gateway → ingest Lambda) against moto: what is stored, what is refused."""

from __future__ import annotations

import json
import time

import pytest

from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.store import clients

from tests.functional.conftest import SECRET, event_bytes


def test_accepted_webhook_is_archived_byte_for_byte_claimed_and_enqueued(stack):
    # Given a validly signed Stripe event
    body = event_bytes("02-invoice.paid.json")
    # When it is delivered
    reply = stack.send(body)
    # Then it is accepted with a correlation id, archived verbatim and enqueued once
    assert reply.status == 202
    assert reply.body["status"] == "accepted"
    assert reply.body["correlation_id"] == reply.headers["X-Correlation-Id"]
    claim = stack.inbox.get("stripe", "evt_1KhfNbLedgerLinkInvPaid001")
    assert claim["status"] == "pending" and claim["correlation_id"] == reply.body["correlation_id"]
    assert stack.archived(claim["archive_key"]) == body
    messages = stack.receive()
    assert len(messages) == 1
    message = json.loads(messages[0]["Body"])
    assert message["event_id"] == "evt_1KhfNbLedgerLinkInvPaid001"
    assert message["archive_key"] == claim["archive_key"]
    assert message["body"].encode() == body


def test_duplicate_delivery_answers_200_and_enqueues_nothing(stack):
    body = event_bytes("01-invoice.finalized.json")
    first = stack.send(body)
    second = stack.send(body, timestamp=int(time.time()) + 1)  # a provider retry: new signature, same event
    assert (first.status, second.status) == (202, 200)
    assert second.body["status"] == "duplicate"
    assert second.body["correlation_id"] == first.body["correlation_id"]  # points at the original delivery
    assert stack.queue_depth() == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "signature_missing"),
        ({"Stripe-Signature": "v1=abc"}, "signature_malformed"),
        ({"Stripe-Signature": "t=notanumber,v1=abc"}, "signature_malformed"),
        ({"Stripe-Signature": f"t={int(time.time())},v0=deadbeef"}, "signature_malformed"),
    ],
)
def test_missing_or_malformed_signatures_are_401_with_a_reason(stack, headers, reason):
    reply = stack.webhook(event_bytes("01-invoice.finalized.json"), headers)
    assert reply.status == 401
    assert reply.body["reason"] == reason
    assert stack.queue_depth() == 0


def test_forged_signature_is_refused_and_nothing_is_stored(stack):
    body = event_bytes("01-invoice.finalized.json")
    reply = stack.send(body, secret="whsec_attacker")
    assert (reply.status, reply.body["reason"]) == (401, "signature_mismatch")
    assert stack.inbox.get("stripe", "evt_1KhfNbLedgerLinkInvFinal01") is None
    assert clients.client("s3").list_objects_v2(Bucket=stack.resources.archive_bucket).get("KeyCount") == 0
    assert stack.queue_depth() == 0


def test_tampered_body_with_a_once_valid_signature_is_refused(stack):
    body = event_bytes("01-invoice.finalized.json")
    headers = signature_header(body, SECRET, int(time.time()))
    reply = stack.webhook(body.replace(b'"total": 2000', b'"total": 2'), headers)
    assert (reply.status, reply.body["reason"]) == (401, "signature_mismatch")


def test_expired_signature_is_refused(stack):
    reply = stack.send(event_bytes("01-invoice.finalized.json"), timestamp=int(time.time()) - 301)
    assert (reply.status, reply.body["reason"]) == (401, "signature_expired")


def test_malformed_json_with_a_valid_signature_is_400(stack):
    reply = stack.send(b'{"id": "evt_1", "type": ')
    assert (reply.status, reply.body["reason"]) == (400, "malformed_json")
    assert stack.queue_depth() == 0


def test_event_without_id_is_400(stack):
    reply = stack.send(json.dumps({"type": "invoice.paid", "data": {"object": {}}}).encode())
    assert (reply.status, reply.body["reason"]) == (400, "missing_event_id")


def test_oversized_body_is_413_before_any_work(stack):
    body = b'{"pad": "' + b"x" * 262_145 + b'"}'
    reply = stack.send(body)
    assert (reply.status, reply.body["reason"]) == (413, "payload_too_large")
    assert stack.queue_depth() == 0


def test_unknown_source_is_404(stack):
    reply = stack.send(event_bytes("01-invoice.finalized.json"), source="paypal")
    assert (reply.status, reply.body["reason"]) == (404, "unknown_source")


def test_no_response_is_ever_a_500_even_when_storage_is_down(stack, monkeypatch):
    # Given the archive bucket has vanished (an outage from the handler's point of view)
    with monkeypatch.context() as patch:
        patch.setattr(clients.client("s3"), "put_object",
                      lambda **kwargs: (_ for _ in ()).throw(ConnectionError("s3 down")))
        reply = stack.send(event_bytes("01-invoice.finalized.json"))
    # Then the provider is told to retry, and nothing was enqueued
    assert reply.status == 503
    assert reply.body["reason"] == "temporarily_unavailable"
    assert reply.headers.get("Retry-After")
    assert stack.queue_depth() == 0
    # and the claim that attempt made is released, so the provider's retry is processed, not a "duplicate"
    assert stack.inbox.get("stripe", "evt_1KhfNbLedgerLinkInvFinal01") is None
    assert stack.send(event_bytes("01-invoice.finalized.json")).status == 202
    assert stack.queue_depth() == 1


def test_release_undoes_only_a_pending_claim_of_the_same_attempt_and_uncounts_it(stack):
    from ledgerlink.store.control_totals import DynamoControlTotals

    t0 = time.time()
    day = time.strftime("%Y-%m-%d", time.gmtime(t0))
    totals = DynamoControlTotals(stack.resources.tables["totals"])

    def received() -> int:
        return sum(int(c.get("received", 0)) for c in totals.events(day).values())

    stack.inbox.claim("stripe", "evt_rel", correlation_id="c-1", archive_key="raw/k", event_type="x", now=t0)
    assert received() == 1
    # another attempt cannot release it, the attempt that made it can, and the event is no longer counted
    assert stack.inbox.release("stripe", "evt_rel", correlation_id="c-2", day=day) is False
    assert stack.inbox.release("stripe", "evt_rel", correlation_id="c-1", day=day) is True
    assert stack.inbox.get("stripe", "evt_rel") is None and received() == 0
    # a processed claim is never released
    stack.inbox.claim("stripe", "evt_rel", correlation_id="c-3", archive_key="raw/k", event_type="x", now=t0)
    stack.inbox.record_outcome("stripe", "evt_rel", outcome="normalized", document_ids=["doc_1"], reasons=[], day=day)
    assert stack.inbox.release("stripe", "evt_rel", correlation_id="c-3", day=day) is False
    assert stack.inbox.get("stripe", "evt_rel")["status"] == "processed"


def test_a_claim_left_pending_by_a_crash_is_taken_over_after_its_lease_but_not_before(stack):
    # Given ingest claimed an event and crashed before enqueueing it (the provider got no 2xx)
    t0 = time.time()
    first = stack.inbox.claim("stripe", "evt_crash", correlation_id="c-1", archive_key="raw/k", event_type="x", now=t0)
    # When the provider retries within the lease, it is a duplicate (the first attempt may still finish)
    during = stack.inbox.claim("stripe", "evt_crash", correlation_id="c-2", archive_key="raw/k", event_type="x",
                               now=t0 + 10)
    # And after the lease the retry takes the claim over and processes the event
    after = stack.inbox.claim("stripe", "evt_crash", correlation_id="c-3", archive_key="raw/k", event_type="x",
                              now=t0 + 121)
    assert (first.is_new, during.is_new, after.is_new) == (True, False, True)


def test_a_processed_claim_is_never_taken_over(stack):
    t0 = time.time()
    stack.inbox.claim("stripe", "evt_done", correlation_id="c-1", archive_key="raw/k", event_type="x", now=t0)
    stack.inbox.record_outcome("stripe", "evt_done", outcome="normalized", document_ids=["doc_1"], reasons=[],
                               day=time.strftime("%Y-%m-%d", time.gmtime(t0)))
    later = stack.inbox.claim("stripe", "evt_done", correlation_id="c-2", archive_key="raw/k", event_type="x",
                              now=t0 + 86_400)
    assert later.is_new is False
    assert later.status == "processed"


def test_nothing_an_unauthenticated_caller_sends_reaches_the_log_but_fixed_fields(stack):
    # issue 18: X-Correlation-Id was logged verbatim before authentication, and the path's source id always
    marker = "Zq9CallerText"
    logger = stack.host.module("ingest").logger
    stream = logger.registered_handler.stream
    # Powertools loggers of one service share a stdlib logger per process: a stack loaded earlier in this worker
    # (the fuzz tier runs at ERROR) may have left its level; this test reads the INFO line every request writes
    level = logger.log_level
    logger.setLevel("INFO")
    try:
        _send_hostile_requests(stack, marker, stream)
    finally:
        logger.setLevel(level)


def _send_hostile_requests(stack, marker: str, stream) -> None:  # noqa: ANN001
    replies = [
        stack.webhook(b"{}", {"X-Correlation-Id": marker + '-0001\n{"level":"ERROR","message":"forged"}'}),
        stack.webhook(b'{"notificationItems":' + b"[" * 5_000 + marker.encode(), {"X-Correlation-Id": marker + " 2"},
                      source="adyen"),
        stack.webhook(marker.encode(), {"User-Agent": marker, "X-Correlation-Id": "x" * 65 + marker}, source=marker),
        stack.webhook(b"<x>" + marker.encode() + b"</x>", {"SOAPAction": marker}, source="salesforce"),
    ]
    # (this stack's Adyen "key" is not hex, so that request stops at signature_unverifiable before its body is read)
    assert [reply.status for reply in replies] == [401, 401, 404, 401]
    assert all(marker not in reply.headers["X-Correlation-Id"] for reply in replies)
    logged = stream.getvalue()
    assert marker not in logged
    handled = [json.loads(line) for line in logged.splitlines() if '"webhook handled"' in line]
    assert [record.get("source") for record in handled[-4:]] == ["stripe", "adyen", None, "salesforce"]
    assert [record["reason"] for record in handled[-4:]] == [reply.body["reason"] for reply in replies]


@pytest.mark.parametrize("body", [b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
                                  b'{"id": "evt_1", "type": "invoice.paid\\ud800", "data": {"object": {}}}'])
def test_a_signed_body_nested_too_deep_or_with_a_lone_surrogate_is_400_and_stores_nothing(stack, body):
    reply = stack.send(body)
    assert reply.status == 400 and reply.body["reason"] in ("payload_too_deep", "invalid_unicode")
    assert stack.queue_depth() == 0
    assert clients.client("s3").list_objects_v2(Bucket=stack.resources.archive_bucket).get("KeyCount") == 0
