"""Adyen's report download for the local stack: ``GET /reports/download/MerchantAccount/{account}/{file}`` (the
report user, basic auth) from ``events/adyen/api/<file>``."""

from __future__ import annotations

from pathlib import Path

from ledgerlink.connectors.sources.local_stack import JSON_TYPE, FakeHost, FakeRequest, Reply


class AdyenFake:
    exposed: tuple[str, ...] = ()

    def route(self, host: FakeHost, request: FakeRequest) -> Reply | None:
        segments = request.segments
        if not (request.method == "GET" and segments[:3] == ("reports", "download", "MerchantAccount")
                and len(segments) == 5):
            return None
        creds = host.credentials_of("adyen")
        if not host.basic_auth_is(request, creds.get("username"), creds.get("password")):
            return 401, {"status": 401, "errorType": "security"}, JSON_TYPE
        return host.fixture("adyen", "api", segments[4])


def _fake(fixtures: Path) -> AdyenFake:
    return AdyenFake()


FAKE_API = _fake
