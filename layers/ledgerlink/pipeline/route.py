"""Route: which ERP connection a journal goes to.

Each entity posts to its ``erp_connection``. During a migration (coexistence) an entity also names a
``legacy_connection`` and a ``cutover_date``: journals dated before the cutover go to the legacy target (the
old ERP or a flat file), journals dated on or after it to the new ERP. The date is the journal's accounting
date *after* the period gate, so a document moved into the next open period follows its new date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected


@dataclass(frozen=True, slots=True)
class Route:
    connection_id: str
    legacy: bool          # True: dated before the entity's cutover


def route(config: LedgerLinkConfig, entity_id: str, accounting_date: date) -> Route:
    try:
        entity = config.entity(entity_id)
    except KeyError:
        raise DocumentRejected(f"unknown legal entity {entity_id!r}", reason="unknown_entity",
                               entity=entity_id) from None
    if entity.cutover_date is not None and entity.legacy_connection and accounting_date < entity.cutover_date:
        return Route(entity.legacy_connection, legacy=True)
    return Route(entity.erp_connection, legacy=False)
