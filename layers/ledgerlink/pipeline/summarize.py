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
from datetime import UTC, datetime
from decimal import Decimal

# The bucket types live in ``model.buckets`` (``store.buckets`` uses them too); importable from here as before.
from ledgerlink.model.buckets import (
    SUMMARY_SYSTEM,
    BucketScope,
    Contribution,
    Dimensions,
    SummaryLine,
    line_key,
)
from ledgerlink.model.documents import JournalEntry, JournalLine
from ledgerlink.model.money import Money

__all__ = ["SUMMARY_SYSTEM", "BucketScope", "Contribution", "SummaryLine", "contributions", "line_key",
           "single_currency", "summary_journal"]


def single_currency(journal: JournalEntry) -> str | None:
    currencies = {line.amount.currency for line in journal.lines}
    return currencies.pop() if len(currencies) == 1 else None


def contributions(journal: JournalEntry) -> list[Contribution]:
    """The journal's lines netted per (account, dimensions); lines that net to zero add nothing."""
    totals: dict[tuple[str, Dimensions], Decimal] = defaultdict(Decimal)
    for line in journal.lines:
        totals[(line.account, tuple(sorted(line.dimensions.items())))] += line.amount.amount
    return [Contribution(line_key(account, dims), account, dims, amount)
            for (account, dims), amount in sorted(totals.items()) if amount != 0]


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
