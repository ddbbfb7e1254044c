"""The mapping service's lookups, answered once per configuration and date instead of once per document.

``LedgerLinkConfig``'s lookups scan their lists on every call (the source of truth, and what the rest of the
code and the tests use). The pure core asks the same questions for every document — the accounts of an
entity and source as of a date, the tax code of a treatment, the dimension rules of a product — and the
answers only change with the configuration or the date. :func:`lookups_for` keeps, per configuration object,
the answers already given, so each distinct question is scanned once.

Keyed by the configuration *object* (held strongly, so its ``id`` cannot be reused while cached), not by its
version number: tests and replays build different configurations under the same number. A configuration is
frozen, so an answer cannot go stale while its object lives. Answers are shared: callers must not mutate them
(``dimensions`` returns a copy because enrich adds to it).
"""

from __future__ import annotations

from datetime import date

from ledgerlink.config.mappings import Employee, EntityControls
from ledgerlink.config.model import Entity, LedgerLinkConfig, Source

_MAX_ANSWERS = 4096   # per table; dates are the unbounded part of the keys (one set of answers per day)
_MAX_CONFIGS = 8      # a container holds the active version, and a replay may pin an older one


class MappingLookups:
    """Memoized answers of one configuration's lookups; each equals the corresponding ``LedgerLinkConfig`` call."""

    __slots__ = ("_accounts", "_chart", "_controls", "_dimensions", "_employees", "_entities", "_sources",
                 "_tax_codes", "config")

    def __init__(self, config: LedgerLinkConfig) -> None:
        self.config = config
        self._entities: dict[str, Entity] = {}
        for entity in config.entities:
            self._entities.setdefault(entity.id, entity)  # config.entity() returns the first with the id
        self._sources: dict[str, Source] = {}
        for source in config.sources:
            self._sources.setdefault(source.id, source)
        self._accounts: dict[tuple[str, str, date | None], dict[str, str]] = {}
        self._tax_codes: dict[tuple[str, str | None, date], str | None] = {}
        self._dimensions: dict[tuple[str, str, date, str | None, str | None, str | None], dict[str, str]] = {}
        self._employees: dict[tuple[str, str, date], Employee | None] = {}
        self._chart: dict[str, frozenset[str]] = {}
        self._controls: dict[str, EntityControls | None] = {}

    def entity(self, entity_id: str) -> Entity:
        """``config.entity``: raises ``KeyError`` for an unknown entity."""
        entity = self._entities.get(entity_id)
        if entity is None:
            raise KeyError(entity_id)
        return entity

    def source(self, source_id: str) -> Source | None:
        """``config.source``: None for an unknown source."""
        return self._sources.get(source_id)

    def accounts(self, entity_id: str, source_id: str, on: date | None) -> dict[str, str]:
        key = (entity_id, source_id, on)
        table = self._accounts.get(key)
        if table is None:
            table = _remember(self._accounts, key, self.config.accounts_for(entity_id, source_id, on))
        return table

    def tax_code(self, entity_id: str, treatment: str | None, on: date) -> str | None:
        key = (entity_id, treatment, on)
        try:
            return self._tax_codes[key]
        except KeyError:
            return _remember(self._tax_codes, key, self.config.tax_code(entity_id, treatment, on))

    def dimensions(self, entity_id: str, *, source: str, on: date, product_id: str | None = None,
                   category: str | None = None, employee: str | None = None) -> dict[str, str]:
        """A fresh dict (the caller may add to it) equal to ``config.dimensions_for``."""
        key = (entity_id, source, on, product_id, category, employee)
        merged = self._dimensions.get(key)
        if merged is None:
            merged = _remember(self._dimensions, key, self.config.dimensions_for(
                entity_id, source=source, on=on, product_id=product_id, category=category, employee=employee))
        return dict(merged) if merged else {}

    def employee(self, source: str, employee_id: str, on: date) -> Employee | None:
        key = (source, employee_id, on)
        try:
            return self._employees[key]
        except KeyError:
            return _remember(self._employees, key, self.config.employee(source, employee_id, on))

    def chart(self, entity_id: str) -> frozenset[str]:
        """Every account mapped for the entity (any source, any date): the accounts its journals may use."""
        known = self._chart.get(entity_id)
        if known is None:
            known = self._chart[entity_id] = frozenset(
                account for mapping in self.config.account_mappings if mapping.entity == entity_id
                for account in mapping.accounts.values())
        return known

    def controls(self, entity_id: str) -> EntityControls | None:
        try:
            return self._controls[entity_id]
        except KeyError:
            controls = self._controls[entity_id] = self.config.controls_for(entity_id)
            return controls


def _remember[K, V](table: dict[K, V], key: K, value: V) -> V:
    if len(table) >= _MAX_ANSWERS:
        table.clear()  # a long-lived container walking through many dates: start over rather than grow
    table[key] = value
    return value


_LOOKUPS: dict[int, MappingLookups] = {}


def lookups_for(config: LedgerLinkConfig) -> MappingLookups:
    """The memoized lookups of this configuration object (built on first use)."""
    lookups = _LOOKUPS.get(id(config))
    if lookups is None or lookups.config is not config:
        if len(_LOOKUPS) >= _MAX_CONFIGS:
            del _LOOKUPS[next(iter(_LOOKUPS))]  # the oldest configuration first
        lookups = _LOOKUPS[id(config)] = MappingLookups(config)
    return lookups
