"""An HTTP front that turns requests into API Gateway REST proxy events for the ingest handler.

Routes like the deployed API: ``POST /webhooks/{source}``; anything else is 404/405 with a JSON reason.
Bodies over API Gateway's 10 MB limit are refused here, as API Gateway would.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NotRequired, TypedDict

API_GATEWAY_MAX_BODY = 10 * 1024 * 1024
# socketserver's default listen backlog is 5: a burst of more simultaneous connects than that was reset by the
# kernel before a thread ever saw it (issue 18 item 6). The kernel caps this at net.core.somaxconn.
LISTEN_BACKLOG = 1024
SHUTDOWN_POLL_SECONDS = 0.1   # serve_forever's poll interval: how long stop() may wait for the accept loop
_ROUTE = re.compile(r"^/webhooks/([^/?#]+)/?$")
# The ops API's routes (infra/constructs/ops_api.py); locally served without IAM, as the local user.
_OPS = (
    (re.compile(r"^/exceptions/?$"), "/exceptions", ()),
    (re.compile(r"^/exceptions/([^/]+)/?$"), "/exceptions/{exception_id}", ("exception_id",)),
    (re.compile(r"^/exceptions/([^/]+)/([^/]+)/?$"), "/exceptions/{exception_id}/{action}", ("exception_id", "action")),
    (re.compile(r"^/documents/([^/]+)/?$"), "/documents/{document_id}", ("document_id",)),
    (re.compile(r"^/validate/([^/]+)/?$"), "/validate/{document_type}", ("document_type",)),
    (re.compile(r"^/close-check/?$"), "/close-check", ()),
    (re.compile(r"^/backlog/?$"), "/backlog", ()),
)


class RequestIdentity(TypedDict, total=False):
    userArn: str
    sourceIp: str


class RequestContext(TypedDict):
    requestId: str
    stage: str
    httpMethod: str
    path: str
    resourcePath: str
    identity: RequestIdentity


class ProxyEvent(TypedDict):
    """An API Gateway REST proxy event (the fields the handlers read, as API Gateway sends them)."""

    resource: str
    path: str
    httpMethod: str
    headers: dict[str, str]
    multiValueHeaders: dict[str, list[str]]
    queryStringParameters: dict[str, str] | None
    multiValueQueryStringParameters: NotRequired[dict[str, list[str]] | None]
    pathParameters: dict[str, str] | None
    stageVariables: None
    body: str | None
    isBase64Encoded: bool
    requestContext: RequestContext


class ProxyResponse(TypedDict, total=False):
    """A handler's answer to a proxy event."""

    statusCode: int
    body: str
    headers: dict[str, str]
    multiValueHeaders: dict[str, list[str]]
    isBase64Encoded: bool


type ProxyHandler = Callable[[ProxyEvent], ProxyResponse]


def ops_event(method: str, raw_path: str, headers: dict[str, str], body: bytes, caller: str) -> ProxyEvent | None:
    """An API Gateway REST proxy event for an ops route, or None when the path is not one."""
    path, _, query = raw_path.partition("?")
    for pattern, resource, names in _OPS:
        match = pattern.match(path)
        if match:
            parameters = dict(zip(names, match.groups(), strict=True))
            query_parameters = dict(urllib.parse.parse_qsl(query)) or None
            return {
                "resource": resource, "path": path, "httpMethod": method, "headers": headers,
                "multiValueHeaders": {k: [v] for k, v in headers.items()},
                "queryStringParameters": query_parameters,
                "multiValueQueryStringParameters": {k: [v] for k, v in (query_parameters or {}).items()} or None,
                "pathParameters": parameters or None, "stageVariables": None,
                "body": body.decode("utf-8", "replace") if body else None, "isBase64Encoded": False,
                "requestContext": {"requestId": str(uuid.uuid4()), "stage": "local", "httpMethod": method,
                                   "path": path, "resourcePath": resource,
                                   "identity": {"userArn": caller, "sourceIp": "127.0.0.1"}},
            }
    return None


def console_event(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> ProxyEvent | None:
    """An API Gateway REST proxy event for the console (``/console`` and below), or None for another path."""
    path, _, query = raw_path.partition("?")
    if path != "/console" and not path.startswith("/console/"):
        return None
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for key, item in pairs:
        multi.setdefault(key, []).append(item)
    return {
        "resource": "/console/{proxy+}", "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": {"proxy": path.removeprefix("/console/")}, "stageVariables": None,
        "body": body.decode("utf-8", "replace") if body else None, "isBase64Encoded": False,
        "requestContext": {"requestId": str(uuid.uuid4()), "stage": "local", "httpMethod": method, "path": path,
                           "resourcePath": "/console/{proxy+}", "identity": {"sourceIp": "127.0.0.1"}},
    }


def api_gateway_event(method: str, path: str, headers: dict[str, str], body: bytes, source_ip: str) -> ProxyEvent:
    match = _ROUTE.match(path.split("?", 1)[0])
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    request_id = str(uuid.uuid4())
    return {
        "resource": "/webhooks/{source}", "path": path, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "pathParameters": {"source": match.group(1)} if match else None,
        "stageVariables": None, "body": text, "isBase64Encoded": encoded,
        "requestContext": {"requestId": request_id, "stage": "local", "httpMethod": method, "path": path,
                           "resourcePath": "/webhooks/{source}", "identity": {"sourceIp": source_ip}},
    }


class FrontServer(ThreadingHTTPServer):
    """One thread per connection (daemon: a stuck client never holds the process), a listen backlog for bursts."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    block_on_close = False   # server_close() does not wait for requests still in flight

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (reset, broken pipe) is not a server error: no traceback on stderr for it."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class WebhookFront:
    def __init__(self, invoke: ProxyHandler, *, host: str = "127.0.0.1",
                 port: int = 0, ops: ProxyHandler | None = None, console: ProxyHandler | None = None,
                 caller: str = "local") -> None:
        self._invoke = invoke
        self._ops = ops
        self._console = console
        self._caller = caller
        self.outcomes: Counter[str] = Counter()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: the CLI prints summaries
                return

            def _reply(self, status: int, body: dict[str, str] | str | bytes, headers: dict[str, str] | None = None,
                       multi: dict[str, list[str]] | None = None) -> None:
                payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
                data = payload if isinstance(payload, bytes) else payload.encode("utf-8")
                self.send_response(status)
                for key, value in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(key, value)
                for key, values in (multi or {}).items():
                    for value in values:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > API_GATEWAY_MAX_BODY:
                    front.outcomes["rejected:payload_too_large"] += 1
                    self.close_connection = True
                    self._reply(413, {"status": "rejected", "reason": "payload_too_large",
                                      "message": "API Gateway limit is 10 MB"})
                    return
                body = self.rfile.read(length) if length else b""
                if self.path == "/health":
                    self._reply(200, {"status": "ok"})
                    return
                console = front._console
                page = console_event(self.command, self.path, dict(self.headers.items()), body) \
                    if console is not None else None
                if console is not None and page is not None:
                    self._console_reply(console, page)
                    return
                ops = front._ops
                operation = ops_event(self.command, self.path, dict(self.headers.items()), body, front._caller) \
                    if ops is not None else None
                if ops is not None and operation is not None:
                    try:
                        response = ops(operation)
                    except Exception:
                        self._reply(502, {"status": "error", "reason": "integration_failure"})
                        return
                    self._reply(int(response.get("statusCode", 502)), response.get("body") or "",
                                response.get("headers") or {"Content-Type": "application/json"})
                    return
                if not _ROUTE.match(self.path.split("?", 1)[0]):
                    front.outcomes["rejected:route_not_found"] += 1
                    self._reply(404, {"status": "rejected", "reason": "route_not_found",
                                      "message": "POST /webhooks/{source}"})
                    return
                if self.command != "POST":
                    front.outcomes["rejected:method_not_allowed"] += 1
                    self._reply(405, {"status": "rejected", "reason": "method_not_allowed",
                                      "message": "webhooks are delivered with POST"})
                    return
                headers = {key: value for key, value in self.headers.items()}
                headers["X-Forwarded-Proto"] = "http"  # what API Gateway adds (https there), so URLs verify
                event = api_gateway_event(self.command, self.path, headers, body, self.client_address[0])
                try:
                    response = front._invoke(event)
                except Exception:  # a handler crash is a 502 from API Gateway, never a silent 200
                    front.outcomes["error"] += 1
                    self._reply(502, {"status": "error", "reason": "integration_failure"})
                    return
                status = int(response.get("statusCode", 502))
                try:
                    parsed = json.loads(response.get("body") or "{}")
                except ValueError:
                    parsed = {}
                label = parsed.get("status", "unknown")
                front.outcomes[f"{label}:{parsed['reason']}" if "reason" in parsed else label] += 1
                self._reply(status, response.get("body") or "", response.get("headers"))

            def _console_reply(self, console: ProxyHandler, event: ProxyEvent) -> None:
                try:
                    response = console(event)
                except Exception:
                    self._reply(502, {"status": "error", "reason": "integration_failure"})
                    return
                text = response.get("body") or ""
                content: str | bytes = base64.b64decode(text) if response.get("isBase64Encoded") else text
                self._reply(int(response.get("statusCode", 502)), content,
                            response.get("headers") or {"Content-Type": "text/html; charset=utf-8"},
                            response.get("multiValueHeaders"))

            do_POST = _handle
            do_GET = _handle
            do_PUT = _handle
            do_DELETE = _handle
            do_PATCH = _handle

        self._server = FrontServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,),
                                        daemon=True, name="webhook-front")

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = self._server.server_address[0]   # an IPv4 server's address is text
        return f"http://{host.decode() if isinstance(host, bytes | bytearray) else host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close the listening socket; requests in flight finish on their daemon threads."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
