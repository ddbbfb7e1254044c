"""What every HTTP ERP connector shares: credentials from Secrets Manager, OAuth 2.0 tokens, the connection's
limiter around each call, and one mapping from HTTP outcomes to LedgerLink's typed errors.

=========================  =====================================================================
outcome                    becomes
=========================  =====================================================================
request never sent         ``TransientError`` (``erp_unreachable``): safe to retry
sent, no response / 5xx    write: ``UncertainOutcome`` (look up by external id before any retry);
                           read: ``TransientError``
401                        tokens refreshed once, the call repeated; still 401 → ``DocumentRejected``
                           (``erp_auth_failed``: reconnect the app, then retry the case)
429 (or the ERP's own      ``RateLimited`` with the ERP's ``Retry-After`` (or its documented wait);
concurrency error)         the connection's limiter blocks every Lambda until then
other 4xx                  returned to the connector, which turns it into ``DocumentRejected``
=========================  =====================================================================
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from ledgerlink.clock import now as clock_now
from ledgerlink.connectors.erps.http import HttpClient, HttpResponse, RequestNotSent, ResponseLost
from ledgerlink.connectors.erps.ratelimit import Limiter, NullLimiter, wall_clock_ms
from ledgerlink.errors import DocumentRejected, RateLimited, TransientError, UncertainOutcome
from ledgerlink.model.json import JsonObject

if TYPE_CHECKING:
    from ledgerlink.connectors.erps import SecretStore


def load_credentials(secrets: SecretStore | None, secret_id: str, required: tuple[str, ...], *, fresh: bool = False) -> dict[str, str]:
    """A connection's credentials: a JSON object in Secrets Manager (never in config, env vars or logs)."""
    if secrets is None:
        raise DocumentRejected("no secrets store is configured for ERP credentials", reason="erp_auth_failed")
    try:
        data = json.loads(secrets.get_raw(secret_id, fresh=fresh))
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise DocumentRejected(f"secret {secret_id} is not a JSON object", reason="erp_auth_failed",
                               suggested_fix=f"store the connection's credentials as JSON with {list(required)}")
    missing = [name for name in required if not data.get(name)]
    if missing:
        raise DocumentRejected(f"secret {secret_id} lacks {missing}", reason="erp_auth_failed",
                               suggested_fix=f"add {missing} to the secret's JSON")
    return {key: str(val) for key, val in data.items() if isinstance(val, (str, int))}


def retry_after_seconds(response: HttpResponse, default: float) -> float:
    """``Retry-After`` as seconds (delta or HTTP date), else the ERP's documented wait."""
    raw = response.header("retry-after")
    if not raw:
        return default
    try:
        return max(0.0, float(int(raw.strip())))
    except ValueError:
        pass
    try:

        return max(0.0, (parsedate_to_datetime(raw) - clock_now()).total_seconds())
    except (TypeError, ValueError):
        return default


@dataclass
class OAuth2Tokens:
    """Access tokens for one connection, cached until shortly before they expire.

    ``grant="refresh_token"`` (QuickBooks Online, Xero): the secret holds ``client_id``, ``client_secret`` and
    ``refresh_token``; a token response with a *new* refresh token (both rotate them) is written back to
    Secrets Manager at once, because the old one stops working. If a refresh fails with ``invalid_grant`` the
    secret is re-read first: another Lambda may have rotated it a moment ago.
    ``grant="client_credentials"`` (Business Central): ``client_id`` and ``client_secret``, plus ``scope``.
    """

    token_url: str
    secret_id: str
    secrets: SecretStore | None
    grant: str = "refresh_token"
    scope: str | None = None
    basic_auth: bool = True
    clock_ms: Callable[[], int] = wall_clock_ms
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._token: str | None = None
        self._expires_ms = 0
        self._lock = threading.Lock()
        self.refreshes = 0

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def access_token(self) -> str:
        with self._lock:
            if self._token and self.clock_ms() < self._expires_ms - 60_000:
                return self._token
            try:
                return self._fetch(fresh=False)
            except _InvalidGrant:
                return self._fetch(fresh=True)

    def _fetch(self, *, fresh: bool) -> str:
        required = ("client_id", "client_secret") + (("refresh_token",) if self.grant == "refresh_token" else ())
        credentials = load_credentials(self.secrets, self.secret_id, required, fresh=fresh)
        form = {"grant_type": self.grant}
        if self.grant == "refresh_token":
            form["refresh_token"] = credentials["refresh_token"]
        if self.scope:
            form["scope"] = self.scope
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.basic_auth:
            pair = f"{credentials['client_id']}:{credentials['client_secret']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form.update(client_id=credentials["client_id"], client_secret=credentials["client_secret"])
        try:
            response = HttpClient(self.token_url, timeout=self.timeout).request(
                "POST", self.token_url, headers=headers, body=urlencode(form).encode())
        except (RequestNotSent, ResponseLost) as exc:
            raise TransientError(f"token endpoint unreachable: {exc}", reason="erp_unreachable") from None
        body = _json_or_empty(response)
        if response.status == 400 and body.get("error") == "invalid_grant" and not fresh:
            raise _InvalidGrant()
        if response.status >= 500 or response.status == 429:
            raise TransientError(f"token endpoint answered {response.status}", reason="erp_unavailable")
        if not response.ok or not body.get("access_token"):
            raise DocumentRejected(f"the ERP refused the connection's credentials ({response.status} "
                                   f"{body.get('error', '')})", reason="erp_auth_failed",
                                   suggested_fix="reconnect the ERP app and store the new credentials in "
                                                 f"secret {self.secret_id}, then retry")
        new_refresh = body.get("refresh_token")
        if self.grant == "refresh_token" and new_refresh and new_refresh != credentials["refresh_token"] \
                and self.secrets is not None:   # (load_credentials has refused a missing store already)
            self.secrets.put_raw(self.secret_id, json.dumps({**credentials, "refresh_token": new_refresh}))
        self.refreshes += 1
        self._token = str(body["access_token"])
        self._expires_ms = self.clock_ms() + int(str(body.get("expires_in", 1800))) * 1000
        return self._token


class _InvalidGrant(Exception):
    pass


def _json_or_empty(response: HttpResponse) -> JsonObject:
    try:
        return response.json_object()
    except ValueError:
        return {}


AuthHeaders = Callable[[str, str], Mapping[str, str]]   # (method, full url) → headers


class ErpSession:
    """Calls one connection's API through its limiter, with auth and the error mapping above."""

    def __init__(self, *, connection_id: str, http: HttpClient, auth: AuthHeaders,
                 reauthenticate: Callable[[], None] | None = None, limiter: Limiter | None = None,
                 rate_limit_wait: float = 60.0, is_rate_limited: Callable[[HttpResponse], bool] | None = None,
                 observe: Callable[[HttpResponse], None] | None = None) -> None:
        self.connection_id = connection_id
        self.http = http
        self._auth = auth
        self._reauthenticate = reauthenticate
        self.limiter: Limiter = limiter or NullLimiter()
        self._rate_limit_wait = rate_limit_wait
        self._is_rate_limited = is_rate_limited
        self._observe = observe

    @property
    def calls(self) -> int:
        return self.http.calls

    def call(self, method: str, path: str, *, query: Mapping[str, object] | None = None,
             headers: Mapping[str, str] | None = None, json_body: object = None, body: bytes | None = None,
             write: bool = False) -> HttpResponse:
        for attempt in (1, 2):
            url = self.http.url(path, query)
            lease = self.limiter.acquire()
            try:
                response = self.http.request(method, url, headers={**self._auth(method, url), **(headers or {})},
                                             json_body=json_body, body=body)
            except RequestNotSent as exc:
                raise TransientError(f"{self.connection_id}: {exc}", reason="erp_unreachable") from None
            except ResponseLost as exc:
                if write:
                    raise UncertainOutcome(f"{self.connection_id}: {exc}") from None
                raise TransientError(f"{self.connection_id}: {exc}", reason="erp_timeout") from None
            finally:
                self.limiter.release(lease)
            if self._observe is not None:
                self._observe(response)
            if response.status == 401 and attempt == 1 and self._reauthenticate is not None:
                self._reauthenticate()
                continue
            if response.status == 401 or response.status == 403:
                raise DocumentRejected(f"{self.connection_id}: the ERP refused our credentials ({response.status})",
                                       reason="erp_auth_failed", connection=self.connection_id,
                                       suggested_fix="check the connection's credentials and permissions, "
                                                     "then retry")
            if response.status == 429 or (self._is_rate_limited is not None and self._is_rate_limited(response)):
                wait = retry_after_seconds(response, self._rate_limit_wait)
                self.limiter.penalize(wait)
                raise RateLimited(f"{self.connection_id}: the ERP is rate limiting us", retry_after=wait,
                                  connection=self.connection_id)
            if response.status >= 500:
                if write:
                    raise UncertainOutcome(f"{self.connection_id}: {method} answered {response.status}")
                raise TransientError(f"{self.connection_id}: {method} answered {response.status}",
                                     reason="erp_unavailable")
            return response
        raise AssertionError("unreachable")


def rejected(connection_id: str, message: str, *, reason: str = "erp_rejected", **detail: object) -> DocumentRejected:
    return DocumentRejected(f"{connection_id}: {message}"[:1000], reason=reason, connection=connection_id, **detail)
