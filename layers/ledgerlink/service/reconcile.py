"""Daily reconciliation: source totals = posted + open exceptions + in flight + ignored, posted = what
the ERP holds, and every accepted event was processed — with each difference naming what is involved.

Cost does not grow with volume when things agree: the control totals are a few counter items per day,
and the listing queries (sparse ``pending_by_day`` inbox index, ``by_day`` ledger index, the ERP's own
listing) run only when the counters say something needs a name.

Differences (``kind``):
- ``event_not_processed`` — accepted (202) more than ``stuck_after`` ago but never normalized: lost in
  the queue, parked in the DLQ, or failing every time; names source, event id and archive key;
- ``document_stuck`` — normalized more than ``stuck_after`` ago, neither posted, nor an exception, nor ignored;
- ``missing_in_erp`` / ``unexpected_in_erp`` — the ledger and the ERP disagree about what was posted
  (``unexpected_in_erp`` names its ``reason``: ``duplicate``, ``not_in_ledger``, ``not_made_by_ledgerlink``);
- ``changed_in_erp`` — an API ERP holds the document with other amounts or accounts than were posted (the
  difference per account, or of a native document's total); API ERPs are read back page by page (issue 19),
  within a share of the connection's daily API budget — past it the day is "not checked" and says why;
- ``counters_inconsistent`` — a partition exceeds what was received (should never happen; investigate).

A difference about a document also carries the document's ``amount`` and ``currency`` (as it was registered), and a
``changed_in_erp`` the currency of its per-account ``difference`` (``difference_currency``): the reconciliation
calendar (``service.recon_calendar``) sums what is at stake per currency from them.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from ledgerlink.clock import epoch
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.status import DocumentStatus

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.connectors.erps.base import DayLister, ErpConnector, ErpReader
    from ledgerlink.connectors.erps.readback import ErpRecord
    from ledgerlink.model.counters import CounterKey

# An item as the ledger / inbox table holds it (``store.ledger``, ``store.inbox``): attribute → plain value; read
# with ``.get`` and narrowed (``document`` and ``journal`` are JSON text).
type LedgerItem = Mapping[str, object]
# What a difference names (document ids, references, amounts as text, per-account maps): written to the report's
# JSON and CSV as it is.
type Detail = dict[str, object]

# the control-total partitions, in report order (counter attributes ``<status>_count`` / ``<status>_amount``)
STATES = (DocumentStatus.RECEIVED, DocumentStatus.POSTED, DocumentStatus.EXCEPTION, DocumentStatus.IGNORED)


class TotalsPort(Protocol):
    def events(self, utc_date: str) -> dict[str, dict[str, int]]: ...
    def documents(self, entity_id: str, business_date: str) -> dict[tuple[str, str], dict[str, Decimal]]: ...
    def put_summary(self, record: dict[str, object]) -> None: ...


class InboxPort(Protocol):
    def pending_on(self, day: str) -> Sequence[LedgerItem]: ...


class LedgerPort(Protocol):
    def on_day(self, entity_id: str, business_date: str) -> Sequence[LedgerItem]: ...

    def get(self, document_id: str) -> LedgerItem | None: ...

    def transition(self, document_id: str, *, to: str, expected: tuple[str, ...], key: CounterKey,
                   remove: tuple[str, ...] = (), **attributes: object) -> bool:
        """Move the document to ``to`` from one of ``expected`` and count it (``store.ledger.DynamoLedger``)."""
        ...


class CaseOpener(Protocol):
    """The exception cases as reconciliation uses them: open a ``missing_in_erp`` case (``store.exceptions``)."""

    def open(self, *, subject: str, reason: str, message: str, correlation_id: str, document_id: str | None = None,
             archive_key: str | None = None, suggested_fix: str | None = None, entity_id: str | None = None,
             source: str | None = None, detail: Mapping[str, object] | None = None,
             task_token: str | None = None) -> tuple[str, bool]: ...


class ReportStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, object]) -> None: ...


@dataclass
class Difference:
    kind: str
    detail: Detail


class ErpCheck(TypedDict, total=False):
    """The ERP side of an entity-day: checked or not (and why), counts, the API calls it cost; per connection under
    ``connections`` when the entity reads back from an API ERP."""

    connection: str
    checked: bool
    ledger_posted: int
    erp_posted: int
    erp_calls: int
    erp_documents_read: int
    reason: str
    connections: list[ErpCheck]


class Backfilled(TypedDict):
    source: str
    listed: int
    already_received: int
    injected: int


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
    erp: ErpCheck = field(default_factory=lambda: ErpCheck())
    differences: list[Difference] = field(default_factory=list)


@dataclass
class ReconciliationReport:
    business_date: str
    generated_at: str
    events: dict[str, dict[str, int]]
    event_differences: list[Difference]
    entities: list[EntityReport]
    report_key: str = ""
    backfill: list[Backfilled] = field(default_factory=list)
    # an event accepted (or a document registered) longer ago than this and still unprocessed is a difference
    stuck_after_seconds: int = 900

    @property
    def differences(self) -> list[Difference]:
        return [*self.event_differences, *(d for entity in self.entities for d in entity.differences)]

    @property
    def status(self) -> str:
        return "difference" if self.differences else "balanced"

    def to_dict(self) -> dict[str, Any]:   # asdict's: the report as JSON-ready data (dataclasses → dicts)
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


def _older_than(epoch: object, limit: float) -> bool:
    """Whether a stored epoch lies before ``limit``; one that cannot be read counts as old (it is reported)."""
    if not isinstance(epoch, (int, float, Decimal, str)):
        return True
    try:
        return float(epoch) < limit
    except ValueError:
        return True


class Reconciler:
    def __init__(self, *, config: Callable[[], tuple[int, LedgerLinkConfig]], totals: TotalsPort, inbox: InboxPort,
                 ledger: LedgerPort, connectors: Callable[[LedgerLinkConfig, str, int], ErpConnector], reports: ReportStore,
                 events: EventPublisher | None = None,
                 stuck_after_seconds: int = 900, clock: Callable[[], float] = epoch,
                 backfiller: Any = None, exceptions: CaseOpener | None = None) -> None:
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
        self._exceptions = exceptions   # opens a missing_in_erp case so a replay posts the document again

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
        summary: dict[str, object] = {"status": report.status, "difference_count": len(report.differences),
                   "report_key": report.report_key, "generated_at": report.generated_at,
                   "business_date": business_date, "scope": scope}
        self._totals.put_summary({"pk": "recon#runs", "sk": f"{report.generated_at}#{business_date}#{scope}",
                                  **summary})
        self._totals.put_summary({"pk": f"recon#{business_date}", "sk": scope, **summary})
        if report.differences and self._events is not None:
            self._events.publish("LedgerLink Reconciliation Difference", {
                **summary, "differences": [asdict(d) for d in report.differences[:50]]})
        return report

    def _backfill(self, config: LedgerLinkConfig, business_date: str) -> list[Backfilled]:
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
            count = {str(state): int(values.get(f"{state}_count", 0)) for state in STATES}
            amount = {str(state): Decimal(values.get(f"{state}_amount", 0)) for state in STATES}
            received, posted, exception, ignored = (str(state) for state in STATES)
            in_flight = count[received] - count[posted] - count[exception] - count[ignored]
            in_flight_amount = amount[received] - amount[posted] - amount[exception] - amount[ignored]
            shown = {state: _amount(amount[state], currency) for state in amount}
            result.documents.append(DocumentTotals(
                source=source, currency=currency, received_count=count[received], received_amount=shown[received],
                posted_count=count[posted], posted_amount=shown[posted], exception_count=count[exception],
                exception_amount=shown[exception], ignored_count=count[ignored], ignored_amount=shown[ignored],
                in_flight_count=in_flight, in_flight_amount=_amount(in_flight_amount, currency)))
            if in_flight < 0 or any(c < 0 for c in count.values()):
                result.differences.append(Difference("counters_inconsistent", {
                    "source": source, "currency": currency, **count}))
            in_flight_total += max(in_flight, 0)
            posted_total += count[posted]
        listed: Sequence[LedgerItem] | None = None
        if in_flight_total:
            listed = self._ledger.on_day(entity_id, day)
            for item in listed:
                if item.get("status") == DocumentStatus.RECEIVED and _older_than(item.get("registered_at"), cutoff):
                    result.differences.append(Difference("document_stuck", {
                        "document_id": item["document_id"], "document_type": item.get("document_type"),
                        "source": item.get("source_id"), "correlation_id": item.get("correlation_id"),
                        "archive_key": item.get("archive_key"), "registered_at": item.get("registered_at"),
                        **priced(item)}))
        result.erp = self._erp_check(config, version, entity_id, day, posted_total, listed, result)
        return result

    def _erp_check(self, config: LedgerLinkConfig, version: int, entity_id: str, day: str, posted_total: int,
                   listed: Sequence[LedgerItem] | None, result: EntityReport) -> ErpCheck:
        # an entity in coexistence posts to its ERP and (before the cutover) its legacy target: read both
        connection_ids = config.entity_connections(entity_id)
        connectors = [self._connectors(config, each, version) for each in connection_ids]
        readers = [connector.as_reader() for connector in connectors]
        listers = [connector.as_day_lister() for connector in connectors]
        if all(reader is None for reader in readers):
            return self._count_check(connection_ids, listers, entity_id, day, posted_total, listed, result)
        # an API ERP reads back what it holds, document by document (issue 19); a book / file target beside it
        # is compared by the ids it lists
        items = listed if listed is not None else self._ledger.on_day(entity_id, day)
        checks: list[ErpCheck] = []
        for each, reader, lister in zip(connection_ids, readers, listers, strict=True):
            if reader is not None:
                checks.append(self._readback_check(config, entity_id, day, each, reader, items, result))
            elif lister is not None:
                checks.append(self._listing_check(entity_id, day, each, lister, items, result))
            else:
                checks.append({"connection": each, "checked": False,
                               "reason": f"the connector of {each} cannot list postings"})
        check: ErpCheck = {"connection": ", ".join(connection_ids),
                           "checked": all(each["checked"] for each in checks), "ledger_posted": posted_total,
                           "erp_posted": sum(int(each.get("erp_posted", 0)) for each in checks),
                           "connections": checks}
        reasons = [f"{each['connection']}: {each['reason']}" for each in checks if not each["checked"]]
        if reasons:
            check["reason"] = "; ".join(reasons)
        return check

    def _count_check(self, connection_ids: list[str], listers: list[DayLister | None], entity_id: str, day: str,
                     posted_total: int, listed: Sequence[LedgerItem] | None, result: EntityReport) -> ErpCheck:
        connection_id = ", ".join(connection_ids)
        found: list[DayLister] = []
        for each, lister in zip(connection_ids, listers, strict=True):
            if lister is None:
                return {"connection": connection_id, "checked": False,
                        "reason": f"the connector of {each} cannot list postings"}
            found.append(lister)
        # the ERP's count first (a count query on a real ERP); ids only when the counts disagree (D35)
        erp_total = sum(int(lister.posted_count(entity_id, day)) for lister in found)
        if erp_total == posted_total:
            return {"connection": connection_id, "checked": True, "ledger_posted": posted_total,
                    "erp_posted": erp_total}
        in_erp: set[str] = set()
        for lister in found:
            in_erp |= set(lister.posted_on(entity_id, day))
        check: ErpCheck = {"connection": connection_id, "checked": True, "ledger_posted": posted_total,
                           "erp_posted": len(in_erp)}
        if len(in_erp) == posted_total:
            return check
        listed = listed if listed is not None else self._ledger.on_day(entity_id, day)
        posted = {str(item["document_id"]): item for item in listed if item.get("status") == DocumentStatus.POSTED}
        self._name_differences(posted, in_erp, result)
        return check

    @staticmethod
    def _name_differences(posted: dict[str, LedgerItem], in_erp: set[str], result: EntityReport) -> None:
        # a summarized document is in the ERP as its summary journal (one posting for the bucket)
        expected = {item.get("summary_id") or document_id for document_id, item in posted.items()}
        for document_id in sorted(posted):
            item = posted[document_id]
            if (item.get("summary_id") or document_id) not in in_erp:
                result.differences.append(Difference("missing_in_erp", {
                    "document_id": document_id, "erp_ref": item.get("erp_ref"),
                    "correlation_id": item.get("correlation_id"), **priced(item)}))
        for document_id in sorted(in_erp - expected):
            result.differences.append(Difference("unexpected_in_erp", {"document_id": document_id}))

    def _listing_check(self, entity_id: str, day: str, connection_id: str, connector: DayLister,
                       items: Sequence[LedgerItem], result: EntityReport) -> ErpCheck:
        """A book / legacy file beside an API ERP: its ids against the documents the ledger posted to it."""
        posted = {str(item["document_id"]): item for item in items if item.get("status") == DocumentStatus.POSTED
                  and item.get("erp_connection", connection_id) == connection_id}
        in_erp = set(connector.posted_on(entity_id, day))
        self._name_differences(posted, in_erp, result)
        return {"connection": connection_id, "checked": True, "ledger_posted": len(posted), "erp_posted": len(in_erp)}

    def _readback_check(self, config: LedgerLinkConfig, entity_id: str, day: str, connection_id: str,
                        connector: ErpReader, items: Sequence[LedgerItem], result: EntityReport) -> ErpCheck:
        """What the ledger posted to this connection for the entity-day against what the ERP holds, per document."""
        from ledgerlink.connectors.erps.readback import BudgetShareReached
        from ledgerlink.errors import LedgerLinkError

        expected = readback_expectations(connector, items, connection_id)
        dates = {date.fromisoformat(day)} | {on for entry in expected.values() for on in entry.dates}
        kinds = frozenset(entry.kind for entry in expected.values())
        calls = 0
        records: list[ErpRecord] = []
        try:
            for on in sorted(dates):
                listing = connector.read_back(entity_id, on, kinds | {"journal"})
                calls += listing.calls
                records += listing.records
        except BudgetShareReached as exc:
            return {"connection": connection_id, "checked": False, "erp_calls": calls + exc.detail.get("calls", 0),
                    "reason": f"not checked: budget share reached ({exc.message})"}
        except (LedgerLinkError, OSError) as exc:
            return {"connection": connection_id, "checked": False, "erp_calls": calls,
                    "reason": f"not checked: ERP unreachable ({type(exc).__name__}: {exc})"[:500]}
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:   # an answer this connector cannot read
            return {"connection": connection_id, "checked": False, "erp_calls": calls,
                    "reason": f"not checked: the ERP's answer could not be read ({type(exc).__name__}: {exc})"[:500]}
        found = compare_readback(expected, records, day=date.fromisoformat(day),
                                 owned=owned_accounts(config, entity_id),
                                 elsewhere=lambda key: self._posted_elsewhere(key, entity_id, day))
        for difference in found:
            if difference.kind == "missing_in_erp":
                difference.detail["connection"] = connection_id
                case = self._reopen_missing(difference.detail, {str(i["document_id"]): i for i in items})
                if case:
                    difference.detail["exception_id"] = case
            result.differences.append(difference)
        ours = {record.key for record in records if record.key is not None and record.on.isoformat() == day}
        return {"connection": connection_id, "checked": True, "ledger_posted": len(expected), "erp_posted": len(ours),
                "erp_calls": calls, "erp_documents_read": len(records)}

    def _posted_elsewhere(self, key: str, entity_id: str, day: str) -> bool:
        """A document of ours that this entity-day's ledger does not name: posted for another entity sharing the
        connection, or for another business day (re-dated into this one)? Looked up by id where the ERP holds it."""
        if not key.startswith("doc_"):
            return False
        item = self._ledger.get(key)
        if item is None:
            return False
        return item.get("status") in (DocumentStatus.POSTED, DocumentStatus.SUMMARIZED, DocumentStatus.RECEIVED) and (
            item.get("day_key") != f"{entity_id}#{day}")

    def _reopen_missing(self, detail: Detail, items: dict[str, LedgerItem]) -> str | None:
        """A posted document the ERP no longer holds becomes an exception case (``missing_in_erp``), so a replay
        (``ledgerlink replay --document``) or the case's retry posts it again — looking it up by external id
        first, as every post does. Without an exceptions store the difference is only reported."""
        if self._exceptions is None:
            return None
        item = items.get(str(detail.get("document_id")))
        raw = item.get("document") if item is not None else None
        if item is None or item.get("summary_id") or not isinstance(raw, str):
            return None   # a summary journal is re-posted by its bucket's flush, not per document
        from ledgerlink.service.posting import counter_key

        document = json.loads(raw)
        key = counter_key({"document": document, "source_id": item.get("source_id")})
        document_id = str(item["document_id"])
        exception_id, _ = self._exceptions.open(
            subject=document_id, reason="missing_in_erp",
            message=f"{detail.get('erp_ref')} is no longer in {detail.get('connection')}",
            correlation_id=str(item.get("correlation_id") or ""), document_id=document_id,
            archive_key=_optional_text(item.get("archive_key")), entity_id=document.get("entity_id"),
            source=_optional_text(item.get("source_id")),
            suggested_fix="replay the document (it is looked up by external id before it is posted again)",
            detail={"erp_ref": str(detail.get("erp_ref")), "connection": str(detail.get("connection"))})
        from ledgerlink.store.ledger import DocumentStateError

        with contextlib.suppress(DocumentStateError):   # replayed or changed meanwhile: the case still names it
            self._ledger.transition(document_id, to=DocumentStatus.EXCEPTION, expected=(DocumentStatus.POSTED,),
                                    key=key, exception_id=exception_id, exception_reason="missing_in_erp")
        return exception_id


@dataclass
class Expected:
    """What the ledger says one ERP document should hold."""

    key: str
    document_ids: list[str]
    kind: str
    erp_ref: str | None
    correlation_id: str | None
    dates: set[date]
    nets: dict[str, Decimal] | None        # journals: signed amount per account; None: presence only
    total: Decimal | None = None           # native documents: the document total
    priced: Detail = field(default_factory=dict)   # the documents' amount and currency (``priced``), when known
    journal_currency: str | None = None    # the currency of ``nets`` / ``total`` (the posted journal's)


def priced(item: LedgerItem) -> Detail:
    """``{"amount", "currency"}`` of a ledger item as it was registered (its counter fields), or nothing."""
    currency, amount = item.get("currency"), item.get("amount")
    if not isinstance(currency, str) or not currency or amount is None:
        return {}
    try:
        return {"amount": _amount(Decimal(str(amount)), currency), "currency": currency}
    except ArithmeticError:   # not a number (should not happen): the difference is shown without an amount
        return {}


def _add_priced(entry: Expected, item: LedgerItem) -> None:
    """Another member of a summary journal: its amount adds to the entry's while the currencies agree."""
    more = priced(item)
    if not more or not entry.priced or more["currency"] != entry.priced["currency"]:
        entry.priced = {}
        return
    currency = str(more["currency"])
    entry.priced = {"amount": _amount(Decimal(str(entry.priced["amount"])) + Decimal(str(more["amount"])), currency),
                    "currency": currency}


def _optional_text(found: object) -> str | None:
    return None if found is None else str(found)


def readback_expectations(connector: ErpReader, items: Sequence[LedgerItem], connection_id: str) -> dict[str, Expected]:
    """The ledger's posted documents of this connection, keyed as the ERP shows them."""
    expected: dict[str, Expected] = {}
    for item in items:
        if item.get("status") != DocumentStatus.POSTED or item.get("erp_connection", connection_id) != connection_id:
            continue
        document_id = str(item["document_id"])
        summary = _optional_text(item.get("summary_id"))
        key: str = connector.readback_key(summary or document_id)
        posted_on = {date.fromisoformat(str(item["posted_accounting_date"]))} if item.get(
            "posted_accounting_date") else set()
        entry = expected.get(key)
        if entry is not None:   # the other members of a summary journal
            entry.document_ids.append(document_id)
            entry.dates |= posted_on
            _add_priced(entry, item)
            continue
        kind: str = "journal" if summary else connector.readback_kind(str(item.get("erp_ref") or ""))
        nets, total = _expected_amounts(item, kind) if not summary else (None, None)
        journal = _journal(item) if not summary else None
        expected[key] = Expected(key=key, document_ids=[document_id], kind=kind,
                                 erp_ref=_optional_text(item.get("erp_ref")),
                                 correlation_id=_optional_text(item.get("correlation_id")), dates=posted_on,
                                 nets=nets, total=total, priced=priced(item),
                                 journal_currency=_journal_currency(journal) if journal is not None else None)
    return expected


def _expected_amounts(item: LedgerItem, kind: str) -> tuple[dict[str, Decimal] | None, Decimal | None]:
    """(nets per account, None) for a journal; (None, total) for a native document; (None, None) without a journal."""
    journal = _journal(item)
    if journal is None:
        return None, None
    lines = _journal_lines(journal)
    if kind == "journal":
        from ledgerlink.connectors.erps.readback import net_by_account

        return net_by_account(lines), None
    return None, _document_total(item, journal) or sum((a for _, a in lines if a > 0), Decimal(0))


def _journal(item: LedgerItem) -> JsonObject | None:
    raw = item.get("journal")
    try:
        journal: JsonValue = json.loads(raw) if isinstance(raw, str) else _json_value(raw)
    except ValueError:
        return None
    return journal if isinstance(journal, dict) and isinstance(journal.get("lines"), list) else None


def _json_value(found: object) -> JsonValue:
    """A journal stored as a map (older items) rather than JSON text: only a dict is of use, the rest reads as None."""
    return found if isinstance(found, dict) else None


def _journal_currency(journal: JsonObject) -> str | None:
    """The one currency a stored journal's lines are in (None for none or several)."""
    lines = journal["lines"]
    currencies = {amount.get("currency") for line in (lines if isinstance(lines, list) else [])
                  if isinstance(line, dict) and isinstance(amount := line.get("amount"), dict)}
    only = currencies.pop() if len(currencies) == 1 else None
    return only if isinstance(only, str) else None


def _journal_lines(journal: JsonObject) -> list[tuple[str, Decimal]]:
    """(account, signed amount) per line of a stored journal (``JournalEntry`` as JSON)."""
    lines = journal["lines"]
    assert isinstance(lines, list)   # _journal checked it
    out: list[tuple[str, Decimal]] = []
    for line in lines:
        if not isinstance(line, dict) or not isinstance(amount := line["amount"], dict):
            raise TypeError(f"a journal line of an unexpected shape: {line!r}"[:200])
        out.append((str(line["account"]), Decimal(str(amount["amount"]))))
    return out


def _document_total(item: LedgerItem, journal: JsonObject) -> Decimal | None:
    """A native document's total as it was sent (rebuilt from the stored document and journal, as the post did)."""
    try:
        from ledgerlink.model.documents import DocumentAdapter, JournalEntry
        from ledgerlink.pipeline.erp_documents import erp_document

        document = erp_document(DocumentAdapter.validate_json(str(item["document"])),
                                JournalEntry.model_validate(journal))
    except Exception:   # noqa: BLE001 - an old item the current model cannot read: fall back to the journal
        return None
    return Decimal(document.total.canonical()) if document is not None else None


def owned_accounts(config: LedgerLinkConfig, entity_id: str) -> set[str]:
    """The accounts LedgerLink posts to for the entity (every mapped account): a document in them that LedgerLink
    did not make is a difference."""
    return {str(account) for mapping in config.account_mappings if mapping.entity == entity_id
            for account in mapping.accounts.values()}


def _multiple(erp: dict[str, Decimal], ledger: dict[str, Decimal]) -> int:
    """n when the ERP holds exactly n times what was posted (one document number posted n times), else 0."""
    if not ledger or set(erp) != set(ledger):
        return 0
    ratios = {erp[account] / ledger[account] for account in ledger}
    if len(ratios) != 1:
        return 0
    ratio = ratios.pop()
    return int(ratio) if ratio == ratio.to_integral_value() and ratio >= 2 else 0


def _plain(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {account: f"{amount:f}" for account, amount in amounts.items()}


def _compare_nets(base: Detail, nets: dict[str, Decimal], record: ErpRecord,
                  currency: str | None = None) -> Difference | None:
    """A journal against what the ERP holds for it: reversed, duplicated (n times the amounts) or changed."""
    held = record.nets()
    if not held:   # reversed in the ERP: the document nets to nothing
        return Difference("missing_in_erp", {**base, "erp_ref": record.erp_ref, "reason": "reversed"})
    if held == nets:
        return None
    times = _multiple(held, nets)
    if times:
        return Difference("unexpected_in_erp", {
            **base, "reason": "duplicate", "count": times, "erp_refs": [record.erp_ref]})
    zero = Decimal(0)
    accounts = sorted(set(held) | set(nets))
    return Difference("changed_in_erp", {
        **base, "erp_ref": record.erp_ref,
        "difference": {a: f"{held.get(a, zero) - nets.get(a, zero):f}" for a in accounts
                       if held.get(a, zero) != nets.get(a, zero)},
        "difference_currency": currency, "ledger": _plain(nets), "erp": _plain(held)})


def _compare_one(entry: Expected, found: list[ErpRecord]) -> Difference | None:
    """One expected document against the ERP documents under its key."""
    base: Detail = {"document_id": entry.document_ids[0], "erp_ref": entry.erp_ref,
                    "correlation_id": entry.correlation_id, **entry.priced}
    if len(entry.document_ids) > 1:
        base["document_ids"] = sorted(entry.document_ids)
    if not found:
        return Difference("missing_in_erp", base)
    if len(found) > 1:
        return Difference("unexpected_in_erp", {
            **base, "reason": "duplicate", "count": len(found), "erp_refs": [r.erp_ref for r in found]})
    record = found[0]
    if entry.nets is not None:
        return _compare_nets(base, entry.nets, record, entry.journal_currency)
    if entry.total is not None and record.total is not None and record.total != entry.total:
        return Difference("changed_in_erp", {
            **base, "erp_ref": record.erp_ref, "difference": {"total": f"{record.total - entry.total:f}"},
            "difference_currency": entry.journal_currency,
            "ledger": {"total": f"{entry.total:f}"}, "erp": {"total": f"{record.total:f}"}})
    return None


def compare_readback(expected: dict[str, Expected], records: list[ErpRecord], *, day: date, owned: set[str],
                     elsewhere: Callable[[str], bool]) -> list[Difference]:
    """Per document: missing, changed (with the difference per account, or of the total), duplicated; and what the
    ERP holds that the ledger does not — ours but not posted, or not made by LedgerLink in the accounts it owns."""
    by_key: dict[str, list[ErpRecord]] = {}
    for record in records:
        if record.key is not None:
            by_key.setdefault(record.key, []).append(record)
    differences = [found for key in sorted(expected)
                   if (found := _compare_one(expected[key], by_key.get(key, []))) is not None]
    for key in sorted(set(by_key) - set(expected)):
        mine = [r for r in by_key[key] if r.on == day]
        if mine and not elsewhere(key):
            differences.append(Difference("unexpected_in_erp", {
                "reason": "not_in_ledger", "erp_key": key, "erp_refs": [r.erp_ref for r in mine]}))
    for record in records:
        touched = sorted({account for account, _ in record.lines} & owned) \
            if record.key is None and record.on == day else []
        if touched:
            differences.append(Difference("unexpected_in_erp", {
                "reason": "not_made_by_ledgerlink", "erp_ref": record.erp_ref, "accounts": touched,
                "erp": _plain(record.nets())}))
    return differences


def reconcile_request(event: Mapping[str, object], config: LedgerLinkConfig, *, now: float | None = None
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
