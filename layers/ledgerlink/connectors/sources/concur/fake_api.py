"""SAP Concur's API for the local stack: ``POST /oauth2/v0/token`` (refresh-token grant) → bearer;
``GET /expensereports/v4/users/{u}/context/{c}/reports/{id}`` and ``…/expenses`` from
``events/concur/api/{reports,expenses}/<id>.json``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from ledgerlink.connectors.sources.local_stack import JSON_TYPE, FakeHost, FakeRequest, Reply

_GRANT = ("client_id", "client_secret", "refresh_token")


class ConcurFake:
    exposed: tuple[str, ...] = ()

    def route(self, host: FakeHost, request: FakeRequest) -> Reply | None:
        if request.method == "POST" and request.path == "/oauth2/v0/token":
            form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
            creds = host.credentials_of("concur")
            if form.get("grant_type") != "refresh_token" or any(form.get(key) != creds.get(key) for key in _GRANT):
                return 401, {"error": "invalid_grant"}, JSON_TYPE
            return 200, host.issue_token("concur"), JSON_TYPE
        segments = request.segments
        if request.method == "GET" and segments[:3] == ("expensereports", "v4", "users") and len(segments) in (8, 9):
            if not host.has_token(request, "concur"):
                return 401, {"error": "unauthorized"}, JSON_TYPE
            folder = "expenses" if len(segments) == 9 and segments[8] == "expenses" else "reports"
            return host.fixture("concur", "api", folder, f"{segments[7]}.json")
        return None


def _fake(fixtures: Path) -> ConcurFake:
    return ConcurFake()


FAKE_API = _fake
