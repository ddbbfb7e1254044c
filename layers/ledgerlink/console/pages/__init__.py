"""The console's pages: each module registers its routes with ``ledgerlink.console.app.route`` when imported."""

from __future__ import annotations

import importlib
from functools import cache

from ledgerlink.console.pages import layout

MODULES = ("exceptions", "approvals", "search", "reconciliation", "close", "operations", "configuration",
           "revenue", "audit")

__all__ = ["layout", "load"]


@cache
def load() -> None:
    for name in MODULES:
        importlib.import_module(f"ledgerlink.console.pages.{name}")
