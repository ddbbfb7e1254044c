"""Revenue recognition policy: which billed lines are deferred and released over their service period.

One reviewed section of the configuration file::

    revenue_recognition:
      policies:
        - source: stripe            # or '*'
          entity: '*'               # or one entity id
          document_type: invoice    # invoice (billing) | contract_event (CRM/CPQ backlog, memorandum)
          products: ['*']           # Stripe product ids, or '*'
          min_service_days: 1       # lines with a shorter service period are recognized when billed
      meters:                       # usage-based billing: what a metered invoice line bills (tie-out)
        - meter: mtr_api_requests   # Stripe billing meter id (``price.recurring.meter``)
          event_name: api_request   # the ``event_name`` of the meter events it aggregates
          prices: [price_api_requests]   # price ids, for invoice lines that do not embed the price

A policy only decides *whether* a line is deferred; the accounts come from ``account_mappings`` like every
other posting: ``deferred_revenue.<product>`` (else ``deferred_revenue``) for the deferral, and the line's
own revenue role (``revenue.<product>``, else ``revenue``) for the release.
"""

from typing import Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel
from ledgerlink.model.base import Identifier

DEFERRED_ROLE = "deferred_revenue"


class RevenuePolicy(ConfigModel):
    """Defer the lines of matching documents that have a service period, released ratably by day."""

    source: Identifier | Literal["*"] = "*"
    entity: Identifier | Literal["*"] = "*"
    document_type: Literal["invoice", "contract_event"] = Field(
        default="invoice", description="invoice: billed lines → deferred revenue; contract_event: CRM/CPQ contracts "
                                       "with a term → remaining performance obligation (memorandum backlog) released "
                                       "over the term")
    products: list[str] = Field(default_factory=lambda: ["*"], min_length=1,
                                description="product ids whose lines are deferred; '*' = every product")
    method: Literal["ratable_daily"] = Field(
        default="ratable_daily", description="equal amount per day of the service period, summed per accounting "
                                             "period (calendar month in the entity's time zone)")
    min_service_days: int = Field(default=1, ge=1, le=3660,
                                  description="lines whose service period is shorter are recognized when billed")

    def covers_product(self, product_id: str | None) -> bool:
        return "*" in self.products or (product_id is not None and product_id in self.products)


class UsageMeter(ConfigModel):
    """A Stripe billing meter: which meter events it aggregates and which prices bill it."""

    meter: str = Field(min_length=1, max_length=128, description="Stripe billing meter id (mtr_...)")
    event_name: str = Field(min_length=1, max_length=100, description="event_name of its meter events")
    prices: list[str] = Field(default_factory=list, description="price ids billing this meter")
    customer_key: str = Field(default="stripe_customer_id", min_length=1,
                              description="payload key holding the Stripe customer id (customer_mapping)")
    value_key: str = Field(default="value", min_length=1, description="payload key holding the quantity")


class RevenueRecognition(ConfigModel):
    policies: list[RevenuePolicy] = Field(default_factory=list)
    meters: list[UsageMeter] = Field(default_factory=list)

    def policy_for(self, source_id: str, entity_id: str, document_type: str) -> RevenuePolicy | None:
        """The most specific matching policy (a named source and entity beat '*')."""
        matching = [policy for policy in self.policies if policy.document_type == document_type
                    and policy.source in (source_id, "*") and policy.entity in (entity_id, "*")]
        return min(matching, key=lambda p: (p.source == "*", p.entity == "*"), default=None)

    def meter_for(self, meter_id: str | None, price_id: str | None) -> UsageMeter | None:
        for meter in self.meters:
            if (meter_id is not None and meter.meter == meter_id) or (price_id is not None and price_id in meter.prices):
                return meter
        return None

    def meter_named(self, event_name: str) -> UsageMeter | None:
        return next((meter for meter in self.meters if meter.event_name == event_name), None)
