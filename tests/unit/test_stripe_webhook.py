"""Stripe-Signature verification and envelope parsing.

The scheme is Stripe's (tests/contracts/SOURCES.md): ``t=<unix>,v1=<hex>``, HMAC-SHA256 over
``"{t}.{body}"`` keyed with the whole ``whsec_...`` string. The official ``stripe`` library is used as an
independent signer and verifier, so the two implementations check each other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import stripe

from ledgerlink.connectors.sources.stripe.webhook import parse, sign, signature_header, verify
from ledgerlink.errors import MalformedPayload, SignatureInvalid
from ledgerlink.store.secrets import parse_secret_value

from tests.conftest import EVENTS

SECRET = "whsec_test_4eC39HqLyjWDarjtT1zdp7dc"
OTHER_SECRET = "whsec_rotated_aZcWSx7sQ9zEj2R3"
NOW = 1_700_000_000
TOLERANCE = 300
BODY = (EVENTS / "stripe" / "01-invoice.finalized.json").read_bytes()


def hmac_v1(body: bytes, secret: str, timestamp: int) -> str:
    """The documented scheme, written out independently of the code under test."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def check(header: str | None, *, secrets: tuple[str, ...] = (SECRET,), now: float = NOW,
          body: bytes = BODY) -> int:
    headers = {} if header is None else {"stripe-signature": header}
    return verify(body, headers, list(secrets), TOLERANCE, now)


def reason_of(header: str | None, **kwargs: object) -> str:
    with pytest.raises(SignatureInvalid) as caught:
        check(header, **kwargs)  # type: ignore[arg-type]
    assert caught.value.status == 401
    return caught.value.reason


# ---- accepted -----------------------------------------------------------------------------------

def test_valid_signature_is_accepted_and_returns_the_signed_timestamp() -> None:
    header = f"t={NOW},v1={hmac_v1(BODY, SECRET, NOW)}"
    assert check(header) == NOW


def test_our_signer_follows_the_documented_scheme() -> None:
    assert sign(BODY, SECRET, NOW) == hmac_v1(BODY, SECRET, NOW)
    assert signature_header(BODY, SECRET, NOW) == {"Stripe-Signature": f"t={NOW},v1={hmac_v1(BODY, SECRET, NOW)}"}


def test_any_matching_v1_among_several_is_enough() -> None:
    header = f"t={NOW},v1={'0' * 64},v1={hmac_v1(BODY, SECRET, NOW)},v1={'f' * 64}"
    assert check(header) == NOW


def test_other_schemes_next_to_v1_are_ignored() -> None:
    header = f"t={NOW},v0={'0' * 64},v1={hmac_v1(BODY, SECRET, NOW)},v2=whatever"
    assert check(header) == NOW


def test_upper_case_hex_and_spaces_after_commas_are_tolerated() -> None:
    header = f"t={NOW}, v1={hmac_v1(BODY, SECRET, NOW).upper()}"
    assert check(header) == NOW


def test_timestamps_at_the_edge_of_the_tolerance_are_accepted() -> None:
    for skew in (-TOLERANCE, TOLERANCE):
        stamp = NOW + skew
        assert check(f"t={stamp},v1={hmac_v1(BODY, SECRET, stamp)}") == stamp


# ---- rotation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("signing_secret", [SECRET, OTHER_SECRET])
def test_during_rotation_either_live_secret_is_accepted(signing_secret: str) -> None:
    # Given the secret stored as JSON with two live values (store/secrets.py format)
    live = parse_secret_value(json.dumps({"secrets": [OTHER_SECRET, SECRET]}))
    assert live == [OTHER_SECRET, SECRET]
    # When Stripe signs with either one
    header = f"t={NOW},v1={hmac_v1(BODY, signing_secret, NOW)}"
    # Then the request is accepted
    assert check(header, secrets=tuple(live)) == NOW


def test_a_retired_secret_is_refused() -> None:
    header = f"t={NOW},v1={hmac_v1(BODY, 'whsec_retired', NOW)}"
    assert reason_of(header, secrets=(SECRET, OTHER_SECRET)) == "signature_mismatch"


def test_plain_secret_value_is_one_secret() -> None:
    assert parse_secret_value(f"  {SECRET}\n") == [SECRET]
    assert parse_secret_value("") == []
    assert parse_secret_value(json.dumps({"secret": SECRET})) == [SECRET]


# ---- refused, each with its reason ----------------------------------------------------------------

def test_missing_header_is_refused() -> None:
    assert reason_of(None) == "signature_missing"
    assert reason_of("") == "signature_missing"


@pytest.mark.parametrize("header", ["garbage", "v1=abc", f"t={NOW}", f"t={NOW},v1"])
def test_malformed_header_is_refused(header: str) -> None:
    assert reason_of(header) == "signature_malformed"


def test_v0_only_header_is_refused_as_malformed() -> None:
    # v0 is Stripe's test-mode legacy scheme; only v1 counts
    assert reason_of(f"t={NOW},v0={hmac_v1(BODY, SECRET, NOW)}") == "signature_malformed"


@pytest.mark.parametrize("stamp", ["abc", "1.7e9", ""])
def test_non_integer_timestamp_is_refused(stamp: str) -> None:
    assert reason_of(f"t={stamp},v1={hmac_v1(BODY, SECRET, NOW)}") == "signature_malformed"


def test_forged_signature_is_refused() -> None:
    assert reason_of(f"t={NOW},v1={hmac_v1(BODY, 'whsec_attacker', NOW)}") == "signature_mismatch"


def test_signature_over_a_different_body_is_refused() -> None:
    header = f"t={NOW},v1={hmac_v1(BODY, SECRET, NOW)}"
    assert reason_of(header, body=BODY.replace(b"2000", b"9000")) == "signature_mismatch"


def test_non_ascii_signature_is_refused_as_a_mismatch_not_a_crash() -> None:
    # A header value that cannot be hex must be a 401, never an unhandled TypeError (→ 5xx, retries)
    assert reason_of(f"t={NOW},v1=\u00e9{'0' * 63}") == "signature_mismatch"


def test_expired_timestamp_is_refused() -> None:
    old = NOW - TOLERANCE - 1
    assert reason_of(f"t={old},v1={hmac_v1(BODY, SECRET, old)}") == "signature_expired"


def test_future_timestamp_is_refused() -> None:
    future = NOW + TOLERANCE + 1
    assert reason_of(f"t={future},v1={hmac_v1(BODY, SECRET, future)}") == "signature_from_future"


def test_forged_and_expired_is_reported_as_forged() -> None:
    old = NOW - 10 * TOLERANCE
    assert reason_of(f"t={old},v1={hmac_v1(BODY, 'whsec_attacker', old)}") == "signature_mismatch"


def test_no_configured_secret_is_unverifiable() -> None:
    assert reason_of(f"t={NOW},v1={hmac_v1(BODY, SECRET, NOW)}", secrets=()) == "signature_unverifiable"


# ---- independent check with the official stripe library ---------------------------------------

def test_header_from_the_stripe_library_is_accepted_by_ours() -> None:
    now = int(time.time())
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode("utf-8"), SECRET, timestamp=now)
    assert verify(BODY, {"stripe-signature": header}, [SECRET], TOLERANCE, now) == now


def test_header_from_ours_is_accepted_by_the_stripe_library() -> None:
    now = int(time.time())
    header = signature_header(BODY, SECRET, now)["Stripe-Signature"]
    event = stripe.Webhook.construct_event(BODY, header, SECRET, tolerance=TOLERANCE)
    assert event["id"] == json.loads(BODY)["id"]


def test_both_libraries_refuse_the_same_forged_and_expired_headers() -> None:
    now = int(time.time())
    forged = signature_header(BODY, "whsec_attacker", now)["Stripe-Signature"]
    expired_at = now - TOLERANCE - 60
    expired = signature_header(BODY, SECRET, expired_at)["Stripe-Signature"]
    for header, ours in ((forged, "signature_mismatch"), (expired, "signature_expired")):
        with pytest.raises(stripe.SignatureVerificationError):
            stripe.WebhookSignature.verify_header(BODY, header, SECRET, tolerance=TOLERANCE)
        with pytest.raises(SignatureInvalid) as caught:
            verify(BODY, {"stripe-signature": header}, [SECRET], TOLERANCE, now)
        assert caught.value.reason == ours


# ---- parse ------------------------------------------------------------------------------------------

def test_parse_reads_the_envelope_of_a_real_event() -> None:
    event = parse(BODY)
    payload = json.loads(BODY)
    assert (event.event_id, event.event_type, event.created) == (payload["id"], payload["type"], payload["created"])
    assert event.payload == payload


@pytest.mark.parametrize(("body", "reason"), [
    (b"{not json", "malformed_json"),
    (b"\xff\xfe\x00garbage", "malformed_json"),
    (b"[1, 2, 3]", "malformed_json"),
    (b'"evt_1"', "malformed_json"),
    (b'{"type": "invoice.paid", "data": {"object": {}}}', "missing_event_id"),
    (b'{"id": "in_123", "type": "invoice.paid", "data": {"object": {}}}', "missing_event_id"),
    (b'{"id": "evt_1", "data": {"object": {}}}', "missing_event_type"),
    (b'{"id": "evt_1", "type": "", "data": {"object": {}}}', "missing_event_type"),
    (b'{"id": "evt_1", "type": "invoice.paid"}', "missing_event_object"),
    (b'{"id": "evt_1", "type": "invoice.paid", "data": {"object": []}}', "missing_event_object"),
])
def test_parse_refuses_malformed_payloads_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse(body)
    assert caught.value.reason == reason
    assert caught.value.status == 400


def test_parse_refuses_a_signed_body_that_is_json_but_not_utf8() -> None:
    # json.loads(bytes) would accept UTF-16; Stripe sends UTF-8 and ingest forwards text, so refuse early
    body = json.dumps({"id": "evt_1", "type": "invoice.paid", "data": {"object": {}}}).encode("utf-16")
    with pytest.raises(MalformedPayload) as refused:
        parse(body)
    assert refused.value.reason == "malformed_json"
