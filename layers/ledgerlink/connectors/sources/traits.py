"""What a source package declares about itself, in its ``__init__.py`` (stdlib only: the ingest Lambda imports
every package's ``__init__`` on the webhook hot path, so nothing here may pull in pydantic or an API client).

    TRAITS = SourceTraits(webhook=True, api=True, document_types=("card_transaction",))

``ledgerlink.connectors.sources`` finds every sub-package that sets ``TRAITS``; the rest of LedgerLink (ingest,
poller, fetch, config, the local stack) reads the kinds from there and never names one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourceTraits:
    """How a source's events arrive and what they become.

    - ``webhook``: signed webhooks (``POST /webhooks/{source}``): the package has ``webhook.py``;
    - ``polled``: read by the scheduled poller (no webhooks): ``api.py`` has ``poll``;
    - ``api``: the normalizer needs the vendor's API (fetch what a notification names, or poll): ``api.py``;
    - ``file_drop``: files dropped in the archive bucket (S3 event), neither webhook nor poll;
    - ``order``: the kind's place in listings and in the configuration's ``Source`` union (kinds sort by it, then by
      name; a new source takes the next free tens);
    - ``document_types``: the canonical document types ``normalize.py`` produces (the mapping-role check reads
      them to warn about roles an entity's source will need).
    """

    order: int = 1000
    webhook: bool = False
    polled: bool = False
    api: bool = False
    file_drop: bool = False
    document_types: tuple[str, ...] = ()
