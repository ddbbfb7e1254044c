"""Revenue-recognition contracts: schedule lines and the facts that change them (stored as JSON in the revenue table,
so pydantic: they are validated when read back), what a release posts for a line (``LineDelta``) and what
releases already posted (``LineState``) — slotted dataclasses, built per line on every release run — and the
fixed-shape items of the revenue table (a release run, a usage tie-out).

The arithmetic is ``pipeline.revenue`` / ``pipeline.revenue_schedule`` / ``pipeline.revenue_release``; the DynamoDB
items are ``store.revenue``. Both use these types, so the store depends on ``model/`` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, NotRequired, TypedDict

from pydantic import Field

from ledgerlink.model.base import Identifier, NonEmptyStr, Schema
from ledgerlink.model.money import Currency

type Reclass = dict[str, tuple[str, Decimal]]   # fact id → (account, amount)


class ScheduleLine(Schema):
    """One deferred billed line: what was credited to deferred revenue, over which days, released where."""

    schedule_id: NonEmptyStr
    entity_id: Identifier
    source_id: NonEmptyStr
    document_type: Literal["invoice", "contract_event"] = "invoice"
    invoice_document_id: NonEmptyStr
    line_id: NonEmptyStr
    currency: Currency                     # the posting currency (the base currency when converted)
    billed: Decimal                        # credited to deferred revenue (negative for a credit proration line)
    service_start: date
    service_end: date                      # exclusive
    deferred_account: NonEmptyStr
    revenue_account: NonEmptyStr
    dimensions: dict[str, str] = Field(default_factory=dict)
    weight: Decimal                        # the line's net in the document currency (allocation weight)
    invoice_net: Decimal                   # every line's net: the base of an unlinked credit note
    invoice_total: Decimal                 # the invoice total with tax: the base of a refund
    billed_on: date                        # the invoice's accounting date (when the deferral was booked)
    subscription_id: NonEmptyStr | None = None
    product_id: NonEmptyStr | None = None
    customer: NonEmptyStr | None = None
    description: NonEmptyStr | None = None
    position: int = 0                      # the line's place on the invoice: allocation ties go to the earlier


class RevenueFact(Schema):
    """A change to schedule lines (see ``pipeline.revenue_schedule``)."""

    fact_id: NonEmptyStr
    kind: Literal["credit_note", "refund", "cancellation", "void", "credit_refund"]
    entity_id: Identifier
    document_id: NonEmptyStr
    effective_date: date
    currency: Currency
    amount: Decimal = Decimal(0)           # credited / refunded, posting currency; 0 for cancellations, voids
    account: NonEmptyStr | None = None     # where the credit / refund was booked
    invoice_document_id: NonEmptyStr | None = None
    line_id: NonEmptyStr | None = None     # the invoice line a credit-note line names
    subscription_id: NonEmptyStr | None = None
    # a refund whose tax share was booked to tax (D88): ``amount`` is its net share, allocated by the invoice's
    # net like a credit note; earlier refund facts hold the whole refund, allocated by the invoice's total
    net_of_tax: bool = False
    # ``credit_refund``: the refund a credit note paid out (D89); that refund's fact takes this much less out of
    # the schedule, since the credit note's own facts already took the credited amount out
    refund_document_id: NonEmptyStr | None = None


class UsageTie(Schema):
    """A metered invoice line and the usage it bills: tied when the meter events of its period add up to it."""

    invoice_document_id: NonEmptyStr
    line_id: NonEmptyStr
    entity_id: Identifier
    event_name: NonEmptyStr
    customer: NonEmptyStr
    period_start: datetime
    period_end: datetime                   # exclusive
    billed_quantity: Decimal
    meter_id: NonEmptyStr | None = None


class Facts(Schema):
    """What one posted (or recorded) document contributes to revenue schedules."""

    lines: tuple[ScheduleLine, ...] = ()
    changes: tuple[RevenueFact, ...] = ()
    usage: tuple[UsageTie, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.lines or self.changes or self.usage)


class ReclassJson(TypedDict):
    account: str
    amount: str


class LineDeltaJson(TypedDict):
    """A planned line delta as the revenue table stores it (``RUN#<run id> / D#<schedule id>``, JSON text)."""

    schedule_id: str
    invoice_document_id: str
    currency: str
    deferred_account: str
    completes: NotRequired[bool]
    revenue_account: str
    dimensions: NotRequired[dict[str, str]]
    revenue: str
    reclass: NotRequired[dict[str, ReclassJson]]


@dataclass(frozen=True, slots=True)
class LineState:
    """What releases already posted for a line: revenue per period, reclassifications per fact."""

    released: dict[str, Decimal] = field(default_factory=dict)            # period → amount
    reclassed: Reclass = field(default_factory=dict)                      # fact id → (account, amount)

    @property
    def released_total(self) -> Decimal:
        return sum(self.released.values(), Decimal(0))

    @property
    def reclassed_total(self) -> Decimal:
        return sum((amount for _, amount in self.reclassed.values()), Decimal(0))


@dataclass(frozen=True, slots=True)
class LineDelta:
    schedule_id: str
    invoice_document_id: str
    currency: str
    deferred_account: str
    revenue_account: str
    dimensions: tuple[tuple[str, str], ...]
    revenue: Decimal
    reclass: Reclass                          # fact id → (account, amount)
    completes: bool = False                   # once posted, nothing is left to release for the line

    def is_zero(self) -> bool:
        return not self.revenue and not any(amount for _, amount in self.reclass.values())

    def to_dict(self) -> LineDeltaJson:
        return {"schedule_id": self.schedule_id, "invoice_document_id": self.invoice_document_id,
                "currency": self.currency, "deferred_account": self.deferred_account, "completes": self.completes,
                "revenue_account": self.revenue_account, "dimensions": dict(self.dimensions),
                "revenue": str(self.revenue),
                "reclass": {fact: {"account": account, "amount": str(amount)}
                            for fact, (account, amount) in self.reclass.items()}}

    @classmethod
    def from_dict(cls, data: LineDeltaJson) -> LineDelta:
        return cls(schedule_id=data["schedule_id"], invoice_document_id=data["invoice_document_id"],
                   currency=data["currency"], completes=bool(data.get("completes")),
                   deferred_account=data["deferred_account"], revenue_account=data["revenue_account"],
                   dimensions=tuple(sorted((data.get("dimensions") or {}).items())),
                   revenue=Decimal(str(data["revenue"])),
                   reclass={fact: (value["account"], Decimal(str(value["amount"])))
                            for fact, value in (data.get("reclass") or {}).items()})


class ReleaseRun(TypedDict):
    """A release run as planned (``claim_run``) and as the revenue table holds it (``R#<entity> / RUN#<period>#<seq>``;
    ``runs`` returns the stored item, keys and bookkeeping included)."""

    entity_id: str
    period: str
    sequence: int
    run_id: str
    config_version: NotRequired[int]
    lines: NotRequired[int]
    caught_up: NotRequired[list[str]]
    pk: NotRequired[str]
    sk: NotRequired[str]
    status: NotRequired[str]            # planned → done
    created_at: NotRequired[int]
    finished_at: NotRequired[str]
    journals: NotRequired[list[str]]


class TieOut(TypedDict):
    """A usage tie-out of a metered invoice line (``I#<invoice> / T#<line id>``): the ``UsageTie`` as JSON and what the
    meter events of its period add up to."""

    invoice_document_id: str
    line_id: str
    entity_id: str
    event_name: str
    customer: str
    period_start: str
    period_end: str
    billed_quantity: str
    meter_id: str | None
    metered_quantity: str
    records: int
    difference: str
    status: Literal["tied", "difference"]


def release_run(item: Mapping[str, object]) -> ReleaseRun:
    """A stored run item, read back (DynamoDB numbers come back as int or Decimal)."""
    run: ReleaseRun = {"entity_id": str(item["entity_id"]), "period": str(item["period"]),
                       "sequence": _whole(item["sequence"]), "run_id": str(item["run_id"])}
    if isinstance(pk := item.get("pk"), str):
        run["pk"] = pk
    if isinstance(sk := item.get("sk"), str):
        run["sk"] = sk
    if isinstance(status := item.get("status"), str):
        run["status"] = status
    if isinstance(finished_at := item.get("finished_at"), str):
        run["finished_at"] = finished_at
    if (config_version := item.get("config_version")) is not None:
        run["config_version"] = _whole(config_version)
    if (lines := item.get("lines")) is not None:
        run["lines"] = _whole(lines)
    if (created_at := item.get("created_at")) is not None:
        run["created_at"] = _whole(created_at)
    if isinstance(caught_up := item.get("caught_up"), list):
        run["caught_up"] = [str(each) for each in caught_up]
    if isinstance(journals := item.get("journals"), list):
        run["journals"] = [str(each) for each in journals]
    return run


def _whole(found: object) -> int:
    if isinstance(found, (int, Decimal, str)):
        return int(found)
    raise TypeError(f"not a number: {found!r}")
