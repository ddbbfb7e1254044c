"""The console's request cycle: an API Gateway REST proxy event in, a page out.

1. Static assets (``/console/static/…``) and the sign-in page are served to anybody; everything else needs a session
   cookie that ``CognitoAuth`` verifies, else a GET is sent to sign in and anything else refused (401).
2. Every route names the ``Action`` it needs; a user whose roles lack it gets 403 — on the server, whatever the page
   showed. Every POST carries the session's CSRF token (a digest of the HttpOnly session cookie, so a page of another
   site cannot know it); the cookie is ``SameSite=Strict`` as well.
3. Every answer carries the security headers: a CSP without inline script or style, HSTS, ``frame-ancestors
   'none'``, nosniff, no referrer outside the console, ``no-store``.
Pages register with ``route``; a page that raises ``OpsError``/``ValueError`` answers its status and reason, anything
else a 500 page naming the request id (the error is logged without the request's content).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from typing import TYPE_CHECKING

from ledgerlink.console.jwt import TokenInvalid
from ledgerlink.console.roles import Action
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.auth import Principal
    from ledgerlink.console.services import ConsoleServices

PREFIX = "/console"
COOKIE = "ll_session"
MAX_BODY = 64 * 1024
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
logger = logging.getLogger("ledgerlink.console")


@dataclass
class Request:
    method: str
    path: str                                 # below the console's prefix: "/exceptions/exc_1"
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    cookies: dict[str, str]
    base: str                                 # the console's URL prefix: "/console", or "/<stage>/console"
    secure: bool
    request_id: str = ""
    principal: Principal | None = None
    token: str = ""

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0].strip() if values else default

    def value(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0].strip() if values else default

    def values(self, name: str) -> list[str]:
        return [value for value in self.form.get(name, []) if value]

    def url(self, path: str = "", **query: object) -> str:
        from ledgerlink.console.html import query as encode

        return f"{self.base}{path}{encode(query)}"

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise OpsError("sign in first", status=401, reason="not_signed_in")
        return self.principal

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


@dataclass
class Response:
    status: int
    body: str | bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)

    def to_proxy(self) -> dict[str, object]:
        headers = {**SECURITY_HEADERS, "Content-Type": self.content_type, **self.headers}
        multi: dict[str, list[str]] = {"Set-Cookie": self.cookies} if self.cookies else {}
        if isinstance(self.body, bytes):
            return {"statusCode": self.status, "headers": headers, "multiValueHeaders": multi,
                    "body": base64.b64encode(self.body).decode("ascii"), "isBase64Encoded": True}
        return {"statusCode": self.status, "headers": headers, "multiValueHeaders": multi, "body": self.body,
                "isBase64Encoded": False}


type Page = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    action: Action
    page: Page


ROUTES: list[Route] = []


def route(method: str, path: str, action: Action = Action.VIEW) -> Callable[[Page], Page]:
    """Register a page: ``path`` below the prefix, ``{name}`` segments passed as keyword arguments."""
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$")

    def register(page: Page) -> Page:
        ROUTES.append(Route(method, pattern, action, page))
        return page
    return register


def csrf_token(session: str) -> str:
    return hashlib.sha256(b"ledgerlink-console-csrf:" + session.encode()).hexdigest()[:40]


def redirect(location: str, *, cookies: list[str] | None = None) -> Response:
    return Response(303, "", headers={"Location": location}, cookies=cookies or [])


def session_cookie(token: str, *, secure: bool, clear: bool = False) -> str:
    attributes = f"{COOKIE}={'' if clear else token}; Path=/; HttpOnly; SameSite=Strict"
    if secure:
        attributes += "; Secure"
    return attributes + ("; Max-Age=0" if clear else "; Max-Age=3600")


def _pairs(text: str) -> dict[str, list[str]]:
    try:
        return urllib.parse.parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=1000)
    except ValueError:
        raise OpsError("the form could not be read", status=400, reason="bad_form") from None


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _cookies(header: str) -> dict[str, str]:
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _query(event: Mapping[str, object]) -> dict[str, list[str]]:
    raw = _mapping(event.get("multiValueQueryStringParameters")) or {
        k: [v] for k, v in _mapping(event.get("queryStringParameters")).items()}
    return {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in raw.items()}


def _body(event: Mapping[str, object]) -> str:
    body = event.get("body") or ""
    if event.get("isBase64Encoded") and isinstance(body, str):
        try:
            body = base64.b64decode(body).decode("utf-8")
        except ValueError:
            raise OpsError("the body could not be read", status=400, reason="bad_form") from None
    if not isinstance(body, str) or len(body) > MAX_BODY:
        raise OpsError("the form is too large", status=413, reason="form_too_large")
    return body


def parse_event(event: Mapping[str, object]) -> Request:
    """A ``Request`` from an API Gateway REST proxy event (the local front builds the same events)."""
    path = str(event.get("path") or "/")
    context = _mapping(event.get("requestContext"))
    stage_path = str(context.get("path") or path)
    base = stage_path[: len(stage_path) - len(path)] + PREFIX if stage_path.endswith(path) else PREFIX
    inner = path[len(PREFIX):] if path.startswith(PREFIX) else path
    headers = {str(k).lower(): str(v) for k, v in _mapping(event.get("headers")).items()}
    body = _body(event)
    form = _pairs(body) if "application/x-www-form-urlencoded" in headers.get("content-type", "") else {}
    secure = headers.get("x-forwarded-proto", "https") == "https" and str(context.get("stage")) != "local"
    return Request(method=str(event.get("httpMethod") or "GET").upper(), path=inner or "/", query=_query(event),
                   form=form, cookies=_cookies(headers.get("cookie", "")), base=base, secure=secure,
                   request_id=str(context.get("requestId") or ""))


def handle(event: Mapping[str, object], services: ConsoleServices | None = None) -> dict[str, object]:
    from ledgerlink.console import pages
    from ledgerlink.console.services import console_services

    pages.load()
    try:
        request = parse_event(event)
    except OpsError as error:
        return pages.layout.error_page(None, error.status, error.reason, error.message).to_proxy()
    try:
        return dispatch(request, services or console_services()).to_proxy()
    except OpsError as error:
        return pages.layout.error_page(request, error.status, error.reason, error.message).to_proxy()
    except ValueError as error:
        return pages.layout.error_page(request, 400, "bad_request", str(error)[:300]).to_proxy()
    except Exception:
        logger.exception("console request failed", extra={"request_id": request.request_id, "path": request.path})
        return pages.layout.error_page(request, 500, "internal_error",
                                       f"the request failed; request id {request.request_id}").to_proxy()


def dispatch(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink.console.pages import layout

    name = request.path.removeprefix("/static/")
    if name != request.path:
        return _static(name)
    if request.path in ("/login", "/logout"):
        return layout.sign_in(request, services) if request.path == "/login" else layout.sign_out(request)
    token = request.cookies.get(COOKIE, "")
    try:
        if not token:
            raise TokenInvalid("no_session", "sign in")
        request.principal = services.auth.principal(token)
        request.token = token
    except TokenInvalid as invalid:
        if request.method == "GET":
            return redirect(request.url("/login", next=request.path if request.path != "/" else "",
                                        why=invalid.reason if invalid.reason != "no_session" else ""))
        raise OpsError(f"not signed in ({invalid.reason})", status=401, reason="not_signed_in") from None
    matched = [(r, m) for r in ROUTES if (m := r.pattern.match(request.path))]
    if not matched:
        raise OpsError(f"no page {request.path}", status=404, reason="not_found")
    for candidate, match in matched:
        if candidate.method == request.method:
            if not request.user.can(candidate.action):
                raise OpsError(f"your roles ({', '.join(sorted(request.user.roles)) or 'none'}) do not allow "
                               f"{candidate.action.value}", status=403, reason="forbidden")
            if request.method == "POST" and not hmac.compare_digest(request.value("csrf"), request.csrf):
                raise OpsError("the form is stale or was not sent by this console: reload the page", status=403,
                               reason="bad_csrf_token")
            return candidate.page(request, services, **match.groupdict())
    raise OpsError(f"{request.method} is not allowed here", status=405, reason="method_not_allowed")


def _static(name: str) -> Response:
    if name not in STATIC:
        raise OpsError("no such asset", status=404, reason="not_found")
    text = resources.files("ledgerlink.console").joinpath("static", name).read_text("utf-8")
    return Response(200, text, content_type=STATIC[name], headers={"Cache-Control": "public, max-age=300"})
