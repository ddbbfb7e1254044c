"""Where reconciliation reports go (S3, KMS) and how differences are announced (EventBridge)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ledgerlink.store.clients import client as default_client


class S3Reports:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("s3")

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, sorted (one listing per 1,000 keys: a month of daily reports is one call)."""
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            found.extend(str(entry["Key"]) for entry in page.get("Contents", []))
        return sorted(found)


class EventBridgePublisher:
    SOURCE = "ledgerlink"

    def __init__(self, bus_name: str = "default", *, client: Any = None) -> None:
        self._bus = bus_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("events")

    def publish(self, detail_type: str, detail: Mapping[str, object]) -> None:
        response = self.client.put_events(Entries=[{
            "Source": self.SOURCE, "DetailType": detail_type, "EventBusName": self._bus,
            "Detail": json.dumps(detail, default=str)}])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the event: {response['Entries']}")
