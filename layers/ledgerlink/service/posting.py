"""The post-document state machine's task steps. Each takes the execution state and returns it, extended.

State: ``{document_id, correlation_id, source_id, archive_key, config_version, document}`` →
``+journal`` (enrich) → journal validated/re-dated (validate) → posted and recorded in the ledger (post:
:func:`post_document_step` = lease, :func:`post_step`, :func:`record_posting`). Business rule failures raise
:class:`DocumentRejected` (the state machine routes them to the exception step); infrastructure failures raise
anything else and are retried by the state machine.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from ledgerlink.clock import epoch
from ledgerlink.clock import now as clock_now
from ledgerlink.errors import DocumentRejected, PostingInProgress, TransientError, rejection_from_cause
from ledgerlink.totals import CounterKey

if TYPE_CHECKING:   # models, pipeline and connectors are imported by the steps that use them (cold start, D74)
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.connectors.erps.base import ErpConnector
    from ledgerlink.model.documents import JournalEntry

# The post step's lease on the ledger item (D73): at least the post Lambda's timeout (60 s) and the Post state's
# TimeoutSeconds (120 s), so a lease outlives the invocation that took it; the PostingInProgress retrier of the
# Post state waits longer than one lease in all. tests/infra checks both against the template.
POST_LEASE_SECONDS = 120
LEASE_ATTRIBUTES = ("lease_until", "lease_holder")


class VersionedConfig(Protocol):
    def get(self, version: int) -> LedgerLinkConfig: ...


class PostedJournals(Protocol):
    """The posting ledger, read by document id (compensation needs the original's posted journal)."""

    def get(self, document_id: str) -> dict[str, Any] | None: ...


def enrich_step(state: dict[str, Any], config_store: VersionedConfig,
                originals: PostedJournals | None = None) -> dict[str, Any]:
    from ledgerlink.model.documents import DocumentAdapter
    from ledgerlink.pipeline.enrich import enrich

    version = int(state["config_version"])
    document = DocumentAdapter.validate_python(state["document"])
    config = config_store.get(version)
    posted_as = document
    if document.document_type == "reversal":
        from ledgerlink.pipeline.compensation import reversal_journal

        original = original_journal(document.original_document_id, originals)  # type: ignore[union-attr]
        journal = reversal_journal(document, original, config_version=version)  # type: ignore[arg-type]
    else:
        from ledgerlink.pipeline import revenue

        posted_as = revenue.defer(document, config)   # revenue policy: covered lines credit deferred revenue
        refunded = refunded_document_id(document)
        if refunded is not None:   # a refund shares its invoice's tax (D88)
            from ledgerlink.pipeline.refund_tax import with_refunded_tax

            posted_as = with_refunded_tax(document, refunded_document(refunded, originals))  # type: ignore[arg-type]
        journal = enrich(posted_as, config, config_version=version)
    journal = engine_adjustments(document, journal, config, originals)
    return {**state, "journal": journal.model_dump(mode="json"),
            **revenue_facts(document, posted_as, journal, config)}


def revenue_facts(document: Any, posted_as: Any, journal: JournalEntry, config: LedgerLinkConfig) -> dict[str, Any]:
    """``{"revenue": facts}`` when the document contributes to revenue schedules (the post step stores them)."""
    from ledgerlink.pipeline import revenue
    from ledgerlink.pipeline.enrich import Accounts

    if document.document_type == "reversal":   # a voided invoice stops its schedules (D89)
        voided = revenue.void_facts(document, journal, config)
        return {"revenue": voided.model_dump(mode="json")} if voided else {}
    accounts = Accounts(config, journal.entity_id, document.source.source_id or document.source.system)
    found = revenue.facts(document, posted_as, journal, config, accounts)
    return {"revenue": found.model_dump(mode="json")} if found else {}


def engine_adjustments(document: Any, journal: JournalEntry, config: LedgerLinkConfig,
                       originals: PostedJournals | None = None) -> JournalEntry:
    """Posting-engine steps after the posting rules: compensation links, then FX conversion to the base currency,
    then — for a converted document that settles an invoice — its receivable and tax relieved at the invoice's
    booked rate, the difference to realized FX (D90)."""
    from ledgerlink.pipeline.compensation import compensation_links
    from ledgerlink.pipeline.enrich import Accounts
    from ledgerlink.pipeline.fx import (
        REALIZED_ROLE,
        ROUNDING_ROLE,
        SETTLED_ROLES,
        convert_to_base,
        settle_at_booked_rates,
    )

    links = tuple(dict.fromkeys((*journal.related_document_ids, *compensation_links(document))))
    if links != journal.related_document_ids:
        journal = journal.model_copy(update={"related_document_ids": links})
    accounts = Accounts(config, journal.entity_id, document.source.source_id or document.source.system)
    converted = convert_to_base(journal, config, lambda: accounts.get(ROUNDING_ROLE))
    settled = settled_document_id(document)
    if converted is journal or settled is None or not any(
            line.role in SETTLED_ROLES and line.original_amount is not None for line in converted.lines):
        return converted
    return settle_at_booked_rates(converted, booked_journal(settled, originals),
                                  lambda: accounts.get(REALIZED_ROLE))


def settled_document_id(document: Any) -> str | None:
    """The invoice whose receivable (or tax) a document relieves: what a payment, refund or credit-note refund
    applies to, what a credit note or write-off names, the invoice a bank line was cash-applied to."""
    fields = document.__dict__
    if document.document_type in ("payment", "bank_transaction"):
        return fields.get("applies_to_document_id")  # type: ignore[no-any-return]
    if document.document_type in ("credit_note", "write_off"):
        return fields.get("original_document_id")  # type: ignore[no-any-return]
    return None


def booked_journal(document_id: str, originals: PostedJournals | None) -> JournalEntry:
    """The settled invoice's posted journal: the rate its receivable and tax were booked at. Not known or not posted
    yet → wait (retried, then a case naming it); in a case or ignored → a case: settling it at a guessed rate is
    refused."""
    return _posted_journal(document_id, originals, wait_if_unknown=True, not_posted=lambda status: DocumentRejected(
        f"{document_id}, which this document settles, was not posted ({status}): the rate its receivable was booked "
        "at is unknown", reason="fx_booked_rate_unknown", original=document_id,
        suggested_fix="post (or resolve) the settled document first, then retry this one"),
        pending=lambda: TransientError(f"{document_id}, which this document settles in a foreign currency, is not "
                                       "posted yet", reason="fx_booked_rate_pending", original=document_id))


def original_journal(document_id: str, originals: PostedJournals | None) -> JournalEntry:
    """The posted journal a reversal undoes, from the posting ledger."""
    return _posted_journal(document_id, originals, wait_if_unknown=False, not_posted=lambda status: DocumentRejected(
        f"the original document {document_id} was not posted ({status})", reason="original_not_posted",
        original=document_id, suggested_fix="post (or resolve) the original first, then retry this reversal"),
        pending=lambda: TransientError(f"the original document {document_id} is still being posted",
                                       reason="original_pending"))


def _posted_journal(document_id: str, originals: PostedJournals | None, *, wait_if_unknown: bool,
                    not_posted: Callable[[str], DocumentRejected], pending: Callable[[], TransientError]) -> JournalEntry:
    """Another document's posted journal from the posting ledger: in a case or ignored (or unknown, unless
    ``wait_if_unknown``) → ``not_posted``; still being posted → ``pending`` (the state machine retries it)."""
    item = originals.get(document_id) if originals is not None else None
    status = (item or {}).get("status")
    if status in ("exception", "ignored") or (item is None and not wait_if_unknown):
        raise not_posted(status or "unknown")
    if item is None or status == "received" or not item.get("journal"):
        raise pending()
    from ledgerlink.model.documents import JournalEntry

    return JournalEntry.model_validate_json(item["journal"])


def refunded_document_id(document: Any) -> str | None:
    """What a refund refunds (its invoice, for a Stripe refund), or None for any other document."""
    if document.document_type == "payment" and document.direction == "refunded":
        return document.applies_to_document_id  # type: ignore[no-any-return]
    return None


def refunded_document(document_id: str, originals: PostedJournals | None) -> Any:
    """The document a refund names (its invoice, whose tax it shares, D88), as the source reported it: from the
    posting ledger, posted or not. Not known yet (the refund arrived first) → wait: a :class:`TransientError` the
    state machine retries; when it gives up, the case names the invoice and a retry after it arrived posts."""
    item = originals.get(document_id) if originals is not None else None
    if item is None or not isinstance(item.get("document"), str):
        raise TransientError(f"the document {document_id} this refund refunds is not known yet: its tax share "
                             "cannot be computed", reason="refunded_invoice_pending", original=document_id)
    from ledgerlink.model.documents import DocumentAdapter

    return DocumentAdapter.validate_json(item["document"])


def validate_step(state: dict[str, Any], config_store: VersionedConfig) -> dict[str, Any]:
    from ledgerlink.model.documents import JournalEntry
    from ledgerlink.pipeline.validate import validate

    journal = JournalEntry.model_validate(state["journal"])
    checked = validate(journal, config_store.get(int(state["config_version"])),
                       document_type=(state.get("document") or {}).get("document_type"))
    return {**state, "journal": checked.model_dump(mode="json"),
            "period_adjusted": checked.accounting_date != journal.accounting_date}


class ConnectorFactory(Protocol):
    def __call__(self, config: LedgerLinkConfig, connection_id: str, config_version: int) -> ErpConnector: ...


class BucketPort(Protocol):
    def add(self, document_id: str, scope: Any, contributions: list[Any], *, correlation_id: str) -> Any: ...


def post_step(state: dict[str, Any], config_store: VersionedConfig, connectors: ConnectorFactory,
              buckets: BucketPort | None = None) -> dict[str, Any]:
    """Post once. Look the document up by external id first: the previous attempt may have posted it
    and crashed (or timed out) before recording — an uncertain outcome is resolved, never repeated.

    The posting engine decides where and how: the entity's route (cutover → legacy target), the posting
    policy (summarized documents go into a bucket, posted later by the flush), the ERP's own period status
    (entity policy), and ERP-native documents where the policy asks for them."""
    from ledgerlink.model.documents import JournalEntry
    from ledgerlink.pipeline.route import route

    version = int(state["config_version"])
    config = config_store.get(version)
    journal = JournalEntry.model_validate(state["journal"])
    document_type = (state.get("document") or {}).get("document_type") or journal.document_type
    source_id = state.get("source_id") or journal.source.source_id or journal.source.system
    policy = config.policy_for(source_id, document_type)
    connection_id = route(config, journal.entity_id, journal.accounting_date).connection_id
    if policy.mode == "summarized" and buckets is not None:
        summarized = summarize_into(buckets, journal, connection_id, source_id, document_type)
        if summarized is not None:
            return {**state, "posting": summarized}
    connector = connectors(config, connection_id, version)
    checked = _erp_period_gate(journal, config, connector)
    if checked.accounting_date != journal.accounting_date:
        journal = checked
        rerouted = route(config, journal.entity_id, journal.accounting_date).connection_id
        if rerouted != connection_id:
            connection_id, connector = rerouted, connectors(config, rerouted, version)
    found = _find(connector, journal, state, policy.post_as)
    result = found or _post(connector, journal, state, policy.post_as)
    return {**state, "journal": journal.model_dump(mode="json"),
            "posting": {"connection_id": connection_id, "erp_ref": result.erp_ref, "created": result.created,
                        "posted_at": clock_now().isoformat(timespec="seconds")}}


def _erp_period_gate(journal: JournalEntry, config: LedgerLinkConfig, connector: ErpConnector) -> JournalEntry:
    from ledgerlink.pipeline.periods import apply_erp_period

    entity = config.entity(journal.entity_id)
    return apply_erp_period(journal, entity, connector.period_status(entity, journal.accounting_date))


def _native(connector: ErpConnector, journal: JournalEntry, state: dict[str, Any], post_as: str) -> Any:
    from ledgerlink.connectors.erps.base import supports_documents
    from ledgerlink.pipeline.erp_documents import erp_document

    if post_as == "document" and supports_documents(connector) and state.get("document"):
        from ledgerlink.model.documents import DocumentAdapter

        return erp_document(DocumentAdapter.validate_python(state["document"]), journal)
    return None


def _find(connector: ErpConnector, journal: JournalEntry, state: dict[str, Any], post_as: str) -> Any:
    """The lookup before any write, narrowed to what this document posts as (one call for an API ERP)."""
    from ledgerlink.connectors.erps.base import find_existing

    native = _native(connector, journal, state, post_as)
    if native is None:
        return find_existing(connector, journal.document_id, "journal")
    return find_existing(connector, journal.document_id, native.kind) or find_existing(
        connector, journal.document_id, "journal")   # it may have fallen back to a journal before


def _post(connector: ErpConnector, journal: JournalEntry, state: dict[str, Any], post_as: str) -> Any:
    """An ERP-native document where the policy asks for one and the connector and document allow it; else
    the journal (which every connector posts)."""
    from ledgerlink.connectors.erps.base import post_erp_document

    native = _native(connector, journal, state, post_as)
    if native is not None:
        try:
            return post_erp_document(connector, native)  # type: ignore[arg-type]
        except DocumentRejected as exc:
            if exc.reason != "unsupported_document":
                raise
    return connector.post_journal(journal)


def summarize_into(buckets: BucketPort, journal: JournalEntry, connection_id: str, source_id: str,
                   document_type: str) -> dict[str, Any] | None:
    """Add the journal to its bucket (exactly once). None: it cannot be summarized (several currencies, more
    lines than one transaction holds) and posts line-level instead."""
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
    return {"connection_id": connection_id, "erp_ref": f"bucket:{membership.bucket_id}", "created": membership.added,
            "summarized": True, "bucket_id": membership.bucket_id,
            "posted_at": clock_now().isoformat(timespec="seconds")}


class LedgerUpdater(Protocol):
    def transition(self, document_id: str, *, to: str, expected: tuple[str, ...], key: CounterKey,
                   **attributes: Any) -> bool: ...


class PostingLedger(LedgerUpdater, Protocol):
    """The posting ledger as the post step uses it: its item is the step's idempotency record."""

    def take_lease(self, document_id: str, *, holder: str, seconds: int, now: float | None = None) -> Any: ...
    def release_lease(self, document_id: str, *, holder: str) -> bool: ...


def counter_key(state: dict[str, Any]) -> CounterKey:
    """The control-totals key of the execution's document (same as the ledger registered it with)."""
    document = state["document"]
    amount = document.get("total") or document.get("amount") or {"amount": "0"}
    return CounterKey(entity_id=document["entity_id"], business_date=document["accounting_date"],
                      source=state.get("source_id") or document["source"].get("source_id") or "unknown",
                      currency=document["currency"], amount=Decimal(str(amount["amount"])))


class ExceptionResolver(Protocol):
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool: ...


def post_document_step(state: dict[str, Any], *, ledger: PostingLedger, config_store: VersionedConfig,
                       connectors: ConnectorFactory, buckets: BucketPort | None = None,
                       exceptions: ExceptionResolver | None = None, revenue: Any = None, now: float | None = None,
                       lease_seconds: int | None = None) -> dict[str, Any]:
    """The Post state: post the document once and record it, with the ledger item as the idempotency record.

    1. Lease the ledger item (one conditional write). Refused because the document is posted (or summarized)
       already — a re-invocation after a lost result — the stored result is returned without calling the ERP;
       refused because another invocation holds a live lease, :class:`PostingInProgress` (retried by the ASL).
    2. Post (:func:`post_step`: the ERP lookup by external id first, then the write, or the summary bucket).
    3. Record the posting and its control totals in one transaction (:func:`record_posting`), dropping the lease.

    A crash between 2 and 3 leaves a lease that runs out; the retry after it finds the posting by external id
    (guard 3 of D11). A failure this invocation sees gives the lease back at once, so the retry need not wait."""
    holder = uuid.uuid4().hex
    lease = ledger.take_lease(state["document_id"], holder=holder, seconds=lease_seconds or POST_LEASE_SECONDS,
                              now=now)
    if not lease.taken:
        return stored_result(state, lease.item, exceptions)
    try:
        posted = post_step(state, config_store, connectors, buckets)
        return record_posting(posted, ledger, exceptions, now=now, revenue=revenue)
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the lease runs out on its own; the first error matters
            ledger.release_lease(state["document_id"], holder=holder)
        raise


def stored_result(state: dict[str, Any], item: dict[str, Any], exceptions: ExceptionResolver | None = None
                  ) -> dict[str, Any]:
    """The answer of a post step whose lease was refused, from the ledger item as it was."""
    document_id, status = state["document_id"], item.get("status")
    if status in ("posted", "summarized"):
        resolved = state.get("resolves_exception")
        if resolved and exceptions is not None:  # the first invocation may have died before resolving it
            exceptions.resolve(resolved, actor="ledgerlink", note=f"posted as {item.get('erp_ref')}")
        return {"document_id": document_id, "status": status, "erp_ref": item.get("erp_ref"), "created": False,
                "correlation_id": state["correlation_id"], "posting_latency_seconds": None, "stored_result": True}
    if status in ("received", "exception"):
        raise PostingInProgress(f"{document_id} is being posted by another invocation",
                                lease_until=item.get("lease_until"))
    from ledgerlink.store.ledger import DocumentStateError

    raise DocumentStateError(f"{document_id}: cannot post a document that is {status or 'not in the ledger'}",
                             actual=status)


def record_posting(state: dict[str, Any], ledger: LedgerUpdater, exceptions: ExceptionResolver | None = None, *,
                   now: float | None = None, revenue: Any = None) -> dict[str, Any]:
    """Record the ERP reference: the ledger item moves to posted (summarized) with its control totals in one
    transaction, which also drops the post step's lease."""
    journal = state["journal"]
    posting = state["posting"]
    if state.get("revenue"):   # schedules first (idempotent puts): a retry after the transition finds them stored
        from ledgerlink.service.revenue import RevenueRecorder

        (revenue or RevenueRecorder(None)).record(state)
    now = epoch() if now is None else now
    received_at = state.get("received_at")
    latency = round(now - float(received_at), 3) if received_at else None
    summarized = bool(posting.get("summarized"))
    attributes = dict(erp_connection=posting["connection_id"], erp_ref=posting["erp_ref"], posted_at=posting["posted_at"],
                      posted_accounting_date=journal["accounting_date"], config_version=int(state["config_version"]),
                      journal_lines=len(journal["lines"]), period_adjusted=bool(state.get("period_adjusted")),
                      posting_latency_seconds=Decimal(str(latency)) if latency is not None and not summarized else None,
                      summary_id=posting.get("bucket_id"),
                      journal=json.dumps(journal, separators=(",", ":"), default=str))  # reversals mirror it
    status = "summarized" if summarized else "posted"
    from ledgerlink.store.ledger import DocumentStateError

    try:
        ledger.transition(state["document_id"], to=status, expected=("received", "exception"),
                          key=counter_key(state), remove=LEASE_ATTRIBUTES, **attributes)
    except DocumentStateError as exc:
        # a summarized document whose bucket the flush already posted (and marked it posted): nothing to record
        if not (summarized and exc.actual == "posted"):
            raise
        status = "posted"
    resolved = state.get("resolves_exception")
    if resolved and exceptions is not None:  # a replay or retry of an exception case posted it
        exceptions.resolve(resolved, actor="ledgerlink", note=f"posted as {posting['erp_ref']}")
    return {"document_id": state["document_id"], "status": status, "erp_ref": posting["erp_ref"],
            "created": posting["created"], "correlation_id": state["correlation_id"],
            "posting_latency_seconds": latency}


class ExceptionOpener(Protocol):
    def open(self, **kwargs: Any) -> tuple[str, bool]: ...


def open_exception_step(state: dict[str, Any], ledger: LedgerUpdater, exceptions: ExceptionOpener,
                        task_token: str | None = None, events: Any = None) -> dict[str, Any]:
    """Open (or reopen) the case, move the document to ``exception`` and announce it. With a task token the
    execution waits for finance ops' decision (retry / resolve / ignore) on this case."""
    error = state.get("error") or {}
    # States.Timeout and other service errors come with an empty Cause: the Error name is then all we have
    rejection = rejection_from_cause(error.get("Cause") or error.get("Error"))
    reason = str(rejection.pop("reason", "unexpected_error"))
    message = str(rejection.pop("message", error.get("Error", "posting failed")))
    suggested_fix = rejection.pop("suggested_fix", None)
    if reason == "unexpected_error":
        suggested_fix = suggested_fix or "transient retries were exhausted or a step failed unexpectedly; " \
                                         "check the logs by correlation id and retry"
    document = state.get("document") or {}
    exception_id, _ = exceptions.open(
        subject=state["document_id"], reason=reason, message=message, correlation_id=state["correlation_id"],
        document_id=state["document_id"], archive_key=state.get("archive_key"), suggested_fix=suggested_fix,
        entity_id=document.get("entity_id"), source=state.get("source_id"), detail=rejection, task_token=task_token,
    )
    ledger.transition(state["document_id"], to="exception", expected=("received", "exception"),
                      key=counter_key(state), remove=LEASE_ATTRIBUTES, exception_id=exception_id,
                      exception_reason=reason)
    # a retry that failed for another reason supersedes the case it was retrying
    superseded = state.get("resolves_exception")
    if superseded and superseded != exception_id and hasattr(exceptions, "resolve"):
        exceptions.resolve(superseded, actor="ledgerlink", note=f"superseded by {exception_id} ({reason})")
    if events is not None:
        events.publish("LedgerLink Exception Opened", {
            "exception_id": exception_id, "reason": reason, "document_id": state["document_id"],
            "entity_id": document.get("entity_id"), "source": state.get("source_id"),
            "correlation_id": state["correlation_id"], "waiting_execution": bool(task_token)})
    return {"document_id": state["document_id"], "status": "exception", "exception_id": exception_id,
            "reason": reason, "correlation_id": state["correlation_id"]}


def erp_connectors(context: ConnectorContext, *, prepare: bool = True) -> ConnectorFactory:
    """Connector factory by connection kind (``ledgerlink.connectors.erps.BUILDERS``); one connector per
    connection per container, rebuilt when the connection's configuration changes. ``prepare=False`` for
    read-only users (reconciliation): no setup writes such as opening accounts in the book."""
    built: dict[str, tuple[Any, ErpConnector]] = {}

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
        setup = getattr(connector, "prepare", None) if prepare else None
        if setup is not None:  # e.g. the Beancount book opens newly mapped accounts
            setup(config, config_version=config_version)
        return connector

    return factory


def beancount_connectors(books_uri: str) -> ConnectorFactory:
    """The factory for a deployment whose connections are Beancount books only (tests, local runs)."""
    from ledgerlink.connectors.erps import ConnectorContext

    return erp_connectors(ConnectorContext(books_uri=books_uri))
