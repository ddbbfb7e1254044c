"""Fetch what a thin notification names from the vendor's API, in the normalize step (never at ingest).

Ingest answers the provider in milliseconds with the notification stored; the API call happens here, where a
slow or failing vendor only delays the SQS message: ``SourceApiUnavailable`` (network, 429, 5xx) propagates so
SQS retries with backoff and finally parks the message in the DLQ; ``SourceApiError`` (credentials refused,
object gone, untrusted URL) is a ``NormalizationError``: an exception case naming the archive key, to replay
once fixed.

What was fetched is archived under ``fetched/`` before it is used, next to the notification's ``raw/`` key
(``store.archive.fetched_key``); a replay reads that object instead of calling the API again, so it sees the
state the first run posted from. Credentials come from Secrets Manager (the source's ``api.credentials``) and are
cached with the authenticated session per container; nothing secret is logged or raised.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from ledgerlink.config.sources import api_credentials
from ledgerlink.connectors.sources import api_module
from ledgerlink.connectors.sources.http import Http, SourceApiError, UrllibHttp
from ledgerlink.errors import connector_defect
from ledgerlink.model.json import JsonValue
from ledgerlink.store.archive import fetched_key
from ledgerlink.store.clients import error_code

if TYPE_CHECKING:
    from ledgerlink.config.sources import Source

MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound", "AccessDenied", "403"})


class CredentialsPort(Protocol):
    def get_json(self, secret_id: str) -> Mapping[str, object]: ...
    def forget(self, secret_id: str) -> None: ...   # read it again next time (a rotated secret)


class ArchivePort(Protocol):
    def get(self, key: str) -> bytes: ...
    def put(self, key: str, body: bytes, *, correlation_id: str, source: str, event_id: str) -> None: ...


def _missing(exc: BaseException) -> bool:
    # without s3:ListBucket, S3 answers a missing key with AccessDenied: either way, fetch again
    return isinstance(exc, KeyError) or error_code(exc) in MISSING_OBJECT_CODES


class SourceFetcher:
    def __init__(self, *, credentials: CredentialsPort, archive: ArchivePort, http: Http | None = None) -> None:
        self._credentials = credentials
        self._archive = archive
        self._http = http or UrllibHttp()
        self._sessions: dict[tuple[str, str], object] = {}   # the kind's API session (connector-defined)
        self._lock = threading.Lock()

    def session(self, kind: str, source: Source) -> object:
        """The kind's authenticated API session for ``source`` (cached per source and credentials secret)."""
        secret = api_credentials(source)
        if secret is None:
            raise SourceApiError(f"source {source.id!r} has no API credentials configured",
                                 reason="source_api_not_configured")
        key = (source.id, secret.secret_id)
        with self._lock:
            if key not in self._sessions:
                module = api_module(kind)
                assert module is not None
                self._sessions[key] = module.connect(source, self._credentials.get_json(secret.secret_id), self._http)
            return self._sessions[key]

    def forget(self, source: Source) -> None:
        secret = api_credentials(source)
        with self._lock:
            self._sessions = {k: v for k, v in self._sessions.items() if k[0] != source.id}
        if secret is not None:
            self._credentials.forget(secret.secret_id)

    def expand(self, kind: str, source: Source, notification: dict[str, JsonValue], *, archive_key: str,
               event_id: str, correlation_id: str, replay: bool = False) -> JsonValue:
        """``notification`` unchanged for kinds without an API; else ``{"notification": ..., "fetched": ...}``."""
        module = api_module(kind)
        if module is None or module.wants is None:
            return notification
        wants = module.wants
        try:
            wanted = wants(notification, source)
        except Exception as exc:   # reads the notification only: a retry fails the same way (D81)
            raise connector_defect(kind, exc) from None
        if not wanted:
            return {"notification": notification, "fetched": None}
        key = fetched_key(archive_key, event_id)
        if replay:
            try:
                return {"notification": notification, "fetched": json.loads(self._archive.get(key))}
            except Exception as exc:
                if not _missing(exc):
                    raise
        try:
            fetched = module.fetch(notification, source, self.session(kind, source))
        except SourceApiError as exc:
            if exc.reason == "source_api_unauthorized":
                self.forget(source)  # a rotated secret is read again on the next message
            raise
        self._archive.put(key, json.dumps(fetched, sort_keys=True).encode("utf-8"), correlation_id=correlation_id,
                          source=source.id, event_id=event_id)
        return {"notification": notification, "fetched": fetched}
