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
from typing import TYPE_CHECKING, Any

from ledgerlink.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

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
CONSOLE_USER_POOL_ID = "LEDGERLINK_CONSOLE_USER_POOL_ID"
CONSOLE_CLIENT_ID = "LEDGERLINK_CONSOLE_CLIENT_ID"


def env(name: str, default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field bound to an environment variable (``Any``: it stands for the field's value, of its type)."""
    return field(default=default, metadata={"env": name})


def read_settings[T: DataclassInstance](cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    environ = os.environ if environ is None else environ
    values: dict[str, str | int] = {}
    missing: list[str] = []
    for item in dataclasses.fields(cls):
        name = item.metadata["env"]
        if name in environ and environ[name] != "":
            raw = environ[name]
            values[item.name] = int(raw) if item.type in ("int", int) else raw
        elif item.default is dataclasses.MISSING:
            missing.append(name)
    if missing:
        raise ConfigError(f"{cls.__name__}: missing environment variables: {', '.join(missing)}")
    return cls(**values)


def required_env(cls: type[DataclassInstance]) -> set[str]:
    return {f.metadata["env"] for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}


def all_env(cls: type[DataclassInstance]) -> set[str]:
    return {f.metadata["env"] for f in dataclasses.fields(cls)}


# The field groups several functions share. Each group is a frozen, keyword-only dataclass with empty slots, so a
# settings class can combine several groups and still be slotted (two bases with non-empty slots cannot be
# combined); keyword-only because a group's defaulted field may precede a class's required one. A field a group
# holds is declared only there, with its variable and default. No __eq__ or __repr__ is generated (eq=False,
# repr=False): nothing compares or prints settings, and each generated method is compiled at every cold start (the
# module's import went from 53 to 43 ms without them).
@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class _ConfigReader:
    """The versioned, immutable configuration and how long a function caches it."""

    __slots__ = ()
    config_table: str = env(CONFIG_TABLE)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class _Inbound:
    """Where an accepted event goes: its inbox claim, its archived body, the queue to normalize."""

    __slots__ = ()
    inbox_table: str = env(INBOX_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    inbound_queue_url: str = env(INBOUND_QUEUE_URL)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class _Intake(_Inbound, _ConfigReader):
    """Entering an event like a webhook: claim it (+ counter), archive it, enqueue it."""

    __slots__ = ()
    totals_table: str = env(TOTALS_TABLE)
    inbox_retention_days: int = env(INBOX_RETENTION_DAYS, 35)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class _Outcomes:
    """A document's state (the posting ledger), its control totals and its exception cases."""

    __slots__ = ()
    ledger_table: str = env(LEDGER_TABLE)
    totals_table: str = env(TOTALS_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class _ErpTargets:
    """The posting targets: the Beancount book, legacy GL import files, each API connection's call budget."""

    __slots__ = ()
    books_uri: str = env(BOOKS_URI)
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    limiter_table: str = env(LIMITER_TABLE)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class IngestSettings(_Intake):
    """The webhook receiver."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class NormalizeSettings(_Outcomes, _ConfigReader):
    inbox_table: str = env(INBOX_TABLE)
    parties_table: str = env(PARTIES_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    state_machine_arn: str = env(STATE_MACHINE_ARN)
    # the Express happy path (D76); without it every document starts the Standard workflow directly
    happy_path_state_machine_arn: str = env(HAPPY_PATH_STATE_MACHINE_ARN, "")
    revenue_table: str = env(REVENUE_TABLE, "")   # subscription cancellations and usage batches (issue 9)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ConfigReaderSettings(_ConfigReader):
    """Enrich and validate: they only read the (versioned, immutable) configuration."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class EnrichSettings(_ConfigReader):
    """Enrich reads the configuration and, for reversals, the original's posted journal in the ledger."""

    ledger_table: str = env(LEDGER_TABLE)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class PostSettings(_ErpTargets, _Outcomes, _ConfigReader):
    """Post and record in one step: the ledger item is the idempotency record (lease, stored result); the exceptions
    table resolves the case a replay or retry posted."""

    buckets_table: str = env(BUCKETS_TABLE)
    revenue_table: str = env(REVENUE_TABLE, "")         # revenue schedule facts of posted documents (issue 9)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class FlushSettings(_ErpTargets, _Outcomes, _ConfigReader):
    """The scheduled flush: summary buckets → journals, legacy days → import files (members move summarized → posted
    with their control totals)."""

    buckets_table: str = env(BUCKETS_TABLE)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ExceptionSettings(_Outcomes):
    event_bus_name: str = env(EVENT_BUS_NAME, "default")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ReconcileSettings(_ErpTargets, _Outcomes, _Inbound, _ConfigReader):
    """Gap backfill enters what it fetches like a webhook; the ERP check reads legacy GL targets too, counts read-back
    calls against the connection's budget and turns a document the ERP no longer holds into a missing_in_erp case."""

    reports_bucket: str = env(REPORTS_BUCKET)
    event_bus_name: str = env(EVENT_BUS_NAME, "default")
    stuck_after_seconds: int = env(STUCK_AFTER_SECONDS, 900)   # an accepted event unprocessed 15 min: a difference


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class BankFileSettings(_Intake):
    """The S3-triggered bank-file Lambda: reads ``bank-inbox/`` and writes ``raw/`` of the archive bucket."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class OpsSettings(_ErpTargets, _Outcomes, _Inbound, _ConfigReader):
    """The ops API: exceptions, traces, validation (and the replay of events that never made a document), the
    month-end close check (revenue schedules and the book's balances), the backlog forecast (each ERP connection's
    budget)."""

    audit_table: str = env(AUDIT_TABLE)
    state_machine_arn: str = env(STATE_MACHINE_ARN)
    revenue_table: str = env(REVENUE_TABLE)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ConsoleSettings(_ErpTargets, _Outcomes, _Inbound, _ConfigReader):
    """The finance-ops web console: what the ops API reads and does, plus the reconciliation reports, the DLQ
    (depths, redrive), the happy path's executions, and the Cognito user pool whose ID tokens sign users in."""

    audit_table: str = env(AUDIT_TABLE)
    state_machine_arn: str = env(STATE_MACHINE_ARN)
    happy_path_state_machine_arn: str = env(HAPPY_PATH_STATE_MACHINE_ARN, "")
    revenue_table: str = env(REVENUE_TABLE)
    reports_bucket: str = env(REPORTS_BUCKET)
    inbound_dlq_url: str = env(INBOUND_DLQ_URL)
    user_pool_id: str = env(CONSOLE_USER_POOL_ID)
    client_id: str = env(CONSOLE_CLIENT_ID)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class PollSettings(_Intake):
    """The scheduled poller of sources without webhooks (Expensify): like ingest, plus the high-water marks."""

    cursors_table: str = env(CURSORS_TABLE)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class MasterDataSettings(_ErpTargets, _ConfigReader):
    """post-document's first step: parties cross-references, the ERP connectors (ensure_party)."""

    parties_table: str = env(PARTIES_TABLE)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AuditExportSettings:
    """The audit table's stream consumer: copies each change to the write-once audit bucket (AWS only)."""

    audit_bucket: str = env(AUDIT_BUCKET)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RevenueReleaseSettings(_ErpTargets, _Outcomes, _ConfigReader):
    """The scheduled period-end release: schedules → release journals (deferred → revenue; journals are documents:
    registered, then posted), usage tie-outs."""

    revenue_table: str = env(REVENUE_TABLE)


# function name (folder under functions/) → its settings class; infra and the local runtime use it.
FUNCTION_SETTINGS: dict[str, type[DataclassInstance]] = {
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
    "console": ConsoleSettings,
}
# Every function the CDK app deploys also runs locally (kept as a name: the local runtime reads it) — except the
# audit export: the local runtime has no DynamoDB streams and no Object Lock bucket to copy to.
LOCAL_FUNCTION_SETTINGS: dict[str, type[DataclassInstance]] = {name: cls for name, cls in FUNCTION_SETTINGS.items()
                                            if name != "audit_export"}
