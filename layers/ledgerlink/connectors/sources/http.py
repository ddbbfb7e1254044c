"""A small stdlib HTTP client for vendor APIs (no requests/urllib3 in the layer: cold start, one less pin).

Status codes become typed errors here, once, so every API client behaves the same:

- connection failures, timeouts, 429 and 5xx → :class:`SourceApiUnavailable` (a ``TransientError``: the SQS
  message is retried with backoff and, in the end, parked in the DLQ);
- 401/403 → :class:`SourceApiError` ``source_api_unauthorized``; 404 → ``source_object_not_found``; any other
  4xx → ``source_api_rejected`` (a ``NormalizationError``: an exception case naming the archive key, replayed
  once the credentials or the object are fixed).

Redirects are not followed (a credential must never be replayed to another host) and bodies are capped.
Nothing here logs: URLs may carry object ids, and headers carry credentials.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol
from urllib.parse import urlsplit

from ledgerlink.clock import epoch
from ledgerlink.errors import NormalizationError, TransientError
from ledgerlink.model.json import JsonValue

MAX_RESPONSE_BYTES = 20 * 1024 * 1024
USER_AGENT = "LedgerLink/0.1 (+https://github.com/ledgerlink)"


class SourceApiUnavailable(TransientError):
    """The vendor API could not answer now (network, timeout, throttling, 5xx): retry later."""

    reason = "source_api_unavailable"


class SourceApiError(NormalizationError):
    """The vendor API refused the request for a reason retrying will not fix."""

    reason = "source_api_rejected"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names

    def text(self) -> str:
        return self.body.decode("utf-8")


class Http(Protocol):
    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None,
                timeout: float = 10.0) -> HttpResponse: ...


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:  # noqa: D401 - urllib hook
        return None


class UrllibHttp:
    """The production client: urllib, no proxies from the environment, no redirects, capped bodies."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None,
                timeout: float = 10.0) -> HttpResponse:
        scheme = urlsplit(url).scheme
        if scheme not in ("https", "http"):
            raise SourceApiError(f"refusing a {scheme!r} URL", reason="untrusted_url")
        request = urllib.request.Request(url, data=body, method=method,
                                         headers={"User-Agent": USER_AGENT, **(headers or {})})
        try:
            with self._opener.open(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
                return HttpResponse(response.status, _read(response),
                                    {k.lower(): v for k, v in response.headers.items()})
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, _read(error), {k.lower(): v for k, v in (error.headers or {}).items()})
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
            raise SourceApiUnavailable(f"{method} {_host(url)} failed: {type(error).__name__}",
                                       host=_host(url)) from None


class _Readable(Protocol):
    def read(self, amount: int, /) -> bytes: ...


def _read(response: _Readable) -> bytes:
    data = response.read(MAX_RESPONSE_BYTES + 1)
    if len(data) > MAX_RESPONSE_BYTES:
        raise SourceApiError(f"response larger than {MAX_RESPONSE_BYTES} bytes", reason="source_response_too_large")
    return data


def _host(url: str) -> str:
    return urlsplit(url).hostname or "?"


def checked(response: HttpResponse, *, what: str) -> HttpResponse:
    """``response`` if 2xx; otherwise the typed error for its status (``what`` names the call, never secrets)."""
    status = response.status
    if 200 <= status < 300:
        return response
    if status == 429 or status >= 500:
        raise SourceApiUnavailable(f"{what}: HTTP {status}", status=status)
    if status in (401, 403):
        raise SourceApiError(f"{what}: HTTP {status} (credentials refused)", reason="source_api_unauthorized",
                             status=status)
    if status == 404:
        raise SourceApiError(f"{what}: HTTP 404", reason="source_object_not_found", status=status)
    raise SourceApiError(f"{what}: HTTP {status}", reason="source_api_rejected", status=status)


def credential(values: Mapping[str, object], name: str, secret_id: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value:
        raise SourceApiError(f"API credentials secret {secret_id!r} has no {name!r}",
                             reason="source_api_credentials_missing", secret=secret_id)
    return value


def _token_grant(body: bytes, default_expires: int) -> tuple[str, int]:
    """(access token, seconds it lives) from an OAuth 2.0 token response; ValueError / KeyError / TypeError when the
    answer is not one."""
    answer: JsonValue = json.loads(body)
    if not isinstance(answer, dict):
        raise TypeError("token response is not an object")
    token = answer["access_token"]
    expires = answer.get("expires_in", default_expires)
    if not isinstance(token, str) or not isinstance(expires, int | float | str | Decimal):
        raise TypeError("token response has no string access_token or no numeric expires_in")
    return token, int(expires)


class BearerSession(ABC):
    """A vendor API behind an OAuth 2.0 token endpoint: the access token is cached (thread-safe) until a minute
    before ``expires_in``, and a GET answered 401 is tried once more with a fresh token. Subclasses say how to
    ask for a token (:meth:`_request_token`) and name the vendor (``VENDOR``, ``DEFAULT_EXPIRES``)."""

    VENDOR = "vendor"
    DEFAULT_EXPIRES = 3600

    def __init__(self, base_url: str, timeout: float, http: Http, clock: Callable[[], float] = epoch) -> None:
        self._base = base_url
        self._timeout = timeout
        self._http = http
        self._clock = clock
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    @abstractmethod
    def _request_token(self) -> HttpResponse:
        """POST the vendor's token grant (the answer is checked and read here)."""

    def _access_token(self, *, renew: bool = False) -> str:
        with self._lock:
            if self._token and not renew and self._clock() < self._token[1]:
                return self._token[0]
            response = checked(self._request_token(), what=f"{self.VENDOR} token")
            try:
                token, expires = _token_grant(response.body, self.DEFAULT_EXPIRES)
            except (ValueError, KeyError, TypeError):
                raise SourceApiError(f"{self.VENDOR} token response has no access_token",
                                     reason="source_api_rejected") from None
            self._token = (token, self._clock() + max(expires - 60, 30))
            return token

    def get(self, path: str, *, what: str) -> str:
        for attempt in (0, 1):
            response = self._http.request("GET", f"{self._base}{path}", timeout=self._timeout, headers={
                "Authorization": f"Bearer {self._access_token(renew=attempt == 1)}", "Accept": "application/json"})
            if response.status != 401 or attempt == 1:
                return checked(response, what=what).text()
        raise AssertionError("unreachable")
