"""The inbox's answer to a claim: what ingest, the poller, backfill and bank files learn about an event they received."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Claim:
    is_new: bool           # this attempt holds the claim (a first delivery, or a stale pending claim taken over)
    archive_key: str       # where the event's request is (or is to be) archived: the first claim's key
    correlation_id: str    # the first claim's correlation id (a duplicate answers with it)
    status: str            # pending | processed
    day: str = ""          # UTC date of the first claim: the event counters' day
