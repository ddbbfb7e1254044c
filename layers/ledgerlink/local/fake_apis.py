"""HTTP fakes of the vendor APIs LedgerLink calls (local stack, demo, functional tests).

One threaded server on 127.0.0.1 answers the endpoints the connectors use. Each source package with an API has a
``fake_api.py`` (``FAKE_API``, contract in ``ledgerlink.connectors.sources.local_stack``): it serves the fixtures in
``events/<source>/api/`` (each folder's README says where the shapes come from) and checks credentials the way the
vendor does — a wrong secret is a 401 (or the vendor's own error answer), so the credential plumbing (Secrets
Manager → session → header) is exercised end to end. This server records requests, injects failures, issues
bearer tokens and reads fixtures for them; the endpoints each fake answers are listed in its module docstring.

``fail(prefix, status, times)`` injects failures; ``requests`` records ``(method, path)`` for assertions. An
attribute a vendor fake exposes (``exposed``) reads and writes as ``<kind>_<name>`` here.
"""

from __future__ import annotations

import json
import re
import secrets as random_secrets
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ledgerlink.connectors.sources import SOURCES, package_module
from ledgerlink.connectors.sources.http import basic_auth
from ledgerlink.connectors.sources.local_stack import JSON_TYPE, FakeRequest, FakeVendor, Reply
from ledgerlink.local.signers import local_source
from ledgerlink.model.json import JsonValue

_SAFE = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")


def generate_credentials(kind: str) -> dict[str, str]:
    """Fresh local API credentials in the shape the kind's secret has (``LOCAL.new_credentials``); KeyError for a
    kind whose API LedgerLink does not call."""
    local = local_source(kind)
    if local is None or local.new_credentials is None:
        raise KeyError(kind)
    return local.new_credentials(random_secrets.token_urlsafe(18))


def vendor_fakes(fixtures: Path) -> dict[str, FakeVendor]:
    """A fresh fake of every vendor API a source package has (its ``fake_api.py``), by kind."""
    fakes: dict[str, FakeVendor] = {}
    for kind in SOURCES:
        module = package_module(kind, "fake_api")
        if module is not None:
            fakes[kind] = module.FAKE_API(fixtures)
    return fakes


class FakeSourceApis:
    """The fake vendor APIs on one local HTTP server (``credentials``: kind → the credentials its source was given)."""

    def __init__(self, fixtures: Path, *, credentials: Mapping[str, Mapping[str, str]], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self._vendors: dict[str, FakeVendor] = vendor_fakes(fixtures)
        self.fixtures = fixtures
        self.credentials = {kind: dict(values) for kind, values in credentials.items()}
        self.requests: list[tuple[str, str]] = []
        self._tokens: dict[str, str] = {}          # bearer token → kind
        self._failures: list[list[Any]] = []       # [path prefix, status, remaining]
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-source-apis")

    # ---- what a vendor fake exposes, as <kind>_<name> ------------------------------------------------

    def _exposed(self, name: str) -> tuple[FakeVendor, str] | None:
        for kind, vendor in self.__dict__.get("_vendors", {}).items():
            attribute = name.removeprefix(f"{kind}_")
            if attribute != name and attribute in vendor.exposed:
                return vendor, attribute
        return None

    def __getattr__(self, name: str) -> Any:
        found = self._exposed(name)
        if found is None:
            raise AttributeError(name)
        return getattr(found[0], found[1])

    def __setattr__(self, name: str, value: object) -> None:
        found = self._exposed(name)
        if found is None:
            object.__setattr__(self, name, value)
        else:
            setattr(found[0], found[1], value)

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeSourceApis:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSourceApis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test hooks --------------------------------------------------------------------------------

    def fail(self, path_prefix: str, status: int, times: int = 1) -> None:
        with self.lock:
            self._failures.append([path_prefix, status, times])

    def calls(self, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for _, path in self.requests if path.startswith(path_prefix))

    def _injected(self, path: str) -> int | None:
        for failure in self._failures:
            if path.startswith(failure[0]) and failure[2] > 0:
                failure[2] -= 1
                return int(failure[1])
        return None

    # ---- what the vendor fakes use (ledgerlink.connectors.sources.local_stack.FakeHost) -------------

    def credentials_of(self, kind: str) -> Mapping[str, str]:
        return self.credentials.get(kind, {})

    def issue_token(self, kind: str) -> dict[str, JsonValue]:
        token = f"{kind}-token-" + random_secrets.token_urlsafe(12)
        with self.lock:
            self._tokens[token] = kind
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def has_token(self, request: FakeRequest, kind: str) -> bool:
        token = request.header("Authorization").removeprefix("Bearer ").strip()
        return self._tokens.get(token) == kind

    def basic_auth_is(self, request: FakeRequest, user: str | None, password: str | None) -> bool:
        return bool(user and password) and request.header("Authorization") == basic_auth(user or "", password or "")

    def fixture(self, *parts: str) -> Reply:
        if not all(_SAFE.match(part) for part in parts[1:]):
            return 404, {"error": "not found"}, JSON_TYPE
        path = self.fixtures.joinpath(*parts)
        if not path.is_file():
            return 404, {"error": "not found"}, JSON_TYPE
        content_type = "text/csv" if path.suffix == ".csv" else JSON_TYPE
        return 200, path.read_bytes(), content_type

    # ---- routing -----------------------------------------------------------------------------------

    def route(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """The first vendor fake that knows the request answers it; 404 when none does."""
        path = urlsplit(raw_path).path
        request = FakeRequest(method, raw_path, path, tuple(part for part in path.split("/") if part), headers, body)
        for vendor in self._vendors.values():
            reply = vendor.route(self, request)
            if reply is not None:
                return reply
        return 404, {"error": "no such endpoint"}, JSON_TYPE

    def handle(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """One request as the server receives it: recorded, then an injected failure or the route's answer."""
        path = urlsplit(raw_path).path
        with self.lock:
            self.requests.append((method, path))
            injected = self._injected(path)
        if injected:
            return injected, {"error": "injected failure"}, JSON_TYPE
        return self.route(method, raw_path, headers, body)


def _encoded(body: bytes | str | JsonValue) -> bytes:
    if isinstance(body, bytes):
        return body
    return (body if isinstance(body, str) else json.dumps(body)).encode()


def _handler(fake: FakeSourceApis) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            return

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer, content_type = fake.handle(self.command, self.path, dict(self.headers.items()), body)
            data = _encoded(answer)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _handle
        do_POST = _handle

    return Handler
