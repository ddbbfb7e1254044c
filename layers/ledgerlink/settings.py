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
IDEMPOTENCY_TABLE = "LEDGERLINK_IDEMPOTENCY_TABLE"
ARCHIVE_BUCKET = "LEDGERLINK_ARCHIVE_BUCKET"
INBOUND_QUEUE_URL = "LEDGERLINK_INBOUND_QUEUE_URL"
STATE_MACHINE_ARN = "LEDGERLINK_STATE_MACHINE_ARN"
BOOKS_URI = "LEDGERLINK_BOOKS_URI"
INBOX_RETENTION_DAYS = "LEDGERLINK_INBOX_RETENTION_DAYS"
CONFIG_CACHE_SECONDS = "LEDGERLINK_CONFIG_CACHE_SECONDS"
BUCKETS_TABLE = "LEDGERLINK_BUCKETS_TABLE"
LIMITER_TABLE = "LEDGERLINK_LIMITER_TABLE"
LEGACY_FILES_URI = "LEDGERLINK_LEGACY_FILES_URI"


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
    archive_bucket: str = env(ARCHIVE_BUCKET)
    inbound_queue_url: str = env(INBOUND_QUEUE_URL)
    inbox_retention_days: int = env(INBOX_RETENTION_DAYS, 35)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class NormalizeSettings:
    config_table: str = env(CONFIG_TABLE)
    inbox_table: str = env(INBOX_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)
    archive_bucket: str = env(ARCHIVE_BUCKET)
    state_machine_arn: str = env(STATE_MACHINE_ARN)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


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
    config_table: str = env(CONFIG_TABLE)
    idempotency_table: str = env(IDEMPOTENCY_TABLE)
    books_uri: str = env(BOOKS_URI)
    buckets_table: str = env(BUCKETS_TABLE)
    limiter_table: str = env(LIMITER_TABLE)
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class FlushSettings:
    """The scheduled flush: summary buckets → journals, legacy days → import files."""

    config_table: str = env(CONFIG_TABLE)
    buckets_table: str = env(BUCKETS_TABLE)
    ledger_table: str = env(LEDGER_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)
    limiter_table: str = env(LIMITER_TABLE)
    books_uri: str = env(BOOKS_URI)
    legacy_files_uri: str = env(LEGACY_FILES_URI)
    config_cache_seconds: int = env(CONFIG_CACHE_SECONDS, 60)


@dataclass(frozen=True, slots=True)
class RecordSettings:
    ledger_table: str = env(LEDGER_TABLE)


@dataclass(frozen=True, slots=True)
class ExceptionSettings:
    ledger_table: str = env(LEDGER_TABLE)
    exceptions_table: str = env(EXCEPTIONS_TABLE)


# function name (folder under functions/) → its settings class; infra and the local runtime use it.
FUNCTION_SETTINGS: dict[str, type] = {
    "ingest": IngestSettings,
    "normalize": NormalizeSettings,
    "enrich": EnrichSettings,
    "validate": ConfigReaderSettings,
    "post": PostSettings,
    "record": RecordSettings,
    "open_exception": ExceptionSettings,
    "flush": FlushSettings,
}
