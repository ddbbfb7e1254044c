"""Ramp Developer API client: fetch the transaction, reimbursement or bill a webhook names.

Auth (Ramp docs, "Authorization"): OAuth 2.0 client credentials — ``POST /developer/v1/token`` with HTTP basic
auth ``client_id:client_secret`` and ``grant_type=client_credentials&scope=...``; the bearer token is cached until
shortly before ``expires_in`` and refreshed once on a 401. Objects: ``GET /developer/v1/transactions/{id}`` and
``GET /developer/v1/reimbursements/{id}`` and ``GET /developer/v1/bills/{id}`` (Bill Pay).

Which events need the object (everything else is recorded without an API call):

- ``transactions.cleared`` / ``transactions.ready_to_sync`` → the transaction (posted once cleared);
- ``reimbursements.ready_to_sync`` → the reimbursement (posted once approved);
- ``bills.approved`` / ``bills.ready_to_sync`` → the bill (posted once approved); ``bills.archived`` → the bill
  (an approved bill that is archived is reversed).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ledgerlink.config.sources import RampSource
from ledgerlink.connectors.sources.http import Http, SourceApiError, basic_auth, checked, credential

FETCHED: dict[str, tuple[str, str]] = {   # event type → (fetched name, API collection)
    "transactions.cleared": ("transaction", "transactions"),
    "transactions.ready_to_sync": ("transaction", "transactions"),
    "reimbursements.ready_to_sync": ("reimbursement", "reimbursements"),
    "bills.approved": ("bill", "bills"),
    "bills.ready_to_sync": ("bill", "bills"),
    "bills.archived": ("bill", "bills"),
}
SCOPES = "transactions:read reimbursements:read bills:read"
_OBJECT_ID = re.compile(r"^[A-Za-z0-9\-]{1,64}$")


class RampSession:
    def __init__(self, source: RampSource, credentials: Mapping[str, Any], http: Http,
                 clock: Callable[[], float] = time.time) -> None:
        secret_id = source.api.credentials.secret_id
        self._client_id = credential(credentials, "client_id", secret_id)
        self._client_secret = credential(credentials, "client_secret", secret_id)
        self._base = source.api.base_url
        self._timeout = source.api.timeout_seconds
        self._http = http
        self._clock = clock
        self._token: tuple[str, float] | None = None
        self._lock = threading.Lock()

    def _access_token(self, *, renew: bool = False) -> str:
        with self._lock:
            if self._token and not renew and self._clock() < self._token[1]:
                return self._token[0]
            response = checked(self._http.request(
                "POST", f"{self._base}/developer/v1/token",
                headers={"Authorization": basic_auth(self._client_id, self._client_secret),
                         "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                body=urlencode({"grant_type": "client_credentials", "scope": SCOPES}).encode(),
                timeout=self._timeout), what="Ramp token")
            try:
                answer = json.loads(response.body)
                token, expires = answer["access_token"], int(answer.get("expires_in", 600))
            except (ValueError, KeyError, TypeError):
                raise SourceApiError("Ramp token response has no access_token", reason="source_api_rejected") from None
            self._token = (token, self._clock() + max(expires - 60, 30))
            return token

    def get(self, path: str, *, what: str) -> str:
        for attempt in (0, 1):
            response = self._http.request("GET", f"{self._base}{path}", timeout=self._timeout, headers={
                "Authorization": f"Bearer {self._access_token(renew=attempt == 1)}", "Accept": "application/json"})
            if response.status != 401 or attempt == 1:
                return checked(response, what=what).text()
        raise AssertionError("unreachable")


def connect(source: RampSource, credentials: Mapping[str, Any], http: Http) -> RampSession:
    return RampSession(source, credentials, http)


def wants(notification: Mapping[str, Any], source: RampSource) -> bool:
    return notification.get("type") in FETCHED


def fetch(notification: Mapping[str, Any], source: RampSource, session: RampSession) -> dict[str, str]:
    name, collection = FETCHED[str(notification.get("type"))]
    obj = notification.get("object")
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(object_id, str) or not _OBJECT_ID.match(object_id):
        raise SourceApiError("the Ramp event names no valid object id", reason="missing_field", field="object.id")
    return {name: session.get(f"/developer/v1/{collection}/{quote(object_id)}", what=f"Ramp {name}")}
