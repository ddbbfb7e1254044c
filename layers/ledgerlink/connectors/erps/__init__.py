"""ERP connectors. Every connector has the same shape (see ``base.ErpConnector``): post a journal
once per external id, find by external id, report period status and limits. The embedded Beancount
book is the first; adding an ERP means one module, one entry in ``BUILDERS`` and its contract tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledgerlink.connectors.erps.base import ErpConnector


@dataclass(frozen=True)
class ConnectorContext:
    """What connectors may need from the deployment (settings and shared adapters)."""

    books_uri: str | None = None   # Beancount books: file:///dir or s3://bucket/prefix
    secrets: Any = None            # SecretsManagerSecrets-like: get(secret_id) -> list[str]


def _beancount(connection: Any, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.store.books import book_store

    if not context.books_uri:
        raise ValueError("Beancount connections need a books URI (LEDGERLINK_BOOKS_URI)")
    return BeancountBook(connection, book_store(context.books_uri, connection.book))


# connection kind → builder(connection config, context) -> connector
BUILDERS: dict[str, Callable[[Any, ConnectorContext], ErpConnector]] = {
    "beancount": _beancount,
}
