"""The raw archive: every accepted webhook body, byte for byte, encrypted at rest (S3 + KMS on AWS)."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from ledgerlink.store.clients import client as default_client

RAW_PREFIX = "raw/"      # request bodies, byte for byte, as the provider sent them
ITEMS_PREFIX = "items/"  # oversized single events of a multi-event request (claim check)
ARCHIVE_PREFIXES = (RAW_PREFIX, ITEMS_PREFIX)
FETCHED_PREFIX = "fetched/"  # objects fetched from a vendor API for an archived notification (normalize writes)


def archive_key(source: str, event_id: str, received_at: float) -> str:
    """``raw/<source>/<yyyy>/<mm>/<dd>/<event id>.json`` (UTC date of first receipt)."""
    day = time.strftime("%Y/%m/%d", time.gmtime(received_at))
    return f"{RAW_PREFIX}{source}/{day}/{event_id}.json"


def item_key(request_key: str, event_id: str) -> str:
    """Where one event of an archived multi-event request is stored on its own."""
    return ITEMS_PREFIX + request_key.removeprefix(RAW_PREFIX).removesuffix(".json") + f"/{event_id}.json"


def fetched_key(request_key: str, event_id: str) -> str:
    """Where the API objects fetched for one archived event are kept (replays read them instead of re-fetching)."""
    return FETCHED_PREFIX + request_key.removeprefix(RAW_PREFIX).rsplit(".", 1)[0] + f"/{event_id}.json"


class S3Archive:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("s3")

    def put(self, key: str, body: bytes, *, correlation_id: str, source: str, event_id: str) -> None:
        # The archive bucket has a default Object Lock retention: S3 refuses a write without an integrity
        # checksum there, and older SDKs send none by default — so Content-MD5 always goes with the body.
        self.client.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType="application/json",
            ContentMD5=base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii"),
            Metadata={"correlation-id": correlation_id, "source": source, "event-id": event_id},
        )

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str = "raw/") -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            found.extend(obj["Key"] for obj in page.get("Contents", []))
        return found
