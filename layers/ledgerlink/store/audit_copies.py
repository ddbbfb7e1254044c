"""The write-once audit bucket (S3 Object Lock): one object per audit-table change, never replaced."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code


class S3AuditCopies:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("s3")

    def put_once(self, key: str, body: bytes) -> bool:
        """Create ``key``; False when a retried batch finds it already there (the first write stands).

        Content-MD5 is sent explicitly: S3 refuses a write into a bucket with a default Object Lock
        retention unless the request carries an integrity checksum, whatever the SDK's defaults are.
        """
        digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode("ascii")
        try:
            self.client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json",
                                   ContentMD5=digest, IfNoneMatch="*")
        except Exception as exc:
            if error_code(exc) in ("PreconditionFailed", "412"):
                return False
            raise
        return True
