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

    def sign_in(self, username: str, password: str) -> str:
        """The ID token of a user whose password Cognito accepts; else ``SignInFailed``."""
        if not username or not password or len(username) > 128 or len(password) > 256:
            raise SignInFailed("credentials_required", "enter your user name and password")
        client = self._cognito
        if client is None:
            from ledgerlink.store.clients import client as default_client

            client = default_client("cognito-idp")
        try:
            answer = client.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                          AuthParameters={"USERNAME": username, "PASSWORD": password})
        except Exception as exc:
            from ledgerlink.store.clients import error_code

            code = error_code(exc)
            if code in ("NotAuthorizedException", "UserNotFoundException"):
                raise SignInFailed("bad_credentials", "the user name or password is not right") from None
            if code == "PasswordResetRequiredException":
                raise SignInFailed("password_reset_required", "an administrator must reset this password") from None
            raise
        if answer.get("ChallengeName"):
            raise SignInFailed("challenge_required", f"Cognito asks for {answer['ChallengeName']}: an administrator "
                                                     "sets a permanent password (admin-set-user-password --permanent)")
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
