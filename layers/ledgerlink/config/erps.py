"""ERP connection kinds. Each kind is one package, ``connectors/erps/<kind>/``: its connector (``connector.py``) and
its connection's configuration model (``config.py``, a class with ``kind: Literal[...]``); this module gathers the
models into the ``ErpConnection`` union. Adding a kind: its package, one entry here and one in
``connectors.erps.BUILDERS``.

Each class may define ``account_problem(account) -> str | None`` to check account names/ids against
what that ERP accepts; the top-level model calls it for every mapped account of entities on it.
"""

from typing import Annotated

from pydantic import Field

from ledgerlink.connectors.erps.beancount.config import BEANCOUNT_ACCOUNT, BeancountConnection
from ledgerlink.connectors.erps.business_central.config import BusinessCentralConnection
from ledgerlink.connectors.erps.connection import (
    BacklogDeadlineConfig,
    ConnectionLimitsConfig,
    HttpConnection,
)
from ledgerlink.connectors.erps.legacy_file.config import LegacyFileConnection
from ledgerlink.connectors.erps.netsuite.config import NetSuiteConnection
from ledgerlink.connectors.erps.quickbooks.config import QuickBooksConnection
from ledgerlink.connectors.erps.xero.config import XeroConnection

_HttpConnection = HttpConnection   # the name before the kinds moved into their packages

ErpConnection = Annotated[
    BeancountConnection | NetSuiteConnection | QuickBooksConnection | XeroConnection | BusinessCentralConnection
    | LegacyFileConnection,
    Field(discriminator="kind"),
]

__all__ = ["BEANCOUNT_ACCOUNT", "BacklogDeadlineConfig", "BeancountConnection", "BusinessCentralConnection",
           "ConnectionLimitsConfig", "ErpConnection", "HttpConnection", "LegacyFileConnection", "NetSuiteConnection",
           "QuickBooksConnection", "XeroConnection"]
