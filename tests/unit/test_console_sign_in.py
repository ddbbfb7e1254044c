"""The console's sign-in against a Cognito user pool that requires TOTP MFA (moto, TOTP codes checked): an invited
user chooses a password, sets up an authenticator, signs in; a wrong code is refused with a reason. The TOTP codes
here come from this file's own RFC 6238 implementation, not from the code under test or moto's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import time

import boto3
import pytest
from moto import mock_aws

from ledgerlink.console.auth import Challenge, CognitoAuth, SignInFailed


def totp(secret: str, at: float | None = None) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    counter = struct.pack(">Q", int((time.time() if at is None else at) // 30))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def claims(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


@pytest.fixture
def pool(monkeypatch):
    monkeypatch.setenv("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="eu-west-1")
        pool_id = cognito.create_user_pool(PoolName="console")["UserPool"]["Id"]
        cognito.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="ON",
                                         SoftwareTokenMfaConfiguration={"Enabled": True})
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName="console", GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
        cognito.create_group(GroupName="approver", UserPoolId=pool_id)
        cognito.admin_create_user(UserPoolId=pool_id, Username="ana", TemporaryPassword="Temp-Pass-123!",
                                  MessageAction="SUPPRESS")
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="ana", GroupName="approver")
        yield CognitoAuth(user_pool_id=pool_id, client_id=client_id, region="eu-west-1", cognito=cognito)


def test_invited_user_chooses_a_password_sets_up_totp_and_signs_in(pool):
    first = pool.sign_in("ana", "Temp-Pass-123!")
    assert isinstance(first, Challenge) and first.name == "NEW_PASSWORD_REQUIRED"
    setup = pool.answer(first.name, session=first.session, username="ana", new_password="Chosen-Pass-456!")
    assert isinstance(setup, Challenge) and setup.name == "MFA_SETUP" and setup.secret
    with pytest.raises(SignInFailed) as wrong:
        pool.answer(setup.name, session=setup.session, username="ana", code=f"{(int(totp(setup.secret)) + 1) % 10**6:06d}")
    assert wrong.value.reason == "code_mismatch"
    token = pool.answer(setup.name, session=setup.session, username="ana", code=totp(setup.secret))
    assert isinstance(token, str) and claims(token)["cognito:groups"] == ["approver"]

    again = pool.sign_in("ana", "Chosen-Pass-456!")
    assert isinstance(again, Challenge) and again.name == "SOFTWARE_TOKEN_MFA"
    token = pool.answer(again.name, session=again.session, username="ana", code=totp(setup.secret))
    assert claims(token)["cognito:username"] == "ana" and claims(token)["token_use"] == "id"


@pytest.mark.parametrize(("username", "password", "reason"), [
    ("ana", "not-the-password", "bad_credentials"), ("nobody", "whatever-123", "bad_credentials"),
    ("", "x", "credentials_required"), ("ana", "", "credentials_required")])
def test_refusals_have_reasons(pool, username, password, reason):
    with pytest.raises(SignInFailed) as refused:
        pool.sign_in(username, password)
    assert refused.value.reason == reason


def test_a_code_must_be_six_digits_and_a_challenge_known(pool):
    with pytest.raises(SignInFailed) as refused:
        pool.answer("SOFTWARE_TOKEN_MFA", session="s", username="ana", code="12ab56")
    assert refused.value.reason == "code_required"
    with pytest.raises(SignInFailed) as refused:
        pool.answer("CUSTOM_CHALLENGE", session="s", username="ana")
    assert refused.value.reason == "unsupported_challenge"
