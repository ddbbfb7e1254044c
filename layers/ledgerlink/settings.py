"""Lambda settings, read once at the handler boundary from environment variables.

The variable names below are the contract between ``infra/`` (which sets them) and ``functions/``
(which read them); infra tests check that every function gets exactly what its settings class needs.
Settings are frozen dataclasses rather than pydantic models so the ingest hot path does not import
pydantic (cold start, see docs/decisions.md). Only names and ARNs live here — never secret values.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.errors import ConfigError

STAGE = "LEDGERLINK_STAGE"
CONFIG_TABLE = "LEDGERLINK_CONFIG_TABLE"
INBOX_TABLE = "LEDGERLINK_INBOX_TABLE"
LEDGER_TABLE = "LEDGERLINK_LEDGER_TABLE"
EXCEPTIONS_TABLE = "LEDGERLINK_EXCEPTIONS_TABLE"
TOTALS_TABLE = "LEDGERLINK_TOTALS_TABLE"
AUDIT_TABLE = "LEDGERLINK_AUDIT_TABLE"
PARTIES_TABLE = "LEDGERLINK_PARTIES_TABLE"
CURSORS_TABLE = "LEDGERLINK_CURSORS_TABLE"
REPORTS_BUCKET = "LEDGERLINK_REPORTS_BUCKET"
EVENT_BUS_NAME = "LEDGERLINK_EVENT_BUS_NAME"
STUCK_AFTER_SECONDS = "LEDGERLINK_STUCK_AFTER_SECONDS"
ARCHIVE_BUCKET = "LEDGERLINK_ARCHIVE_BUCKET"
INBOUND_QUEUE_URL = "LEDGERLINK_INBOUND_QUEUE_URL"
INBOUND_DLQ_URL = "LEDGERLINK_INBOUND_DLQ_URL"
STATE_MACHINE_ARN = "LEDGERLINK_STATE_MACHINE_ARN"
HAPPY_PATH_STATE_MACHINE_ARN = "LEDGERLINK_HAPPY_PATH_STATE_MACHINE_ARN"
BOOKS_URI = "LEDGERLINK_BOOKS_URI"
INBOX_RETENTION_DAYS = "LEDGERLINK_INBOX_RETENTION_DAYS"
CONFIG_CACHE_SECONDS = "LEDGERLINK_CONFIG_CACHE_SECONDS"
BUCKETS_TABLE = "LEDGERLINK_BUCKETS_TABLE"
LIMITER_TABLE = "LEDGERLINK_LIMITER_TABLE"
LEGACY_FILES_URI = "LEDGERLINK_LEGACY_FILES_URI"
AUDIT_BUCKET = "LEDGERLINK_AUDIT_BUCKET"
REVENUE_TABLE = "LEDGERLINK_REVENUE_TABLE"


def env(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field bound to an environment variable."""
    return field(default=default, metadata={"env": name})



def read_settings[T](cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    missing: list[str] = []
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = item.metadata["env"]
        if name in environ and environ[name] != "":
            raw = environ[name]
            values[item.name] = int(raw) if item.type in ("int", int) else raw
        elif item.default is dataclasses.MISSING:
            missing.append(name)
    if missing:
        raise ConfigError(f"{cls.__name__}: missing environment variables: {', '.join(missing)}")
    return cls(**values)


def required_env(cls: type) -> set[str]:
    return {f.metadata["env"] for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}


def all_env(cls: type) -> set[str]:
    return {f.metadata["env"] for f in dataclasses.fields(cls)}


@dataclass(frozen=True, slots=True)
class IngestSettings:
    config_table: str = env(CONFIG_TABLE)
    inbox_table: str = env(INBOX_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    inbound_queue_url: str = env(INBOUND_QUEUE_URL)
    inbox_retention_days: int = env(INBOX_RETENTION_DAYS, 35)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class NormalizeSettings:
    config_table: str = env(CONFIG_TABLE)
    inbox_table: str = env(INBOX_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)
    parties_table: str = env(PARTIES_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    state_machine_arn: str = env(STATE_MACHINE_ARN)
    # the Express happy path (D76); without it every document starts the Standard workflow directly
    happy_path_state_machine_arn: str = env(HAPPY_PATH_STATE_MACHINE_ARN, "")
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)
    revenue_table: str = env(REVENUE_TABLE, "")   # subscription cancellations and usage batches (issue 9)


@dataclass(frozen=True, slots=True)
class ConfigReaderSettings:
    """Enrich and validate: they only read the (versioned, immutable) configuration."""

    config_table: str = env(CONFIG_TABLE)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    """Enrich reads the configuration and, for reversals, the original's posted journal in the ledger."""

    config_table: str = env(CONFIG_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class PostSettings:
    """Post and record in one step: the ledger item is the idempotency record (lease, stored result)."""

    config_table: str = env(CONFIG_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)       # resolves the case a replay or retry posted
    books_uri: str = env(BOOKS_URI)
    buckets_table: str = env(BUCKETS_TABLE)
    limiter_table: str = env(LIMITER_TABLE)
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)
    revenue_table: str = env(REVENUE_TABLE, "")         # revenue schedule facts of posted documents (issue 9)


@dataclass(frozen=True, slots=True)
class FlushSettings:
    """The scheduled flush: summary buckets → journals, legacy days → import files."""

    config_table: str = env(CONFIG_TABLE)
    buckets_table: str = env(BUCKETS_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    totals_table: str = env(TOTALS_TABLE)      # members move summarized → posted with their control totals
    exceptions_table: str = env(EXCEPTIONS_TABLE)
    limiter_table: str = env(LIMITER_TABLE)
    books_uri: str = env(BOOKS_URI)
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class ExceptionSettings:
    ledger_table: str = env(LEDGER_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    event_bus_name: str = env(EVENT_BUS_NAME, "default")


@dataclass(frozen=True, slots=True)
class ReconcileSettings:
    config_table: str = env(CONFIG_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    inbox_table: str = env(INBOX_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)          # gap backfill archives what it fetches ...
    inbound_queue_url: str = env(INBOUND_QUEUE_URL)    # ... and enqueues it like a webhook
    reports_bucket: str = env(REPORTS_BUCKET)
    books_uri: str = env(BOOKS_URI)
    legacy_files_uri: str = env(LEGACY_FILES_URI)      # the ERP check reads legacy GL targets too
    exceptions_table: str = env(EXCEPTIONS_TABLE)       # a document the ERP no longer holds: a missing_in_erp case
    limiter_table: str = env(LIMITER_TABLE)             # read-back calls count against the connection's budget
    event_bus_name: str = env(EVENT_BUS_NAME, "default")
    stuck_after_seconds: int = env(STUCK_AFTER_SECONDS, 900)   # an accepted event unprocessed 15 min: a difference
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class BankFileSettings:
    """The S3-triggered bank-file Lambda: reads ``bank-inbox/`` and writes ``raw/`` of the archive bucket."""

    config_table: str = env(CONFIG_TABLE)
    inbox_table: str = env(INBOX_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    inbound_queue_url: str = env(INBOUND_QUEUE_URL)
    inbox_retention_days: int = env(INBOX_RETENTION_DAYS, 35)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class OpsSettings:
    """The ops API: exceptions, traces, validation (and the replay of events that never made a document), the
    month-end close check."""

    config_table: str = env(CONFIG_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    inbox_table: str = env(INBOX_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)
    audit_table: str = env(AUDIT_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    inbound_queue_url: str = env(INBOUND_QUEUE_URL)
    state_machine_arn: str = env(STATE_MACHINE_ARN)
    revenue_table: str = env(REVENUE_TABLE)             # the close check: schedules ...
    books_uri: str = env(BOOKS_URI)                     # ... and the book's balances
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    limiter_table: str = env(LIMITER_TABLE)             # the backlog forecast: each ERP connection's budget
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class PollSettings:
    """The scheduled poller of sources without webhooks (Expensify): like ingest, plus the high-water marks."""

    config_table: str = env(CONFIG_TABLE)
    inbox_table: str = env(INBOX_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    cursors_table: str = env(CURSORS_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    inbound_queue_url: str = env(INBOUND_QUEUE_URL)
    inbox_retention_days: int = env(INBOX_RETENTION_DAYS, 35)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class MasterDataSettings:
    """post-document's first step: parties cross-references, the ERP connectors (ensure_party)."""

    config_table: str = env(CONFIG_TABLE)
    parties_table: str = env(PARTIES_TABLE)
    books_uri: str = env(BOOKS_URI)
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    limiter_table: str = env(LIMITER_TABLE)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class AuditExportSettings:
    """The audit table's stream consumer: copies each change to the write-once audit bucket (AWS only)."""

    audit_bucket: str = env(AUDIT_BUCKET)


@dataclass(frozen=True, slots=True)
class RevenueReleaseSettings:
    """The scheduled period-end release: schedules → release journals (deferred → revenue), usage tie-outs."""

    config_table: str = env(CONFIG_TABLE)
    revenue_table: str = env(REVENUE_TABLE)
    ledger_table: str = env(LEDGER_TABLE)       # release journals are documents: registered, then posted
    totals_table: str = env(TOTALS_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)
    limiter_table: str = env(LIMITER_TABLE)
    books_uri: str = env(BOOKS_URI)
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


# function name (folder under functions/) → its settings class; infra and the local runtime use it.
FUNCTION_SETTINGS: dict[str, type] = {
    "ingest": IngestSettings,
    "normalize": NormalizeSettings,
    "enrich": EnrichSettings,
    "validate": ConfigReaderSettings,
    "post": PostSettings,
    "open_exception": ExceptionSettings,
    "reconcile": ReconcileSettings,
    "ops": OpsSettings,
    "master_data": MasterDataSettings,
    "bank_file": BankFileSettings,
    "poll": PollSettings,
    "flush": FlushSettings,
    "audit_export": AuditExportSettings,
    "revenue_release": RevenueReleaseSettings,
}
# Every function the CDK app deploys also runs locally (kept as a name: the local runtime reads it) — except the
# audit export: the local runtime has no DynamoDB streams and no Object Lock bucket to copy to.
LOCAL_FUNCTION_SETTINGS: dict[str, type] = {name: cls for name, cls in FUNCTION_SETTINGS.items()
                                            if name != "audit_export"}
