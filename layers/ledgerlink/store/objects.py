"""A small object store for files LedgerLink writes for other systems (legacy GL import files, the Beancount
book through :mod:`ledgerlink.store.books`): a local directory or an S3 prefix, with the create-once primitive that makes a posting happen exactly once
(``link(2)`` of a complete temp file locally, ``PutObject`` with ``If-None-Match: *`` on S3)."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from ledgerlink.errors import TransientError
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code


class ObjectStore(Protocol):
    def create(self, name: str, data: bytes) -> bool: ...
    def write(self, name: str, data: bytes) -> None: ...
    def read(self, name: str) -> bytes | None: ...
    def delete(self, name: str) -> None: ...
    def names(self, prefix: str) -> list[str]: ...
    def location(self, name: str = "") -> str: ...


class FileObjectStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._base = os.path.realpath(self.root)  # resolved once: a book of 100,000 postings is listed often

    def _path(self, name: str) -> Path:
        """The file for ``name``: a relative name of plain segments (no ``..``, no absolute path, no NUL).

        Checked on the name itself, not by resolving every file: names are LedgerLink's own (document ids,
        dates), and a lexical check rejects the same escapes without a ``realpath`` per call."""
        parts = name.split("/")
        if not name or name.startswith("/") or "\0" in name or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"object {name!r} escapes the store directory")
        return Path(self._base, *parts)

    def create(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(tmp)

    def write(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    def read(self, name: str) -> bytes | None:
        path = self._path(name)
        return path.read_bytes() if path.is_file() else None

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def names(self, prefix: str) -> list[str]:
        start = os.path.join(self._base, prefix) if prefix else self._base
        found: list[str] = []
        cut = len(self._base) + 1
        for directory, _, files in os.walk(start):
            found.extend(os.path.join(directory, file)[cut:] for file in files if not file.startswith(".tmp-"))
        return sorted(found)

    def location(self, name: str = "") -> str:
        return str(self._path(name)) if name else self._base


class S3ObjectStore:
    def __init__(self, bucket: str, prefix: str, *, client: Any = None, content_type: str | None = None) -> None:
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._client = client
        self._extra = {"ContentType": content_type} if content_type else {}

    @property
    def client(self) -> Any:
        return self._client or default_client("s3")

    def _key(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name

    def create(self, name: str, data: bytes) -> bool:
        """Create once (``If-None-Match: *``). Content-MD5 is sent explicitly: S3 refuses a write into a bucket with a
        default Object Lock retention (the audit copies, D63) unless the request carries an integrity checksum,
        whatever the SDK's defaults are."""
        digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode("ascii")
        try:
            self.client.put_object(Bucket=self._bucket, Key=self._key(name), Body=data, IfNoneMatch="*",
                                   ContentMD5=digest, **self._extra)
        except Exception as exc:
            code = error_code(exc)
            if code in ("PreconditionFailed", "412"):
                return False
            if code in ("ConditionalRequestConflict", "409"):
                raise TransientError("concurrent create of the same object; retry", reason="write_conflict") from None
            raise
        return True

    def write(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self._bucket, Key=self._key(name), Body=data, **self._extra)

    def read(self, name: str) -> bytes | None:
        try:
            body: bytes = self.client.get_object(Bucket=self._bucket, Key=self._key(name))["Body"].read()
            return body
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self._bucket, Key=self._key(name))

    def names(self, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket,
                                                                          Prefix=self._key(prefix)):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                found.append(key[len(self._prefix) + 1:] if self._prefix else key)
        return sorted(found)

    def location(self, name: str = "") -> str:
        return f"s3://{self._bucket}/{self._key(name)}"


def object_store(uri: str, prefix: str) -> ObjectStore:
    """``file:///abs/dir`` or ``s3://bucket/prefix`` plus a sub-prefix → a store."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return FileObjectStore(Path(parsed.path) / prefix)
    if parsed.scheme == "s3":
        return S3ObjectStore(parsed.netloc, f"{parsed.path.strip('/')}/{prefix}".strip("/"))
    raise ValueError(f"unsupported storage URI {uri!r} (use file:// or s3://)")
