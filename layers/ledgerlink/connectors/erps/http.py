"""A small HTTP client for ERP APIs on the standard library (no requests/httpx in the Lambda layer).

Two things matter more than convenience here:

- **Was the request sent?** A failure before the request left (DNS, refused connection, TLS) is safe to
  retry (:class:`RequestNotSent`); a failure after it left (read timeout, connection reset, no status
  line) leaves the outcome unknown (:class:`ResponseLost`) — for a write, the connector must look the
  document up by external id before anything is retried.
- **Money stays exact.** Request bodies are serialized with ``Decimal`` amounts written as JSON numbers
  digit for digit, and responses are parsed with ``parse_float=Decimal``; no ``float`` anywhere.
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.tracing import remote_request


class HttpFailure(Exception):
    """Transport-level failure (no HTTP status to judge by)."""


class RequestNotSent(HttpFailure):
    """Nothing reached the server: retrying cannot duplicate anything."""


class ResponseLost(HttpFailure):
    """The request was sent but no complete response came back (timeout, reset): outcome unknown."""


def _encode(value: object) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        raise TypeError("floats are never sent to an ERP; use Decimal")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a finite amount: {value}")
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (date, datetime)):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: object) -> str:
    """JSON with ``Decimal`` written as an exact number (``Decimal('20.10')`` → ``20.10``). ``value``: JSON-shaped data
    (a request body's TypedDict, mappings, lists, str, int, Decimal, bool, None, dates)."""
    return _encode(value)


def loads(data: bytes | str) -> JsonValue:
    parsed: JsonValue = json.loads(data, parse_float=Decimal) if data else None
    return parsed


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]            # lower-cased names
    body: bytes
    url: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> JsonValue:
        return loads(self.body)

    def json_object(self) -> JsonObject:
        """The body when it is a JSON object; an empty one when it is empty (or not an object)."""
        body = loads(self.body)
        return body if isinstance(body, dict) else {}

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class HttpClient:
    """One connection per request (Lambda invocations are short; keep-alive buys little and hides resets)."""

    base_url: str
    timeout: float = 30.0
    user_agent: str = "LedgerLink/0.1 (+https://github.com/ledgerlink)"
    calls: int = field(default=0, init=False)  # requests actually sent (the bench and tests count them)

    def url(self, path: str, query: Mapping[str, object] | None = None) -> str:
        if path.startswith(("http://", "https://")):
            url = path
        else:
            url = self.base_url.rstrip("/") + "/" + path.lstrip("/")
        if query:
            pairs = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in query.items() if v is not None}
            url += ("&" if "?" in url else "?") + urlencode(pairs)
        return url

    @remote_request   # one X-Ray subsegment per ERP request (host, method, status; ledgerlink/tracing.py)
    def request(self, method: str, path: str, *, query: Mapping[str, object] | None = None,
                headers: Mapping[str, str] | None = None, json_body: object = None, body: bytes | None = None,
                timeout: float | None = None) -> HttpResponse:
        url = self.url(path, query)
        parts = urlsplit(url)
        sent_headers = {"User-Agent": self.user_agent, "Accept": "application/json", **(headers or {})}
        payload = body
        if json_body is not None:
            payload = dumps(json_body).encode("utf-8")
            sent_headers.setdefault("Content-Type", "application/json")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        if not parts.hostname:
            raise RequestNotSent(f"{method} {url}: no host to send to")
        connection = connection_class(parts.hostname, parts.port, timeout=timeout or self.timeout)
        try:
            try:
                connection.connect()
            except (OSError, ssl.SSLError) as exc:
                raise RequestNotSent(f"{method} {parts.hostname}: {type(exc).__name__}") from None
            self.calls += 1  # from here on the server may have seen (and acted on) the request
            try:
                connection.request(method, target, body=payload, headers=sent_headers)
                response = connection.getresponse()
                data = response.read()
            except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                raise ResponseLost(f"{method} {parts.path}: {type(exc).__name__}") from None
            return HttpResponse(status=response.status, body=data, url=url,
                                headers={name.lower(): value for name, value in response.getheaders()})
        finally:
            connection.close()
