"""Expensify Integration Server client for the scheduled poller (Expensify sends no webhooks).

Every call is ``POST /Integration-Server/ExpensifyIntegrations`` with a ``requestJobDescription`` form field
(Expensify docs, "Report Exporter"): a ``file`` job exports reports through our Freemarker ``template`` and
answers with a file name, a ``download`` job returns that file. Credentials are the ``partnerUserID`` /
``partnerUserSecret`` pair from the ``api.credentials`` secret; they travel in the form body, never in a URL.
Errors come back as JSON ``{"responseCode": ..., "responseMessage": ...}`` (407 = authentication).

What is read: reports in ``report_states`` (approved or reimbursed), created on or after ``start_date``, approved
after the high-water mark minus ``overlap_days`` (``approvedAfter`` excludes its own day, so the mark's day is
always read again: a report approved later that day is never skipped; the ones read twice are duplicates in the
inbox). Each report is one event: id ``<reportID>:<approval time>``, position = its approval date.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import date, timedelta
from urllib.parse import urlencode

from ledgerlink.config.sources import ExpensifySource
from ledgerlink.connectors.sources.api import PolledEvent
from ledgerlink.connectors.sources.http import Http, SourceApiError, SourceApiUnavailable, checked, credential
from ledgerlink.connectors.sources.reading import get, text
from ledgerlink.model.json import JsonObject, JsonValue

PATH = "/Integration-Server/ExpensifyIntegrations"
# The export template (Freemarker): one JSON array, amounts as integers in "cents" (Expensify's unit).
TEMPLATE = (
    '[<#list reports as report>{"reportID":"${report.reportID}","reportName":"${(report.reportName!"")?json_string}",'
    '"policyID":"${(report.policyID!"")?json_string}","currency":"${report.currency}","total":${report.total?c},'
    '"status":"${report.status}","approved":"${(report.approved!"")?json_string}",'
    '"accountID":"${report.accountID?c}","transactions":[<#list report.transactionList as expense>'
    '{"transactionID":"${expense.transactionID}","amount":${expense.amount?c},'
    '"convertedAmount":${(expense.convertedAmount!expense.amount)?c},"currency":"${expense.currency}",'
    '"category":"${(expense.category!"")?json_string}","merchant":"${(expense.merchant!"")?json_string}",'
    '"created":"${expense.created}","reimbursable":${expense.reimbursable?c},'
    '"comment":"${(expense.comment!"")?json_string}"}<#sep>,</#sep></#list>]}<#sep>,</#sep></#list>]')
_EVENT_ID = re.compile(r"[^A-Za-z0-9_\-:.]")
UNAUTHORIZED_CODES = frozenset({401, 407})


class ExpensifySession:
    def __init__(self, source: ExpensifySource, credentials: Mapping[str, object], http: Http) -> None:
        secret_id = source.api.credentials.secret_id
        self._credentials = {"partnerUserID": credential(credentials, "partnerUserID", secret_id),
                             "partnerUserSecret": credential(credentials, "partnerUserSecret", secret_id)}
        self._url = f"{source.api.base_url}{PATH}"
        self._timeout = source.api.timeout_seconds
        self._http = http

    def job(self, job: JsonObject, *, what: str, **fields: str) -> str:
        form = {"requestJobDescription": json.dumps({**job, "credentials": self._credentials}), **fields}
        text = checked(self._http.request(
            "POST", self._url, body=urlencode(form).encode(), timeout=self._timeout,
            headers={"Content-Type": "application/x-www-form-urlencoded"}), what=what).text()
        stripped = text.lstrip()
        if stripped.startswith("{"):
            try:
                answer = json.loads(stripped)
            except ValueError:
                answer = None
            if isinstance(answer, dict) and "responseCode" in answer and answer.get("responseCode") != 200:
                code = answer.get("responseCode")
                if code in UNAUTHORIZED_CODES:
                    raise SourceApiError(f"{what}: Expensify responseCode {code}", reason="source_api_unauthorized")
                raise SourceApiUnavailable(f"{what}: Expensify responseCode {code}", status=code)
        return text


def connect(source: ExpensifySource, credentials: Mapping[str, object], http: Http) -> ExpensifySession:
    return ExpensifySession(source, credentials, http)


def query_after(source: ExpensifySource, cursor: str | None) -> date:
    """``approvedAfter`` for a cursor (the last approval date proved read); before any poll: ``start_date``."""
    if cursor:
        return date.fromisoformat(cursor) - timedelta(days=source.overlap_days)
    return source.start_date - timedelta(days=1)


def _event(report: JsonValue) -> PolledEvent:
    body = json.dumps(report, separators=(",", ":"), sort_keys=True).encode()
    report_id = get(report, "reportID")
    approved = text(report, "approved") or ""
    day = approved[:10]
    try:
        date.fromisoformat(day)
    except ValueError:
        day = ""
    if not isinstance(report_id, str) or not report_id or not day:
        # never crash the poll on one bad item: it becomes an exception case with its archive key
        digest = hashlib.sha256(body).hexdigest()[:24]
        return PolledEvent(event_id=f"malformed-{digest}", event_type="report.malformed", body=body, position="")
    event_id = _EVENT_ID.sub("", f"{report_id}:{approved.replace(' ', 'T')}")[:128]
    return PolledEvent(event_id=event_id, event_type="report.approved", body=body, position=day)


def poll(source: ExpensifySource, session: ExpensifySession, cursor: str | None) -> list[PolledEvent]:
    file_name = session.job({
        "type": "file", "onReceive": {"immediateResponse": ["returnRandomFileName"]},
        "inputSettings": {"type": "combinedReportData", "reportState": ",".join(source.report_states),
                          "filters": {"startDate": source.start_date.isoformat(),
                                      "approvedAfter": query_after(source, cursor).isoformat()}},
        "outputSettings": {"fileExtension": "json"}}, what="Expensify export", template=TEMPLATE).strip()
    if not file_name or "/" in file_name or len(file_name) > 255:
        raise SourceApiError("Expensify export returned no file name", reason="source_api_rejected")
    exported = session.job({"type": "download", "fileName": file_name, "fileSystem": "integrationServer"},
                           what="Expensify download")
    try:
        # non-integer numbers stay text: an amount that is not whole "cents" is refused by the normalizer
        reports = json.loads(exported, parse_float=str) if exported.strip() else []
    except ValueError:
        raise SourceApiError("Expensify export file is not the JSON our template writes",
                             reason="malformed_payload") from None
    if not isinstance(reports, list):
        raise SourceApiError("Expensify export file is not a JSON array", reason="malformed_payload")
    return sorted((_event(report) for report in reports), key=lambda event: (event.position, event.event_id))


# The export it polls is the event itself: nothing to fetch for a notification (the api contract's wants).
wants = None
