"""Source kinds: the ``Source`` union of every source package's configuration model.

A source kind's model lives in its package (``connectors/sources/<kind>/config.py``, ``MODEL``); this module
discovers the packages (``ledgerlink.connectors.sources.SOURCE_KINDS``) and builds the discriminated union on
``kind`` from their models, so adding a source adds no line here.

Every source has ``id`` (the URL segment of ``POST /webhooks/{source}``), ``kind``, ``signing_secret``,
``default_entity``, ``tolerance_seconds`` and ``max_body_bytes``: the ingest Lambda reads exactly
those from the stored JSON without pydantic (``ledgerlink.service.ingest.WebhookSource``).
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Protocol, Self, Union

from pydantic import Field

from ledgerlink.config.base import ConfigModel, SecretRef
from ledgerlink.config.source_fields import (
    AmountCeilings,
    ApiAccess,
    ApiUrl,
    RoutedSourceFields,
    SourceFields,
    UnmappedAccounts,
    route_account,
)
from ledgerlink.connectors.sources import SOURCE_KINDS, package_module

# The models existing code imports from here by name (kept importable; a new source's model is imported from its
# package, ``ledgerlink.connectors.sources.<kind>.config``).
from ledgerlink.connectors.sources.adyen.config import AdyenReports, AdyenSource
from ledgerlink.connectors.sources.bank.config import BankSource
from ledgerlink.connectors.sources.brex.config import BrexSource
from ledgerlink.connectors.sources.concur.config import ConcurSource
from ledgerlink.connectors.sources.expensify.config import ExpensifySource
from ledgerlink.connectors.sources.hubspot.config import HubSpotSource
from ledgerlink.connectors.sources.ramp.config import RampSource
from ledgerlink.connectors.sources.salesforce.config import SalesforceSource
from ledgerlink.connectors.sources.stripe.config import StripeSource

__all__ = ["AdyenReports", "AdyenSource", "AmountCeilings", "ApiAccess", "ApiUrl", "BankSource", "BrexSource",
           "ConcurSource", "ExpensifySource", "HubSpotSource", "RampSource", "RoutedSourceFields", "SalesforceSource",
           "SecretRef", "Source", "SourceConfig", "SourceFields", "StripeSource", "UnmappedAccounts", "api_credentials",
           "route_account", "source_models"]


class SourceConfig(Protocol):
    """What code that handles any source reads from its model (each model has more: narrow by ``kind``)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def default_entity(self) -> str: ...
    @property
    def account_entities(self) -> dict[str, str]: ...
    @property
    def signing_secret(self) -> SecretRef | None: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def max_amount(self) -> AmountCeilings: ...
    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self: ...


def source_models() -> tuple[type[ConfigModel], ...]:
    """Every source package's configuration model, in kind order."""
    models: list[type[ConfigModel]] = []
    for kind in SOURCE_KINDS:
        module = package_module(kind, "config")
        if module is None:
            raise ImportError(f"source package {kind!r} has no config.py (its MODEL is the configuration model)")
        models.append(module.MODEL)
    return tuple(models)


if TYPE_CHECKING:
    Source = SourceConfig
else:
    Source = Annotated[Union[source_models()], Field(discriminator="kind")]  # noqa: UP007 - a runtime tuple


def api_credentials(source: object) -> SecretRef | None:
    """The Secrets Manager secret a source's API client (fetch or poll) reads, if it has one."""
    api = getattr(source, "api", None) or getattr(source, "reports", None)
    return api.credentials if api is not None else None
