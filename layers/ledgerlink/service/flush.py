"""The scheduled flush (EventBridge Scheduler → flush Lambda): summary buckets become journals, legacy days
become import files.

1. **Seal** every open bucket whose accounting day is over in the entity's time zone (or every open bucket
   up to ``through`` on a manual run): the scope's sequence moves on, so later documents start a new bucket.
2. **Post** sealed buckets, per connection: the summary journal passes the same gates as any journal
   (``validate``: chart, balance, configured periods; the ERP's own period status with the entity's policy),
   is looked up by external id (the bucket id), and goes out in bulk where the connector has a bulk
   endpoint — Xero 50 per request, QuickBooks batches of 30, Business Central ``$batch``. A rejected summary
   opens an exception case for the bucket; a rate limit or an uncertain outcome leaves it sealed for the next
   run (the lookup comes first then). A bucket whose members net to zero posts nothing.
3. **Trace**: each member document's ledger item is marked posted with the summary's ERP reference and the
   bucket id (or with the bucket's exception), once the drill-down index holds all of them.
4. **Legacy files**: every legacy flat-file connection seals its finished days into import files.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from ledgerlink.clock import now as clock_now
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.erps.base import BulkItemResult, ErpConnector, PostResult, find_existing
from ledgerlink.errors import DocumentRejected, RateLimited, TransientError
from ledgerlink.model.buckets import Bucket, BucketMember, BucketStatus, SummaryLine
from ledgerlink.model.documents import JournalEntry
from ledgerlink.model.status import DocumentStatus
from ledgerlink.pipeline.periods import apply_erp_period
from ledgerlink.pipeline.summarize import summary_journal
from ledgerlink.pipeline.validate import validate
from ledgerlink.totals import CounterKey

# The member's ledger item may still be in any of these when its bucket is traced: the post step's ledger write
# may not have run yet, or a retry left it in an exception.
TRACEABLE: tuple[DocumentStatus, ...] = (DocumentStatus.SUMMARIZED, DocumentStatus.RECEIVED, DocumentStatus.EXCEPTION)


class BucketsPort(Protocol):
    """What the flush needs of the bucket store (``store.buckets.DynamoBuckets``)."""

    def by_status(self, status: str) -> list[Bucket]: ...
    def seal(self, bucket: Bucket) -> bool: ...
    def bucket(self, bucket_id: str) -> Bucket | None: ...
    def lines(self, bucket_id: str) -> list[SummaryLine]: ...
    def members(self, bucket_id: str) -> list[BucketMember]: ...
    def mark(self, bucket_id: str, status: str, *, expected: str, **attributes: str | int | None) -> bool: ...


class ActiveConfig(Protocol):
    def active(self) -> tuple[int, LedgerLinkConfig]: ...


@dataclass
class FlushReport:
    sealed: int = 0
    posted: list[str] = field(default_factory=list)
    netted_to_zero: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)        # rate limited / uncertain: next run
    documents_traced: int = 0
    legacy_files: list[str] = field(default_factory=list)
    erp_calls: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int | list[str] | dict[str, int]]:
        return {"sealed": self.sealed, "posted": len(self.posted), "netted_to_zero": len(self.netted_to_zero),
                "exceptions": len(self.exceptions), "deferred": len(self.deferred),
                "documents_traced": self.documents_traced, "legacy_files": self.legacy_files,
                "erp_calls": self.erp_calls}


def today_in(time_zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(time_zone)).date()


class FlushService:
    def __init__(self, *, config: ActiveConfig, buckets: BucketsPort,
                 connectors: Callable[[LedgerLinkConfig, str, int], Any],
                 ledger: Any, exceptions: Any, clock: Callable[[], datetime] = clock_now,
                 time_left_ms: Callable[[], int] | None = None) -> None:
        self._config = config
        self._buckets = buckets
        self._connectors = connectors
        self._ledger = ledger
        self._exceptions = exceptions
        self._clock = clock
        self._time_left_ms = time_left_ms

    def _out_of_time(self) -> bool:
        return self._time_left_ms is not None and self._time_left_ms() < 15_000

    def run(self, *, through: date | None = None, time_left_ms: Callable[[], int] | None = None) -> FlushReport:
        if time_left_ms is not None:
            self._time_left_ms = time_left_ms
        version, config = self._config.active()
        report = FlushReport()
        now = self._clock()
        for bucket in self._buckets.by_status(BucketStatus.OPEN):
            if self._due(bucket.scope.entity_id, bucket.scope.accounting_date, config, now, through) \
                    and self._buckets.seal(bucket):
                report.sealed += 1
        by_connection: dict[str, list[Bucket]] = defaultdict(list)
        for bucket in self._buckets.by_status(BucketStatus.SEALED):
            by_connection[bucket.scope.connection_id].append(bucket)
        for connection_id, buckets in by_connection.items():
            if self._out_of_time():
                report.deferred += [b.bucket_id for b in buckets]
                continue
            self._post_connection(config, version, connection_id, buckets, report)
        for status in (BucketStatus.POSTED, BucketStatus.EXCEPTION):
            for bucket in self._buckets.by_status(status):
                if not self._out_of_time():
                    report.documents_traced += self._trace(bucket)
        self._seal_legacy_files(config, version, now, through, report)
        return report

    def _due(self, entity_id: str, day: date, config: LedgerLinkConfig, now: datetime, through: date | None) -> bool:
        if through is not None:
            return day <= through
        try:
            entity = config.entity(entity_id)
        except KeyError:
            return True   # an entity removed from the configuration: post what it left
        return day < today_in(entity.time_zone, now)

    # ---- posting ------------------------------------------------------------------------------------

    def _journal(self, bucket: Bucket, config: LedgerLinkConfig, version: int) -> JournalEntry | None:
        lines = self._buckets.lines(bucket.bucket_id)
        return summary_journal(bucket.scope, bucket.sequence, lines, documents=bucket.documents,
                               correlation_id=bucket.correlation_id or bucket.bucket_id, config_version=version)

    def _post_connection(self, config: LedgerLinkConfig, version: int, connection_id: str, buckets: list[Bucket],
                         report: FlushReport) -> None:
        connector: ErpConnector = self._connectors(config, connection_id, version)
        ready: list[tuple[Bucket, JournalEntry]] = []
        try:
            for bucket in buckets:
                journal = self._journal(bucket, config, version)
                if journal is None:
                    self._buckets.mark(bucket.bucket_id, BucketStatus.POSTED, expected=BucketStatus.SEALED,
                                       erp_ref=f"netted-to-zero:{bucket.bucket_id}")
                    report.netted_to_zero.append(bucket.bucket_id)
                    continue
                try:
                    journal = validate(journal, config)
                    entity = config.entity(journal.entity_id)
                    journal = apply_erp_period(journal, entity, connector.period_status(entity, journal.accounting_date))
                except DocumentRejected as exc:
                    self._reject(bucket, exc, report)
                    continue
                found = find_existing(connector, journal.document_id, "journal")
                if found is not None:
                    self._posted(bucket, found, journal, report)
                else:
                    ready.append((bucket, journal))
            if not ready:
                return
            bulk = connector.as_bulk_poster()
            if bulk is not None and len(ready) > 1:
                results = bulk.post_journals([journal for _, journal in ready])
            else:
                results = [self._post_one(connector, journal) for _, journal in ready]
            for (bucket, journal), result in zip(ready, results, strict=True):
                if result.ok:
                    self._posted(bucket, result.result, journal, report)
                elif result.reason == "uncertain_outcome":
                    report.deferred.append(bucket.bucket_id)
                else:
                    self._reject(bucket, DocumentRejected(result.message or "rejected",
                                                          reason=result.reason or "erp_rejected"), report)
        except (RateLimited, TransientError):
            # the ERP asked us to wait (or could not answer): what is left stays sealed for the next run
            done = set(report.posted) | set(report.exceptions) | set(report.netted_to_zero)
            report.deferred += [b.bucket_id for b in buckets if b.bucket_id not in done]
        finally:
            calls = connector.api_calls()
            if calls is not None:
                report.erp_calls[connection_id] = calls

    @staticmethod
    def _post_one(connector: ErpConnector, journal: JournalEntry) -> BulkItemResult:
        try:
            return BulkItemResult(journal.document_id, connector.post_journal(journal))
        except DocumentRejected as exc:
            return BulkItemResult(journal.document_id, reason=exc.reason, message=exc.message)

    def _posted(self, bucket: Bucket, result: PostResult | None, journal: JournalEntry, report: FlushReport) -> None:
        assert result is not None
        self._buckets.mark(bucket.bucket_id, BucketStatus.POSTED, expected=BucketStatus.SEALED, erp_ref=result.erp_ref,
                           posted_accounting_date=journal.accounting_date.isoformat(),
                           posted_at=self._clock().isoformat(timespec="seconds"))
        report.posted.append(bucket.bucket_id)

    def _reject(self, bucket: Bucket, error: DocumentRejected, report: FlushReport) -> None:
        exception_id, _ = self._exceptions.open(
            subject=bucket.bucket_id, reason=error.reason, message=error.message,
            correlation_id=bucket.correlation_id or bucket.bucket_id, document_id=bucket.bucket_id,
            entity_id=bucket.scope.entity_id, source=bucket.scope.source_id,
            suggested_fix=error.detail.get("suggested_fix") or "fix the cause and retry the summary bucket",
            detail={"documents": bucket.documents, "accounting_date": bucket.scope.accounting_date.isoformat(),
                    "connection": bucket.scope.connection_id})
        self._buckets.mark(bucket.bucket_id, BucketStatus.EXCEPTION, expected=BucketStatus.SEALED, exception_id=exception_id,
                           exception_reason=error.reason)
        report.exceptions.append(bucket.bucket_id)

    # ---- traceability -------------------------------------------------------------------------------

    def _trace(self, bucket: Bucket) -> int:
        members = self._buckets.members(bucket.bucket_id)
        if len(members) < bucket.documents:
            return 0   # the index has not caught up yet: next run
        current = self._buckets.bucket(bucket.bucket_id)
        assert current is not None   # its members are indexed: the bucket item exists
        for member in members:
            item = self._ledger.get(member.document_id)
            if item is None:
                continue   # not in this deployment's ledger (a bench or a replay elsewhere): nothing to trace
            key = CounterKey.of(item)
            if bucket.status == BucketStatus.POSTED:
                self._ledger.transition(member.document_id, to=DocumentStatus.POSTED, expected=TRACEABLE, key=key,
                                        erp_ref=current.erp_ref, erp_connection=bucket.scope.connection_id,
                                        summary_id=bucket.bucket_id,
                                        posted_accounting_date=bucket.scope.accounting_date.isoformat())
            else:
                self._ledger.transition(member.document_id, to=DocumentStatus.EXCEPTION, expected=TRACEABLE[:2],
                                        key=key, summary_id=bucket.bucket_id, exception_reason="summary_rejected",
                                        exception_id=current.exception_id)
        self._buckets.mark(bucket.bucket_id,
                           BucketStatus.DONE if bucket.status == BucketStatus.POSTED else BucketStatus.EXCEPTION_TRACED,
                           expected=bucket.status)
        return len(members)

    # ---- legacy files -------------------------------------------------------------------------------

    def _seal_legacy_files(self, config: LedgerLinkConfig, version: int, now: datetime, through: date | None,
                           report: FlushReport) -> None:
        for connection in config.erp_connections:
            if connection.kind != "legacy_file":
                continue
            target = self._connectors(config, connection.id, version)
            for entity_id, day in target.pending_days():
                if self._due(entity_id, day, config, now, through):
                    sealed = target.seal_day(entity_id, day)
                    if sealed is not None:
                        report.legacy_files.append(sealed.name)
