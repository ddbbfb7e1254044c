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

import re
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlencode

from ledgerlink.clock import epoch
from ledgerlink.config.sources import RampSource
from ledgerlink.connectors.sources.http import (
    BearerSession,
    Http,
    HttpResponse,
    SourceApiError,
    basic_auth,
    credential,
)

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


class RampSession(BearerSession):
    VENDOR = "Ramp"
    DEFAULT_EXPIRES = 600

    def __init__(self, source: RampSource, credentials: Mapping[str, object], http: Http,
                 clock: Callable[[], float] = epoch) -> None:
        super().__init__(source.api.base_url, source.api.timeout_seconds, http, clock)
        secret_id = source.api.credentials.secret_id
        self._client_id = credential(credentials, "client_id", secret_id)
        self._client_secret = credential(credentials, "client_secret", secret_id)

    def _request_token(self) -> HttpResponse:
        return self._http.request(
            "POST", f"{self._base}/developer/v1/token",
            headers={"Authorization": basic_auth(self._client_id, self._client_secret),
                     "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            body=urlencode({"grant_type": "client_credentials", "scope": SCOPES}).encode(), timeout=self._timeout)


def connect(source: RampSource, credentials: Mapping[str, object], http: Http) -> RampSession:
    return RampSession(source, credentials, http)


def wants(notification: Mapping[str, object], source: RampSource) -> bool:
    return notification.get("type") in FETCHED


def fetch(notification: Mapping[str, object], source: RampSource, session: RampSession) -> dict[str, str]:
    name, collection = FETCHED[str(notification.get("type"))]
    obj = notification.get("object")
    object_id = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(object_id, str) or not _OBJECT_ID.match(object_id):
        raise SourceApiError("the Ramp event names no valid object id", reason="missing_field", field="object.id")
    return {name: session.get(f"/developer/v1/{collection}/{quote(object_id)}", what=f"Ramp {name}")}
