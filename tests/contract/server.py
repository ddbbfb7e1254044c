"""A tiny HTTP server on 127.0.0.1 for ERP contract tests, with the knobs every ERP's behaviour needs.

Each ERP's test app (``tests/contract/<erp>_server.py``) implements the vendor's documented API surface on
top of :class:`ErpApp`: it checks auth headers/signatures, enforces the vendor's rate and concurrency limits
(429 + ``Retry-After``), replays idempotency keys, rejects closed periods and reports per-item batch
errors. The connector under test talks real HTTP to it — nothing in the connector is mocked.

Faults are injected per write: ``drop`` (commit, then close the socket without answering — the client
sees a reset), ``delay`` (commit, then answer after ``delay`` seconds: longer than the client's timeout),
``fail_after`` (commit, then answer 500) and ``fail_before`` (answer 503 without committing). Time is a
:class:`FakeClock` shared with the connector's limiter and token cache, so windows and expiries never
need a real wait.
"""

from __future__ import annotations

import abc
import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeClock:
    """Seconds since the epoch, advanced only by tests (and by the connector's injected sleeper)."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        """The connector's sleeper: record the wait and let time pass instantly."""
        self.slept.append(seconds)
        self.advance(seconds)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]        # lower-cased names
    body: bytes
    url: str                       # as the client addressed it (for signature checks)

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal) if self.body else None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    body: Any = None               # dict/list → JSON; bytes → as is; None → empty
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)  # JSON number on the wire
    raise TypeError(type(value).__name__)


@dataclass
class Fault:
    kind: str                      # drop | delay | fail_after | fail_before
    delay: float = 0.0


class Drop(Exception):
    """Raised by an app after committing: close the connection without a response."""


class RateWindow:
    """At most ``limit`` requests per ``window`` seconds (sliding), on the fake clock."""

    def __init__(self, limit: int, window: float, clock: FakeClock) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.hits: deque[float] = deque()
        self.max_seen = 0
        self.all_hits: list[float] = []

    def blocked(self) -> float | None:
        """None if a request fits; else seconds until a slot frees (the Retry-After)."""
        now = self.clock.now()
        while self.hits and self.hits[0] <= now - self.window:
            self.hits.popleft()
        if len(self.hits) >= self.limit:
            return max(1.0, self.hits[0] + self.window - now)
        return None

    def record(self) -> None:
        now = self.clock.now()
        self.hits.append(now)
        self.all_hits.append(now)
        self.max_seen = max(self.max_seen, len(self.hits))

    def admit(self) -> float | None:
        """Check and count one request (a single limit). None if admitted, else the Retry-After."""
        wait = self.blocked()
        if wait is None:
            self.record()
        return wait


    def max_in_any_window(self) -> int:
        """The most requests admitted in any ``window``-second span (what the ERP would have counted)."""
        best, start = 0, 0
        for end, at in enumerate(self.all_hits):
            while self.all_hits[start] <= at - self.window:
                start += 1
            best = max(best, end - start + 1)
        return best


def admit_all(*windows: RateWindow) -> tuple[float, RateWindow] | None:
    """Several limits on one request: it counts against each only if every one admits it."""
    for window in windows:
        wait = window.blocked()
        if wait is not None:
            return wait, window
    for window in windows:
        window.record()
    return None


class ErpApp(abc.ABC):
    """Base for the ERP apps: request log, fault queue, concurrency gauge."""

    def __init__(self, clock: FakeClock, *, max_concurrency: int | None = None) -> None:
        self.clock = clock
        self.log: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.max_concurrency = max_concurrency
        self.in_flight = 0
        self.max_in_flight = 0
        self._gauge = threading.Lock()
        self.lock = threading.RLock()      # apps mutate their state under it
        self.hold: threading.Event | None = None   # tests may hold requests open to build concurrency
        self._throttles: deque[list[Any]] = deque()   # [path substring, requests to let through first, Retry-After]
        self.throttled_answers = 0                       # 429s answered by :meth:`throttle`

    # ---- faults -------------------------------------------------------------------------------------

    def inject(self, kind: str, *, delay: float = 0.0, times: int = 1) -> None:
        for _ in range(times):
            self.faults.append(Fault(kind, delay))

    def before_commit(self) -> Response | None:
        """Call before a write commits: a ``fail_before`` fault answers 503 and nothing is written."""
        if self.faults and self.faults[0].kind == "fail_before":
            self.faults.popleft()
            return Response(503, {"message": "Service Unavailable"})
        return None

    def after_commit(self, response: Response) -> Response:
        """Call after a write committed: ``drop``/``delay``/``fail_after`` faults hide the outcome."""
        if not self.faults or self.faults[0].kind == "fail_before":
            return response
        fault = self.faults.popleft()
        if fault.kind == "drop":
            raise Drop()
        if fault.kind == "delay":
            time.sleep(fault.delay)   # real time: the client's read timeout must fire first
            return response
        return Response(500, {"message": "Internal Server Error"})

    def throttle(self, path_contains: str, *, after: int = 0, retry_after: int = 2) -> None:
        """Answer the request after the next ``after`` ones whose path contains ``path_contains`` with a 429
        (e.g. in the middle of a listing), as :meth:`throttled` words it for this ERP."""
        self._throttles.append([path_contains, after, retry_after])

    def throttled(self, retry_after: int) -> Response:
        return Response(429, {"message": "Too Many Requests"}, {"Retry-After": str(retry_after)})

    def _throttle(self, request: Request) -> Response | None:
        with self._gauge:
            if not self._throttles or self._throttles[0][0] not in request.path:
                return None
            entry = self._throttles[0]
            if entry[1] > 0:
                entry[1] -= 1
                return None
            self._throttles.popleft()
            self.throttled_answers += 1
        return self.throttled(entry[2])

    # ---- dispatch -----------------------------------------------------------------------------------

    @abc.abstractmethod
    def handle(self, request: Request) -> Response:
        """The ERP's routes."""

    def dispatch(self, request: Request) -> Response:
        with self._gauge:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            too_many = self.max_concurrency is not None and self.in_flight > self.max_concurrency
        try:
            self.log.append(request)
            if too_many:
                return self.concurrency_exceeded(request)
            throttled = self._throttle(request)
            if throttled is not None:
                return throttled
            if self.hold is not None:
                self.hold.wait(timeout=2)
            return self.handle(request)
        finally:
            with self._gauge:
                self.in_flight -= 1

    def concurrency_exceeded(self, request: Request) -> Response:
        return Response(429, {"message": "too many concurrent requests"}, {"Retry-After": "1"})

    def requests(self, method: str | None = None, path_contains: str = "") -> list[Request]:
        return [r for r in self.log if (method is None or r.method == method) and path_contains in r.path]


class ContractServer:
    def __init__(self, app: ErpApp) -> None:
        self.app = app
        server_app = app

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                return None

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
                request = Request(
                    method=self.command, path=parts.path,
                    query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                    url=f"http://{host}{self.path}")
                try:
                    response = server_app.dispatch(request)
                except Drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = response.encoded()
                self.send_response(response.status)
                headers = {"Content-Type": "application/json", **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have given up (timeout tests)
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ContractServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class MemorySecrets:
    """Secrets Manager stand-in for contract tests: same ``get_raw``/``put_raw`` surface, records writes."""

    values: dict[str, str] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)

    def get_raw(self, secret_id: str, *, fresh: bool = False) -> str:
        return self.values[secret_id]

    def put_raw(self, secret_id: str, text: str) -> None:
        self.values[secret_id] = text
        self.writes.append((secret_id, text))

    def get(self, secret_id: str) -> list[str]:
        return [self.values[secret_id]]


Handler = Callable[[Request], Response]
