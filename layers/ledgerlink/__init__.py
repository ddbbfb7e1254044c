"""LedgerLink core library: canonical finance documents, connectors, pipeline and AWS adapters.

Shipped to Lambda as the core layer (everything except ``ledgerlink.local`` and ``ledgerlink.cli``).
"""

__version__ = "0.1.0"
