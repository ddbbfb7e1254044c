"""Composition root: builds each Lambda's service from its settings, once per container.

Nothing here runs at import; the first invocation reads the environment and builds adapters (whose
AWS clients are themselves lazy). ``reset()`` forgets everything (tests, local runtime restarts).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, TypedDict

from ledgerlink import settings
from ledgerlink.store import clients

if TYPE_CHECKING:   # every service and adapter is imported by the factory that builds it (cold start, D74)
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.service.bank_files import BankFileService
    from ledgerlink.service.close_check import CloseCheck
    from ledgerlink.service.flush import FlushService
    from ledgerlink.service.fx_revaluation import FxRevaluationService
    from ledgerlink.service.ingest import IngestService
    from ledgerlink.service.normalize import NormalizeService
    from ledgerlink.service.ops import OpsServices
    from ledgerlink.service.poll import PollService
    from ledgerlink.service.posting import ConnectorFactory
    from ledgerlink.service.reconcile import Reconciler
    from ledgerlink.service.revenue import ReleaseService, RevenueObserver, RevenueRecorder
    from ledgerlink.store.buckets import DynamoBuckets
    from ledgerlink.store.config_store import DynamoConfigStore
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.parties import DynamoParties
    from ledgerlink.store.reports import EventBridgePublisher
    from ledgerlink.store.revenue import DynamoRevenue


class PostDependencies(TypedDict):
    """The post step's ports, as keywords of ``service.posting.post_document_step``."""

    ledger: DynamoLedger
    config_store: DynamoConfigStore
    connectors: ConnectorFactory
    buckets: DynamoBuckets
    exceptions: DynamoExceptions
    revenue: RevenueRecorder


@cache
def _config_store(table: str, cache_seconds: int) -> DynamoConfigStore:
    from ledgerlink.store.config_store import DynamoConfigStore

    return DynamoConfigStore(table, cache_seconds=cache_seconds)


@cache
def ingest_service() -> IngestService:
    from ledgerlink.service.ingest import IngestService
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.queue import SqsQueue
    from ledgerlink.store.secrets import SecretsManagerSecrets

    s = settings.read_settings(settings.IngestSettings)
    return IngestService(
        config=_config_store(s.config_table, s.config_cache_seconds).active_raw,
        secrets=SecretsManagerSecrets(),
        inbox=DynamoInbox(s.inbox_table, totals_table=s.totals_table, retention_days=s.inbox_retention_days),
        archive=S3Archive(s.archive_bucket),
        queue=SqsQueue(s.inbound_queue_url),
    )


@cache
def normalize_service() -> NormalizeService:
    from ledgerlink.service.fetch import SourceFetcher
    from ledgerlink.service.normalize import NormalizeService
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.parties import DynamoParties
    from ledgerlink.store.secrets import SecretsManagerSecrets
    from ledgerlink.store.workflow import StepFunctionsWorkflow

    s = settings.read_settings(settings.NormalizeSettings)
    archive = S3Archive(s.archive_bucket)
    return NormalizeService(
        config=_config_store(s.config_table, s.config_cache_seconds),
        archive=archive,
        fetcher=SourceFetcher(credentials=SecretsManagerSecrets(), archive=archive),
        inbox=DynamoInbox(s.inbox_table, totals_table=s.totals_table),
        ledger=DynamoLedger(s.ledger_table, totals_table=s.totals_table),
        exceptions=DynamoExceptions(s.exceptions_table),
        workflow=StepFunctionsWorkflow(s.state_machine_arn, happy_path_arn=s.happy_path_state_machine_arn),
        parties=DynamoParties(s.parties_table),
        revenue=_revenue_observer(s.revenue_table),
    )


def _revenue_store(table: str) -> DynamoRevenue | None:
    from ledgerlink.store.revenue import DynamoRevenue

    return DynamoRevenue(table) if table else None


def _revenue_observer(table: str) -> RevenueObserver:
    from ledgerlink.service.revenue import RevenueObserver

    return RevenueObserver(_revenue_store(table))


@cache
def revenue_recorder() -> RevenueRecorder:
    """The post step's writer of revenue schedule facts (raises if facts come and no table is configured)."""
    from ledgerlink.service.revenue import RevenueRecorder

    return RevenueRecorder(_revenue_store(settings.read_settings(settings.PostSettings).revenue_table))


@cache
def revenue_release_service() -> ReleaseService:
    from ledgerlink.service.posting import erp_connectors
    from ledgerlink.service.revenue import ReleaseService
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.revenue import DynamoRevenue

    s = settings.read_settings(settings.RevenueReleaseSettings)
    return ReleaseService(
        config=_config_store(s.config_table, s.config_cache_seconds), store=DynamoRevenue(s.revenue_table),
        ledger=DynamoLedger(s.ledger_table, totals_table=s.totals_table), exceptions=DynamoExceptions(s.exceptions_table),
        connectors=erp_connectors(_connector_context(s.books_uri, s.legacy_files_uri, s.limiter_table)))


@cache
def fx_revaluation_service() -> FxRevaluationService:
    """The period-end FX revaluation, run by the release function after the release (same settings, D90)."""
    from ledgerlink.service.fx_revaluation import FxRevaluationService
    from ledgerlink.service.posting import erp_connectors
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.ledger import DynamoLedger

    s = settings.read_settings(settings.RevenueReleaseSettings)
    return FxRevaluationService(
        config=_config_store(s.config_table, s.config_cache_seconds),
        ledger=DynamoLedger(s.ledger_table, totals_table=s.totals_table), exceptions=DynamoExceptions(s.exceptions_table),
        connectors=erp_connectors(_connector_context(s.books_uri, s.legacy_files_uri, s.limiter_table)))


@cache
def config_reader() -> DynamoConfigStore:
    s = settings.read_settings(settings.ConfigReaderSettings)
    return _config_store(s.config_table, s.config_cache_seconds)


@cache
def enrich_dependencies() -> tuple[DynamoConfigStore, DynamoLedger]:
    """(config store, posting ledger): reversals read the original's posted journal."""
    from ledgerlink.store.ledger import DynamoLedger

    s = settings.read_settings(settings.EnrichSettings)
    # read-only (get): no status change, so no control totals to write
    return _config_store(s.config_table, s.config_cache_seconds), DynamoLedger(s.ledger_table, totals_table="")


def _connector_context(books_uri: str, legacy_files_uri: str, limiter_table: str) -> ConnectorContext:
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.store.limiter import DynamoLimiters
    from ledgerlink.store.secrets import SecretsManagerSecrets

    return ConnectorContext(books_uri=books_uri, secrets=SecretsManagerSecrets(), legacy_files_uri=legacy_files_uri,
                            limiters=DynamoLimiters(limiter_table))


@cache
def post_dependencies() -> PostDependencies:
    """The post step's ports, as keywords of ``service.posting.post_document_step``: the posting ledger (lease,
    stored result, posted transition), configuration, ERP connectors, summary buckets, exception cases and the
    revenue recorder."""
    from ledgerlink.service.posting import erp_connectors
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.ledger import DynamoLedger

    s = settings.read_settings(settings.PostSettings)
    return {"ledger": DynamoLedger(s.ledger_table, totals_table=s.totals_table),
            "config_store": _config_store(s.config_table, s.config_cache_seconds),
            "connectors": erp_connectors(_connector_context(s.books_uri, s.legacy_files_uri, s.limiter_table)),
            "buckets": summary_buckets(), "exceptions": DynamoExceptions(s.exceptions_table),
            "revenue": revenue_recorder()}


@cache
def summary_buckets() -> DynamoBuckets:
    from ledgerlink.store.buckets import DynamoBuckets

    return DynamoBuckets(settings.read_settings(settings.PostSettings).buckets_table)


@cache
def flush_service() -> FlushService:
    from ledgerlink.service.flush import FlushService
    from ledgerlink.service.posting import erp_connectors
    from ledgerlink.store.buckets import DynamoBuckets
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.ledger import DynamoLedger

    s = settings.read_settings(settings.FlushSettings)
    return FlushService(
        config=_config_store(s.config_table, s.config_cache_seconds), buckets=DynamoBuckets(s.buckets_table),
        connectors=erp_connectors(_connector_context(s.books_uri, s.legacy_files_uri, s.limiter_table)),
        ledger=DynamoLedger(s.ledger_table, totals_table=s.totals_table), exceptions=DynamoExceptions(s.exceptions_table))


@cache
def exception_stores() -> tuple[DynamoLedger, DynamoExceptions, EventBridgePublisher]:
    """(ledger, exception cases, EventBridge publisher) for the open-exception step."""
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.reports import EventBridgePublisher

    s = settings.read_settings(settings.ExceptionSettings)
    return (DynamoLedger(s.ledger_table, totals_table=s.totals_table), DynamoExceptions(s.exceptions_table),
            EventBridgePublisher(s.event_bus_name))


@cache
def master_data_dependencies() -> tuple[DynamoConfigStore, ConnectorFactory, DynamoParties]:
    """(config store, connector factory, parties cross-references) for the master-data step."""
    from ledgerlink.service.posting import erp_connectors
    from ledgerlink.store.parties import DynamoParties

    s = settings.read_settings(settings.MasterDataSettings)
    connectors = erp_connectors(_connector_context(s.books_uri, s.legacy_files_uri, s.limiter_table))
    return _config_store(s.config_table, s.config_cache_seconds), connectors, DynamoParties(s.parties_table)


@cache
def reconciler() -> Reconciler:
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.service.backfill import Backfiller
    from ledgerlink.service.posting import erp_connectors
    from ledgerlink.service.reconcile import Reconciler
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.control_totals import DynamoControlTotals
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.limiter import DynamoLimiters
    from ledgerlink.store.queue import SqsQueue
    from ledgerlink.store.reports import EventBridgePublisher, S3Reports
    from ledgerlink.store.secrets import SecretsManagerSecrets

    s = settings.read_settings(settings.ReconcileSettings)
    secrets = SecretsManagerSecrets()
    inbox = DynamoInbox(s.inbox_table, totals_table=s.totals_table)
    return Reconciler(
        config=_config_store(s.config_table, s.config_cache_seconds).active,
        totals=DynamoControlTotals(s.totals_table),
        inbox=inbox,
        ledger=DynamoLedger(s.ledger_table, totals_table=s.totals_table),
        connectors=erp_connectors(ConnectorContext(books_uri=s.books_uri, secrets=secrets,
                                                   legacy_files_uri=s.legacy_files_uri,
                                                   limiters=DynamoLimiters(s.limiter_table)), prepare=False),
        reports=S3Reports(s.reports_bucket),
        events=EventBridgePublisher(s.event_bus_name),
        stuck_after_seconds=s.stuck_after_seconds,
        backfiller=Backfiller(secrets=secrets, inbox=inbox, archive=S3Archive(s.archive_bucket),
                              queue=SqsQueue(s.inbound_queue_url)),
        exceptions=DynamoExceptions(s.exceptions_table),
    )


def close_check_service() -> CloseCheck:
    """The month-end close check: the active configuration, the ledger, the books, the revenue schedules and the
    archived payout contents (the ops API's Lambda, the CLI on a target, the demo)."""
    from ledgerlink.connectors.erps import ConnectorContext
    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.service.close_check import CloseCheck, settled_sources_from_archive
    from ledgerlink.service.posting import erp_connectors
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.revenue import DynamoRevenue
    from ledgerlink.store.secrets import SecretsManagerSecrets

    s = settings.read_settings(settings.OpsSettings)
    version, config = _config_store(s.config_table, s.config_cache_seconds).active()
    connectors = erp_connectors(ConnectorContext(books_uri=s.books_uri, secrets=SecretsManagerSecrets(),
                                                 legacy_files_uri=s.legacy_files_uri), prepare=False)

    def book_for(entity_id: str) -> BeancountBook | None:
        connector = connectors(config, config.entity(entity_id).erp_connection, version)
        return connector if isinstance(connector, BeancountBook) else None

    revenue = DynamoRevenue(s.revenue_table)
    return CloseCheck(config=config, ledger_items=DynamoLedger(s.ledger_table, totals_table="").scan,
                      book_for=book_for, schedules=lambda entity_id: revenue.entity_lines(entity_id),
                      settled_sources=settled_sources_from_archive(S3Archive(s.archive_bucket).get))


@cache
def bank_file_service() -> BankFileService:
    from ledgerlink.service.bank_files import BankFileService
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.queue import SqsQueue

    s = settings.read_settings(settings.BankFileSettings)
    archive = S3Archive(s.archive_bucket)
    return BankFileService(
        config=_config_store(s.config_table, s.config_cache_seconds).active_raw, reader=archive, archive=archive,
        inbox=DynamoInbox(s.inbox_table, totals_table=s.totals_table, retention_days=s.inbox_retention_days),
        queue=SqsQueue(s.inbound_queue_url))


@cache
def ops_services() -> OpsServices:
    from ledgerlink.ops.replay import Replayer
    from ledgerlink.service.exceptions import ExceptionsService
    from ledgerlink.service.ops import OpsServices
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.audit import DynamoAudit
    from ledgerlink.store.exceptions import DynamoExceptions
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.queue import SqsQueue
    from ledgerlink.store.workflow import StepFunctionsWorkflow

    s = settings.read_settings(settings.OpsSettings)
    config_store = _config_store(s.config_table, s.config_cache_seconds)
    config = config_store.active
    ledger_store = DynamoLedger(s.ledger_table, totals_table=s.totals_table)
    inbox = DynamoInbox(s.inbox_table, totals_table=s.totals_table)
    cases = DynamoExceptions(s.exceptions_table)
    workflow = StepFunctionsWorkflow(s.state_machine_arn)
    replayer = Replayer(config=config, archive=S3Archive(s.archive_bucket), ledger=ledger_store, inbox=inbox,
                        queue=SqsQueue(s.inbound_queue_url))
    exceptions = ExceptionsService(cases=cases, ledger=ledger_store, workflow=workflow,
                                   audit=DynamoAudit(s.audit_table), config=config, replayer=replayer,
                                   versions=config_store)
    return OpsServices(exceptions=exceptions, ledger=ledger_store, inbox=inbox, cases=cases, workflow=workflow,
                       config=config)


@cache
def poll_service() -> PollService:
    from ledgerlink.service.fetch import SourceFetcher
    from ledgerlink.service.poll import PollService
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.cursors import DynamoCursors
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.queue import SqsQueue
    from ledgerlink.store.secrets import SecretsManagerSecrets

    s = settings.read_settings(settings.PollSettings)
    archive = S3Archive(s.archive_bucket)
    return PollService(
        config=_config_store(s.config_table, s.config_cache_seconds).active,
        sessions=SourceFetcher(credentials=SecretsManagerSecrets(), archive=archive),
        inbox=DynamoInbox(s.inbox_table, totals_table=s.totals_table, retention_days=s.inbox_retention_days),
        archive=archive, queue=SqsQueue(s.inbound_queue_url), cursors=DynamoCursors(s.cursors_table))


def reset() -> None:
    for function in (_config_store, ingest_service, normalize_service, config_reader, post_dependencies,
                     exception_stores, reconciler, bank_file_service, ops_services, poll_service,
                     enrich_dependencies, summary_buckets, flush_service, master_data_dependencies, revenue_recorder,
                     revenue_release_service, fx_revaluation_service):
        function.cache_clear()
    clients.reset()
