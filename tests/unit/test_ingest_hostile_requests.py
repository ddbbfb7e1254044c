"""Issue 18 (D95): bodies no parser can read within limits are 4xx with a reason for every source, never 503;
XML is defused in every encoding; a caller's correlation id is used only when strict.

Each defect was reproduced first (503 ``temporarily_unavailable`` for a 5,000-deep JSON body to every JSON source and
for a lone surrogate in an unsigned Adyen item; a UTF-16 Salesforce message whose DOCTYPE entity was expanded into
the enqueued fields; 503 for deeply nested SOAP XML). Requests are signed the way each provider signs raw bytes, so
the body reaches the parser exactly as sent.
"""

from __future__ import annotations

import base64
import codecs
import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources import WEBHOOK_KINDS
from ledgerlink.connectors.sources.adyen.webhook import sign as adyen_sign
from ledgerlink.connectors.sources.brex.webhook import signature_headers as brex_headers
from ledgerlink.connectors.sources.hubspot.webhook import signature_headers as hubspot_headers
from ledgerlink.connectors.sources.ramp.webhook import signature_header as ramp_header
from ledgerlink.connectors.sources.salesforce.webhook import notifications_body
from ledgerlink.connectors.sources.stripe.webhook import signature_header as stripe_header
from ledgerlink.local.secrets import generate
from ledgerlink.local.signers import rsa_sign, verification_value
from ledgerlink.service.ingest import IngestService, WebhookRequest, WebhookResponse

from tests.conftest import EVENTS
from tests.unit.test_ingest_service import CallLog, Exploding, FakeArchive, FakeInbox, FakeQueue, FakeSecrets

HOST = "hooks.ledgerlink.example"
JSON_SOURCES = ("stripe", "brex", "adyen", "ramp", "hubspot", "concur")
ORGANIZATION = "00D5e000000LdgrEAC"


@dataclass
class Hooks:
    service: IngestService
    inbox: FakeInbox
    archive: FakeArchive
    queue: FakeQueue
    log: CallLog
    secrets: dict[str, str]   # source id → what the provider signs with (Concur: the private key)

    def send(self, source: str, body: bytes, *, signed: bool = True, headers: dict[str, str] | None = None,
             query: dict[str, str] | None = None, text_body: str | None = None) -> WebhookResponse:
        url = f"https://{HOST}/v1/webhooks/{source}"
        all_headers = {"host": HOST, **(raw_signature(source, body, self.secrets[source], url) if signed else {}),
                       **(headers or {})}
        if query is None and signed and source == "salesforce":
            query = {"token": self.secrets[source]}
        event = {"httpMethod": "POST", "path": f"/webhooks/{source}", "pathParameters": {"source": source},
                 "headers": all_headers, "queryStringParameters": query,
                 "requestContext": {"requestId": "req-hostile-0001", "path": f"/v1/webhooks/{source}"},
                 "body": text_body if text_body is not None else base64.b64encode(body).decode(),
                 "isBase64Encoded": text_body is None}
        return self.service.receive(WebhookRequest.from_api_gateway(event))


def raw_signature(source: str, body: bytes, secret: str, url: str) -> dict[str, str]:
    """Each provider's signature over these exact bytes (the local signers re-serialize JSON; these do not)."""
    now = int(time.time())
    if source == "stripe":
        return stripe_header(body, secret, now)
    if source == "brex":
        return brex_headers(body, secret, "msg_hostile_0001", now)
    if source == "ramp":
        return ramp_header(body, secret)
    if source == "hubspot":
        return hubspot_headers(secret, "POST", url, body, now * 1000)
    if source == "concur":
        return {"Concur-Signature": rsa_sign(secret, body)}
    return {}   # Adyen signs inside the body, Salesforce with the URL token


@pytest.fixture(scope="module")
def secrets(example_config: LedgerLinkConfig) -> dict[str, str]:
    return {source.id: generate(source.kind) for source in example_config.sources if source.kind in WEBHOOK_KINDS}


@pytest.fixture
def hooks(example_config: LedgerLinkConfig, secrets: dict[str, str]) -> Hooks:
    raw = example_config.model_dump(mode="json")
    stored = FakeSecrets({source["signing_secret"]["secret_id"]: [verification_value(source["kind"], secrets[source["id"]])]
                          for source in raw["sources"] if source["id"] in secrets})
    log = CallLog()
    inbox, archive, queue = FakeInbox(log), FakeArchive(log), FakeQueue(log)
    service = IngestService(config=lambda: (1, raw), secrets=stored, inbox=inbox, archive=archive, queue=queue,
                            clock=time.time)
    return Hooks(service, inbox, archive, queue, log, secrets)


def refused(response: WebhookResponse, reason: str, status: int = 400) -> None:
    assert (response.status, response.body.get("reason")) == (status, reason), response.body
    assert response.outcome == "rejected" and response.body["status"] == "rejected"


def deep_json(depth: int = 5_000) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def adyen_item(secret: str, **fields: Any) -> dict[str, Any]:
    item = {"pspReference": "8535296650153317", "eventCode": "AUTHORISATION", "success": "true",
            "merchantAccountCode": "LedgerLinkUS", "merchantReference": "ref-1", "originalReference": "",
            "amount": {"value": 1000, "currency": "USD"}, "eventDate": "2026-12-01T10:00:00+01:00", **fields}
    item["additionalData"] = {"hmacSignature": adyen_sign(item, secret)}
    return item


# ---- (a) JSON nested far too deep: 400 payload_too_deep for every JSON source --------------------------

@pytest.mark.parametrize("source", JSON_SOURCES)
@pytest.mark.parametrize("shape", [b"object", b"array"])
def test_json_nested_5000_deep_is_400_payload_too_deep_for_every_source(hooks: Hooks, source: str, shape: bytes) -> None:
    body = deep_json() if shape == b"object" else b"[" * 5_000 + b"]" * 5_000
    response = hooks.send(source, body)
    refused(response, "payload_too_deep")
    assert hooks.log.calls == []   # nothing claimed, archived or enqueued


def test_an_unsigned_deep_adyen_delivery_is_400_before_any_signature_is_checked(hooks: Hooks) -> None:
    # Adyen's HMAC is inside the body, so the body is parsed before anything is authenticated: a 3 KB request from
    # anyone used to answer 503 and trip the ingest alarm
    body = b'{"live":"false","notificationItems":[' + b"[" * 1_500 + b"]" * 1_500 + b"]}"
    assert len(body) < 3_100
    refused(hooks.send("adyen", body, signed=False), "payload_too_deep")


def test_a_validly_signed_adyen_item_with_a_deep_unsigned_field_is_400(hooks: Hooks) -> None:
    item = json.dumps(adyen_item(hooks.secrets["adyen"]))
    body = ('{"live":"false","notificationItems":[{"NotificationRequestItem":' + item[:-1] + ',"reason":'
            + "[" * 5_000 + "]" * 5_000 + "}}]}").encode()
    refused(hooks.send("adyen", body, signed=False), "payload_too_deep")


@pytest.mark.parametrize("source", JSON_SOURCES)
def test_json_64_levels_deep_is_still_read(hooks: Hooks, source: str) -> None:
    # the limit (MAX_JSON_DEPTH = 64) is far above any provider's envelope; this body fails later, for its content
    body = b'{"x":' + b"[" * 63 + b"]" * 63 + b"}"
    assert hooks.send(source, body).body.get("reason") != "payload_too_deep"


# ---- (b) a lone surrogate in the event type or id: 400 invalid_unicode ----------------------------------

LONE = "\\ud800"
SURROGATE_BODIES = {
    "stripe": '{"id": "evt_1", "type": "invoice.paid%s", "created": 1, "data": {"object": {}}}',
    "brex": '{"event_type": "EXPENSE_PAYMENT_UPDATED%s"}',
    "ramp": '{"id": "r-1", "type": "transactions.cleared%s", "created_at": "' + "%s" + '"}',
    "hubspot": '[{"eventId": 1, "portalId": 2, "occurredAt": 3, "objectId": 4, "subscriptionType": "deal%s"}]',
    "concur": '{"id": "c-1", "eventType": "report.submitted%s", "timeStamp": "' + "%s" + '", "facts": {}}',
}


@pytest.mark.parametrize("source", sorted(SURROGATE_BODIES))
@pytest.mark.parametrize("lone", [LONE, "\\udfff", "\\ud83d\\ud83d"])
def test_a_lone_surrogate_in_the_event_type_is_400_invalid_unicode(hooks: Hooks, source: str, lone: str) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    template = SURROGATE_BODIES[source]
    body = (template % (lone, now) if template.count("%s") == 2 else template % lone).encode()
    refused(hooks.send(source, body), "invalid_unicode")
    assert hooks.log.calls == []


@pytest.mark.parametrize("field", ["id", "type"])
def test_a_lone_surrogate_in_a_stripe_id_or_type_never_reaches_storage(hooks: Hooks, field: str) -> None:
    payload = json.loads((EVENTS / "stripe" / "02-invoice.paid.json").read_bytes())
    payload[field] = payload[field] + "\ud800"
    body = json.dumps(payload).encode()   # ensure_ascii: the surrogate travels as the escape \ud800
    refused(hooks.send("stripe", body), "invalid_unicode")


@pytest.mark.parametrize("field", ["eventCode", "pspReference", "merchantReference"])
def test_a_lone_surrogate_in_an_unsigned_adyen_item_is_400_not_503(hooks: Hooks, field: str) -> None:
    # computing the HMAC of such an item raised UnicodeEncodeError → 503, for anyone, without a key
    item = {**adyen_item(hooks.secrets["adyen"]), field: "x\ud800"}
    body = json.dumps({"live": "false", "notificationItems": [{"NotificationRequestItem": item}]}).encode()
    refused(hooks.send("adyen", body, signed=False), "invalid_unicode")


# ---- encodings: UTF-16/32 JSON and invalid UTF-8 are malformed_json, not 503 ------------------------------

@pytest.mark.parametrize("source", JSON_SOURCES)
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32", "utf-32-be"])
def test_json_in_utf16_or_utf32_is_malformed_json(hooks: Hooks, source: str, codec: str) -> None:
    sample = sorted((EVENTS / source).glob("*.json"))[0].read_text()
    refused(hooks.send(source, sample.encode(codec)), "malformed_json")


@pytest.mark.parametrize("source", JSON_SOURCES)
def test_invalid_utf8_is_malformed_json(hooks: Hooks, source: str) -> None:
    refused(hooks.send(source, b'{"id": "evt_\xed\xa0\x80", "type": "\xff"}'), "malformed_json")


# ---- (c) Salesforce SOAP: DTDs refused in every encoding, deep XML refused --------------------------------

def salesforce_message(notification_id: str, name: str = "NAME") -> str:
    return notifications_body(ORGANIZATION, [(notification_id, "Opportunity", {"Name": name, "StageName": "Closed Won"})]
                              ).decode()


@pytest.mark.parametrize(("codec", "bom"), [("utf-16", b""), ("utf-16-le", b""), ("utf-16-be", codecs.BOM_UTF16_BE),
                                            ("utf-8", b""), ("utf-8", codecs.BOM_UTF8)])
def test_a_salesforce_message_with_a_doctype_is_refused_in_any_encoding_and_nothing_is_expanded(
        hooks: Hooks, codec: str, bom: bytes) -> None:
    # reproduced: in UTF-16 the byte check for b"<!DOCTYPE" saw nothing, and "&ent;" reached the queue as "EXPANDED"
    declared = "UTF-8" if codec == "utf-8" else "UTF-16"
    text = salesforce_message("006000000000001AAA").replace("NAME", "&ent;").replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0" encoding="{declared}"?><!DOCTYPE Envelope [<!ENTITY ent "EXPANDED">]>')
    response = hooks.send("salesforce", bom + text.encode(codec))
    refused(response, "xml_dtd_forbidden")
    assert hooks.log.calls == [] and hooks.queue.messages == []


def test_a_salesforce_message_in_utf16_without_a_doctype_is_read(hooks: Hooks) -> None:
    text = salesforce_message("006000000000002AAA", "caf\u00e9").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    response = hooks.send("salesforce", text.encode("utf-16"))
    assert response.status == 200 and response.outcome == "accepted"
    (message,) = hooks.queue.messages
    assert json.loads(message["body"])["fields"]["Name"] == "caf\u00e9"


@pytest.mark.parametrize("depth", [65, 5_000, 30_000])
def test_deeply_nested_salesforce_xml_is_400_payload_too_deep(hooks: Hooks, depth: int) -> None:
    # 5,000 levels made sobject_fields raise RecursionError → 503 on every Salesforce retry
    body = salesforce_message("006000000000003AAA").replace("NAME", "<a>" * depth + "</a>" * depth).encode()
    refused(hooks.send("salesforce", body), "payload_too_deep")


def test_a_deep_salesforce_body_without_the_token_is_401(hooks: Hooks) -> None:
    body = salesforce_message("006000000000004AAA").replace("NAME", "<a>" * 5_000 + "</a>" * 5_000).encode()
    refused(hooks.send("salesforce", body, signed=False), "signature_missing", 401)


# ---- anything else a connector raises on a request is a 4xx with its type for the log ---------------------

@pytest.mark.parametrize("error", [RecursionError, UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates"),
                                   TypeError, KeyError, AttributeError, IndexError, ValueError])
def test_an_unexpected_error_while_verifying_is_400_unreadable_request(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch, error: Any) -> None:
    from ledgerlink.connectors.sources.adyen import webhook

    def explode(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(webhook, "verify_request", explode)
    response = hooks.send("adyen", b"{}", signed=False)
    refused(response, "unreadable_request")
    name = error.__name__ if isinstance(error, type) else type(error).__name__
    assert response.defect is not None and response.defect.startswith(f"{name} at ")
    assert "message" in response.body and "defect" not in response.body   # the log gets it, the caller does not


def test_an_unexpected_error_while_parsing_a_signed_event_is_400_unreadable_payload(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerlink.connectors.sources.stripe import webhook

    monkeypatch.setattr(webhook, "parse_events", lambda body: [][0])
    response = hooks.send("stripe", (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes())
    refused(response, "unreadable_payload")
    assert response.defect.startswith("IndexError at ")


@pytest.mark.parametrize("broken", ["inbox", "archive", "queue", "secrets"])
def test_real_storage_outages_still_answer_503(example_config: LedgerLinkConfig, secrets: dict[str, str],
                                               broken: str) -> None:
    raw = example_config.model_dump(mode="json")
    stored = FakeSecrets({source["signing_secret"]["secret_id"]: [verification_value(source["kind"], secrets[source["id"]])]
                          for source in raw["sources"] if source["id"] in secrets})
    log = CallLog()
    ports: dict[str, Any] = {"inbox": FakeInbox(log), "archive": FakeArchive(log), "queue": FakeQueue(log),
                             "secrets": stored}
    ports[broken] = Exploding()
    hooks = Hooks(IngestService(config=lambda: (1, raw), clock=time.time, **ports), ports["inbox"],
                  ports["archive"], ports["queue"], log, secrets)
    response = hooks.send("stripe", (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes())
    assert (response.status, response.body["reason"]) == (503, "temporarily_unavailable")


# ---- lone surrogates outside the body: the request is refused, nothing raises -----------------------------

@pytest.mark.parametrize("where", ["header", "header-name", "query", "text-body", "source"])
def test_lone_surrogates_anywhere_in_the_gateway_event_are_refused_not_raised(hooks: Hooks, where: str) -> None:
    body = (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes()
    if where == "header":
        response = hooks.send("hubspot", body, signed=False, headers={"x-hubspot-signature-v3": "a\ud800",
                                                                      "x-hubspot-request-timestamp": "1\udfff"})
    elif where == "header-name":
        response = hooks.send("brex", body, signed=False, headers={"webhook-id\ud800": "x", "webhook-id": "m\ud800",
                                                                   "webhook-timestamp": "1", "webhook-signature": "v1,x"})
    elif where == "query":
        response = hooks.send("salesforce", body, signed=False, query={"token": "t\ud800", "\udc80": "x"})
    elif where == "text-body":
        response = hooks.send("stripe", b"", signed=False, text_body='{"id": "evt_\ud800\udc80x"}')
    else:
        response = hooks.send("stripe", body, signed=False)
        response = hooks.service.receive(WebhookRequest.from_api_gateway(
            {"httpMethod": "POST", "pathParameters": {"source": "str\ud800ipe"}, "headers": {}, "body": "{}"}))
    assert 400 <= response.status < 500 and response.body["reason"], response.body
    json.dumps(response.to_api_gateway()).encode("utf-8")   # the answer itself is writable


# ---- (4) correlation ids: only strict ones, the caller's value nowhere otherwise --------------------------

@pytest.mark.parametrize("supplied", ["0b4c7a10-5c3e-4b55-9d8e-3f0fbb3e1a77", "trace.01:abc_DEF-9", "a" * 64, "8chars.."])
def test_a_strict_correlation_id_is_used(hooks: Hooks, supplied: str) -> None:
    response = hooks.send("stripe", (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes(),
                          headers={"x-correlation-id": supplied})
    assert response.status == 202 and response.correlation_id == supplied
    assert hooks.queue.messages[0]["correlation_id"] == supplied


@pytest.mark.parametrize("supplied", [
    "abcdefgh\n", "abcdefgh\n{\"level\":\"ERROR\",\"message\":\"forged\"}", "a" * 65, "short", "has space 123",
    "quote\"d-123456", "caf\u00e9-123456", "semi;colon-1234", "tab\tinside-1234", "\ud800-surrogate-1234",
    "abcdefgh\r", "<script>alert(1)</script>", "",
])
def test_any_other_correlation_id_is_replaced_and_kept_nowhere(hooks: Hooks, supplied: str) -> None:
    response = hooks.send("stripe", (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes(),
                          headers={"x-correlation-id": supplied})
    assert response.status == 202
    assert response.correlation_id == "req-hostile-0001"   # API Gateway's request id
    gateway = response.to_api_gateway()
    assert gateway["headers"]["X-Correlation-Id"] == "req-hostile-0001"
    stored = json.dumps([gateway, hooks.queue.messages, [c.correlation_id for c in hooks.inbox.claims.values()]])
    if supplied:
        assert supplied not in stored and json.dumps(supplied)[1:-1] not in stored


def test_without_a_usable_request_id_a_fresh_uuid_is_the_correlation_id(hooks: Hooks) -> None:
    import uuid

    event = {"httpMethod": "POST", "pathParameters": {"source": "paypal"}, "headers": {"X-Correlation-Id": "bad id"},
             "requestContext": {"requestId": "forged\nline"}, "body": "{}"}
    response = hooks.service.receive(WebhookRequest.from_api_gateway(event))
    assert str(uuid.UUID(response.correlation_id)) == response.correlation_id


def test_the_response_names_a_source_only_once_the_path_matched_a_configured_one(hooks: Hooks) -> None:
    # the handler logs response.source, not the path parameter (anyone can put any text there)
    unknown = hooks.service.receive(WebhookRequest.from_api_gateway(
        {"httpMethod": "POST", "pathParameters": {"source": "x\n{\"forged\": true}"}, "headers": {}, "body": "{}"}))
    assert unknown.status == 404 and unknown.source is None
    assert hooks.send("adyen", b"[" * 100, signed=False).source == "adyen"
