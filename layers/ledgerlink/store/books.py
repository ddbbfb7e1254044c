"""Storage for the embedded Beancount book: a local directory or an S3 prefix.

The one primitive that matters is ``create``: write a file only if it does not exist, atomically
(``link(2)`` of a fully written temp file locally; ``PutObject`` with ``If-None-Match: *`` on S3).
One file per posting named by its external id makes the book itself the exactly-once guard.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from ledgerlink.errors import TransientError
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code


class BookStore(Protocol):
    def create(self, name: str, text: str) -> bool: ...
    def write(self, name: str, text: str) -> None: ...
    def read(self, name: str) -> str | None: ...
    def names(self, prefix: str) -> list[str]: ...
    def location(self, name: str = "") -> str: ...


class FileBookStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise ValueError(f"book file {name!r} escapes the book directory")
        return path

    def create(self, name: str, text: str) -> bool:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # atomic; fails if the posting already exists
            except FileExistsError:
                return False
            return True
        finally:
            os.unlink(tmp)

    def write(self, name: str, text: str) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)

    def read(self, name: str) -> str | None:
        path = self._path(name)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def names(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*.beancount") if not p.name.startswith("."))

    def location(self, name: str = "") -> str:
        return str(self._path(name)) if name else str(self.root.resolve())


class S3BookStore:
    def __init__(self, bucket: str, prefix: str, *, client: Any = None) -> None:
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("s3")

    def _key(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name

    def create(self, name: str, text: str) -> bool:
        try:
            self.client.put_object(Bucket=self._bucket, Key=self._key(name), Body=text.encode("utf-8"),
                                   IfNoneMatch="*", ContentType="text/plain; charset=utf-8")
        except Exception as exc:
            code = error_code(exc)
            if code in ("PreconditionFailed", "412"):
                return False
            if code in ("ConditionalRequestConflict", "409"):
                raise TransientError("concurrent write of the same posting; retry", reason="write_conflict") from None
            raise
        return True

    def write(self, name: str, text: str) -> None:
        self.client.put_object(Bucket=self._bucket, Key=self._key(name), Body=text.encode("utf-8"),
                               ContentType="text/plain; charset=utf-8")

    def read(self, name: str) -> str | None:
        try:
            return self.client.get_object(Bucket=self._bucket, Key=self._key(name))["Body"].read().decode("utf-8")
        except Exception as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise

    def names(self, prefix: str) -> list[str]:
        found: list[str] = []
        start = self._key(prefix)
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=start):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith(".beancount"):
                    found.append(key[len(self._prefix) + 1:] if self._prefix else key)
        return sorted(found)

    def location(self, name: str = "") -> str:
        return f"s3://{self._bucket}/{self._key(name)}"


def book_store(books_uri: str, book: str) -> BookStore:
    """``file:///abs/dir`` or ``s3://bucket/prefix`` + the book name → a store for that book."""
    parsed = urlparse(books_uri)
    if parsed.scheme == "file":
        return FileBookStore(Path(parsed.path) / book)
    if parsed.scheme == "s3":
        return S3BookStore(parsed.netloc, f"{parsed.path.strip('/')}/{book}".strip("/"))
    raise ValueError(f"unsupported books URI {books_uri!r} (use file:// or s3://)")
