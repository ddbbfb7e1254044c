"""Signing secrets and ERP credentials from Secrets Manager, cached in memory (never env vars or logs).

A secret value is either the secret itself (``whsec_...``) or JSON ``{"secrets": ["whsec_new",
"whsec_old"]}`` so that two secrets are live during a rotation.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

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
    def __init__(self, *, ttl_seconds: int = 300, client: Any = None) -> None:
        self._ttl = ttl_seconds
        self._client = client
        self._cache: dict[str, tuple[float, list[str]]] = {}
        self._raw: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        return self._client or default_client("secretsmanager")

    def get(self, secret_id: str) -> list[str]:
        now = time.monotonic()
        cached = self._cache.get(secret_id)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        with self._lock:
            response = self.client.get_secret_value(SecretId=secret_id)
            values = parse_secret_value(response.get("SecretString") or "")
            self._cache[secret_id] = (now, values)
            return values

    # ---- ERP credentials: a JSON document per connection, read and (token rotation) written back ----------

    def get_raw(self, secret_id: str, *, fresh: bool = False) -> str:
        """The secret string as stored (ERP credentials are JSON). ``fresh`` bypasses the cache (after another
        Lambda may have rotated a refresh token)."""
        now = time.monotonic()
        cached = self._raw.get(secret_id)
        if cached and not fresh and now - cached[0] < self._ttl:
            return cached[1]
        with self._lock:
            text = self.client.get_secret_value(SecretId=secret_id).get("SecretString") or ""
            self._raw[secret_id] = (now, text)
            return text

    def put_raw(self, secret_id: str, text: str) -> None:
        """Store a new version (rotated OAuth 2.0 refresh token). The value is never logged."""
        with self._lock:
            self.client.put_secret_value(SecretId=secret_id, SecretString=text)
            self._raw[secret_id] = (time.monotonic(), text)
