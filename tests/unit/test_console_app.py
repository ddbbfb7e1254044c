"""The console's request cycle without AWS: authentication, authorization on the server, CSRF, security headers,
escaping, CSV export, redaction and error answers (fake services; the browser tests run the real stack)."""

from __future__ import annotations

import csv
import io
import urllib.parse

import pytest

from ledgerlink.console import app
from ledgerlink.console.auth import Principal
from ledgerlink.console.jwt import TokenInvalid
from ledgerlink.console.redact import REDACTED, redact, redacted_text
from ledgerlink.console.roles import Role
from ledgerlink.errors import OpsError

CASE = {"exception_id": "exc_1", "status": "open", "reason": "mapping_missing", "entity_id": "us01",
        "source": "stripe", "document_id": "doc_1", "opened_at": "2026-12-01T00:00:00+00:00",
        "message": "<script>alert(1)</script> no account", "detail": {"amount": "=2+3 USD"},
        "history": [{"at": "2026-12-01T00:00:00+00:00", "action": "opened", "by": "ledgerlink"}]}


class FakeAuth:
    def principal(self, token):
        users = {"viewer-token": Principal("vera", frozenset({Role.VIEWER})),
                 "ops-token": Principal("otto", frozenset({Role.FINANCE_OPS}))}
        if token not in users:
            raise TokenInvalid("bad_signature", "no")
        return users[token]


class FakeExceptions:
    def __init__(self):
        self.calls = []

    def list(self, *, status="open", entity=None, reason=None, **filters):
        statuses = (status,) if isinstance(status, str) or status is None else tuple(status)
        return [dict(CASE)] if "open" in statuses and reason in (None, CASE["reason"]) else []

    def close(self, exception_id, action, *, actor, reason):
        self.calls.append((exception_id, action, actor, reason))
        if not reason:
            raise OpsError("resolve requires a reason", status=400, reason="reason_required")


class FakeServices:
    def __init__(self):
        self.auth = FakeAuth()
        self.exceptions = FakeExceptions()


def call(services, method, path, *, token=None, form=None, query=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        headers["Cookie"] = f"{app.COOKIE}={token}"
    event = {"httpMethod": method, "path": path, "headers": headers,
             "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
             "body": urllib.parse.urlencode(form or {}) if form is not None else None,
             "requestContext": {"stage": "console", "path": f"/console{path}", "requestId": "r-1"}}
    return app.handle(event, services)


@pytest.fixture
def services():
    return FakeServices()


def test_every_answer_carries_the_security_headers(services):
    answer = call(services, "GET", "/console/login")
    headers = answer["headers"]
    assert answer["statusCode"] == 200
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Strict-Transport-Security"].startswith("max-age=") and headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in answer["body"].replace('<script src="/console/console/static/console.js"></script>', "")


def test_a_stage_prefix_is_kept_in_links(services):
    answer = call(services, "GET", "/console/exceptions")
    assert answer["statusCode"] == 303
    assert answer["headers"]["Location"].startswith("/console/console/login?next=%2Fexceptions")


def test_anonymous_and_forged_sessions(services):
    assert call(services, "GET", "/console/exceptions", token="forged")["headers"]["Location"].endswith(
        "why=bad_signature")
    answer = call(services, "POST", "/console/exceptions/exc_1/resolve", form={"text": "x"})
    assert answer["statusCode"] == 401 and answer["headers"]["X-LedgerLink-Reason"] == "not_signed_in"


def test_the_server_refuses_what_a_role_may_not_do(services):
    csrf = app.csrf_token("viewer-token")
    answer = call(services, "POST", "/console/exceptions/exc_1/resolve", token="viewer-token",
                  form={"text": "fixed", "csrf": csrf})
    assert answer["statusCode"] == 403 and answer["headers"]["X-LedgerLink-Reason"] == "forbidden"
    assert services.exceptions.calls == []


def test_a_post_needs_the_sessions_csrf_token(services):
    for form in ({"text": "fixed"}, {"text": "fixed", "csrf": app.csrf_token("viewer-token")}):
        answer = call(services, "POST", "/console/exceptions/exc_1/resolve", token="ops-token", form=form)
        assert answer["statusCode"] == 403 and answer["headers"]["X-LedgerLink-Reason"] == "bad_csrf_token"
    answer = call(services, "POST", "/console/exceptions/exc_1/resolve", token="ops-token",
                  form={"text": "fixed in the ERP", "csrf": app.csrf_token("ops-token")})
    assert answer["statusCode"] == 303
    assert services.exceptions.calls == [("exc_1", "resolve", "console:otto", "fixed in the ERP")]


def test_values_are_escaped(services):
    body = call(services, "GET", "/console/exceptions", token="viewer-token")["body"]
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_csv_export_neutralizes_formulas(services):
    answer = call(services, "GET", "/console/exceptions/export", token="viewer-token")
    assert answer["headers"]["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer["body"])))
    assert [row["exception_id"] for row in rows] == ["exc_1"]
    assert rows[0]["amount"] == "" and rows[0]["currency"] == "USD"      # "=2+3" is not a number: no amount
    assert rows[0]["message"].startswith("<script>")                      # CSV is data, not HTML


@pytest.mark.parametrize(("path", "query", "status", "reason"), [
    ("/console/nowhere", {}, 404, "not_found"),
    ("/console/exceptions", {"tab": "later"}, 400, "bad_filter"),
    ("/console/exceptions", {"min_amount": "ten"}, 400, "bad_filter"),
    ("/console/static/../../etc/passwd", {}, 404, "not_found"),
])
def test_bad_requests_get_a_reason(services, path, query, status, reason):
    answer = call(services, "GET", path, token="viewer-token", query=query)
    assert answer["statusCode"] == status and answer["headers"]["X-LedgerLink-Reason"] == reason


def test_a_failure_is_a_500_page_without_details(services):
    def broken(**kwargs):
        raise RuntimeError("secret detail")
    services.exceptions.list = broken
    answer = call(services, "GET", "/console/exceptions", token="viewer-token")
    assert answer["statusCode"] == 500 and "secret detail" not in answer["body"] and "r-1" in answer["body"]


def test_static_assets_are_served_with_their_type(services):
    answer = call(services, "GET", "/console/static/console.css")
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"].startswith("text/css")


def test_sign_in_redirect_stays_inside_the_console(services):
    body = call(services, "GET", "/console/login", query={"next": "//evil.example/x"})["body"]
    assert 'name="next" value="/exceptions"' in body


def test_redaction_keeps_amounts_and_ids_and_hides_people():
    payload = {"id": "in_1", "amount_due": 2000, "currency": "usd", "customer_email": "ana@example.com",
               "customer_name": "Ana Ruiz", "customer": "cus_9", "customer_address": {"line1": "1 Main St"},
               "description": "call +1 (415) 555-0100", "lines": [{"amount": 2000, "billing_details": {"x": 1}}]}
    shown = redact(payload)
    assert shown["id"] == "in_1" and shown["amount_due"] == 2000 and shown["customer"] == "cus_9"
    assert shown["customer_email"] == shown["customer_name"] == shown["customer_address"] == REDACTED
    assert shown["lines"][0]["billing_details"] == REDACTED and shown["lines"][0]["amount"] == 2000
    assert "ana@example.com" not in redacted_text(b'{"memo": "ana@example.com"}')
    assert redacted_text(b"\x00not json").startswith("(not JSON")


class ChallengingAuth(FakeAuth):
    """A pool that asks for a TOTP code after the password."""

    def sign_in(self, username, password):
        from ledgerlink.console.auth import Challenge

        return Challenge("SOFTWARE_TOKEN_MFA", "cognito-session", username)

    def answer(self, challenge, *, session, username, code="", new_password=""):
        from ledgerlink.console.auth import SignInFailed

        if (challenge, session, code) != ("SOFTWARE_TOKEN_MFA", "cognito-session", "123456"):
            raise SignInFailed("code_mismatch", "that code is not right")
        return "ops-token"


def test_sign_in_asks_for_the_code_then_sets_the_session(services):
    services.auth = ChallengingAuth()
    page = call(services, "POST", "/console/login", form={"username": "otto", "password": "pw", "next": "/approvals"})
    assert page["statusCode"] == 200 and 'name="challenge" value="SOFTWARE_TOKEN_MFA"' in page["body"]
    assert "Set-Cookie" not in page["multiValueHeaders"]
    wrong = call(services, "POST", "/console/login", form={"challenge": "SOFTWARE_TOKEN_MFA", "session":
                                                           "cognito-session", "username": "otto", "code": "000000"})
    assert wrong["statusCode"] == 401 and "code_mismatch" in wrong["body"] and 'name="code"' in wrong["body"]
    done = call(services, "POST", "/console/login", form={"challenge": "SOFTWARE_TOKEN_MFA", "session":
                                                          "cognito-session", "username": "otto", "code": "123456",
                                                          "next": "/approvals"})
    assert done["statusCode"] == 303 and done["headers"]["Location"] == "/console/console/approvals"
    cookie = done["multiValueHeaders"]["Set-Cookie"][0]
    assert cookie.startswith(f"{app.COOKIE}=ops-token;") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" in cookie
