"""SAP Concur Expense v4 client: fetch an approved report's header and its expenses.

Auth: a company-level refresh token exchanged at ``POST /oauth2/v0/token`` (``grant_type=refresh_token`` with the
app's ``client_id`` / ``client_secret``) for a bearer token, cached until shortly before ``expires_in``. The
credentials secret is ``{"client_id", "client_secret", "refresh_token"}``; the refresh token is replaced by the
operator before it expires (six months), never written back by LedgerLink.

Which events need the report: ``statusChanged`` whose ``currentApprovalStatus`` is one of the source's
``approved_statuses``. The report is read at the path of the event's ``href``
(``/expensereports/v4/users/{owner}/context/TRAVELER/reports/{reportId}``) on the *configured* base URL — the host
named in the payload is never called — plus ``…/expenses``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlencode, urlsplit

from ledgerlink.clock import epoch
from ledgerlink.config.sources import ConcurSource
from ledgerlink.connectors.sources.http import (
    BearerSession,
    Http,
    HttpResponse,
    SourceApiError,
    credential,
)

_REPORT_PATH = re.compile(r"^/expensereports/v4/users/[A-Za-z0-9\-]{1,64}/context/(TRAVELER|PROXY)/reports/"
                          r"[A-Za-z0-9]{1,32}$")


class ConcurSession(BearerSession):
    VENDOR = "Concur"
    DEFAULT_EXPIRES = 3600

    def __init__(self, source: ConcurSource, credentials: Mapping[str, object], http: Http,
                 clock: Callable[[], float] = epoch) -> None:
        super().__init__(source.api.base_url, source.api.timeout_seconds, http, clock)
        secret_id = source.api.credentials.secret_id
        self._form = {"client_id": credential(credentials, "client_id", secret_id),
                      "client_secret": credential(credentials, "client_secret", secret_id),
                      "refresh_token": credential(credentials, "refresh_token", secret_id),
                      "grant_type": "refresh_token"}

    def _request_token(self) -> HttpResponse:
        return self._http.request(
            "POST", f"{self._base}/oauth2/v0/token", body=urlencode(self._form).encode(), timeout=self._timeout,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})


def connect(source: ConcurSource, credentials: Mapping[str, object], http: Http) -> ConcurSession:
    return ConcurSession(source, credentials, http)


def facts(notification: Mapping[str, object]) -> Mapping[str, object]:
    value = notification.get("facts")
    return value if isinstance(value, dict) else {}


def wants(notification: Mapping[str, object], source: ConcurSource) -> bool:
    return (notification.get("eventType") == "statusChanged"
            and facts(notification).get("currentApprovalStatus") in source.approved_statuses)


def report_path(notification: Mapping[str, object]) -> str:
    path = urlsplit(str(facts(notification).get("href") or "")).path
    if not _REPORT_PATH.match(path):
        raise SourceApiError("the Concur event has no Expense v4 report href", reason="missing_field", field="href")
    return path


def fetch(notification: Mapping[str, object], source: ConcurSource, session: ConcurSession) -> dict[str, str]:
    path = report_path(notification)
    return {"report": session.get(path, what="Concur report"),
            "expenses": session.get(f"{path}/expenses", what="Concur report expenses")}
