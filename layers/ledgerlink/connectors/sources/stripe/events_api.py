"""Stripe's events API (``GET /v1/events``): the list of events Stripe *created*, to find the ones that
were never delivered to the webhook. Stdlib HTTP; the key comes from Secrets Manager, never logged.

Stripe keeps events for 30 days; results are newest first, paginated with ``starting_after``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from ledgerlink.connectors.sources.reading import array_at, get, objects, text
from ledgerlink.errors import ConfigError, TransientError
from ledgerlink.model.json import JsonObject, JsonValue

Opener = Callable[..., Any]


def list_events(*, api_base: str, api_key: str, created_gte: int, created_lt: int, page_size: int = 100,
                opener: Opener = urllib.request.urlopen, timeout: float = 20.0) -> Iterator[JsonObject]:
    starting_after: str | None = None
    while True:
        params = {"created[gte]": str(created_gte), "created[lt]": str(created_lt), "limit": str(page_size)}
        if starting_after:
            params["starting_after"] = starting_after
        request = urllib.request.Request(f"{api_base.rstrip('/')}/v1/events?{urllib.parse.urlencode(params)}",
                                         headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"})
        try:
            with opener(request, timeout=timeout) as response:
                page: JsonValue = json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise ConfigError("the Stripe events API refused the key (check the source's api_key secret)",
                                  reason="backfill_unauthorized") from None
            if error.code == 429 or error.code >= 500:
                raise TransientError(f"Stripe events API answered {error.code}", reason="backfill_unavailable") from None
            raise
        except (urllib.error.URLError, TimeoutError) as error:
            raise TransientError(f"Stripe events API unreachable: {error}", reason="backfill_unavailable") from None
        events = array_at(page, "data")
        yield from objects(events)
        if not get(page, "has_more") or not events:
            return
        starting_after = text(events[-1], "id")
        if not starting_after:   # the next page would be this one again
            raise TransientError("Stripe events API page ends without an event id", reason="backfill_unavailable")
