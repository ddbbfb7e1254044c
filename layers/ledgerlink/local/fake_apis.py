"""HTTP fakes of the vendor APIs LedgerLink calls (local stack, demo, functional tests).

One threaded server on 127.0.0.1 answers the endpoints the connectors use, from the fixtures in
``events/<source>/api/`` (each folder's README says where the shapes come from), and checks credentials the way
the vendor does — a wrong secret is a 401 (or Expensify's ``responseCode`` 407), so the credential plumbing
(Secrets Manager → session → header) is exercised end to end:

- Ramp: ``POST /developer/v1/token`` (basic auth, client credentials) → bearer; ``GET /developer/v1/transactions/{id}``,
  ``/reimbursements/{id}`` and ``/bills/{id}``;
- HubSpot: ``GET /crm/v3/objects/deals/{id}`` (private-app bearer token);
- SAP Concur: ``POST /oauth2/v0/token`` (refresh-token grant) → bearer; ``GET /expensereports/v4/users/{u}/context/
  {c}/reports/{id}`` and ``…/expenses``;
- Adyen: ``GET /reports/download/MerchantAccount/{account}/{file}`` (report user, basic auth);
- Expensify: ``POST /Integration-Server/ExpensifyIntegrations`` (``file`` export job honouring ``approvedAfter``
  and ``reportState``; ``download``);
- Stripe: ``GET /v1/balance_transactions?payout=po_...`` and ``GET /v1/refunds?charge=ch_...`` (restricted key as
  bearer; ``limit`` ≤ 100, cursor pagination with ``starting_after`` / ``has_more``; ``Stripe-Account`` picks a
  connected account's folder), from ``events/stripe/api/{balance_transactions,refunds}/[<account>/]<id>.json``.

``fail(prefix, status, times)`` injects failures; ``requests`` records ``(method, path)`` for assertions.
"""

from __future__ import annotations

import json
import re
import secrets as random_secrets
import threading
from collections.abc import Mapping
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ledgerlink.connectors.sources.http import basic_auth

_SAFE = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")


def generate_credentials(kind: str) -> dict[str, str]:
    """Fresh local API credentials in the shape each source kind's secret has."""
    token = random_secrets.token_urlsafe(18)
    return {
        "ramp": {"client_id": "ramp_id_" + token[:12], "client_secret": "ramp_sec_" + token},
        "hubspot": {"access_token": "pat-na1-" + token},
        "concur": {"client_id": "concur-app-" + token[:8], "client_secret": token,
                   "refresh_token": "refresh-" + random_secrets.token_urlsafe(12)},
        "adyen": {"username": "report_ledgerlink@Company.LedgerLinkDemo", "password": token},
        "expensify": {"partnerUserID": "aa_ledgerlink_" + token[:8], "partnerUserSecret": token},
        "stripe": {"api_key": "rk_test_" + token},
    }[kind]


class FakeSourceApis:
    def __init__(self, fixtures: Path, *, credentials: Mapping[str, Mapping[str, str]], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.fixtures = fixtures
        self.credentials = {kind: dict(values) for kind, values in credentials.items()}
        self.requests: list[tuple[str, str]] = []
        self.expensify_reports: list[dict[str, Any]] = self._load_expensify()
        self._tokens: dict[str, str] = {}          # bearer token → kind
        self._exports: dict[str, dict[str, Any]] = {}
        self._failures: list[list[Any]] = []       # [path prefix, status, remaining]
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                return

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, body: bytes | str | Any, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                body = self._body()
                path = urlsplit(self.path).path
                with fake._lock:
                    fake.requests.append((self.command, path))
                    injected = fake._injected(path)
                if injected:
                    self._reply(injected, {"error": "injected failure"})
                    return
                status, answer, content_type = fake.route(self.command, self.path, dict(self.headers.items()), body)
                self._reply(status, answer, content_type)

            do_GET = _handle
            do_POST = _handle

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="fake-source-apis")

    # ---- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

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
        with self._lock:
            self._failures.append([path_prefix, status, times])

    def calls(self, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for _, path in self.requests if path.startswith(path_prefix))

    def _injected(self, path: str) -> int | None:
        for failure in self._failures:
            if path.startswith(failure[0]) and failure[2] > 0:
                failure[2] -= 1
                return int(failure[1])
        return None

    def _load_expensify(self) -> list[dict[str, Any]]:
        path = self.fixtures / "expensify" / "api" / "reports.json"
        return json.loads(path.read_text()) if path.exists() else []

    # ---- routing -----------------------------------------------------------------------------------

    def _issue(self, kind: str) -> dict[str, Any]:
        token = f"{kind}-token-" + random_secrets.token_urlsafe(12)
        with self._lock:
            self._tokens[token] = kind
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def _bearer(self, headers: Mapping[str, str], kind: str) -> bool:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = auth.removeprefix("Bearer ").strip()
        if kind == "hubspot":
            return token == self.credentials.get("hubspot", {}).get("access_token")
        return self._tokens.get(token) == kind

    def _basic(self, headers: Mapping[str, str], user: str | None, password: str | None) -> bool:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return bool(user and password) and auth == basic_auth(user, password)

    def _fixture(self, *parts: str) -> tuple[int, bytes | dict[str, Any], str]:
        if not all(_SAFE.match(part) for part in parts[1:]):
            return 404, {"error": "not found"}, "application/json"
        path = self.fixtures.joinpath(*parts)
        if not path.is_file():
            return 404, {"error": "not found"}, "application/json"
        content_type = "text/csv" if path.suffix == ".csv" else "application/json"
        return 200, path.read_bytes(), content_type

    def route(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
              ) -> tuple[int, Any, str]:
        path = urlsplit(raw_path).path
        segments = [part for part in path.split("/") if part]
        json_type = "application/json"
        # Ramp
        if method == "POST" and path == "/developer/v1/token":
            creds = self.credentials.get("ramp", {})
            if not self._basic(headers, creds.get("client_id"), creds.get("client_secret")):
                return 401, {"error": "invalid_client"}, json_type
            return 200, self._issue("ramp"), json_type
        if method == "GET" and len(segments) == 4 and segments[:2] == ["developer", "v1"] and segments[2] in (
                "transactions", "reimbursements", "bills"):
            if not self._bearer(headers, "ramp"):
                return 401, {"error": "unauthorized"}, json_type
            return self._fixture("ramp", "api", segments[2], f"{segments[3]}.json")
        # HubSpot
        if method == "GET" and len(segments) == 5 and segments[:4] == ["crm", "v3", "objects", "deals"]:
            if not self._bearer(headers, "hubspot"):
                return 401, {"status": "error", "category": "INVALID_AUTHENTICATION"}, json_type
            if "properties=" not in raw_path:
                return 400, {"status": "error", "message": "ask for the properties you read"}, json_type
            return self._fixture("hubspot", "api", "deals", f"{segments[4]}.json")
        # SAP Concur
        if method == "POST" and path == "/oauth2/v0/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            creds = self.credentials.get("concur", {})
            if form.get("grant_type") != "refresh_token" or any(
                    form.get(key) != creds.get(key) for key in ("client_id", "client_secret", "refresh_token")):
                return 401, {"error": "invalid_grant"}, json_type
            return 200, self._issue("concur"), json_type
        if method == "GET" and segments[:3] == ["expensereports", "v4", "users"] and len(segments) in (8, 9):
            if not self._bearer(headers, "concur"):
                return 401, {"error": "unauthorized"}, json_type
            folder = "expenses" if len(segments) == 9 and segments[8] == "expenses" else "reports"
            return self._fixture("concur", "api", folder, f"{segments[7]}.json")
        # Adyen reports
        if method == "GET" and segments[:3] == ["reports", "download", "MerchantAccount"] and len(segments) == 5:
            creds = self.credentials.get("adyen", {})
            if not self._basic(headers, creds.get("username"), creds.get("password")):
                return 401, {"status": 401, "errorType": "security"}, json_type
            return self._fixture("adyen", "api", segments[4])
        # Stripe balance transactions of a payout, refunds of a charge
        if method == "GET" and path == "/v1/balance_transactions":
            return self._stripe_list(raw_path, headers, "balance_transactions", "payout")
        if method == "GET" and path == "/v1/refunds":
            return self._stripe_list(raw_path, headers, "refunds", "charge")
        # Expensify
        if method == "POST" and path == "/Integration-Server/ExpensifyIntegrations":
            return self._expensify(body)
        return 404, {"error": "no such endpoint"}, json_type

    def _stripe_list(self, raw_path: str, headers: Mapping[str, str], kind: str, by: str) -> tuple[int, Any, str]:
        json_type = "application/json"
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if auth != f"Bearer {self.credentials.get('stripe', {}).get('api_key')}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}, json_type
        query = {k: v[0] for k, v in parse_qs(urlsplit(raw_path).query).items()}
        try:
            limit = int(query.get("limit", "10"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return 400, {"error": {"type": "invalid_request_error", "param": "limit"}}, json_type
        account = next((v for k, v in headers.items() if k.lower() == "stripe-account"), None)
        folder = ("stripe", "api", kind, *((account,) if account else ()))
        status, raw, _ = self._fixture(*folder, f"{query.get(by, '')}.json")
        if status != 200:
            return status, raw, json_type
        items = json.loads(raw)["data"]
        after = query.get("starting_after")
        start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0) if after else 0
        page = items[start:start + limit]
        return 200, {"object": "list", "url": f"/v1/{kind}", "data": page,
                     "has_more": start + limit < len(items)}, json_type

    def _expensify(self, body: bytes) -> tuple[int, Any, str]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        try:
            job = json.loads(form.get("requestJobDescription", ""))
        except ValueError:
            return 200, {"responseCode": 500, "responseMessage": "requestJobDescription is not JSON"}, "application/json"
        creds = self.credentials.get("expensify", {})
        if job.get("credentials") != {key: creds.get(key) for key in ("partnerUserID", "partnerUserSecret")}:
            return 200, {"responseCode": 407, "responseMessage": "Authentication error"}, "application/json"
        if job.get("type") == "file":
            if "template" not in form:
                return 200, {"responseCode": 500, "responseMessage": "no template"}, "application/json"
            name = f"exportd{random_secrets.token_hex(8)}.json"
            with self._lock:
                self._exports[name] = job.get("inputSettings") or {}
            return 200, name, "text/plain"
        if job.get("type") == "download":
            with self._lock:
                settings = self._exports.get(str(job.get("fileName")))
            if settings is None:
                return 200, {"responseCode": 404, "responseMessage": "file not found"}, "application/json"
            filters = settings.get("filters") or {}
            after = date.fromisoformat(filters.get("approvedAfter", "1970-01-01"))
            states = {s.strip().upper() for s in str(settings.get("reportState", "APPROVED")).split(",")}
            reports = [report for report in self.expensify_reports
                       if str(report.get("status", "")).upper() in states
                       and date.fromisoformat(str(report.get("approved", "1970-01-01"))[:10]) > after]
            return 200, json.dumps(reports), "application/json"
        return 200, {"responseCode": 410, "responseMessage": f"unknown job type {job.get('type')!r}"}, "application/json"

