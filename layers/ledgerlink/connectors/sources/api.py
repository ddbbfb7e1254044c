"""The contract of a source's ``api`` module: how LedgerLink calls the vendor's API.

Webhooks of Ramp, HubSpot and SAP Concur only *name* the object that changed; Adyen's ``REPORT_AVAILABLE``
names a settlement report to download; Expensify has no webhooks at all. Their ``api`` modules provide:

- ``connect(source, credentials: dict, http: Http) -> session`` — an authenticated session (OAuth token
  exchange, bearer token, basic auth) built from the JSON secret named by the source's ``api.credentials``;
  sessions are cached per container and may cache their access tokens;
- ``wants(notification: dict, source) -> bool`` for fetch kinds, ``wants = None`` for a polled kind (pure: does this event need the object?) and
  ``fetch(notification, source, session) -> dict[str, str]`` — the raw response texts by name (kept as text so
  that amounts are parsed exactly, ``Decimal`` never ``float``; ``base.load_exact`` parses them);
- for polled kinds: ``poll(source, session, cursor: str | None) -> list[PolledEvent]``.

The normalize service archives what was fetched under ``fetched/`` (next to the notification's ``raw/`` key)
and hands the normalizer ``{"notification": <event>, "fetched": {...} | None}``; a replay reads the archived
object instead of fetching again, so a replay sees what the first run saw.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PolledEvent:
    """One item a poller found: claimed in the inbox by ``event_id``, archived and enqueued as ``body``.

    ``position`` is the high-water-mark value the item proves read (e.g. its approval date, ISO format so that
    string order is time order); the cursor never moves past an item that is not safely enqueued."""

    event_id: str
    event_type: str
    body: bytes
    position: str
