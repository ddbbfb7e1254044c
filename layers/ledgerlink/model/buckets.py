"""Summary-bucket contracts: the scope a journal is summarized into, what it adds to each summary line, the
lines a bucket holds at the flush, and a bucket's status.

The arithmetic (which bucket, the netting, the one journal a bucket becomes) is ``pipeline.summarize``; the
DynamoDB items are ``store.buckets``. Both use these types, so the store depends on ``model/`` only. Slotted
dataclasses, not pydantic: they are built on the hot path of every summarized document and never parsed from
outside input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from ledgerlink.model.ids import fingerprint

if TYPE_CHECKING:
    from ledgerlink.model.documents import SourceRef

SUMMARY_SYSTEM = "ledgerlink"

type Dimensions = tuple[tuple[str, str], ...]


class BucketStatus(StrEnum):
    """A bucket's life: open → sealed → posted → done, or sealed → exception → exception_traced. Stored as its
    value, equal to it."""

    OPEN = "open"                          # documents join it
    SEALED = "sealed"                      # the flush took it: new documents go to the next sequence
    POSTED = "posted"                      # the summary journal is in the ERP (or netted to zero)
    EXCEPTION = "exception"                # the summary journal was rejected: a case holds it
    DONE = "done"                          # posted and every member's ledger item traced
    EXCEPTION_TRACED = "exception_traced"  # rejected and every member's ledger item traced


@dataclass(frozen=True, slots=True)
class BucketScope:
    connection_id: str
    entity_id: str
    accounting_date: date
    currency: str
    source_id: str
    document_type: str

    def key(self) -> str:
        return "|".join((self.connection_id, self.entity_id, self.accounting_date.isoformat(), self.currency,
                         self.source_id, self.document_type))

    def source(self, sequence: int) -> SourceRef:
        from ledgerlink.model.documents import SourceRef  # pydantic: only when a journal or an id is built

        return SourceRef(system=SUMMARY_SYSTEM, object_type="summary", object_id=self.key(), version=str(sequence),
                         source_id=self.source_id if _identifier(self.source_id) else None)

    def bucket_id(self, sequence: int) -> str:
        return self.source(sequence).document_id()


def _identifier(value: str) -> bool:
    return bool(value) and value[0].isalnum()


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one journal adds to one summary line."""

    line_key: str
    account: str
    dimensions: Dimensions
    amount: Decimal


def line_key(account: str, dimensions: Dimensions) -> str:
    return fingerprint(account, *(f"{k}={v}" for k, v in dimensions))[:20]


@dataclass(frozen=True, slots=True)
class SummaryLine:
    line_key: str
    account: str
    dimensions: dict[str, str]
    amount: Decimal
    documents: int


@dataclass(frozen=True, slots=True)
class MemberLine:
    """A member document's contribution to one summary line, as its member item records it (drill-down)."""

    line: str
    account: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class BucketMember:
    """A document in a bucket (the member item): which bucket, at which sequence, and what it added."""

    document_id: str
    member_of: str
    sequence: int
    correlation_id: str | None = None
    lines: tuple[MemberLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Membership:
    bucket_id: str
    sequence: int
    added: bool                # False: the document was already in a bucket (a redelivery)


@dataclass(frozen=True, slots=True)
class Bucket:
    bucket_id: str
    status: str                # a BucketStatus value
    scope: BucketScope
    sequence: int
    documents: int
    erp_ref: str | None = None
    correlation_id: str | None = None
    exception_id: str | None = None
