"""Sign-in and sessions: the Cognito user pool authenticates, the console verifies its ID tokens.

``sign_in`` calls ``InitiateAuth`` (USER_PASSWORD_AUTH, the app client has no secret) and keeps the ID token as the
session cookie; every request's cookie is verified (``jwt.verify``: RS256 signature against the pool's published
keys, issuer, audience, ``token_use``, expiry) and its ``cognito:groups`` become the user's roles. The same code runs
on AWS and locally, where the pool is moto's (its keys are served at the endpoint, its tokens signed the same way).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any

from ledgerlink.clock import epoch
from ledgerlink.console.jwt import RsaKey, TokenInvalid, keys_from_jwks, verify
from ledgerlink.console.roles import Action, Role, allowed, roles_of

KEYS_REFRESH_SECONDS = 300      # an unknown key id refetches the key set, at most this often
FETCH_TIMEOUT_SECONDS = 5


class SignInFailed(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


# Cognito's refusals → (reason, what the person reads)
SIGN_IN_ERRORS: dict[str, tuple[str, str]] = {
    "NotAuthorizedException": ("bad_credentials", "the user name, password or sign-in session is not right"),
    "UserNotFoundException": ("bad_credentials", "the user name, password or sign-in session is not right"),
    "PasswordResetRequiredException": ("password_reset_required", "an administrator must reset this password"),
    "CodeMismatchException": ("code_mismatch", "that code is not right: use the current one from your app"),
    "EnableSoftwareTokenMFAException": ("code_mismatch", "that code is not right: use the current one from your app"),
    "ExpiredCodeException": ("code_expired", "that code has expired: use the current one"),
    "InvalidPasswordException": ("password_policy", "the new password does not meet the pool's password policy"),
    "ResourceNotFoundException": ("session_expired", "the sign-in took too long: start again"),
}


@dataclass(frozen=True, slots=True)
class Challenge:
    """What Cognito asks after the password: ``NEW_PASSWORD_REQUIRED`` (an invited user), ``MFA_SETUP`` (``secret``:
    the TOTP key to add to an authenticator app) or ``SOFTWARE_TOKEN_MFA``. ``session`` is Cognito's, valid minutes."""

    name: str
    session: str
    username: str
    secret: str = ""


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in user: the Cognito username and the roles its groups grant."""

    username: str
    roles: frozenset[Role]

    @property
    def actor(self) -> str:
        """How the audit trail and the cases name this user."""
        return f"console:{self.username}"

    def can(self, action: Action) -> bool:
        return allowed(self.roles, action)


class CognitoAuth:
    def __init__(self, *, user_pool_id: str, client_id: str, region: str, endpoint_url: str | None = None,
                 cognito: Any = None) -> None:   # Any: a boto3 cognito-idp client (untyped)
        self.user_pool_id = user_pool_id
        self.client_id = client_id
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        base = endpoint_url.rstrip("/") if endpoint_url else f"https://cognito-idp.{region}.amazonaws.com"
        self.jwks_url = f"{base}/{user_pool_id}/.well-known/jwks.json"
        self._cognito = cognito
        self._keys: dict[str, RsaKey] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def _cognito_client(self) -> Any:   # Any: a boto3 cognito-idp client (untyped)
        if self._cognito is None:
            from ledgerlink.store.clients import client as default_client

            return default_client("cognito-idp")
        return self._cognito

    def sign_in(self, username: str, password: str) -> str | Challenge:
        """The ID token of a user whose password Cognito accepts, or the challenge Cognito asks next (a new
        password, setting up or entering a TOTP code); else ``SignInFailed``."""
        if not username or not password or len(username) > 128 or len(password) > 256:
            raise SignInFailed("credentials_required", "enter your user name and password")
        return self._call(lambda c: c.initiate_auth(
            ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password}), username)

    def answer(self, challenge: str, *, session: str, username: str, code: str = "", new_password: str = ""
               ) -> str | Challenge:
        """Answer the challenge ``sign_in`` (or a previous answer) returned."""
        if not session or len(session) > 4096 or not username:
            raise SignInFailed("session_expired", "the sign-in took too long: start again")
        if challenge in ("SOFTWARE_TOKEN_MFA", "MFA_SETUP") and not (code.isdigit() and len(code) == 6):
            raise SignInFailed("code_required", "enter the 6-digit code of your authenticator app")
        if challenge == "SOFTWARE_TOKEN_MFA":
            return self._call(lambda c: c.respond_to_auth_challenge(
                ClientId=self.client_id, ChallengeName=challenge, Session=session,
                ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code}), username)
        if challenge == "MFA_SETUP":
            def verify_then_respond(c: Any) -> Any:
                verified = c.verify_software_token(Session=session, UserCode=code,
                                                   FriendlyDeviceName="LedgerLink console")
                return c.respond_to_auth_challenge(
                    ClientId=self.client_id, ChallengeName="MFA_SETUP",
                    Session=verified.get("Session") or session, ChallengeResponses={"USERNAME": username})
            return self._call(verify_then_respond, username)
        if challenge == "NEW_PASSWORD_REQUIRED":
            if not new_password or len(new_password) > 256:
                raise SignInFailed("password_required", "choose a new password")
            return self._call(lambda c: c.respond_to_auth_challenge(
                ClientId=self.client_id, ChallengeName=challenge, Session=session,
                ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new_password}), username)
        raise SignInFailed("unsupported_challenge", f"Cognito asks for {challenge[:40]}, which the console does not "
                                                    "answer: ask an administrator")

    def _call(self, call: Any, username: str) -> str | Challenge:
        from ledgerlink.store.clients import error_code

        client = self._cognito_client()
        try:
            answer = call(client)
            name = answer.get("ChallengeName")
            if name == "MFA_SETUP":
                setup = client.associate_software_token(Session=answer["Session"])
                return Challenge(name, setup.get("Session") or answer["Session"], username,
                                 secret=str(setup["SecretCode"]))
        except Exception as exc:
            reason = SIGN_IN_ERRORS.get(error_code(exc) or "")
            if reason is None:
                raise
            raise SignInFailed(*reason) from None
        if name:
            return Challenge(str(name), str(answer.get("Session") or ""), username)
        token = answer.get("AuthenticationResult", {}).get("IdToken")
        if not isinstance(token, str):
            raise SignInFailed("no_token", "the user pool answered without an ID token")
        return token

    def principal(self, token: str) -> Principal:
        """The user a session token authenticates; ``TokenInvalid`` otherwise."""
        claims = verify(token, self._keys_for(token), issuer=self.issuer, audience=self.client_id)
        username = claims.get("cognito:username")
        if not isinstance(username, str) or not username:
            raise TokenInvalid("no_username", "the token names no user")
        return Principal(username=username, roles=roles_of(claims.get("cognito:groups")))

    def _keys_for(self, token: str) -> dict[str, RsaKey]:
        from ledgerlink.console.jwt import header_of

        kid = str(header_of(token).get("kid", ""))
        with self._lock:
            if kid not in self._keys and epoch() - self._fetched_at >= KEYS_REFRESH_SECONDS:
                self._keys = self._fetch()
                self._fetched_at = epoch()
            return self._keys

    def _fetch(self) -> dict[str, RsaKey]:
        request = urllib.request.Request(self.jwks_url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - fixed URL
                return keys_from_jwks(json.loads(response.read()))
        except (OSError, ValueError) as exc:
            raise TokenInvalid("keys_unavailable", f"the user pool's keys could not be read "
                                                   f"({type(exc).__name__})") from None
