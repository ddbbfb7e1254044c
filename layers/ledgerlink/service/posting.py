"""The post-document state machine's task steps. Each takes the execution state and returns it, extended.

State (:class:`~ledgerlink.model.posting.PostingState`): ``{document_id, correlation_id, source_id, archive_key,
config_version, document}`` → ``+journal`` (enrich) → journal validated/re-dated (validate) → posted and recorded in
the ledger (post: :func:`post_document_step` = lease, :func:`post_step`, :func:`record_posting`). Each step reads the
state once at its boundary and answers the same JSON extended; the posting-engine rules it applies live in
``pipeline/`` (``pipeline.engine``). Business rule failures raise :class:`DocumentRejected` (the state machine routes
them to the exception step); infrastructure failures raise anything else and are retried by the state machine.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, cast

from ledgerlink.clock import epoch
from ledgerlink.clock import now as clock_now
from ledgerlink.errors import DocumentRejected, PostingInProgress, rejection_from_cause
from ledgerlink.model.counters import CounterKey
from ledgerlink.model.ledger import DocumentStateError, Lease
from ledgerlink.model.posting import ExceptionOpened, PostedResult, Posting, PostingState, StepError
from ledgerlink.model.status import POSTABLE_STATUSES, DocumentStatus
from ledgerlink.pipeline.engine import (
    PostedJournals,
    booked_journal,
    engine_adjustments,
    original_journal,
    refunded_document,
    refunded_document_id,
    revenue_facts,
    settled_document_id,
)

if TYPE_CHECKING:   # models, pipeline and connectors are imported by the steps that use them (cold start, D74)
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.connectors.erps.base import DocumentPoster, ErpConnector, ErpDocument, PostResult
    from ledgerlink.model.documents import JournalEntry
    from ledgerlink.model.json import JsonObject
    from ledgerlink.pipeline.summarize import BucketScope, Contribution

__all__ = [   # the posting-engine rules stay importable from here (their home is pipeline.engine)
    "POST_LEASE_SECONDS", "PostedJournals", "booked_journal", "counter_key", "engine_adjustments", "enrich_step",
    "erp_connectors", "open_exception_step", "original_journal", "post_document_step", "post_step",
    "record_posting", "refunded_document", "refunded_document_id", "revenue_facts", "settled_document_id",
    "stored_result", "summarize_into", "validate_step",
]

# The post step's lease on the ledger item (D73): at least the post Lambda's timeout (60 s) and the Post state's
# TimeoutSeconds (120 s), so a lease outlives the invocation that took it; the PostingInProgress retrier of the
# Post state waits longer than one lease in all. tests/infra checks both against the template.
POST_LEASE_SECONDS = 120
LEASE_ATTRIBUTES = ("lease_until", "lease_holder")
STORED_RESULTS = (DocumentStatus.POSTED, DocumentStatus.SUMMARIZED)   # a lease refused because it is done


# ---- ports --------------------------------------------------------------------------------------------------------

class VersionedConfig(Protocol):
    def get(self, version: int) -> LedgerLinkConfig: ...


class ConnectorFactory(Protocol):
    def __call__(self, config: LedgerLinkConfig, connection_id: str, config_version: int) -> ErpConnector: ...


class BucketMembership(Protocol):
    @property
    def bucket_id(self) -> str: ...
    @property
    def added(self) -> bool: ...


class BucketPort(Protocol):
    def add(self, document_id: str, scope: BucketScope, contributions: list[Contribution], *,
            correlation_id: str) -> BucketMembership: ...


class LedgerUpdater(Protocol):
    """The posting ledger's status change (with its control totals, in one transaction)."""

    def transition(self, document_id: str, *, to: DocumentStatus, expected: tuple[DocumentStatus, ...],
                   key: CounterKey, remove: tuple[str, ...] = (), **attributes: object) -> bool: ...


class PostingLedger(LedgerUpdater, Protocol):
    """The posting ledger as the post step uses it: its item is the step's idempotency record."""

    def take_lease(self, document_id: str, *, holder: str, seconds: int, now: float | None = None) -> Lease: ...
    def release_lease(self, document_id: str, *, holder: str) -> bool: ...


class ExceptionResolver(Protocol):
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool: ...


class ExceptionOpener(ExceptionResolver, Protocol):
    """The exception cases as the exception step uses them: open (or reopen) a case; resolve the case a failed
    retry supersedes."""

    def open(self, *, subject: str, reason: str, message: str, correlation_id: str, document_id: str | None = None,
             archive_key: str | None = None, suggested_fix: str | None = None, entity_id: str | None = None,
             source: str | None = None, detail: Mapping[str, object] | None = None,
             task_token: str | None = None) -> tuple[str, bool]: ...


class RevenueRecording(Protocol):
    """Stores the revenue schedule facts the enrich step put in the state (``service.revenue.RevenueRecorder``)."""

    def record(self, state: JsonObject) -> Mapping[str, int]: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: JsonObject) -> None: ...


# ---- enrich and validate ------------------------------------------------------------------------------------------

def enrich_step(state: JsonObject, config_store: VersionedConfig,
                originals: PostedJournals | None = None) -> JsonObject:
    """The document's journal (posting rules and engine adjustments, ``pipeline.engine``) and its revenue facts."""
    from ledgerlink.model.documents import DocumentAdapter
    from ledgerlink.pipeline.engine import enriched

    current = PostingState.parse(state)
    document = DocumentAdapter.validate_python(current.document)
    result = enriched(document, config_store.get(current.version), config_version=current.version,
                      originals=originals)
    if result.revenue is None:
        return current.extended(journal=result.journal.model_dump(mode="json"))
    return current.extended(journal=result.journal.model_dump(mode="json"),
                            revenue=result.revenue.model_dump(mode="json"))


def validate_step(state: JsonObject, config_store: VersionedConfig) -> JsonObject:
    from ledgerlink.model.documents import JournalEntry
    from ledgerlink.pipeline.validate import validate

    current = PostingState.parse(state)
    journal = JournalEntry.model_validate(current.journal)
    checked = validate(journal, config_store.get(current.version), document_type=current.document_type,
                       approval=current.approval)
    return current.extended(journal=checked.model_dump(mode="json"),
                            period_adjusted=checked.accounting_date != journal.accounting_date)


# ---- post -----------------------------------------------------------------------------------------------------------

def post_step(state: JsonObject, config_store: VersionedConfig, connectors: ConnectorFactory,
              buckets: BucketPort | None = None) -> JsonObject:
    """Post once. Look the document up by external id first: the previous attempt may have posted it
    and crashed (or timed out) before recording — an uncertain outcome is resolved, never repeated.

    The posting engine decides where and how: the entity's route (cutover → legacy target), the posting
    policy (summarized documents go into a bucket, posted later by the flush), the ERP's own period status
    (entity policy), and ERP-native documents where the policy asks for them."""
    from ledgerlink.model.documents import JournalEntry
    from ledgerlink.pipeline.route import route

    current = PostingState.parse(state)
    config = config_store.get(current.version)
    journal = JournalEntry.model_validate(current.journal)
    document_type = current.document_type or journal.document_type
    source_id = current.source_id or journal.source.source_id or journal.source.system
    policy = config.policy_for(source_id, document_type)
    connection_id = route(config, journal.entity_id, journal.accounting_date).connection_id
    if policy.mode == "summarized" and buckets is not None:
        summarized = summarize_into(buckets, journal, connection_id, source_id, document_type)
        if summarized is not None:
            return current.extended(posting=summarized)
    connector = connectors(config, connection_id, current.version)
    checked = _erp_period_gate(journal, config, connector)
    if checked.accounting_date != journal.accounting_date:
        journal = checked
        rerouted = route(config, journal.entity_id, journal.accounting_date).connection_id
        if rerouted != connection_id:
            connection_id, connector = rerouted, connectors(config, rerouted, current.version)
    native = _native(connector, journal, current, policy.post_as)
    result = _find(connector, journal, native) or _post(connector, journal, native)
    posting = Posting(connection_id=connection_id, erp_ref=result.erp_ref, created=result.created,
                      posted_at=clock_now().isoformat(timespec="seconds"))
    return current.extended(journal=journal.model_dump(mode="json"), posting=posting.to_json())


def _erp_period_gate(journal: JournalEntry, config: LedgerLinkConfig, connector: ErpConnector) -> JournalEntry:
    from ledgerlink.pipeline.periods import apply_erp_period

    entity = config.entity(journal.entity_id)
    return apply_erp_period(journal, entity, connector.period_status(entity, journal.accounting_date))


def _native(connector: ErpConnector, journal: JournalEntry, state: PostingState, post_as: str) -> ErpDocument | None:
    """The ERP-native document this posts as, where the policy asks for one and the connector takes them (the
    document validated here, once, and only then)."""
    from ledgerlink.connectors.erps.base import supports_documents

    if post_as != "document" or not supports_documents(connector) or not state.document:
        return None
    from ledgerlink.model.documents import DocumentAdapter
    from ledgerlink.pipeline.erp_documents import erp_document

    return erp_document(DocumentAdapter.validate_python(state.document), journal)


def _find(connector: ErpConnector, journal: JournalEntry, native: ErpDocument | None) -> PostResult | None:
    """The lookup before any write, narrowed to what this document posts as (one call for an API ERP)."""
    from ledgerlink.connectors.erps.base import find_existing

    if native is None:
        return find_existing(connector, journal.document_id, "journal")
    return find_existing(connector, journal.document_id, native.kind) or find_existing(
        connector, journal.document_id, "journal")   # it may have fallen back to a journal before


def _post(connector: ErpConnector, journal: JournalEntry, native: ErpDocument | None) -> PostResult:
    """An ERP-native document where the policy asks for one and the connector and document allow it; else
    the journal (which every connector posts)."""
    from ledgerlink.connectors.erps.base import post_erp_document

    if native is not None:   # only for a connector that supports_documents (_native)
        try:
            return post_erp_document(cast("DocumentPoster", connector), native)
        except DocumentRejected as exc:
            if exc.reason != "unsupported_document":
                raise
    return connector.post_journal(journal)


def summarize_into(buckets: BucketPort, journal: JournalEntry, connection_id: str, source_id: str,
                   document_type: str) -> JsonObject | None:
    """Add the journal to its bucket (exactly once): the state's ``posting``. None: it cannot be summarized
    (several currencies, more lines than one transaction holds) and posts line-level instead."""
    from ledgerlink.pipeline.summarize import BucketScope, contributions, single_currency
    from ledgerlink.store.buckets import TooManyLines

    currency = single_currency(journal)
    if currency is None:
        return None
    scope = BucketScope(connection_id=connection_id, entity_id=journal.entity_id,
                        accounting_date=journal.accounting_date, currency=currency, source_id=source_id,
                        document_type=document_type)
    try:
        membership = buckets.add(journal.document_id, scope, contributions(journal),
                                 correlation_id=journal.correlation_id)
    except TooManyLines:
        return None
    return Posting(connection_id=connection_id, erp_ref=f"bucket:{membership.bucket_id}", created=membership.added,
                   posted_at=clock_now().isoformat(timespec="seconds"), bucket_id=membership.bucket_id).to_json()


def counter_key(state: Mapping[str, object]) -> CounterKey:
    """The control-totals key of the execution's document (same as the ledger registered it with)."""
    document = state["document"]
    if not isinstance(document, Mapping):
        raise TypeError("the state's document is not a JSON object")
    source_id = state.get("source_id")
    return CounterKey.of_document(document, source_id if isinstance(source_id, str) else None)


def post_document_step(state: JsonObject, *, ledger: PostingLedger, config_store: VersionedConfig,
                       connectors: ConnectorFactory, buckets: BucketPort | None = None,
                       exceptions: ExceptionResolver | None = None, revenue: RevenueRecording | None = None,
                       now: float | None = None, lease_seconds: int | None = None) -> PostedResult:
    """The Post state: post the document once and record it, with the ledger item as the idempotency record.

    1. Lease the ledger item (one conditional write). Refused because the document is posted (or summarized)
       already — a re-invocation after a lost result — the stored result is returned without calling the ERP;
       refused because another invocation holds a live lease, :class:`PostingInProgress` (retried by the ASL).
    2. Post (:func:`post_step`: the ERP lookup by external id first, then the write, or the summary bucket).
    3. Record the posting and its control totals in one transaction (:func:`record_posting`), dropping the lease.

    A crash between 2 and 3 leaves a lease that runs out; the retry after it finds the posting by external id
    (guard 3 of D11). A failure this invocation sees gives the lease back at once, so the retry need not wait."""
    holder = uuid.uuid4().hex
    document_id = PostingState.parse(state).ledger_id
    lease = ledger.take_lease(document_id, holder=holder, seconds=lease_seconds or POST_LEASE_SECONDS, now=now)
    if not lease.taken:
        return stored_result(state, lease.item, exceptions)
    try:
        posted = post_step(state, config_store, connectors, buckets)
        return record_posting(posted, ledger, exceptions, now=now, revenue=revenue)
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the lease runs out on its own; the first error matters
            ledger.release_lease(document_id, holder=holder)
        raise


def stored_result(state: JsonObject, item: Mapping[str, object], exceptions: ExceptionResolver | None = None
                  ) -> PostedResult:
    """The answer of a post step whose lease was refused, from the ledger item as it was."""
    current = PostingState.parse(state)
    stored = Lease(taken=False, item=item).record
    status = stored.status_text
    if stored.status in STORED_RESULTS:
        if current.resolves_exception and exceptions is not None:  # the first invocation may have died first
            exceptions.resolve(current.resolves_exception, actor="ledgerlink", note=f"posted as {stored.erp_ref}")
        return {"document_id": current.ledger_id, "status": str(status), "erp_ref": stored.erp_ref,
                "created": False, "correlation_id": current.correlation, "posting_latency_seconds": None,
                "stored_result": True}
    if stored.status in POSTABLE_STATUSES:
        raise PostingInProgress(f"{current.ledger_id} is being posted by another invocation",
                                lease_until=item.get("lease_until"))
    raise DocumentStateError(f"{current.ledger_id}: cannot post a document that is {status or 'not in the ledger'}",
                             actual=status)


def record_posting(state: JsonObject, ledger: LedgerUpdater, exceptions: ExceptionResolver | None = None, *,
                   now: float | None = None, revenue: RevenueRecording | None = None) -> PostedResult:
    """Record the ERP reference: the ledger item moves to posted (summarized) with its control totals in one
    transaction, which also drops the post step's lease."""
    current = PostingState.parse(state)
    posting, journal = current.posting, current.journal
    if posting is None or journal is None:
        raise KeyError("posting" if posting is None else "journal")
    if current.revenue:   # schedules first (idempotent puts): a retry after the transition finds them stored
        from ledgerlink.service.revenue import RevenueRecorder

        (revenue or RevenueRecorder(None)).record(state)
    now = epoch() if now is None else now
    latency = round(now - current.received_at, 3) if current.received_at is not None else None
    status = DocumentStatus.SUMMARIZED if posting.summarized else DocumentStatus.POSTED
    try:
        ledger.transition(current.ledger_id, to=status, expected=POSTABLE_STATUSES, key=counter_key(state),
                          remove=LEASE_ATTRIBUTES, **_posted_attributes(current, posting, journal, latency))
    except DocumentStateError as exc:
        # a summarized document whose bucket the flush already posted (and marked it posted): nothing to record
        if not (posting.summarized and exc.actual == DocumentStatus.POSTED):
            raise
        status = DocumentStatus.POSTED
    if current.resolves_exception and exceptions is not None:  # a replay or retry of an exception case posted it
        exceptions.resolve(current.resolves_exception, actor="ledgerlink", note=f"posted as {posting.erp_ref}")
    return {"document_id": current.ledger_id, "status": status.value, "erp_ref": posting.erp_ref,
            "created": posting.created, "correlation_id": current.correlation, "posting_latency_seconds": latency}


def _posted_attributes(state: PostingState, posting: Posting, journal: JsonObject, latency: float | None
                       ) -> dict[str, object]:
    """What the posted (summarized) transition writes on the ledger item; the journal as JSON (reversals and
    settlements read the rate it was booked at); the approval it was posted under, if any (who approved what)."""
    lines = journal.get("lines")
    return dict(erp_connection=posting.connection_id, erp_ref=posting.erp_ref, posted_at=posting.posted_at,
                posted_accounting_date=journal["accounting_date"], config_version=state.version,
                journal_lines=len(lines) if isinstance(lines, list) else 0, period_adjusted=state.period_adjusted,
                posting_latency_seconds=Decimal(str(latency)) if latency is not None and not posting.summarized
                else None,
                summary_id=posting.bucket_id, journal=json.dumps(journal, separators=(",", ":"), default=str),
                approval=state.approval.to_json() if state.approval is not None else None)


# ---- exception ------------------------------------------------------------------------------------------------------

def open_exception_step(state: JsonObject, ledger: LedgerUpdater, exceptions: ExceptionOpener,
                        task_token: str | None = None, events: EventPublisher | None = None) -> ExceptionOpened:
    """Open (or reopen) the case, move the document to ``exception`` and announce it. With a task token the
    execution waits for finance ops' decision (retry / resolve / ignore) on this case."""
    current = PostingState.parse(state)
    error = current.error or StepError(error=None, cause=None)
    # States.Timeout and other service errors come with an empty Cause: the Error name is then all we have
    rejection = rejection_from_cause(error.cause or error.error)
    reason = str(rejection.pop("reason", "unexpected_error"))
    message = str(rejection.pop("message", error.error or "posting failed"))
    fix = rejection.pop("suggested_fix", None)
    suggested_fix = str(fix) if fix is not None else None
    if reason == "unexpected_error":
        suggested_fix = suggested_fix or "transient retries were exhausted or a step failed unexpectedly; " \
                                         "check the logs by correlation id and retry"
    exception_id, _ = exceptions.open(
        subject=current.ledger_id, reason=reason, message=message, correlation_id=current.correlation,
        document_id=current.ledger_id, archive_key=current.archive_key, suggested_fix=suggested_fix,
        entity_id=current.entity_id, source=current.source_id, detail=rejection, task_token=task_token,
    )
    ledger.transition(current.ledger_id, to=DocumentStatus.EXCEPTION, expected=POSTABLE_STATUSES,
                      key=counter_key(state), remove=LEASE_ATTRIBUTES, exception_id=exception_id,
                      exception_reason=reason)
    # a retry that failed for another reason supersedes the case it was retrying (actor and note as the exceptions
    # store knows them: the same failure later reopens the superseded case, store.exceptions SUPERSEDED)
    superseded = current.resolves_exception
    if superseded and superseded != exception_id:
        exceptions.resolve(superseded, actor="ledgerlink", note=f"superseded by {exception_id} ({reason})")
    if events is not None:
        events.publish("LedgerLink Exception Opened", {
            "exception_id": exception_id, "reason": reason, "document_id": current.ledger_id,
            "entity_id": current.entity_id, "source": current.source_id,
            "correlation_id": current.correlation, "waiting_execution": bool(task_token)})
    return {"document_id": current.ledger_id, "status": DocumentStatus.EXCEPTION.value,
            "exception_id": exception_id, "reason": reason, "correlation_id": current.correlation}


# ---- connectors -----------------------------------------------------------------------------------------------------

def erp_connectors(context: ConnectorContext, *, prepare: bool = True) -> ConnectorFactory:
    """Connector factory by connection kind (``ledgerlink.connectors.erps.BUILDERS``); one connector per
    connection per container, rebuilt when the connection's configuration changes. ``prepare=False`` for
    read-only users (reconciliation): no setup writes such as opening accounts in the book."""
    built: dict[str, tuple[object, ErpConnector]] = {}

    def factory(config: LedgerLinkConfig, connection_id: str, config_version: int) -> ErpConnector:
        connection = config.connection(connection_id)
        cached = built.get(connection_id)
        if cached is None or cached[0] != connection:
            from ledgerlink.connectors.erps import BUILDERS

            builder = BUILDERS.get(connection.kind)
            if builder is None:
                raise DocumentRejected(f"connection {connection_id} of kind {connection.kind} is not supported",
                                       reason="unsupported_connection")
            cached = (connection, builder(connection, context))
            built[connection_id] = cached
        connector = cached[1]
        preparer = connector.as_preparer() if prepare else None
        if preparer is not None:  # e.g. the Beancount book opens newly mapped accounts
            preparer.prepare(config, config_version=config_version)
        return connector

    return factory


def beancount_connectors(books_uri: str) -> ConnectorFactory:
    """The factory for a deployment whose connections are Beancount books only (tests, local runs)."""
    from ledgerlink.connectors.erps import ConnectorContext

    return erp_connectors(ConnectorContext(books_uri=books_uri))
