"""ERP connectors. Every connector has the same shape (see ``base.ErpConnector``): post a journal
once per external id, find by external id, report period status and limits, and answer what else it can do.
The embedded Beancount book is the first; adding an ERP means one package (``<kind>/``: connector and
configuration model), one entry in ``BUILDERS``, one in ``config/erps.py`` and its contract tests.

HTTP ERPs (NetSuite, QuickBooks Online, Xero, Business Central) also post native documents and bulk
journals (``base.DocumentPoster``, ``base.BulkPoster``); the legacy flat file writes a GL import file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ledgerlink.connectors.erps.base import ConnectionLimits, ErpConnector

if TYPE_CHECKING:
    from ledgerlink.connectors.erps.beancount.config import BeancountConnection
    from ledgerlink.connectors.erps.business_central.config import BusinessCentralConnection
    from ledgerlink.connectors.erps.connection import ConnectionLimitsConfig
    from ledgerlink.connectors.erps.legacy_file.config import LegacyFileConnection
    from ledgerlink.connectors.erps.netsuite.config import NetSuiteConnection
    from ledgerlink.connectors.erps.quickbooks.config import QuickBooksConnection
    from ledgerlink.connectors.erps.ratelimit import Limiter, LimitPolicy
    from ledgerlink.connectors.erps.xero.config import XeroConnection


class SecretStore(Protocol):
    """Where connection credentials live (``store.secrets.SecretsManagerSecrets``): a JSON document per secret."""

    def get_raw(self, secret_id: str, *, fresh: bool = False) -> str: ...

    def put_raw(self, secret_id: str, text: str) -> None: ...


class Limiters(Protocol):
    """The deployment's shared limiters (``store.limiter.DynamoLimiters``): one per connection."""

    def for_connection(self, connection_id: str, policy: LimitPolicy) -> Limiter: ...


class LimitedConnection(Protocol):
    """What ``limiter_for`` reads from a connection's configuration."""

    @property
    def id(self) -> str: ...

    @property
    def limits(self) -> ConnectionLimitsConfig | None: ...


@dataclass(frozen=True)
class ConnectorContext:
    """What connectors may need from the deployment (settings and shared adapters)."""

    books_uri: str | None = None   # Beancount books: file:///dir or s3://bucket/prefix
    secrets: SecretStore | None = None    # connection credentials (get_raw/put_raw: JSON)
    legacy_files_uri: str | None = None   # legacy GL import files: file:///dir or s3://bucket/prefix
    limiters: Limiters | None = None      # shared limiters: for_connection(connection_id, LimitPolicy) -> Limiter
    clock_ms: Callable[[], int] | None = None     # injectable time (tests); default wall clock
    sleeper: Callable[[float], None] | None = None


def limiter_for(context: ConnectorContext, connection: LimitedConnection, limits: ConnectionLimits) -> Limiter:
    """The connection's shared limiter (state in DynamoDB) or none when the deployment has no limiter table."""
    from ledgerlink.connectors.erps.ratelimit import LimitPolicy, NullLimiter

    if context.limiters is None:
        return NullLimiter()
    return context.limiters.for_connection(connection.id, LimitPolicy.from_limits(limits, connection.limits))


# A builder takes the configuration model of its own kind (``BUILDERS`` is looked up by the connection's ``kind``,
# so the caller holds the ``ErpConnection`` union): Any is the one parameter type every builder accepts.
Builder = Callable[[Any, ConnectorContext], ErpConnector]


def _beancount(connection: BeancountConnection, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.beancount.connector import BeancountBook
    from ledgerlink.store.books import book_store

    if not context.books_uri:
        raise ValueError("Beancount connections need a books URI (LEDGERLINK_BOOKS_URI)")
    book = BeancountBook(connection, book_store(context.books_uri, connection.book))
    if connection.limits is None or context.limiters is None:   # readers (close check): the book
        return book
    from ledgerlink.connectors.erps.budgeted import BudgetedBook  # a rehearsed API budget (issue 23)

    limiter = limiter_for(context, connection, book.limits())
    return BudgetedBook(book, limiter, connection.limits)


def _netsuite(connection: NetSuiteConnection, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.netsuite.connector import NetSuite

    return NetSuite(connection, context)


def _quickbooks(connection: QuickBooksConnection, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.quickbooks.connector import QuickBooksOnline

    return QuickBooksOnline(connection, context)


def _xero(connection: XeroConnection, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.xero.connector import Xero

    return Xero(connection, context)


def _business_central(connection: BusinessCentralConnection, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.business_central.connector import BusinessCentral

    return BusinessCentral(connection, context)


def _legacy_file(connection: LegacyFileConnection, context: ConnectorContext) -> ErpConnector:
    from ledgerlink.connectors.erps.legacy_file.connector import LegacyFile
    from ledgerlink.store.objects import object_store

    if not context.legacy_files_uri:
        raise ValueError("legacy file connections need a legacy files URI (LEDGERLINK_LEGACY_FILES_URI)")
    return LegacyFile(connection, object_store(context.legacy_files_uri, connection.prefix))


# connection kind → builder(connection config, context) -> connector
BUILDERS: dict[str, Builder] = {
    "beancount": _beancount,
    "netsuite": _netsuite,
    "quickbooks_online": _quickbooks,
    "xero": _xero,
    "business_central": _business_central,
    "legacy_file": _legacy_file,
}
