"""Signing secrets and API credentials from Secrets Manager, cached in memory (never env vars or logs).

A signing secret's value is either the secret itself (``whsec_...``) or JSON ``{"secrets": ["whsec_new",
"whsec_old"]}`` so that two secrets are live during a rotation. API credentials are a JSON object whose keys
each source kind documents (``{"client_id": ..., "client_secret": ...}``), read with :meth:`get_json`.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from ledgerlink.model.json import JsonObject
from ledgerlink.store.clients import client as default_client


def parse_secret_value(raw: str) -> list[str]:
    text = raw.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return [text]
        values = data.get("secrets") if isinstance(data, dict) else None
        if isinstance(values, list):
            return [v for v in values if isinstance(v, str) and v]
        single = data.get("secret") if isinstance(data, dict) else None
        return [single] if isinstance(single, str) and single else []
    return [text] if text else []


class SecretsManagerSecrets:
    """One cache of raw secret strings (TTL); signing secrets parse them as lists, API and ERP credentials as
    JSON. ``put_raw`` writes a rotated value back (an OAuth 2.0 refresh token) and keeps the cache in step."""

    def __init__(self, *, ttl_seconds: int = 300, client: Any = None) -> None:
        self._ttl = ttl_seconds
        self._client = client
        self._cache: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        return self._client or default_client("secretsmanager")

    def get_raw(self, secret_id: str, *, fresh: bool = False) -> str:
        """The secret string as stored. ``fresh`` bypasses the cache (another Lambda may have rotated it)."""
        now = time.monotonic()
        cached = self._cache.get(secret_id)
        if cached and not fresh and now - cached[0] < self._ttl:
            return cached[1]
        with self._lock:
            raw = self.client.get_secret_value(SecretId=secret_id).get("SecretString") or ""
            self._cache[secret_id] = (now, raw)
            return raw

    def get(self, secret_id: str) -> list[str]:
        return parse_secret_value(self.get_raw(secret_id))

    def get_json(self, secret_id: str) -> JsonObject:
        """A JSON-object secret (API credentials); ``{}`` when the value is not a JSON object."""
        try:
            data = json.loads(self.get_raw(secret_id))
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}   # json.loads: JSON values only

    def put_raw(self, secret_id: str, text: str) -> None:
        """Store a new version (rotated OAuth 2.0 refresh token). The value is never logged."""
        with self._lock:
            self.client.put_secret_value(SecretId=secret_id, SecretString=text)
            self._cache[secret_id] = (time.monotonic(), text)

    def forget(self, secret_id: str) -> None:
        """Drop a cached value (credentials refused: the next read fetches the rotated value)."""
        self._cache.pop(secret_id, None)
