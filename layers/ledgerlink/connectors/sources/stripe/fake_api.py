"""Stripe's API for the local stack: ``GET /v1/balance_transactions?payout=po_...`` and ``GET /v1/refunds?charge=ch_...``
(restricted key as bearer; ``limit`` ≤ 100, cursor pagination with ``starting_after`` / ``has_more``;
``Stripe-Account`` picks a connected account's folder), from
``events/stripe/api/{balance_transactions,refunds}/[<account>/]<id>.json``."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ledgerlink.connectors.sources.local_stack import JSON_TYPE, FakeHost, FakeRequest, Reply
from ledgerlink.model.json import JsonValue

# list endpoint → the query parameter that names the parent object
_LISTS = {"/v1/balance_transactions": ("balance_transactions", "payout"), "/v1/refunds": ("refunds", "charge")}


class StripeFake:
    exposed: tuple[str, ...] = ()

    def route(self, host: FakeHost, request: FakeRequest) -> Reply | None:
        if request.method != "GET" or request.path not in _LISTS:
            return None
        folder, by = _LISTS[request.path]
        if request.header("Authorization") != f"Bearer {host.credentials_of('stripe').get('api_key')}":
            return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}, JSON_TYPE
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.raw_path).query).items()}
        limit = _limit(query.get("limit", "10"))
        if not 1 <= limit <= 100:
            return 400, {"error": {"type": "invalid_request_error", "param": "limit"}}, JSON_TYPE
        account = request.header("Stripe-Account")
        status, raw, _ = host.fixture("stripe", "api", folder, *((account,) if account else ()),
                                      f"{query.get(by, '')}.json")
        if status != 200 or not isinstance(raw, bytes):
            return status, raw, JSON_TYPE
        return 200, _page(json.loads(raw)["data"], folder, query.get("starting_after"), limit), JSON_TYPE


def _limit(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        return 0


def _page(items: list[JsonValue], folder: str, after: str | None, limit: int) -> dict[str, JsonValue]:
    start = next((i + 1 for i, item in enumerate(items) if isinstance(item, dict) and item.get("id") == after),
                 0) if after else 0
    return {"object": "list", "url": f"/v1/{folder}", "data": items[start:start + limit],
            "has_more": start + limit < len(items)}


def _fake(fixtures: Path) -> StripeFake:
    return StripeFake()


FAKE_API = _fake
