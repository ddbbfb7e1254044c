"""The LedgerLink configuration: entities, ERP connections, sources, GL mappings, posting policies.

One reviewed YAML file (see ``config/ledgerlink.example.yaml``) validated by these models; its JSON
Schema is exported with ``ledgerlink config schema``. The stored form (DynamoDB config table) is the
same model as JSON, versioned, so a posting can name the configuration version it used.
"""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ledgerlink.config.base import ConfigModel, SecretRef, TimeZone
from ledgerlink.config.erps import BeancountConnection, ErpConnection
from ledgerlink.config.mappings import (
    DimensionRule,
    Effective,
    Employee,
    EntityControls,
    MasterDataPolicy,
    TaxCode,
    as_of,
)
from ledgerlink.config.revenue import RevenueRecognition
from ledgerlink.config.sources import (
    AdyenSource,
    AmountCeilings,
    ApiAccess,
    BankSource,
    BrexSource,
    ConcurSource,
    ExpensifySource,
    HubSpotSource,
    RampSource,
    SalesforceSource,
    Source,
    StripeSource,
)
from ledgerlink.model.base import Identifier
from ledgerlink.model.money import Currency

__all__ = ["AccountMapping", "AdyenSource", "ApiAccess", "BankSource", "BeancountConnection", "BrexSource",
           "ConcurSource", "ConfigModel", "Entity", "ErpConnection", "ExpensifySource", "FxRate", "HubSpotSource",
           "LedgerLinkConfig", "PostingPolicy", "RampSource", "SalesforceSource", "SecretRef", "Source", "StoredConfig",
           "StripeSource", "TimeZone"]


# A reference problem: where in the file (for the loader to point at the line), and what.
type Problem = tuple[tuple[str | int, ...], str]
# Mapping roles: "receivable", "revenue", "fees.processing", "revenue.prod_123" ...
Role = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_\-]+)*$")]


class Entity(ConfigModel):
    """A legal entity: its books, currency, calendar and period controls."""

    id: Identifier
    name: str = Field(min_length=1)
    base_currency: Currency
    time_zone: TimeZone = Field(description="IANA zone; accounting dates are computed in it, not UTC")
    erp_connection: Identifier
    closed_through: date | None = Field(
        default=None, description="Last day of the last closed period; postings dated on or before it are closed"
    )
    closed_period_policy: Literal["reject", "next_open_period"] = Field(
        default="reject",
        description="reject: open an exception; next_open_period: post on the first open day, memo says why",
    )
    # Routing and coexistence (issue 5): documents dated before the cutover go to the legacy connection.
    legacy_connection: Identifier | None = Field(
        default=None, description="ERP connection for documents dated before cutover_date (legacy ERP or file)")
    cutover_date: date | None = Field(default=None, description="first accounting date posted to erp_connection")
    foreign_currency: Literal["post_as_is", "convert_to_base"] = Field(
        default="post_as_is", description="convert_to_base: journals in another currency are converted with a rate "
                                          "from fx_rates (or the document's own) and rounding goes to fx_rounding")
    max_amount: AmountCeilings = Field(
        default_factory=dict, description="plausibility ceiling per currency ('*': any other), major units: a "
                                          "document moving more opens amount_implausible (the lowest of the entity's "
                                          "and the source's applies; neither set: 1,000,000,000)")


class AccountMapping(Effective):
    """GL accounts by mapping role for one entity (and optionally one source; ``*`` = any source), effective
    for accounting dates in ``effective_from``..``effective_to`` (both optional, inclusive)."""

    entity: Identifier
    source: Identifier | Literal["*"] = "*"
    accounts: dict[Role, str] = Field(min_length=1)


class PostingPolicy(ConfigModel):
    source: Identifier | Literal["*"] = "*"
    document_type: str
    mode: Literal["line_level", "summarized"] = Field(
        default="line_level", description="line_level: post each document as its own journal; summarized: add it "
                                          "to the day's bucket, posted as one journal per bucket by the flush")
    enabled: bool = Field(default=True, description="false: record the document as ignored, post nothing")
    post_as: Literal["journal", "document"] = Field(
        default="journal", description="document: post ERP-native invoices / credits / payments where the "
                                       "connector supports them (line_level only)")


class FxRate(ConfigModel):
    """A reviewed rate: 1 ``from_currency`` = ``rate`` ``to_currency`` from ``valid_from`` on, with its source."""

    from_currency: Currency
    to_currency: Currency
    rate: Decimal = Field(gt=0)
    valid_from: date
    source: str = Field(min_length=1, max_length=64, description="where the rate comes from, e.g. ECB reference rate")


class LedgerLinkConfig(ConfigModel):
    version: Literal[1] = 1
    entities: list[Entity] = Field(min_length=1)
    erp_connections: list[ErpConnection] = Field(min_length=1)
    sources: list[Source] = Field(min_length=1)
    account_mappings: list[AccountMapping] = Field(default_factory=list)
    posting_policies: list[PostingPolicy] = Field(default_factory=list)
    fx_rates: list[FxRate] = Field(default_factory=list)
    tax_codes: list[TaxCode] = Field(default_factory=list)
    dimension_rules: list[DimensionRule] = Field(default_factory=list)
    employees: list[Employee] = Field(default_factory=list)
    master_data: list[MasterDataPolicy] = Field(default_factory=list)
    controls: list[EntityControls] = Field(default_factory=list)
    revenue_recognition: RevenueRecognition = Field(   # issue 9: config/revenue.py
        default_factory=RevenueRecognition, description="which billed lines are deferred and released over time")

    @model_validator(mode="after")
    def _references(self) -> Self:
        # Each problem keeps its location so the loader can point at the file line.
        problems: list[Problem] = [*self._duplicate_ids(), *self._entity_problems(), *self._source_problems(),
                                   *self._mapping_problems(), *self._policy_problems()]
        if problems:
            summary = "; ".join(f"{'.'.join(map(str, loc))}: {message}" for loc, message in problems)
            raise PydanticCustomError("config_reference", "{summary}", {"summary": summary, "problems": problems})
        return self

    def _duplicate_ids(self) -> Iterator[Problem]:
        for label, items in (("entities", self.entities), ("erp_connections", self.erp_connections),
                             ("sources", self.sources)):
            seen: set[str] = set()
            for position, item in enumerate(items):
                if item.id in seen:
                    yield (label, position, "id"), f"duplicate id {item.id!r}"
                seen.add(item.id)

    def _entity_problems(self) -> Iterator[Problem]:
        connections = {connection.id for connection in self.erp_connections}
        for position, entity in enumerate(self.entities):
            if entity.erp_connection not in connections:
                yield (("entities", position, "erp_connection"),
                       f"no ERP connection {entity.erp_connection!r} in erp_connections")
            if entity.legacy_connection is not None and entity.legacy_connection not in connections:
                yield (("entities", position, "legacy_connection"),
                       f"no ERP connection {entity.legacy_connection!r} in erp_connections")
            if entity.cutover_date is not None and entity.legacy_connection is None:
                yield (("entities", position, "cutover_date"),
                       "a cutover date needs a legacy_connection for the documents dated before it")

    def _source_problems(self) -> Iterator[Problem]:
        entity_ids = {entity.id for entity in self.entities}
        for position, source in enumerate(self.sources):
            if source.default_entity not in entity_ids:
                yield ("sources", position, "default_entity"), f"no entity {source.default_entity!r} in entities"
            for account, entity_id in source.account_entities.items():
                if entity_id not in entity_ids:
                    yield ("sources", position, "account_entities", account), f"no entity {entity_id!r} in entities"

    def _mapping_problems(self) -> Iterator[Problem]:
        entity_ids = {entity.id for entity in self.entities}
        source_ids = {source.id for source in self.sources}
        for position, mapping in enumerate(self.account_mappings):
            if mapping.entity not in entity_ids:
                yield ("account_mappings", position, "entity"), f"no entity {mapping.entity!r} in entities"
                continue
            if mapping.source != "*" and mapping.source not in source_ids:
                yield ("account_mappings", position, "source"), f"no source {mapping.source!r} in sources"
            yield from self._account_problems(position, mapping)

    def _account_problems(self, position: int, mapping: AccountMapping) -> Iterator[Problem]:
        """Accounts a mapping names that an ERP of its entity refuses (the connection's ``account_problem``)."""
        connections = {connection.id: connection for connection in self.erp_connections}
        for connection_id in self.entity_connections(mapping.entity):
            check = getattr(connections.get(connection_id), "account_problem", None)
            if check is None:
                continue
            for role, account in mapping.accounts.items():
                problem = check(account)
                if problem:
                    yield ("account_mappings", position, "accounts", role), problem

    def _policy_problems(self) -> Iterator[Problem]:
        source_ids = {source.id for source in self.sources}
        for position, policy in enumerate(self.posting_policies):
            if policy.source != "*" and policy.source not in source_ids:
                yield ("posting_policies", position, "source"), f"no source {policy.source!r} in sources"

    # ---- lookups (pure) ------------------------------------------------------------------------

    def entity(self, entity_id: str) -> Entity:
        for entity in self.entities:
            if entity.id == entity_id:
                return entity
        raise KeyError(entity_id)

    def source(self, source_id: str) -> Source | None:
        for source in self.sources:
            if source.id == source_id:
                return source
        return None

    def connection(self, connection_id: str) -> ErpConnection:
        for connection in self.erp_connections:
            if connection.id == connection_id:
                return connection
        raise KeyError(connection_id)

    def entity_connections(self, entity_id: str) -> list[str]:
        """The connections an entity posts to: its ERP and, during coexistence, its legacy target."""
        entity = self.entity(entity_id)
        return [entity.erp_connection] + ([entity.legacy_connection] if entity.legacy_connection else [])

    def fx_rate(self, from_currency: str, to_currency: str, on: date) -> FxRate | None:
        """The latest configured rate valid on ``on`` for the pair, if any."""
        candidates = [rate for rate in self.fx_rates if rate.from_currency == from_currency
                      and rate.to_currency == to_currency and rate.valid_from <= on]
        return max(candidates, key=lambda rate: rate.valid_from, default=None)

    def accounts_for(self, entity_id: str, source_id: str, on: date | None = None) -> dict[str, str]:
        """Role → account for an entity and source as of ``on``: source-specific mappings override ``*`` ones;
        rows not effective on that date do not count (``on=None``: the rows effective now-and-open-ended)."""
        merged: dict[str, str] = {}
        rows = [m for m in self.account_mappings if m.entity == entity_id and (on is None and m.effective_to is None
                                                                               or on is not None and m.applies(on))]
        for mapping in rows:
            if mapping.source == "*":
                merged.update(mapping.accounts)
        for mapping in rows:
            if mapping.source == source_id:
                merged.update(mapping.accounts)
        return merged

    # ---- the mapping service's other tables (all as of a date) -----------------------------------

    def tax_code(self, entity_id: str, treatment: str | None, on: date) -> str | None:
        rows = [r for r in as_of(self.tax_codes, on) if r.entity == entity_id]
        exact = next((r.tax_code for r in rows if treatment and r.treatment == treatment), None)
        return exact or next((r.tax_code for r in rows if r.treatment == "*"), None)

    def dimensions_for(self, entity_id: str, *, source: str, on: date, product_id: str | None = None,
                       category: str | None = None, employee: str | None = None) -> dict[str, str]:
        rules = [r for r in as_of(self.dimension_rules, on) if r.entity == entity_id
                 and r.matches(source=source, product_id=product_id, category=category, employee=employee)]
        merged: dict[str, str] = {}
        for rule in sorted(rules, key=lambda r: r.specificity):  # the most specific rule wins per dimension
            merged.update(rule.dimensions)
        return merged

    def employee(self, source: str, employee_id: str, on: date) -> Employee | None:
        rows = [e for e in self.employees if e.employee_id == employee_id and e.source in (source, "*")]
        current = [e for e in rows if e.applies(on)]
        if current:
            return sorted(current, key=lambda e: e.source == "*")[0]
        return None

    def knows_employee(self, source: str, employee_id: str) -> bool:
        return any(e.employee_id == employee_id and e.source in (source, "*") for e in self.employees)

    def master_data_policy(self, source: str, role: str) -> str:
        for policy in sorted(self.master_data, key=lambda p: p.source == "*"):
            if policy.source in (source, "*") and policy.role == role:
                return policy.policy
        return "create"

    def controls_for(self, entity_id: str) -> EntityControls | None:
        return next((c for c in self.controls if c.entity == entity_id), None)

    def policy_for(self, source_id: str, document_type: str) -> PostingPolicy:
        specific = [p for p in self.posting_policies if p.document_type in (document_type, "*")]
        for policy in sorted(specific, key=lambda p: (p.source == "*", p.document_type == "*")):
            if policy.source in (source_id, "*"):
                return policy
        return PostingPolicy(source=source_id, document_type=document_type)

    @cached_property
    def all_accounts(self) -> dict[str, set[str]]:
        """ERP connection id → every account mapped for entities on it (opened in the book)."""
        result: dict[str, set[str]] = {connection.id: set() for connection in self.erp_connections}
        for mapping in self.account_mappings:
            for connection_id in self.entity_connections(mapping.entity):
                result[connection_id].update(mapping.accounts.values())
        return result


class StoredConfig(ConfigModel):
    """A configuration version as stored: the config plus who applied it and a content hash."""

    version: int
    config: LedgerLinkConfig
    content_hash: str
    applied_at: str
    applied_by: str


def with_api_base_url(config: LedgerLinkConfig, url: str) -> LedgerLinkConfig:
    """``config`` with every source's vendor API (``api``, or ``reports`` for a report download) at ``url``."""
    sources = []
    for source in config.sources:
        for attribute in ("api", "reports"):
            access = getattr(source, attribute, None)
            if access is not None:
                source = source.model_copy(update={attribute: access.model_copy(update={"base_url": url})})
        sources.append(source)
    return config.model_copy(update={"sources": sources})
