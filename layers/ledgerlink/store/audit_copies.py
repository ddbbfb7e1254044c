"""The write-once audit bucket (S3 Object Lock): one object per audit-table change, never replaced."""

from __future__ import annotations

from typing import Any

from ledgerlink.store.objects import S3ObjectStore


class S3AuditCopies:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self._objects = S3ObjectStore(bucket, "", client=client, content_type="application/json")

    def put_once(self, key: str, body: bytes) -> bool:
        """Create ``key``; False when a retried batch finds it already there (the first write stands)."""
        return self._objects.create(key, body)
