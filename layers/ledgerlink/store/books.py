"""Storage for the embedded Beancount book: a text view of an :mod:`object store <ledgerlink.store.objects>`
(a local directory or an S3 prefix).

The one primitive that matters is ``create``: write a file only if it does not exist, atomically
(``link(2)`` of a fully written temp file locally; ``PutObject`` with ``If-None-Match: *`` on S3).
One file per posting named by its external id makes the book itself the exactly-once guard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from ledgerlink.store.objects import FileObjectStore, ObjectStore, S3ObjectStore

BOOK_SUFFIX = ".beancount"


class BookStore(Protocol):
    def create(self, name: str, text: str) -> bool: ...
    def write(self, name: str, text: str) -> None: ...
    def read(self, name: str) -> str | None: ...
    def names(self, prefix: str) -> list[str]: ...
    def location(self, name: str = "") -> str: ...


class _TextBook:
    """UTF-8 Beancount files over an object store; ``names`` lists only the book's ``.beancount`` files."""

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def create(self, name: str, text: str) -> bool:
        return self.objects.create(name, text.encode("utf-8"))

    def write(self, name: str, text: str) -> None:
        self.objects.write(name, text.encode("utf-8"))

    def read(self, name: str) -> str | None:
        data = self.objects.read(name)
        return data.decode("utf-8") if data is not None else None

    def names(self, prefix: str) -> list[str]:
        return [name for name in self.objects.names(prefix)
                if name.endswith(BOOK_SUFFIX) and not name.rsplit("/", 1)[-1].startswith(".")]

    def location(self, name: str = "") -> str:
        return self.objects.location(name)


class FileBookStore(_TextBook):
    def __init__(self, root: str | Path) -> None:
        super().__init__(FileObjectStore(root))
        self.root = Path(root)


class S3BookStore(_TextBook):
    def __init__(self, bucket: str, prefix: str, *, client: Any = None) -> None:
        super().__init__(S3ObjectStore(bucket, prefix, client=client, content_type="text/plain; charset=utf-8"))


def book_store(books_uri: str, book: str) -> BookStore:
    """``file:///abs/dir`` or ``s3://bucket/prefix`` + the book name → a store for that book."""
    parsed = urlparse(books_uri)
    if parsed.scheme == "file":
        return FileBookStore(Path(parsed.path) / book)
    if parsed.scheme == "s3":
        return S3BookStore(parsed.netloc, f"{parsed.path.strip('/')}/{book}".strip("/"))
    raise ValueError(f"unsupported books URI {books_uri!r} (use file:// or s3://)")
