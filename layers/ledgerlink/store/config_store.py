"""Versioned configuration in DynamoDB.

Items (pk ``config``): ``v#000001``… hold each applied version (immutable; the content hash, who and
when); ``active`` holds a copy of the current version so a cold Lambda needs one GetItem. Readers
cache the active version for ``cache_seconds`` and any pinned version forever (versions never change).

The stored JSON was validated by the pydantic model before it was written; the ingest path reads it
as plain JSON (``active_raw``) so the webhook hot path does not import pydantic.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ledgerlink.clock import now as clock_now
from ledgerlink.errors import ConfigError
from ledgerlink.model.json import JsonObject
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.dynamo import from_item, to_item, value

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig

PK = "config"
ACTIVE = "active"


def _body(text: str) -> JsonObject:
    """A stored configuration body (JSON text, validated by the model when it was applied)."""
    body = json.loads(text)
    if not isinstance(body, dict):
        raise ConfigError("the stored configuration is not a JSON object", reason="config_invalid")
    return body


def version_key(version: int) -> str:
    return f"v#{version:06d}"


class DynamoConfigStore:
    def __init__(self, table: str, *, cache_seconds: int = 60, client: Any = None) -> None:
        self._table = table
        self._cache_seconds = cache_seconds
        self._client = client
        self._lock = threading.Lock()
        self._active: tuple[float, int, JsonObject] | None = None
        self._models: dict[int, LedgerLinkConfig] = {}
        self._raw_versions: dict[int, JsonObject] = {}

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    # ---- reading -------------------------------------------------------------------------------

    def active_raw(self) -> tuple[int, JsonObject]:
        """(version, config JSON) of the active configuration, cached for ``cache_seconds``."""
        now = time.monotonic()
        cached = self._active
        if cached and now - cached[0] < self._cache_seconds:
            return cached[1], cached[2]
        with self._lock:
            response = self.client.get_item(TableName=self._table, Key={"pk": value(PK), "sk": value(ACTIVE)})
            if "Item" not in response:
                raise ConfigError("no configuration has been applied (run: ledgerlink config apply FILE)",
                                  reason="config_missing")
            item = from_item(response["Item"])
            version, body = int(item["version"]), _body(item["body"])
            self._active = (now, version, body)
            self._raw_versions.setdefault(version, body)
            return version, body

    def version_raw(self, version: int) -> JsonObject:
        if version in self._raw_versions:
            return self._raw_versions[version]
        response = self.client.get_item(TableName=self._table, Key={"pk": value(PK), "sk": value(version_key(version))},
                                        ConsistentRead=True)
        if "Item" not in response:
            raise ConfigError(f"configuration version {version} does not exist", reason="config_version_missing")
        body = _body(from_item(response["Item"])["body"])
        self._raw_versions[version] = body
        return body

    def _model(self, version: int, body: JsonObject) -> LedgerLinkConfig:
        model = self._models.get(version)
        if model is None:
            from ledgerlink.config.model import LedgerLinkConfig

            model = LedgerLinkConfig.model_validate(body)
            self._models[version] = model
        return model

    def active(self) -> tuple[int, LedgerLinkConfig]:
        version, body = self.active_raw()
        return version, self._model(version, body)

    def get(self, version: int) -> LedgerLinkConfig:
        return self._model(version, self.version_raw(version))

    def record(self, version: int) -> dict[str, object]:
        """One applied version's record (who, when, the content hash, what changed), without its body."""
        response = self.client.get_item(
            TableName=self._table, Key={"pk": value(PK), "sk": value(version_key(version))}, ConsistentRead=True,
            ProjectionExpression="#v, applied_at, applied_by, content_hash, changes",
            ExpressionAttributeNames={"#v": "version"})
        if "Item" not in response:
            raise ConfigError(f"configuration version {version} does not exist", reason="config_version_missing")
        return from_item(response["Item"])

    def history(self) -> list[dict[str, object]]:
        """Every applied version's record (who, when, the content hash, what changed), without its body, oldest
        first (every page: the bodies make a page hold only so many versions)."""
        records: list[dict[str, object]] = []
        for page in self.client.get_paginator("query").paginate(
                TableName=self._table, KeyConditionExpression="pk = :pk AND begins_with(sk, :v)",
                ExpressionAttributeValues={":pk": value(PK), ":v": value("v#")}, ConsistentRead=True):
            records += [{k: v for k, v in from_item(item).items() if k != "body"} for item in page.get("Items", [])]
        return records

    # ---- writing (CLI / local runtime / deploy) ------------------------------------------------

    def apply(self, config: LedgerLinkConfig, *, applied_by: str, content_hash: str,
              changes: Mapping[str, object] | None = None) -> tuple[int, bool]:
        """Store ``config`` as a new version unless it equals the active one. Returns (version, changed).

        ``changes`` (``config.changes.summary``) is kept on the version: who, when and what changed."""
        try:
            current_version, _ = self._read_active_uncached()
        except ConfigError:
            current_version = 0
        if current_version:
            current = from_item(self.client.get_item(
                TableName=self._table, Key={"pk": value(PK), "sk": value(ACTIVE)}, ConsistentRead=True)["Item"])
            if current.get("content_hash") == content_hash:
                return current_version, False
        version = current_version + 1
        body = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        record: dict[str, object] = {"pk": PK, "version": version, "body": body, "content_hash": content_hash,
                  "applied_at": clock_now().isoformat(timespec="seconds"), "applied_by": applied_by}
        if changes is not None:
            record["changes"] = json.dumps(changes, sort_keys=True, default=str)
        try:
            self.client.put_item(TableName=self._table, Item=to_item({**record, "sk": version_key(version)}),
                                 ConditionExpression="attribute_not_exists(sk)")
            condition = "attribute_not_exists(sk)" if current_version == 0 else "version = :previous"
            kwargs: dict[str, object] = {"ConditionExpression": condition}
            if current_version:
                kwargs["ExpressionAttributeValues"] = {":previous": value(current_version)}
            self.client.put_item(TableName=self._table, Item=to_item({**record, "sk": ACTIVE}), **kwargs)
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise ConfigError("another configuration was applied concurrently; retry",
                                  reason="config_conflict") from None
            raise
        self._active = None
        return version, True

    def _read_active_uncached(self) -> tuple[int, JsonObject]:
        self._active = None
        return self.active_raw()
