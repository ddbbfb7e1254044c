"""Daily reconciliation: source totals = posted + open exceptions + in flight + ignored, posted = what
the ERP holds, and every accepted event was processed — with each difference naming what is involved.

Cost does not grow with volume when things agree: the control totals are a few counter items per day,
and the listing queries (sparse ``pending_by_day`` inbox index, ``by_day`` ledger index, the ERP's own
listing) run only when the counters say something needs a name.

Differences (``kind``):
- ``event_not_processed`` — accepted (202) more than ``stuck_after`` ago but never normalized: lost in
  the queue, parked in the DLQ, or failing every time; names source, event id and archive key;
- ``document_stuck`` — normalized more than ``stuck_after`` ago, neither posted, nor an exception, nor ignored;
- ``missing_in_erp`` / ``unexpected_in_erp`` — the ledger and the ERP disagree about what was posted;
- ``counters_inconsistent`` — a partition exceeds what was received (should never happen; investigate).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ledgerlink.clock import epoch

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig


class TotalsPort(Protocol):
    def events(self, utc_date: str) -> dict[str, dict[str, int]]: ...
    def documents(self, entity_id: str, business_date: str) -> dict[tuple[str, str], dict[str, Decimal]]: ...
    def put_summary(self, record: dict[str, Any]) -> None: ...


class InboxPort(Protocol):
    def pending_on(self, day: str) -> list[dict[str, Any]]: ...


class LedgerPort(Protocol):
    def on_day(self, entity_id: str, business_date: str) -> list[dict[str, Any]]: ...


class ReportStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


@dataclass
class Difference:
    kind: str
    detail: dict[str, Any]


@dataclass
class DocumentTotals:
    source: str
    currency: str
    received_count: int
    received_amount: str
    posted_count: int
    posted_amount: str
    exception_count: int
    exception_amount: str
    ignored_count: int
    ignored_amount: str
    in_flight_count: int
    in_flight_amount: str


@dataclass
class EntityReport:
    entity_id: str
    documents: list[DocumentTotals] = field(default_factory=list)
    erp: dict[str, Any] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)


@dataclass
class ReconciliationReport:
    business_date: str
    generated_at: str
    events: dict[str, dict[str, int]]
    event_differences: list[Difference]
    entities: list[EntityReport]
    report_key: str = ""
    backfill: list[dict[str, Any]] = field(default_factory=list)
    # an event accepted (or a document registered) longer ago than this and still unprocessed is a difference
    stuck_after_seconds: int = 900

    @property
    def differences(self) -> list[Difference]:
        return [*self.event_differences, *(d for entity in self.entities for d in entity.differences)]

    @property
    def status(self) -> str:
        return "difference" if self.differences else "balanced"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status
        data["difference_count"] = len(self.differences)
        return data

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["business_date", "entity", "source", "currency", "received_count", "received_amount",
                         "posted_count", "posted_amount", "exception_count", "exception_amount", "ignored_count",
                         "ignored_amount", "in_flight_count", "in_flight_amount"])
        for entity in self.entities:
            for row in entity.documents:
                writer.writerow([self.business_date, entity.entity_id, row.source, row.currency, row.received_count,
                                 row.received_amount, row.posted_count, row.posted_amount, row.exception_count,
                                 row.exception_amount, row.ignored_count, row.ignored_amount, row.in_flight_count,
                                 row.in_flight_amount])
        writer.writerow([])
        writer.writerow(["difference", "entity", "detail"])
        for entity in self.entities:
            for difference in entity.differences:
                writer.writerow([difference.kind, entity.entity_id, json.dumps(difference.detail, sort_keys=True)])
        for difference in self.event_differences:
            writer.writerow([difference.kind, "", json.dumps(difference.detail, sort_keys=True)])
        return out.getvalue()


def _amount(amount: Decimal, currency: str) -> str:
    """Printed with the currency's decimals (DynamoDB numbers drop trailing zeros)."""
    from ledgerlink.model.money import Money

    try:
        return Money.of(amount, currency).canonical()
    except ValueError:  # not an ISO currency (should not happen): print it as stored
        return f"{amount:f}"


def _older_than(epoch: Any, limit: float) -> bool:
    try:
        return float(epoch) < limit
    except (TypeError, ValueError):
        return True


class Reconciler:
    def __init__(self, *, config: Callable[[], tuple[int, LedgerLinkConfig]], totals: TotalsPort, inbox: InboxPort,
                 ledger: LedgerPort, connectors: Any, reports: ReportStore, events: EventPublisher | None = None,
                 stuck_after_seconds: int = 900, clock: Callable[[], float] = epoch,
                 backfiller: Any = None) -> None:
        self._config = config
        self._totals = totals
        self._inbox = inbox
        self._ledger = ledger
        self._connectors = connectors
        self._reports = reports
        self._events = events
        self._stuck_after = stuck_after_seconds
        self._clock = clock
        self._backfiller = backfiller

    def active_config(self) -> LedgerLinkConfig:
        return self._config()[1]

    def run(self, business_date: str, entity_ids: list[str] | None = None) -> ReconciliationReport:
        version, config = self._config()
        backfilled = self._backfill(config, business_date)
        now = self._clock()
        cutoff = now - self._stuck_after
        entities = entity_ids or [entity.id for entity in config.entities]
        events = self._totals.events(business_date)
        report = ReconciliationReport(
            business_date=business_date, generated_at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
            events=events, event_differences=self._event_differences(business_date, events, cutoff),
            entities=[self._entity(config, version, entity_id, business_date, cutoff) for entity_id in entities])
        scope = entity_ids[0] if entity_ids and len(entity_ids) == 1 else "all"
        report.backfill = backfilled
        report.stuck_after_seconds = self._stuck_after
        report.report_key = f"reports/reconciliation/{business_date}/{scope}"
        self._reports.put(report.report_key + ".json", json.dumps(report.to_dict(), indent=2, default=str).encode(),
                          "application/json")
        self._reports.put(report.report_key + ".csv", report.to_csv().encode(), "text/csv")
        summary = {"status": report.status, "difference_count": len(report.differences),
                   "report_key": report.report_key, "generated_at": report.generated_at,
                   "business_date": business_date, "scope": scope}
        self._totals.put_summary({"pk": "recon#runs", "sk": f"{report.generated_at}#{business_date}#{scope}",
                                  **summary})
        self._totals.put_summary({"pk": f"recon#{business_date}", "sk": scope, **summary})
        if report.differences and self._events is not None:
            self._events.publish("LedgerLink Reconciliation Difference", {
                **summary, "differences": [asdict(d) for d in report.differences[:50]]})
        return report

    def _backfill(self, config: LedgerLinkConfig, business_date: str) -> list[dict[str, Any]]:
        """Before counting: fetch what providers created around the day but never delivered. The window
        spans the day ±1 day so every time zone's business day is covered; claims dedupe the overlap."""
        if self._backfiller is None or not self._backfiller.sources(config):
            return []
        start = int(datetime.strptime(business_date, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()) - 86_400
        results = self._backfiller.run(config, created_gte=start, created_lt=start + 3 * 86_400)
        return [{"source": r.source_id, "listed": r.listed, "already_received": r.already_received,
                 "injected": r.injected} for r in results]

    def _event_differences(self, day: str, events: dict[str, dict[str, int]], cutoff: float) -> list[Difference]:
        unprocessed = sum(counts["received"] - counts["processed"] for counts in events.values())
        differences: list[Difference] = []
        if unprocessed > 0:
            for claim in self._inbox.pending_on(day):
                if _older_than(claim.get("claimed_at"), cutoff):
                    differences.append(Difference("event_not_processed", {
                        "source": claim.get("source"), "event_id": claim.get("event_id"),
                        "event_type": claim.get("event_type"), "archive_key": claim.get("archive_key"),
                        "correlation_id": claim.get("correlation_id"), "claimed_at": claim.get("claimed_at")}))
        for source, counts in events.items():
            if counts["processed"] > counts["received"]:
                differences.append(Difference("counters_inconsistent", {"source": source, **counts}))
        return differences

    def _entity(self, config: LedgerLinkConfig, version: int, entity_id: str, day: str,
                cutoff: float) -> EntityReport:
        result = EntityReport(entity_id=entity_id)
        totals = self._totals.documents(entity_id, day)
        in_flight_total = 0
        posted_total = 0
        for (source, currency), values in sorted(totals.items()):
            count = {state: int(values.get(f"{state}_count", 0))
                     for state in ("received", "posted", "exception", "ignored")}
            amount = {state: Decimal(values.get(f"{state}_amount", 0))
                      for state in ("received", "posted", "exception", "ignored")}
            in_flight = count["received"] - count["posted"] - count["exception"] - count["ignored"]
            in_flight_amount = amount["received"] - amount["posted"] - amount["exception"] - amount["ignored"]
            result.documents.append(DocumentTotals(
                source=source, currency=currency,
                **{f"{state}_count": count[state] for state in count},
                **{f"{state}_amount": _amount(amount[state], currency) for state in amount},
                in_flight_count=in_flight, in_flight_amount=_amount(in_flight_amount, currency)))
            if in_flight < 0 or any(c < 0 for c in count.values()):
                result.differences.append(Difference("counters_inconsistent", {
                    "source": source, "currency": currency, **count}))
            in_flight_total += max(in_flight, 0)
            posted_total += count["posted"]
        listed: list[dict[str, Any]] | None = None
        if in_flight_total:
            listed = self._ledger.on_day(entity_id, day)
            for item in listed:
                if item.get("status") == "received" and _older_than(item.get("registered_at"), cutoff):
                    result.differences.append(Difference("document_stuck", {
                        "document_id": item["document_id"], "document_type": item.get("document_type"),
                        "source": item.get("source_id"), "correlation_id": item.get("correlation_id"),
                        "archive_key": item.get("archive_key"), "registered_at": item.get("registered_at")}))
        result.erp = self._erp_check(config, version, entity_id, day, posted_total, listed, result)
        return result

    def _erp_check(self, config: LedgerLinkConfig, version: int, entity_id: str, day: str, posted_total: int,
                   listed: list[dict[str, Any]] | None, result: EntityReport) -> dict[str, Any]:
        # an entity in coexistence posts to its ERP and (before the cutover) its legacy target: read both
        connection_ids = config.entity_connections(entity_id)
        connection_id = ", ".join(connection_ids)
        connectors = [self._connectors(config, each, version) for each in connection_ids]
        for each, connector in zip(connection_ids, connectors, strict=True):
            if getattr(connector, "posted_on", None) is None:
                return {"connection": connection_id, "checked": False,
                        "reason": f"the connector of {each} cannot list postings"}
        # the ERP's count first (a count query on a real ERP); ids only when the counts disagree (D35)
        counts = [getattr(connector, "posted_count", None) for connector in connectors]
        if all(count is not None for count in counts):
            erp_total = sum(count(entity_id, day) for count in counts)
            if erp_total == posted_total:
                return {"connection": connection_id, "checked": True, "ledger_posted": posted_total,
                        "erp_posted": erp_total}
        in_erp: set[str] = set()
        for connector in connectors:
            in_erp |= set(connector.posted_on(entity_id, day))
        check = {"connection": connection_id, "checked": True, "ledger_posted": posted_total, "erp_posted": len(in_erp)}
        if len(in_erp) == posted_total:
            return check
        listed = listed if listed is not None else self._ledger.on_day(entity_id, day)
        posted = {item["document_id"]: item for item in listed if item.get("status") == "posted"}
        # a summarized document is in the ERP as its summary journal (one posting for the bucket)
        expected = {item.get("summary_id") or document_id for document_id, item in posted.items()}
        for document_id in sorted(posted):
            item = posted[document_id]
            if (item.get("summary_id") or document_id) not in in_erp:
                result.differences.append(Difference("missing_in_erp", {
                    "document_id": document_id, "erp_ref": item.get("erp_ref"),
                    "correlation_id": item.get("correlation_id")}))
        for document_id in sorted(in_erp - expected):
            result.differences.append(Difference("unexpected_in_erp", {"document_id": document_id}))
        return check


def reconcile_request(event: dict[str, Any], config: LedgerLinkConfig, *, now: float | None = None
                      ) -> tuple[str, list[str] | None]:
    """Scheduler payload → (business date, entities). Without a date: yesterday in the entity's time zone."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    entity = event.get("entity")
    entities = [entity] if isinstance(entity, str) and entity else None
    date_text = event.get("date")
    if isinstance(date_text, str) and date_text:
        datetime.strptime(date_text, "%Y-%m-%d")  # ValueError on a bad date: the invocation fails loudly
        return date_text, entities
    zone = ZoneInfo(config.entity(entities[0]).time_zone) if entities else UTC
    moment = datetime.fromtimestamp(epoch() if now is None else now, UTC).astimezone(zone)
    return (moment.date() - timedelta(days=1)).isoformat(), entities
