"""Where a document is counted in the control totals: :class:`ledgerlink.model.counters.CounterKey` (kept importable
here for the services and tools that import it from its first home)."""

from __future__ import annotations

from ledgerlink.model.counters import CounterKey

__all__ = ["CounterKey"]
