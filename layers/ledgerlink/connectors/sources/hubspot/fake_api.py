"""HubSpot's CRM API for the local stack: ``GET /crm/v3/objects/deals/{id}`` (private-app bearer token) from
``events/hubspot/api/deals/<id>.json``."""

from __future__ import annotations

from pathlib import Path

from ledgerlink.connectors.sources.local_stack import JSON_TYPE, FakeHost, FakeRequest, Reply


class HubSpotFake:
    exposed: tuple[str, ...] = ()

    def route(self, host: FakeHost, request: FakeRequest) -> Reply | None:
        segments = request.segments
        if not (request.method == "GET" and len(segments) == 5 and segments[:4] == ("crm", "v3", "objects", "deals")):
            return None
        token = request.header("Authorization").removeprefix("Bearer ").strip()
        if token != host.credentials_of("hubspot").get("access_token"):
            return 401, {"status": "error", "category": "INVALID_AUTHENTICATION"}, JSON_TYPE
        if "properties=" not in request.raw_path:
            return 400, {"status": "error", "message": "ask for the properties you read"}, JSON_TYPE
        return host.fixture("hubspot", "api", "deals", f"{segments[4]}.json")


def _fake(fixtures: Path) -> HubSpotFake:
    return HubSpotFake()


FAKE_API = _fake
