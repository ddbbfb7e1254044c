"""Ramp's API for the local stack: ``POST /developer/v1/token`` (basic auth, client credentials) → bearer;
``GET /developer/v1/transactions/{id}``, ``/reimbursements/{id}`` and ``/bills/{id}`` from
``events/ramp/api/<folder>/<id>.json``."""

from __future__ import annotations

from pathlib import Path

from ledgerlink.connectors.sources.local_stack import JSON_TYPE, FakeHost, FakeRequest, Reply

_FOLDERS = ("transactions", "reimbursements", "bills")


class RampFake:
    exposed: tuple[str, ...] = ()

    def route(self, host: FakeHost, request: FakeRequest) -> Reply | None:
        if request.method == "POST" and request.path == "/developer/v1/token":
            creds = host.credentials_of("ramp")
            if not host.basic_auth_is(request, creds.get("client_id"), creds.get("client_secret")):
                return 401, {"error": "invalid_client"}, JSON_TYPE
            return 200, host.issue_token("ramp"), JSON_TYPE
        segments = request.segments
        if request.method == "GET" and len(segments) == 4 and segments[:2] == ("developer", "v1") \
                and segments[2] in _FOLDERS:
            if not host.has_token(request, "ramp"):
                return 401, {"error": "unauthorized"}, JSON_TYPE
            return host.fixture("ramp", "api", segments[2], f"{segments[3]}.json")
        return None


def _fake(fixtures: Path) -> RampFake:
    return RampFake()


FAKE_API = _fake
