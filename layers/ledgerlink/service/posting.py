"""The post-document state machine's task steps. Each takes the execution state and returns it, extended.

State: ``{document_id, correlation_id, source_id, archive_key, config_version, document}`` →
``+journal`` (enrich) → journal validated/re-dated (validate) → ``+posting`` (post) → ledger updated
(record). Business rule failures raise :class:`DocumentRejected` (the state machine routes them to
the exception step); infrastructure failures raise anything else and are retried by the state machine.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.base import ErpConnector
from ledgerlink.errors import DocumentRejected, rejection_from_cause
from ledgerlink.model.documents import DocumentAdapter, JournalEntry
from ledgerlink.pipeline.enrich import enrich
from ledgerlink.pipeline.validate import validate
from ledgerlink.totals import CounterKey


class VersionedConfig(Protocol):
    def get(self, version: int) -> LedgerLinkConfig: ...


def enrich_step(state: dict[str, Any], config_store: VersionedConfig) -> dict[str, Any]:
    version = int(state["config_version"])
    document = DocumentAdapter.validate_python(state["document"])
    journal = enrich(document, config_store.get(version), config_version=version)
    return {**state, "journal": journal.model_dump(mode="json")}


def validate_step(state: dict[str, Any], config_store: VersionedConfig) -> dict[str, Any]:
    journal = JournalEntry.model_validate(state["journal"])
    checked = validate(journal, config_store.get(int(state["config_version"])))
    return {**state, "journal": checked.model_dump(mode="json"),
            "period_adjusted": checked.accounting_date != journal.accounting_date}


class ConnectorFactory(Protocol):
    def __call__(self, config: LedgerLinkConfig, connection_id: str, config_version: int) -> ErpConnector: ...


def post_step(state: dict[str, Any], config_store: VersionedConfig, connectors: ConnectorFactory) -> dict[str, Any]:
    """Post once. Look the document up by external id first: the previous attempt may have posted it
    and crashed (or timed out) before recording — an uncertain outcome is resolved, never repeated."""
    version = int(state["config_version"])
    config = config_store.get(version)
    journal = JournalEntry.model_validate(state["journal"])
    connection_id = config.entity(journal.entity_id).erp_connection
    connector = connectors(config, connection_id, version)
    found = connector.find_by_external_id(journal.document_id)
    result = found or connector.post_journal(journal)
    return {**state, "posting": {"connection_id": connection_id, "erp_ref": result.erp_ref,
                                 "created": result.created,
                                 "posted_at": datetime.now(UTC).isoformat(timespec="seconds")}}


class LedgerUpdater(Protocol):
    def transition(self, document_id: str, *, to: str, expected: tuple[str, ...], key: CounterKey,
                   **attributes: Any) -> bool: ...


def counter_key(state: dict[str, Any]) -> CounterKey:
    """The control-totals key of the execution's document (same as the ledger registered it with)."""
    document = state["document"]
    amount = document.get("total") or document.get("amount") or {"amount": "0"}
    return CounterKey(entity_id=document["entity_id"], business_date=document["accounting_date"],
                      source=state.get("source_id") or document["source"].get("source_id") or "unknown",
                      currency=document["currency"], amount=Decimal(str(amount["amount"])))


class ExceptionResolver(Protocol):
    def resolve(self, exception_id: str, *, status: str = "resolved", actor: str, note: str) -> bool: ...


def record_step(state: dict[str, Any], ledger: LedgerUpdater, exceptions: ExceptionResolver | None = None, *,
                now: float | None = None) -> dict[str, Any]:
    journal = state["journal"]
    posting = state["posting"]
    now = time.time() if now is None else now
    received_at = state.get("received_at")
    latency = round(now - float(received_at), 3) if received_at else None
    ledger.transition(state["document_id"], to="posted", expected=("received", "exception"), key=counter_key(state),
                      erp_connection=posting["connection_id"], erp_ref=posting["erp_ref"], posted_at=posting["posted_at"],
                      posted_accounting_date=journal["accounting_date"], config_version=int(state["config_version"]),
                      journal_lines=len(journal["lines"]), period_adjusted=bool(state.get("period_adjusted")),
                      journal=json.dumps(journal, separators=(",", ":"), default=str),
                      posting_latency_seconds=Decimal(str(latency)) if latency is not None else None)
    resolved = state.get("resolves_exception")
    if resolved and exceptions is not None:  # a replay or retry of an exception case posted it
        exceptions.resolve(resolved, actor="ledgerlink", note=f"posted as {posting['erp_ref']}")
    return {"document_id": state["document_id"], "status": "posted", "erp_ref": posting["erp_ref"],
            "created": posting["created"], "correlation_id": state["correlation_id"],
            "posting_latency_seconds": latency}


class ExceptionOpener(Protocol):
    def open(self, **kwargs: Any) -> tuple[str, bool]: ...


def open_exception_step(state: dict[str, Any], ledger: LedgerUpdater, exceptions: ExceptionOpener) -> dict[str, Any]:
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
        entity_id=document.get("entity_id"), source=state.get("source_id"), detail=rejection,
    )
    ledger.transition(state["document_id"], to="exception", expected=("received",), key=counter_key(state),
                      exception_id=exception_id, exception_reason=reason)
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
    return erp_connectors(ConnectorContext(books_uri=books_uri))
