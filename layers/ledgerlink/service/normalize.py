"""Normalize one inbound message: raw event → (vendor API fetch) → canonical documents → ledger → one execution each.

Sources whose notifications only name an object (Ramp, HubSpot, SAP Concur, Adyen reports) are expanded by the
injected fetcher first (``service/fetch.py``): a vendor outage propagates as a ``TransientError`` (SQS retries the
message), anything retrying cannot fix is an exception case like any unreadable payload.

Idempotent end to end: the ledger registration is conditional, and a document started twice posts once (the
post step's ledger lease and lookup by external id; D76), so SQS redelivery, a DLQ redrive or a replay re-runs
this safely. An event's registrations and its inbox mark are one DynamoDB transaction, written before any
execution starts (see ``_register``). A payload that cannot
be normalized opens an exception case naming its archive key (it is acknowledged, not retried
forever); an infrastructure error propagates so SQS retries it and, in the end, parks it in the DLQ.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ledgerlink.clock import epoch
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources import normalize_module
from ledgerlink.connectors.sources.base import NormalizeContext, Normalized
from ledgerlink.errors import NormalizationError, TransientError, connector_defect
from ledgerlink.model.documents import BankTransaction, CustomerEvent, Document, Reversal
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.messages import InboundMessage, InvalidMessage, decode_message
from ledgerlink.model.money import Money
from ledgerlink.model.status import POSTABLE_STATUSES, DocumentStatus
from ledgerlink.pipeline import cash_application, receivables
from ledgerlink.pipeline.enrich import postable

if TYPE_CHECKING:
    from ledgerlink.config.sources import Source
    from ledgerlink.store.ledger import BatchRegistration, Registration

__all__ = ["InboundMessage", "InvalidMessage", "NormalizeOutcome", "NormalizeService", "ledger_record",
           "parse_message", "read_event"]

EventOutcome = Literal["normalized", "ignored", "exception"]


class ConfigPort(Protocol):
    def active(self) -> tuple[int, LedgerLinkConfig]: ...
    def get(self, version: int) -> LedgerLinkConfig: ...


class ArchiveReader(Protocol):
    def get(self, key: str) -> bytes: ...


class InboxOutcomePort(Protocol):
    def record_outcome(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                       reasons: list[str], day: str, now: float | None = None) -> bool: ...

    def outcome_items(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                      reasons: list[str], day: str, now: float | None = None) -> list[dict[str, object]]:
        """The transaction entries of the claim's pending → processed mark ([] when the inbox cannot join the
        registration's transaction: the outcome is then recorded on its own)."""
        ...

    def note_failure(self, source: str, event_id: str, *, error_type: str, at: str, when: float) -> bool: ...


class LedgerPort(Protocol):
    def register(self, record: dict[str, object]) -> Registration: ...

    def register_batch(self, records: list[dict[str, object]], *,
                       also: Sequence[Mapping[str, object]] = ()) -> BatchRegistration:
        """One transaction for the event's new documents and ``also``; ``complete`` False (nothing or only some
        registered) makes the caller register the rest one by one."""
        ...

    def get(self, document_id: str) -> dict[str, Any] | None: ...   # the stored ledger item (boto3-decoded)

    def claim_receivable(self, invoice_id: str, claimant_id: str, amount: Decimal, *,
                         cap_to_open: bool = False) -> Decimal | None: ...


class ExceptionsPort(Protocol):
    def open(self, *, subject: str, reason: str, message: str, correlation_id: str,
             archive_key: str | None = None, suggested_fix: str | None = None, source: str | None = None,
             detail: dict[str, object] | None = None) -> tuple[str, bool]: ...
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool: ...
    def get(self, exception_id: str) -> Mapping[str, object] | None: ...
    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool: ...


class WorkflowPort(Protocol):
    def start_document(self, document_id: str, payload: JsonObject) -> bool: ...   # the happy path
    def start(self, name: str, payload: JsonObject) -> bool: ...                   # Standard (replays)
    def send_task_success(self, task_token: str, output: JsonObject) -> None: ...


class FetcherPort(Protocol):
    def expand(self, kind: str, source: Source, notification: dict[str, JsonValue], *, archive_key: str,
               event_id: str, correlation_id: str, replay: bool = False) -> JsonValue: ...


class PartiesPort(Protocol):
    def announce(self, role: str, system: str, source_id: str, *, name: str | None, announced_by: str,
                 details: dict[str, str] | None = None) -> None: ...


class RevenuePort(Protocol):
    def observe(self, document: Document) -> dict[str, int]: ...


def read_event(kind: str, event: JsonValue, context: NormalizeContext) -> Normalized:
    """The source connector's reading of one event. A connector reads the payload and nothing else, so whatever it
    raises on a payload it raises on every retry: an unexpected error (a field of another type than the provider
    documents, say) is a ``normalization_failed`` case naming the error and where it arose, not a message retried
    into the DLQ with no case to work."""
    try:
        normalized: Normalized = normalize_module(kind).normalize(event, context)
    except (NormalizationError, ValueError, TransientError):
        raise
    except Exception as exc:
        raise connector_defect(kind, exc) from None
    return normalized


@dataclass(slots=True)
class NormalizeOutcome:
    outcome: EventOutcome
    document_ids: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    exception_id: str | None = None


def parse_message(body: str) -> JsonObject:
    """An SQS message body as its JSON object, checked to be an inbound message (:class:`InvalidMessage` if not).
    ``model.messages.read_message`` gives the typed :class:`InboundMessage`; ``process`` takes either."""
    return decode_message(body)


def _headline(document: Document) -> Money | None:
    """The document's headline amount: its total, else its amount (documents without either have none)."""
    amount = getattr(document, "total", None) or getattr(document, "amount", None)
    return amount if isinstance(amount, Money) else None


def ledger_record(document: Document, *, status: str, config_version: int, reason: str | None = None
                  ) -> dict[str, object]:
    amount = _headline(document)
    return {
        "document_id": document.document_id, "status": status, "document_type": document.document_type,
        "document": document.model_dump_json(), "source_id": document.source.source_id,
        "source_object": f"{document.source.object_type}:{document.source.object_id}:{document.source.version}",
        "event_id": document.source.event_id, "correlation_id": document.correlation_id,
        "archive_key": document.source.archive_key, "entity_id": document.entity_id,
        "accounting_date": document.accounting_date.isoformat(), "currency": document.currency,
        "amount": amount.canonical() if amount is not None else None,
        "config_version": config_version, "ignored_reason": reason,
    }


def _identities(document: CustomerEvent) -> list[tuple[str, str]]:
    """(system, id) under which a CRM customer event introduces its party: its own, and every external id."""
    return [(document.source.system, document.party.source_id), *sorted(document.external_ids.items())]


def _where(exc: BaseException) -> str:
    """Where an error arose, relative to the package (no absolute paths of the host), as ``dir/file.py:line``."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    path = frames[-1].filename.rsplit("/ledgerlink/", 1)[-1]
    return f"{'/'.join(path.split('/')[-2:])}:{frames[-1].lineno}"


def _rejection(exc: NormalizationError | ValueError) -> tuple[str, str, dict[str, object]]:
    """(reason, message, detail) of a payload that cannot be normalized."""
    if isinstance(exc, NormalizationError):
        return exc.reason, exc.message, exc.detail
    return str(getattr(exc, "reason", "malformed_payload")), str(getattr(exc, "message", exc)), {}


@dataclass(frozen=True, slots=True)
class _Run:
    """One message being normalized: the message and the configuration it is normalized under."""

    message: InboundMessage
    version: int
    config: LedgerLinkConfig
    day: str                       # the inbox partition of the event


@dataclass(slots=True)
class _Planned:
    """A document of the event and the ledger item it is registered as."""

    document: Document
    record: dict[str, object]
    status: DocumentStatus

    @property
    def received(self) -> bool:
        return self.status is DocumentStatus.RECEIVED


class NormalizeService:
    def __init__(self, *, config: ConfigPort, archive: ArchiveReader, inbox: InboxOutcomePort, ledger: LedgerPort,
                 exceptions: ExceptionsPort, workflow: WorkflowPort, fetcher: FetcherPort | None = None,
                 parties: PartiesPort | None = None, revenue: RevenuePort | None = None) -> None:
        self._config = config
        self._parties = parties  # master data announced by CRM events (quote-to-cash: invoices may wait for it)
        self._revenue = revenue  # service.revenue.RevenueObserver: subscription cancellations, usage batches
        self._fetcher = fetcher  # vendor API reads for sources whose notifications only name the object
        self._archive = archive
        self._inbox = inbox
        self._ledger = ledger
        self._exceptions = exceptions
        self._workflow = workflow

    def process(self, message: InboundMessage | Mapping[str, object]) -> NormalizeOutcome:
        """Normalize one message. ``replay`` messages (``ledgerlink replay``) come from the archive: they
        do not touch the inbox (its event was counted when it first arrived) and may pin a
        configuration version.

        A failure another attempt can fix (storage, network, throttling) is raised: SQS delivers the message again.
        Any other failure — one that would fail the same way on every delivery — becomes a case on the first
        attempt (``processing_failed``, naming the error type and where it arose, never its text), so nothing loops
        through the queue into the DLQ (issue 18); retrying the case replays the archived event."""
        inbound = InboundMessage.of(message)
        try:
            return self._process(inbound)
        except Exception as exc:
            from ledgerlink.store.clients import retryable

            if retryable(exc):
                raise
            return self._defect_case(inbound, exc)

    def note_failure(self, message: InboundMessage | Mapping[str, object], exc: BaseException) -> None:
        """A retryable failure (SQS delivers the message again): its type and where it arose go on the inbox claim,
        so a message that still ends in the DLQ is listed with the reason (``ledgerlink dlq list``)."""
        inbound = InboundMessage.of(message)
        if not inbound.replay:
            self._inbox.note_failure(inbound.source, inbound.event_id, error_type=type(exc).__name__,
                                     at=_where(exc), when=epoch())

    # ---- the steps -------------------------------------------------------------------------------------

    def _process(self, message: InboundMessage) -> NormalizeOutcome:
        run = self._run(message)
        normalized = self._normalize(run)
        if isinstance(normalized, NormalizeOutcome):
            return normalized
        if message.resolves_exception:  # an exception case's retry: the payload reads now
            self._exceptions.resolve(message.resolves_exception, actor="ledgerlink",
                                     note="normalized when the event was replayed")
        outcome, planned = self._plan(run, normalized)
        registrations, marked = self._register(run, planned, outcome)
        self._start(run, planned, registrations, outcome)
        if not marked:
            self._record(run, outcome)
        return outcome

    def _run(self, message: InboundMessage) -> _Run:
        if message.config_version is not None:
            version, config = message.config_version, self._config.get(message.config_version)
        else:
            version, config = self._config.active()
        return _Run(message, version, config, message.day)

    def _raw(self, message: InboundMessage) -> bytes:
        if message.body is not None:
            return message.body.encode("utf-8")
        return self._archive.get(message.payload_key or message.archive_key)

    def _normalize(self, run: _Run) -> Normalized | NormalizeOutcome:
        """The event's documents, or the exception case of a payload that cannot be normalized."""
        message = run.message
        raw = self._raw(message)
        try:
            event: JsonValue = json.loads(raw)
            source = run.config.source(message.source)
            if source is None:
                raise NormalizationError(f"source {message.source!r} is no longer configured", reason="unknown_source")
            if self._fetcher is not None and isinstance(event, dict):
                # SourceApiUnavailable is a TransientError, not caught below: SQS retries the message
                event = self._fetcher.expand(message.kind, source, event, archive_key=message.archive_key,
                                             event_id=message.event_id, correlation_id=message.correlation_id,
                                             replay=message.replay)
            context = NormalizeContext(config=run.config, source_id=message.source,
                                       correlation_id=message.correlation_id, archive_key=message.archive_key)
            return read_event(message.kind, event, context)
        except (NormalizationError, ValueError) as exc:
            return self._payload_case(run, exc)

    def _payload_case(self, run: _Run, exc: NormalizationError | ValueError) -> NormalizeOutcome:
        message = run.message
        reason, text, detail = _rejection(exc)
        exception_id, _ = self._exceptions.open(
            subject=f"{message.source}#{message.event_id}", reason=reason, message=text,
            correlation_id=message.correlation_id, archive_key=message.archive_key, source=message.source,
            detail=detail,
            suggested_fix="inspect the archived payload; fix the connector or replay the event once corrected",
        )
        outcome = NormalizeOutcome("exception", reasons=[reason], exception_id=exception_id)
        self._record(run, outcome)
        return outcome

    def _defect_case(self, message: InboundMessage, exc: Exception) -> NormalizeOutcome:
        where = _where(exc)
        reason = "processing_failed"
        exception_id, _ = self._exceptions.open(
            subject=f"{message.source}#{message.event_id}", reason=reason,
            message=f"the event could not be processed: {type(exc).__name__} at {where}",
            correlation_id=message.correlation_id, archive_key=message.archive_key, source=message.source,
            detail={"error_type": type(exc).__name__, "at": where},
            suggested_fix="a defect or a payload LedgerLink cannot handle: fix it, then retry this case (the archived "
                          "event is replayed)")
        outcome = NormalizeOutcome("exception", reasons=[reason], exception_id=exception_id)
        if not message.replay:
            self._inbox.record_outcome(message.source, message.event_id, outcome="exception", document_ids=[],
                                       reasons=[reason], day=message.day)
        return outcome

    def _record(self, run: _Run, outcome: NormalizeOutcome) -> None:
        """The event's outcome on its inbox claim, conditional on the claim still being pending: a redelivery or
        a replay of an event that was processed counts nothing; a replay of an event that was lost completes it."""
        self._inbox.record_outcome(run.message.source, run.message.event_id, outcome=outcome.outcome,
                                   document_ids=outcome.document_ids, reasons=outcome.reasons, day=run.day)

    # ---- plan: what each document becomes ----------------------------------------------------------------

    def _plan(self, run: _Run, normalized: Normalized) -> tuple[NormalizeOutcome, list[_Planned]]:
        outcome = NormalizeOutcome("normalized" if normalized.documents else "ignored",
                                   reasons=[f"{item.reason}: {item.detail}" for item in normalized.ignored])
        planned: list[_Planned] = []
        for document in normalized.documents:
            if isinstance(document, CustomerEvent) and self._parties is not None:
                self._announce(self._parties, document)
            if isinstance(document, BankTransaction) and document.match_candidates:  # cash application
                document = self._apply_cash(document)
            status, reason = self._status(run, document)
            planned.append(_Planned(document, ledger_record(document, status=status, config_version=run.version,
                                                            reason=reason), status))
            outcome.document_ids.append(document.document_id)
            if reason:
                outcome.reasons.append(f"{reason}: {document.document_id}")
        return outcome, planned

    @staticmethod
    def _status(run: _Run, document: Document) -> tuple[DocumentStatus, str | None]:
        """Received (to post), or ignored with the reason: the posting policy turned it off, no rule posts it."""
        if not run.config.policy_for(run.message.source, document.document_type).enabled:
            return DocumentStatus.IGNORED, "policy_disabled"
        if not postable(document.document_type):
            return DocumentStatus.IGNORED, "no_posting_rule"
        return DocumentStatus.RECEIVED, None

    @staticmethod
    def _announce(parties: PartiesPort, document: CustomerEvent) -> None:
        for system, identity in _identities(document):
            parties.announce(document.party.role, system, identity, name=document.party.name,
                             announced_by=document.document_id,
                             details={"source": document.source.system, "source_id": document.party.source_id})

    def _apply_cash(self, document: BankTransaction) -> BankTransaction:
        candidates = {candidate: self._ledger.get(candidate) for candidate in document.match_candidates}
        return self._apply_to_open_amount(cash_application.apply(document, candidates))

    def _apply_to_open_amount(self, document: BankTransaction) -> BankTransaction:
        """A bank receipt applied to an invoice settles at most what is still open on it (D92): the receivables
        subledger claims it (once per line, whatever the retries) and the rest is unapplied (customer credit)."""
        if document.counter_role != "receivable" or document.applies_to_document_id is None:
            return document
        applied = self._ledger.claim_receivable(document.applies_to_document_id, document.document_id,
                                                document.amount.amount, cap_to_open=True)
        return receivables.split(document, applied) if applied is not None else document

    # ---- register: the ledger and the inbox mark, in one transaction --------------------------------------

    def _register(self, run: _Run, planned: list[_Planned],
                  outcome: NormalizeOutcome) -> tuple[dict[str, Registration], bool]:
        """Register the event's documents; returns (registration by document id, inbox claim marked processed).

        One transaction per event (D73): every new document's put, their merged control totals and the claim's
        "processed" mark commit together. Executions start only afterwards, so a crash in between leaves the
        documents registered but not started and the claim processed; SQS redelivers the message (or a replay
        sends it again), the transaction is then cancelled (the documents exist) and the per-document path below
        finds each one ``received`` and starts it again — the post step's lease makes that post once. The same
        path serves every cancelled transaction (redelivery, replay, a claim no longer pending): statuses and
        counters stay exact because each registration and the mark remain conditional.

        Claims on what is open on an invoice follow (:meth:`_claim_receivables`); those on an invoice this event
        registers went into its item (:func:`_prefill_claims`)."""
        prefilled = _prefill_claims(planned)
        registrations: dict[str, Registration] = {}
        marked = False
        if planned:
            mark = self._inbox.outcome_items(run.message.source, run.message.event_id, outcome=outcome.outcome,
                                             document_ids=outcome.document_ids, reasons=outcome.reasons, day=run.day)
            result = self._ledger.register_batch([entry.record for entry in planned], also=mark)
            registrations.update(result.registered)
            marked = result.complete and bool(mark)
        for entry in planned:
            if entry.document.document_id not in registrations:
                registrations[entry.document.document_id] = self._ledger.register(entry.record)
        self._claim_receivables([entry.document for entry in planned if entry.received and not (
            entry.document.document_id in prefilled and registrations[prefilled[entry.document.document_id]].is_new)])
        return registrations, marked

    def _claim_receivables(self, documents: list[Document]) -> None:
        """Every other document that changes what is open on an invoice records it in the subledger (D92), so a
        bank receipt applied later settles only what is left. Idempotent per document; after registration, so a
        crash before it is repaired by the redelivery that finds the documents registered."""
        for document in documents:
            total = None
            if isinstance(document, Reversal) and document.reason == "void":
                total = receivables.invoice_total(self._ledger.get(document.original_document_id) or {})
            found = receivables.claim_of(document, total)
            if found is not None:
                self._ledger.claim_receivable(found[0], document.document_id, found[1])

    # ---- start: one execution per document that waits to be posted ----------------------------------------

    def _start(self, run: _Run, planned: list[_Planned], registrations: Mapping[str, Registration],
               outcome: NormalizeOutcome) -> None:
        for entry in planned:
            if self._revenue is not None:   # recorded facts that change revenue schedules (idempotent)
                self._revenue.observe(entry.document)
            if entry.received:
                started = self._start_one(run, entry.document, registrations[entry.document.document_id])
                if started is not None:
                    outcome.started.append(started)

    def _start_one(self, run: _Run, document: Document, registration: Registration) -> str | None:
        """Start (or resume) the document's execution; returns what was started, None when nothing was."""
        payload = self._execution_input(run, document)
        if run.message.replay and not registration.is_new and registration.status in POSTABLE_STATUSES:
            return self._restart(document, registration, payload)
        if registration.status == DocumentStatus.RECEIVED and self._workflow.start_document(document.document_id, payload):
            # Start (again) unless the document already reached a final state: a crash between the ledger
            # write and StartExecution must not strand it; a second run finds the ledger lease or the
            # posting (Express) or its execution name taken (Standard).
            return document.document_id
        return None

    def _restart(self, document: Document, registration: Registration, payload: JsonObject) -> str | None:
        """A replay of a document registered before that did not post."""
        if registration.status == DocumentStatus.EXCEPTION and self._resume_waiting(registration.exception_id,
                                                                                    payload):
            # the document's execution waits on its exception case: the replay is that case's retry
            return f"{document.document_id} (resumed)"
        # A replay re-runs a document that did not post (stuck, or its case no longer waits) under a
        # fresh execution name; the post step's external-id lookup still stops a second posting.
        payload["resolves_exception"] = registration.exception_id
        name = f"{document.document_id}-replay-{uuid.uuid4().hex[:8]}"
        return name if self._workflow.start(name, payload) else None

    @staticmethod
    def _execution_input(run: _Run, document: Document) -> JsonObject:
        message = run.message
        return {"document_id": document.document_id, "correlation_id": document.correlation_id,
                "source_id": message.source, "archive_key": message.archive_key, "config_version": run.version,
                "received_at": message.received_at, "document": document.model_dump(mode="json")}

    def _resume_waiting(self, exception_id: str | None, payload: JsonObject) -> bool:
        """Resume the execution parked on an open case (its task token) with the replayed document."""
        case = self._exceptions.get(exception_id) if exception_id else None
        token = case.get("task_token") if case else None
        if not exception_id or not case or case.get("status") != "open" or not isinstance(token, str) or not token:
            return False
        self._workflow.send_task_success(token, {
            "action": "retry", "config_version": payload["config_version"], "exception_id": exception_id,
            "document": payload["document"], "by": "replay", "approval": None})
        self._exceptions.mark_retrying(exception_id, actor="replay", note="replayed from the archive")
        return True


def _prefill_claims(planned: list[_Planned]) -> dict[str, str]:
    """Claims on an invoice registered by the same event (``invoice.paid``: the invoice and its payment) go into
    the invoice's new ledger item, in the registration's own write; returns claimant → invoice. If the invoice
    was registered before (its put is refused), the claimant claims after registration like any other."""
    invoices = {entry.document.document_id: entry.record for entry in planned
                if entry.document.document_type == "invoice" and entry.received}
    prefilled: dict[str, str] = {}
    for entry in planned:
        found = receivables.claim_of(entry.document) if entry.received else None
        if found is not None and found[0] in invoices:
            record = invoices[found[0]]
            claims = record.setdefault(receivables.CLAIMS, {})
            assert isinstance(claims, dict)
            claims[entry.document.document_id] = str(found[1])
            record[receivables.VERSION] = 1
            prefilled[entry.document.document_id] = found[0]
    return prefilled
