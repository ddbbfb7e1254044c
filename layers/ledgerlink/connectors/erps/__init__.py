"""ERP connectors. Every connector has the same shape (see ``base.ErpConnector``): post a journal
once per external id, find by external id, report period status and limits. The embedded Beancount
book is the first; adding an ERP means one module, one entry in ``BUILDERS`` and its contract tests.

HTTP ERPs (NetSuite, QuickBooks Online, Xero, Business Central) also post native documents and bulk
journals (``base.DocumentPoster``, ``base.BulkPoster``); the legacy flat file writes a GL import file.
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
    secrets: Any = None            # SecretsManagerSecrets-like: get(secret_id) -> list[str]; get_raw/put_raw (JSON)
    legacy_files_uri: str | None = None   # legacy GL import files: file:///dir or s3://bucket/prefix
    limiters: Any = None           # DynamoLimiters-like: for_connection(connection_id, LimitPolicy) -> Limiter
    clock_ms: Callable[[], int] | None = None     # injectable time (tests); default wall clock
    sleeper: Callable[[float], None] | None = None


def limiter_for(context: ConnectorContext, connection: Any, limits: Any) -> Any:
    """The connection's shared limiter (state in DynamoDB) or none when the deployment has no limiter table."""
    from ledgerlink.connectors.erps.ratelimit import LimitPolicy, NullLimiter

    if context.limiters is None:
        return NullLimiter()
    return context.limiters.for_connection(connection.id, LimitPolicy.from_limits(limits, connection.limits))


def _beancount(connection: Any, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.store.books import book_store

    if not context.books_uri:
        raise ValueError("Beancount connections need a books URI (LEDGERLINK_BOOKS_URI)")
    book = BeancountBook(connection, book_store(context.books_uri, connection.book))
    if getattr(connection, "limits", None) is None or context.limiters is None:   # readers (close check): the book
        return book
    from ledgerlink.connectors.erps.budgeted import BudgetedBook  # a rehearsed API budget (issue 23)

    limiter = limiter_for(context, connection, book.limits())
    return BudgetedBook(book, limiter, connection.limits)  # type: ignore[return-value]


def _http(module: str, class_name: str) -> Callable[[Any, ConnectorContext], ErpConnector]:
    def build(connection: Any, context: ConnectorContext) -> ErpConnector:
        import importlib

        return getattr(importlib.import_module(f"ledgerlink.connectors.erps.{module}"), class_name)(connection, context)

    return build


def _legacy_file(connection: Any, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.legacy_file import LegacyFile
    from ledgerlink.store.objects import object_store

    if not context.legacy_files_uri:
        raise ValueError("legacy file connections need a legacy files URI (LEDGERLINK_LEGACY_FILES_URI)")
    return LegacyFile(connection, object_store(context.legacy_files_uri, connection.prefix))


# connection kind → builder(connection config, context) -> connector
BUILDERS: dict[str, Callable[[Any, ConnectorContext], ErpConnector]] = {
    "beancount": _beancount,
    "netsuite": _http("netsuite", "NetSuite"),
    "quickbooks_online": _http("quickbooks", "QuickBooksOnline"),
    "xero": _http("xero", "Xero"),
    "business_central": _http("business_central", "BusinessCentral"),
    "legacy_file": _legacy_file,
}
