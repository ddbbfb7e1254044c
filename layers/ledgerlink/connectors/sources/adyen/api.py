"""Adyen report download for ``REPORT_AVAILABLE`` settlement notifications.

The notification's ``reason`` is the report's download URL
(``https://ca-live.adyen.com/reports/download/MerchantAccount/<account>/settlement_detail_report_batch_<n>.csv``),
downloaded with the report user's basic-auth credentials (Adyen docs, "Download reports automatically"). Only a
URL on an ``adyen.com`` host under ``/reports/download/`` is accepted, and only its path is used: the request
goes to the configured ``reports.base_url``, so a forged or mistaken URL can never send the credentials
elsewhere. Only settlement details reports are fetched; other reports are recorded without a download.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit

from ledgerlink.config.sources import AdyenSource
from ledgerlink.connectors.sources.http import Http, SourceApiError, basic_auth, checked, credential

SETTLEMENT_REPORT_PREFIX = "settlement_detail_report"
DOWNLOAD_PREFIX = "/reports/download/"


class AdyenReportSession:
    def __init__(self, source: AdyenSource, credentials: Mapping[str, object], http: Http) -> None:
        assert source.reports is not None
        secret_id = source.reports.credentials.secret_id
        self._auth = basic_auth(credential(credentials, "username", secret_id),
                                credential(credentials, "password", secret_id))
        self._base = source.reports.base_url
        self._timeout = source.reports.timeout_seconds
        self._http = http

    def download(self, path: str) -> str:
        response = checked(self._http.request("GET", f"{self._base}{path}", timeout=self._timeout, headers={
            "Authorization": self._auth, "Accept": "text/csv"}), what="Adyen report download")
        return response.body.decode("utf-8-sig")


def _item(notification: Mapping[str, object]) -> Mapping[str, object]:
    item = notification.get("NotificationRequestItem")
    return item if isinstance(item, dict) else notification


def connect(source: AdyenSource, credentials: Mapping[str, object], http: Http) -> AdyenReportSession:
    return AdyenReportSession(source, credentials, http)


def is_settlement_report(item: Mapping[str, object]) -> bool:
    return (item.get("eventCode") == "REPORT_AVAILABLE" and item.get("success") == "true"
            and str(item.get("pspReference") or "").startswith(SETTLEMENT_REPORT_PREFIX))


def wants(notification: Mapping[str, object], source: AdyenSource) -> bool:
    return source.reports is not None and is_settlement_report(_item(notification))


def report_path(url: object) -> str:
    parts = urlsplit(str(url or ""))
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not (host == "adyen.com" or host.endswith(".adyen.com")):
        raise SourceApiError("the report URL is not an https adyen.com URL", reason="untrusted_report_url")
    path = unquote(parts.path)
    if not path.startswith(DOWNLOAD_PREFIX) or ".." in path or parts.query:
        raise SourceApiError("the report URL is not an Adyen report download path", reason="untrusted_report_url")
    return quote(path)


def fetch(notification: Mapping[str, object], source: AdyenSource, session: AdyenReportSession) -> dict[str, str]:
    return {"report": session.download(report_path(_item(notification).get("reason")))}
