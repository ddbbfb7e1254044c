"""Summarized posting, the pure part: which bucket a journal goes into, what it adds to each summary line, and
the one journal a bucket becomes at the flush.

A **bucket** is one future journal: ``(connection, entity, accounting date, currency, source, document type,
sequence)``. Its **summary lines** are keyed by ``(account, dimensions)`` and hold the net of every member's
lines on that account — so a bucket is the design's ``(entity, accounting date, currency, account,
dimensions)`` grouping with the accounts of one journal kept together (a one-account journal could not
balance). The sequence moves on when a bucket is sealed for posting, so a late document starts a new
bucket instead of changing a posted one. The bucket id is a deterministic document id — it is the summary
journal's external id, so the flush posts it exactly once like any other document.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
from ledgerlink.model.ids import fingerprint
from ledgerlink.model.money import Money

SUMMARY_SYSTEM = "ledgerlink"


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
    dimensions: tuple[tuple[str, str], ...]
    amount: Decimal


def line_key(account: str, dimensions: tuple[tuple[str, str], ...]) -> str:
    return fingerprint(account, *(f"{k}={v}" for k, v in dimensions))[:20]


def single_currency(journal: JournalEntry) -> str | None:
    currencies = {line.amount.currency for line in journal.lines}
    return currencies.pop() if len(currencies) == 1 else None


def contributions(journal: JournalEntry) -> list[Contribution]:
    """The journal's lines netted per (account, dimensions); lines that net to zero add nothing."""
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], Decimal] = defaultdict(Decimal)
    for line in journal.lines:
        totals[(line.account, tuple(sorted(line.dimensions.items())))] += line.amount.amount
    return [Contribution(line_key(account, dims), account, dims, amount)
            for (account, dims), amount in sorted(totals.items()) if amount != 0]


@dataclass(frozen=True, slots=True)
class SummaryLine:
    line_key: str
    account: str
    dimensions: dict[str, str]
    amount: Decimal
    documents: int


def summary_journal(scope: BucketScope, sequence: int, lines: list[SummaryLine], *, documents: int,
                    correlation_id: str, config_version: int | None) -> JournalEntry | None:
    """One journal for a bucket; None when its members net to zero on every account (nothing to post)."""
    bucket_id = scope.bucket_id(sequence)
    posted = [JournalLine(account=line.account, amount=Money(amount=line.amount, currency=scope.currency),
                          dimensions=line.dimensions,
                          memo=f"{line.documents} documents; drill-down {bucket_id}/{line.line_key}")
              for line in sorted(lines, key=lambda item: (item.account, item.line_key)) if line.amount != 0]
    if not posted:
        return None
    when = datetime(scope.accounting_date.year, scope.accounting_date.month, scope.accounting_date.day, tzinfo=UTC)
    label = scope.document_type.replace("_", " ")
    return JournalEntry(
        document_id=bucket_id, source=scope.source(sequence), entity_id=scope.entity_id,
        correlation_id=correlation_id, occurred_at=when, accounting_date=scope.accounting_date,
        currency=scope.currency, lines=tuple(posted), mapping_version=config_version,
        memo=f"Summary of {documents} {label} documents from {scope.source_id} on {scope.accounting_date} "
             f"(bucket {bucket_id}, sequence {sequence})")
