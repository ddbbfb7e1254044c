"""Expensify's Integration Server for the local stack: ``POST /Integration-Server/ExpensifyIntegrations`` — a
``file`` export job honouring ``approvedAfter`` and ``reportState``, then ``download`` — over the reports in
``events/expensify/api/reports.json`` (``reports``, shown as ``expensify_reports`` on the fake: tests add some).
A wrong secret is Expensify's ``responseCode`` 407 (in a 200 answer, as Expensify does)."""

from __future__ import annotations

import json
import secrets as random_secrets
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

from ledgerlink.connectors.sources.local_stack import JSON_TYPE, FakeHost, FakeRequest, Reply

_PATH = "/Integration-Server/ExpensifyIntegrations"
_CREDENTIALS = ("partnerUserID", "partnerUserSecret")


def _error(code: int, message: str) -> Reply:
    return 200, {"responseCode": code, "responseMessage": message}, JSON_TYPE


class ExpensifyFake:
    exposed: tuple[str, ...] = ("reports",)

    def __init__(self, reports: list[dict[str, object]]) -> None:
        self.reports = reports
        self._exports: dict[str, dict[str, object]] = {}    # export file name → the job's inputSettings

    def route(self, host: FakeHost, request: FakeRequest) -> Reply | None:
        if request.method != "POST" or request.path != _PATH:
            return None
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        try:
            job = json.loads(form.get("requestJobDescription", ""))
        except ValueError:
            return _error(500, "requestJobDescription is not JSON")
        creds = host.credentials_of("expensify")
        if job.get("credentials") != {key: creds.get(key) for key in _CREDENTIALS}:
            return _error(407, "Authentication error")
        if job.get("type") == "file":
            return self._file(host, job, form)
        if job.get("type") == "download":
            return self._download(host, job)
        return _error(410, f"unknown job type {job.get('type')!r}")

    def _file(self, host: FakeHost, job: dict[str, object], form: dict[str, str]) -> Reply:
        if "template" not in form:
            return _error(500, "no template")
        name = f"exportd{random_secrets.token_hex(8)}.json"
        settings = job.get("inputSettings")
        with host.lock:
            self._exports[name] = settings if isinstance(settings, dict) else {}
        return 200, name, "text/plain"

    def _download(self, host: FakeHost, job: dict[str, object]) -> Reply:
        with host.lock:
            settings = self._exports.get(str(job.get("fileName")))
        if settings is None:
            return _error(404, "file not found")
        filters = settings.get("filters") or {}
        after = date.fromisoformat(str(filters.get("approvedAfter", "1970-01-01") if isinstance(filters, dict)
                                       else "1970-01-01"))
        states = {s.strip().upper() for s in str(settings.get("reportState", "APPROVED")).split(",")}
        reports = [report for report in self.reports
                   if str(report.get("status", "")).upper() in states
                   and date.fromisoformat(str(report.get("approved", "1970-01-01"))[:10]) > after]
        return 200, json.dumps(reports), JSON_TYPE


def _fake(fixtures: Path) -> ExpensifyFake:
    path = fixtures / "expensify" / "api" / "reports.json"
    return ExpensifyFake(json.loads(path.read_text()) if path.exists() else [])


FAKE_API = _fake
