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
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledgerlink.clock import epoch
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources import normalize_module
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.errors import NormalizationError, TransientError, connector_defect
from ledgerlink.model.documents import BankTransaction, Document
from ledgerlink.pipeline import cash_application, receivables
from ledgerlink.pipeline.enrich import postable


class ConfigPort(Protocol):
    def active(self) -> tuple[int, LedgerLinkConfig]: ...
    def get(self, version: int) -> LedgerLinkConfig: ...


class ArchiveReader(Protocol):
    def get(self, key: str) -> bytes: ...


class InboxOutcomePort(Protocol):
    def record_outcome(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                       reasons: list[str], day: str, now: float | None = None) -> bool: ...


class LedgerPort(Protocol):
    def register(self, record: dict[str, Any]) -> Any: ...
    def get(self, document_id: str) -> dict[str, Any] | None: ...


class ExceptionsPort(Protocol):
    def open(self, **kwargs: Any) -> tuple[str, bool]: ...
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool: ...
    def get(self, exception_id: str) -> dict[str, Any] | None: ...
    def mark_retrying(self, exception_id: str, *, actor: str, note: str) -> bool: ...


class WorkflowPort(Protocol):
    def start_document(self, document_id: str, payload: dict[str, Any]) -> bool: ...   # the happy path
    def start(self, name: str, payload: dict[str, Any]) -> bool: ...                   # Standard (replays)
    def send_task_success(self, task_token: str, output: dict[str, Any]) -> None: ...


class FetcherPort(Protocol):
    def expand(self, kind: str, source: Any, notification: dict[str, Any], *, archive_key: str, event_id: str,
               correlation_id: str, replay: bool = False) -> dict[str, Any]: ...


class InvalidMessage(ValueError):
    """The queue message itself is not a LedgerLink inbound message (goes to the DLQ)."""


def read_event(kind: str, event: Any, context: NormalizeContext) -> Any:
    """The source connector's reading of one event. A connector reads the payload and nothing else, so whatever it
    raises on a payload it raises on every retry: an unexpected error (a field of another type than the provider
    documents, say) is a ``normalization_failed`` case naming the error and where it arose, not a message retried
    into the DLQ with no case to work."""
    try:
        return normalize_module(kind).normalize(event, context)
    except (NormalizationError, ValueError, TransientError):
        raise
    except Exception as exc:
        raise connector_defect(kind, exc) from None


@dataclass(slots=True)
class NormalizeOutcome:
    outcome: str                       # normalized | ignored | exception
    document_ids: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    exception_id: str | None = None


def parse_message(body: str) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except ValueError:
        raise InvalidMessage("message body is not JSON") from None
    required = ("source", "kind", "event_id", "correlation_id", "archive_key")
    if not isinstance(message, dict) or any(not isinstance(message.get(key), str) for key in required):
        raise InvalidMessage(f"message lacks one of {required}")
    return message


def ledger_record(document: Document, *, status: str, config_version: int, reason: str | None = None
                  ) -> dict[str, Any]:
    amount = getattr(document, "total", None) or getattr(document, "amount", None)
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


def _identities(document: Any) -> list[tuple[str, str]]:
    """(system, id) under which a CRM customer event introduces its party: its own, and every external id."""
    party = document.party
    return [(document.source.system, party.source_id), *sorted(getattr(document, "external_ids", {}).items())]


def _where(exc: BaseException) -> str:
    """Where an error arose, relative to the package (no absolute paths of the host), as ``dir/file.py:line``."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    path = frames[-1].filename.rsplit("/ledgerlink/", 1)[-1]
    return f"{'/'.join(path.split('/')[-2:])}:{frames[-1].lineno}"


def _received_day(message: dict[str, Any]) -> str:
    """The UTC day the event was received (its inbox partition)."""
    return str(message.get("received_day") or time.strftime("%Y-%m-%d", time.gmtime(
        int(message.get("received_at") or epoch()))))


class NormalizeService:
    def __init__(self, *, config: ConfigPort, archive: ArchiveReader, inbox: InboxOutcomePort, ledger: LedgerPort,
                 exceptions: ExceptionsPort, workflow: WorkflowPort, fetcher: FetcherPort | None = None,
                 parties: Any = None, revenue: Any = None) -> None:
        self._config = config
        self._parties = parties  # master data announced by CRM events (quote-to-cash: invoices may wait for it)
        self._revenue = revenue  # service.revenue.RevenueObserver: subscription cancellations, usage batches
        self._fetcher = fetcher  # vendor API reads for sources whose notifications only name the object
        self._archive = archive
        self._inbox = inbox
        self._ledger = ledger
        self._exceptions = exceptions
        self._workflow = workflow

    def _resume_waiting(self, exception_id: str | None, payload: dict[str, Any]) -> bool:
        """Resume the execution parked on an open case (its task token) with the replayed document."""
        case = self._exceptions.get(exception_id) if exception_id and hasattr(self._exceptions, "get") else None
        if not case or case.get("status") != "open" or not case.get("task_token"):
            return False
        self._workflow.send_task_success(case["task_token"], {
            "action": "retry", "config_version": payload["config_version"], "exception_id": exception_id,
            "document": payload["document"], "by": "replay"})
        self._exceptions.mark_retrying(exception_id, actor="replay", note="replayed from the archive")
        return True

    def _announce(self, document: Any) -> None:
        for system, identity in _identities(document):
            self._parties.announce(document.party.role, system, identity, name=document.party.name,
                                   announced_by=document.document_id,
                                   details={"source": document.source.system, "source_id": document.party.source_id})

    def process(self, message: dict[str, Any]) -> NormalizeOutcome:
        """Normalize one message. ``replay`` messages (``ledgerlink replay``) come from the archive: they
        do not touch the inbox (its event was counted when it first arrived) and may pin a
        configuration version.

        A failure another attempt can fix (storage, network, throttling) is raised: SQS delivers the message again.
        Any other failure — one that would fail the same way on every delivery — becomes a case on the first
        attempt (``processing_failed``, naming the error type and where it arose, never its text), so nothing loops
        through the queue into the DLQ (issue 18); retrying the case replays the archived event."""
        try:
            return self._process(message)
        except Exception as exc:
            from ledgerlink.store.clients import retryable

            if retryable(exc):
                raise
            return self._defect_case(message, exc)

    def note_failure(self, message: dict[str, Any], exc: BaseException) -> None:
        """A retryable failure (SQS delivers the message again): its type and where it arose go on the inbox claim,
        so a message that still ends in the DLQ is listed with the reason (``ledgerlink dlq list``)."""
        note = getattr(self._inbox, "note_failure", None)
        if note is not None and not message.get("replay"):
            note(message["source"], message["event_id"], error_type=type(exc).__name__, at=_where(exc), when=epoch())

    def _defect_case(self, message: dict[str, Any], exc: Exception) -> NormalizeOutcome:
        where = _where(exc)
        source_id, event_id = message["source"], message["event_id"]
        reason = "processing_failed"
        exception_id, _ = self._exceptions.open(
            subject=f"{source_id}#{event_id}", reason=reason,
            message=f"the event could not be processed: {type(exc).__name__} at {where}",
            correlation_id=message["correlation_id"], archive_key=message["archive_key"], source=source_id,
            detail={"error_type": type(exc).__name__, "at": where},
            suggested_fix="a defect or a payload LedgerLink cannot handle: fix it, then retry this case (the archived "
                          "event is replayed)")
        if not message.get("replay"):
            self._inbox.record_outcome(source_id, event_id, outcome="exception", document_ids=[], reasons=[reason],
                                       day=_received_day(message))
        return NormalizeOutcome("exception", reasons=[reason], exception_id=exception_id)

    def _process(self, message: dict[str, Any]) -> NormalizeOutcome:
        source_id, event_id = message["source"], message["event_id"]
        correlation_id, archive_key = message["correlation_id"], message["archive_key"]
        body = message.get("body")
        raw = body.encode("utf-8") if isinstance(body, str) else self._archive.get(
            message.get("payload_key") or archive_key)
        pinned = message.get("config_version")
        if isinstance(pinned, int):
            version, config = pinned, self._config.get(pinned)
        else:
            version, config = self._config.active()
        replay = bool(message.get("replay"))
        day = _received_day(message)

        def record(outcome: str, document_ids: list[str], reasons: list[str]) -> None:
            # conditional on the claim still being pending: a redelivery or a replay of an event that
            # was processed counts nothing; a replay of an event that was lost completes it.
            self._inbox.record_outcome(source_id, event_id, outcome=outcome, document_ids=document_ids,
                                       reasons=reasons, day=day)

        try:
            event = json.loads(raw)
            source = config.source(source_id)
            if source is None:
                raise NormalizationError(f"source {source_id!r} is no longer configured", reason="unknown_source")
            if self._fetcher is not None and isinstance(event, dict):
                # SourceApiUnavailable is a TransientError, not caught below: SQS retries the message
                event = self._fetcher.expand(message["kind"], source, event, archive_key=archive_key,
                                             event_id=event_id, correlation_id=correlation_id, replay=replay)
            context = NormalizeContext(config=config, source_id=source_id, correlation_id=correlation_id,
                                       archive_key=archive_key)
            normalized = read_event(message["kind"], event, context)
        except (NormalizationError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, NormalizationError) else getattr(exc, "reason", "malformed_payload")
            detail = exc.detail if isinstance(exc, NormalizationError) else {}
            exception_id, _ = self._exceptions.open(
                subject=f"{source_id}#{event_id}", reason=reason, message=str(getattr(exc, "message", exc)),
                correlation_id=correlation_id, archive_key=archive_key, source=source_id, detail=detail,
                suggested_fix="inspect the archived payload; fix the connector or replay the event once corrected",
            )
            record("exception", [], [reason])
            return NormalizeOutcome("exception", reasons=[reason], exception_id=exception_id)

        if message.get("resolves_exception"):  # an exception case's retry: the payload reads now
            self._exceptions.resolve(message["resolves_exception"], actor="ledgerlink",
                                     note="normalized when the event was replayed")
        outcome = NormalizeOutcome("normalized" if normalized.documents else "ignored",
                                   reasons=[f"{item.reason}: {item.detail}" for item in normalized.ignored])
        planned: list[tuple[Any, dict[str, Any]]] = []
        for document in normalized.documents:
            if document.document_type == "customer_event" and self._parties is not None:
                self._announce(document)
            if isinstance(document, BankTransaction) and document.match_candidates:  # cash application
                document = cash_application.apply(
                    document, {candidate: self._ledger.get(candidate) for candidate in document.match_candidates})
                document = self._apply_to_open_amount(document)
            policy = config.policy_for(source_id, document.document_type)
            if not policy.enabled:
                status, reason = "ignored", "policy_disabled"
            elif not postable(document.document_type):
                status, reason = "ignored", "no_posting_rule"
            else:
                status, reason = "received", None
            planned.append((document, ledger_record(document, status=status, config_version=version, reason=reason)))
            outcome.document_ids.append(document.document_id)
            if reason:
                outcome.reasons.append(f"{reason}: {document.document_id}")
        prefilled = self._prefill_claims(planned)
        registrations, marked = self._register(planned, source_id, event_id, outcome, day)
        self._claim_receivables([document for document, entry in planned if entry["status"] == "received"
                                 and not (document.document_id in prefilled
                                          and registrations[prefilled[document.document_id]].is_new)])
        for document, entry in planned:
            registration = registrations[document.document_id]
            if self._revenue is not None:   # recorded facts that change revenue schedules (idempotent)
                self._revenue.observe(document)
            if entry["status"] != "received":
                continue
            payload = {"document_id": document.document_id, "correlation_id": document.correlation_id,
                       "source_id": source_id, "archive_key": archive_key, "config_version": version,
                       "received_at": message.get("received_at"), "document": document.model_dump(mode="json")}
            if replay and not registration.is_new and registration.status == "exception" and \
                    self._resume_waiting(registration.exception_id, payload):
                # the document's execution waits on its exception case: the replay is that case's retry
                outcome.started.append(f"{document.document_id} (resumed)")
            elif replay and not registration.is_new and registration.status in ("received", "exception"):
                # A replay re-runs a document that did not post (stuck, or its case no longer waits) under a
                # fresh execution name; the post step's external-id lookup still stops a second posting.
                payload["resolves_exception"] = registration.exception_id
                name = f"{document.document_id}-replay-{uuid.uuid4().hex[:8]}"
                if self._workflow.start(name, payload):
                    outcome.started.append(name)
            elif registration.status == "received" and self._workflow.start_document(document.document_id, payload):
                # Start (again) unless the document already reached a final state: a crash between the ledger
                # write and StartExecution must not strand it; a second run finds the ledger lease or the
                # posting (Express) or its execution name taken (Standard).
                outcome.started.append(document.document_id)
        if not marked:
            record(outcome.outcome, outcome.document_ids, outcome.reasons)
        return outcome

    def _apply_to_open_amount(self, document: BankTransaction) -> BankTransaction:
        """A bank receipt applied to an invoice settles at most what is still open on it (D92): the receivables
        subledger claims it (once per line, whatever the retries) and the rest is unapplied (customer credit)."""
        claim = getattr(self._ledger, "claim_receivable", None)
        if claim is None or document.counter_role != "receivable" or document.applies_to_document_id is None:
            return document
        applied = claim(document.applies_to_document_id, document.document_id, document.amount.amount,
                        cap_to_open=True)
        return receivables.split(document, applied) if applied is not None else document

    @staticmethod
    def _prefill_claims(planned: list[tuple[Any, dict[str, Any]]]) -> dict[str, str]:
        """Claims on an invoice registered by the same event (``invoice.paid``: the invoice and its payment) go into
        the invoice's new ledger item, in the registration's own write; returns claimant → invoice. If the invoice
        was registered before (its put is refused), the claimant claims after registration like any other."""
        invoices = {document.document_id: entry for document, entry in planned
                    if document.document_type == "invoice" and entry["status"] == "received"}
        prefilled: dict[str, str] = {}
        for document, entry in planned:
            found = receivables.claim_of(document) if entry["status"] == "received" else None
            if found is not None and found[0] in invoices:
                record = invoices[found[0]]
                record.setdefault(receivables.CLAIMS, {})[document.document_id] = str(found[1])
                record[receivables.VERSION] = 1
                prefilled[document.document_id] = found[0]
        return prefilled

    def _claim_receivables(self, documents: list[Any]) -> None:
        """Every other document that changes what is open on an invoice records it in the subledger (D92), so a
        bank receipt applied later settles only what is left. Idempotent per document; after registration, so a
        crash before it is repaired by the redelivery that finds the documents registered."""
        claim = getattr(self._ledger, "claim_receivable", None)
        if claim is None:
            return
        for document in documents:
            total = None
            if document.document_type == "reversal" and getattr(document, "reason", None) == "void":
                record = self._ledger.get(document.original_document_id) or {}
                total = receivables.invoice_total(record)
            found = receivables.claim_of(document, total)
            if found is not None:
                claim(found[0], document.document_id, found[1])

    def _register(self, planned: list[tuple[Any, dict[str, Any]]], source_id: str, event_id: str,
                  outcome: NormalizeOutcome, day: str) -> tuple[dict[str, Any], bool]:
        """Register the event's documents; returns (registration by document id, inbox claim marked processed).

        One transaction per event (D73): every new document's put, their merged control totals and the claim's
        "processed" mark commit together. Executions start only afterwards, so a crash in between leaves the
        documents registered but not started and the claim processed; SQS redelivers the message (or a replay
        sends it again), the transaction is then cancelled (the documents exist) and the per-document path below
        finds each one ``received`` and starts it again — the post step's lease makes that post once. The same
        path serves every cancelled transaction (redelivery, replay, a claim no longer pending): statuses and
        counters stay exact because each registration and the mark remain conditional."""
        batch = getattr(self._ledger, "register_batch", None)
        mark = getattr(self._inbox, "outcome_items", None)
        registrations: dict[str, Any] = {}
        marked = False
        if planned and batch is not None and mark is not None:
            result = batch([entry for _, entry in planned], also=mark(
                source_id, event_id, outcome=outcome.outcome, document_ids=outcome.document_ids,
                reasons=outcome.reasons, day=day))
            registrations.update(result.registered)
            marked = result.complete
        for document, entry in planned:
            if document.document_id not in registrations:
                registrations[document.document_id] = self._ledger.register(entry)
        return registrations, marked
