"""How an ERP package (``connectors/erps/<kind>/``) hands out its connector's names without importing the
connector when only its configuration model is wanted."""

from __future__ import annotations

import importlib


def connector_attribute(package: str, name: str) -> object:
    """``name`` of ``<package>.connector``, imported on first use (the package's PEP 562 ``__getattr__``)."""
    return getattr(importlib.import_module(f"{package}.connector"), name)
