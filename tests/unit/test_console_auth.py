"""The console's token check: RS256 signatures verified by arithmetic (tokens here are signed with `cryptography`,
an independent implementation), the claims checked, every failure a machine-readable reason; roles from groups."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import time_machine
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ledgerlink.console.jwt import RsaKey, TokenInvalid, keys_from_jwks, verify
from ledgerlink.console.roles import GRANTS, Action, Role, allowed, roles_of

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool"
AUDIENCE = "client-123"
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def key():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = private.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
           "n": _b64(numbers.n.to_bytes(256, "big")), "e": _b64(numbers.e.to_bytes(3, "big"))}
    return private, keys_from_jwks({"keys": [jwk]})


def token(private, *, header=None, **claims):
    body = {"iss": ISSUER, "aud": AUDIENCE, "token_use": "id", "cognito:username": "ana",
            "cognito:groups": ["finance_ops"], "exp": int(NOW.timestamp()) + 3600, **claims}
    head = _b64(json.dumps(header or {"alg": "RS256", "kid": "k1"}).encode())
    payload = _b64(json.dumps(body).encode())
    signature = private.sign(f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{payload}.{_b64(signature)}"


def check(jwt_text, keys):
    with time_machine.travel(NOW, tick=False):
        return verify(jwt_text, keys, issuer=ISSUER, audience=AUDIENCE)


def test_a_valid_token_gives_its_claims(key):
    private, keys = key
    claims = check(token(private), keys)
    assert claims["cognito:username"] == "ana" and claims["cognito:groups"] == ["finance_ops"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/other"}, "wrong_issuer"),
    ({"aud": "another-client"}, "wrong_audience"),
    ({"token_use": "access"}, "wrong_token_use"),
    ({"exp": int(NOW.timestamp()) - 61}, "expired"),
])
def test_claims_are_checked(key, change, reason):
    private, keys = key
    with pytest.raises(TokenInvalid) as failure:
        check(token(private, **change), keys)
    assert failure.value.reason == reason


def test_a_changed_payload_or_another_key_fails_the_signature(key):
    private, keys = key
    head, _, signature = token(private).split(".")
    forged = _b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "token_use": "id", "cognito:username": "eve",
                              "cognito:groups": ["approver"], "exp": 2**40}).encode())
    with pytest.raises(TokenInvalid) as failure:
        check(f"{head}.{forged}.{signature}", keys)
    assert failure.value.reason == "bad_signature"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenInvalid) as failure:
        check(token(other), keys)
    assert failure.value.reason == "bad_signature"


@pytest.mark.parametrize(("header", "reason"), [
    ({"alg": "none", "kid": "k1"}, "bad_algorithm"),
    ({"alg": "HS256", "kid": "k1"}, "bad_algorithm"),
    ({"alg": "RS256", "kid": "unknown"}, "unknown_key"),
])
def test_algorithm_and_key_id(key, header, reason):
    private, keys = key
    with pytest.raises(TokenInvalid) as failure:
        check(token(private, header=header), keys)
    assert failure.value.reason == reason


@pytest.mark.parametrize("text", ["", "a.b", "a.b.c", "!!!.???.***", "e30.e30.AAAA"])
def test_garbage_is_refused_with_a_reason(key, text):
    _, keys = key
    with pytest.raises(TokenInvalid) as failure:
        check(text, keys)
    assert failure.value.reason in ("malformed", "bad_algorithm", "unknown_key")


def test_a_short_key_is_not_trusted():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = small.public_key().public_numbers()
    keys = {"k1": RsaKey("k1", numbers.n, numbers.e)}
    with pytest.raises(TokenInvalid) as failure:
        check(token(small), keys)
    assert failure.value.reason == "bad_signature"


def test_roles_come_from_known_groups_only():
    assert roles_of(["approver", "admins", "viewer"]) == {Role.APPROVER, Role.VIEWER}
    assert roles_of("finance_ops,ops_admin") == {Role.FINANCE_OPS, Role.OPS_ADMIN}
    assert roles_of(None) == frozenset() and roles_of(42) == frozenset()


def test_each_role_does_exactly_its_jobs():
    expected = {  # the issue's access model, written out independently of GRANTS
        Role.VIEWER: {Action.VIEW},
        Role.FINANCE_OPS: {Action.VIEW, Action.WORK_CASES},
        Role.APPROVER: {Action.VIEW, Action.APPROVE},
        Role.OPS_ADMIN: {Action.VIEW, Action.REDRIVE, Action.REPLAY},
        Role.MAPPING_ADMIN: {Action.VIEW, Action.CONFIGURE},
    }
    for role in Role:
        assert {action for action in Action if allowed(frozenset({role}), action)} == expected[role]
    assert set(GRANTS) == set(Role)
    assert not any(allowed(frozenset(), action) for action in Action)
