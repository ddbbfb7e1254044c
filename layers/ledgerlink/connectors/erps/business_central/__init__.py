"""Dynamics 365 Business Central: one package — the connector (``connector.py``) and its connection's configuration model
(``config.py``, gathered into ``ledgerlink.config.erps``).

The configuration is read by every function, the connector only by those that post: importing this package (or
its ``config``) does not import the connector, which is loaded on first use of one of its names, so
``ledgerlink.connectors.erps.business_central.BusinessCentral`` keeps working without adding the connector to every cold start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledgerlink.connectors.erps.lazy import connector_attribute

if TYPE_CHECKING:
    from ledgerlink.connectors.erps.business_central.connector import BusinessCentral as BusinessCentral


def __getattr__(name: str) -> object:
    """A name of the connector module (PEP 562), imported when first asked for."""
    return connector_attribute(__name__, name)
