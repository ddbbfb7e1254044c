"""NetSuite REST web services as documented, for contract tests.

Enforced: token-based authentication — the OAuth 1.0a ``Authorization`` header is verified independently
here (realm = account id and *not* in the base string, HMAC-SHA256 with ``consumer_secret&token_secret``,
timestamp within 5 minutes, nonces never reused); one account-wide concurrency limit (429, or 400
``SSS_REQUEST_LIMIT_EXCEEDED`` in RESTlet style, with ``rejection_style``); upsert by external id
(``PUT /record/v1/{type}/eid:{id}``: 204 + ``Location``, a repeat updates the same record); asynchronous
``Prefer: respond-async`` requests with ``X-NetSuite-Idempotency-Key`` (a UUID; a repeated key answers
``IDEMPOTENCY_ERROR`` pointing at the first job); journal entries that balance; accounting periods
(closed, locked for all, A/R- and A/P-locked) via SuiteQL and on posting; entities before transactions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.contract.server import ErpApp, FakeClock, Request, Response

REST = "/services/rest"
MAX_ROWS = 1000      # SuiteQL: at most 1,000 rows per page
GL_QUERY = re.compile(r"FROM transaction t INNER JOIN transactionaccountingline tal ON tal\.transaction = t\.id "
                      r"WHERE t\.trandate = TO_DATE\('(\d{4}-\d{2}-\d{2})', 'YYYY-MM-DD'\) "
                      r"AND t\.recordtype IN \(([^)]*)\) AND tal\.posting = 'T' ORDER BY t\.id$")
AR = {"invoice", "creditmemo", "customerpayment"}
AP = {"vendorbill", "vendorcredit", "vendorpayment"}


def ns_error(status: int, code: str, detail: str) -> Response:
    return Response(status, {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html",
                             "title": {400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                                       429: "Too Many Requests"}.get(status, "Error"),
                             "status": status, "o:errorDetails": [{"detail": detail, "o:errorCode": code}]})


def rfc3986(value: str) -> str:
    return quote(value, safe="-._~")


def verify_tba(request: Request, *, account: str, consumer: tuple[str, str], token: tuple[str, str],
               now: float, nonces: set[str]) -> str | None:
    """The server's own check of NetSuite TBA (written from RFC 5849 and NetSuite's rules, not from the
    connector). Returns a problem or None."""
    header = request.header("authorization") or ""
    if not header.startswith("OAuth "):
        return "no OAuth authorization header"
    params: dict[str, str] = {}
    for part in header[len("OAuth "):].split(","):
        name, _, value = part.strip().partition("=")
        params[name] = re.sub(r"%([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), value.strip('"'))
    if params.get("realm") != account:
        return "realm is not the account id"
    if params.get("oauth_consumer_key") != consumer[0] or params.get("oauth_token") != token[0]:
        return "unknown consumer or token"
    if params.get("oauth_signature_method") != "HMAC-SHA256" or params.get("oauth_version") != "1.0":
        return "signature method must be HMAC-SHA256 (HMAC-SHA1 ended in 2023.1)"
    if abs(int(params.get("oauth_timestamp", "0")) - now) > 300:
        return "timestamp outside the 5-minute window"
    if params.get("oauth_nonce") in nonces:
        return "nonce reused"
    parts = urlsplit(request.url)
    base_uri = f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"
    signed = [(k, v) for k, v in params.items() if k not in ("realm", "oauth_signature")]
    signed += parse_qsl(parts.query, keep_blank_values=True)
    normalized = "&".join(f"{k}={v}" for k, v in sorted((rfc3986(k), rfc3986(v)) for k, v in signed))
    base = "&".join([request.method, rfc3986(base_uri), rfc3986(normalized)])
    key = f"{rfc3986(consumer[1])}&{rfc3986(token[1])}".encode()
    expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(expected, params.get("oauth_signature", "")):
        return "signature mismatch"
    nonces.add(params["oauth_nonce"])
    return None


class NetSuiteApp(ErpApp):
    def __init__(self, clock: FakeClock, *, account: str, consumer: tuple[str, str], token: tuple[str, str],
                 accounts: set[str], items: set[str] | None = None, periods: list[dict[str, Any]] | None = None,
                 concurrency: int = 15, rejection_style: str = "429", async_polls_to_complete: int = 1) -> None:
        super().__init__(clock, max_concurrency=concurrency)
        self.account = account
        self.consumer = consumer
        self.token = token
        self.accounts = accounts
        self.items = items or set()
        self.periods = periods or []
        self.rejection_style = rejection_style
        self.async_polls_to_complete = async_polls_to_complete
        self.nonces: set[str] = set()
        self.records: dict[str, dict[str, dict[str, Any]]] = {}     # type → internal id → record
        self.jobs: dict[str, dict[str, Any]] = {}
        self.idempotency_keys: dict[str, str] = {}
        self.auth_failures: list[str] = []
        self.rate_limited = 0
        self._ids = 1000

    def of(self, record_type: str) -> list[dict[str, Any]]:
        return list(self.records.get(record_type, {}).values())

    def concurrency_exceeded(self, request: Request) -> Response:
        self.rate_limited += 1
        if self.rejection_style == "400":
            return ns_error(400, "SSS_REQUEST_LIMIT_EXCEEDED", "Request limit exceeded.")
        return ns_error(429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked.")

    # ---- dispatch -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        problem = verify_tba(request, account=self.account, consumer=self.consumer, token=self.token,
                             now=self.clock.now(), nonces=self.nonces)
        if problem:
            self.auth_failures.append(problem)
            return ns_error(401, "INVALID_LOGIN", f"Invalid login attempt. ({problem})")
        path = request.path.removeprefix(REST)
        if path == "/query/v1/suiteql" and request.method == "POST":
            return self._suiteql(request)
        job = re.fullmatch(r"/async/v1/job/(\d+)(/task(?:/(\d+)(/result)?)?)?", path)
        if job and request.method == "GET":
            return self._job(job.group(1), job.group(2), job.group(4))
        record = re.fullmatch(r"/record/v1/(\w+)(?:/(eid:)?([A-Za-z0-9_\-]+))?", path)
        if not record:
            return ns_error(404, "INVALID_URL", "unknown path")
        record_type, by_external, key = record.groups()
        if request.method == "GET" and key:
            found = self._find(record_type, key if by_external else None, None if by_external else key)
            return Response(200, found) if found else ns_error(404, "NONEXISTENT_ID",
                                                              "The record instance does not exist.")
        if request.method == "PUT" and by_external:
            with self.lock:
                early = self.before_commit()
                if early:
                    return early
                response = self._upsert(record_type, key, request.json())
            return self.after_commit(response)
        if request.method == "POST" and not key and (request.header("prefer") or "") == "respond-async":
            return self._submit_async(record_type, request)
        return ns_error(405, "INVALID_METHOD", "method not supported here")

    # ---- records ------------------------------------------------------------------------------------

    def _find(self, record_type: str, external_id: str | None, internal_id: str | None) -> dict[str, Any] | None:
        for record in self.of(record_type):
            if (external_id and record.get("externalId") == external_id) or (internal_id and record["id"] == internal_id):
                return record
        return None

    def _period_problem(self, record_type: str, tran_date: str | None) -> str | None:
        if not tran_date:
            return None
        on = date.fromisoformat(tran_date)
        for period in self.periods:
            if date.fromisoformat(period["startdate"]) <= on <= date.fromisoformat(period["enddate"]):
                if period.get("closed") == "T":
                    return "The accounting period of this transaction is closed."
                if period.get("alllocked") == "T":
                    return "The accounting period of this transaction is locked."
                if record_type in AR and period.get("arlocked") == "T":
                    return "The accounting period is locked for Accounts Receivable."
                if record_type in AP and period.get("aplocked") == "T":
                    return "The accounting period is locked for Accounts Payable."
        return None

    def _validate(self, record_type: str, body: dict[str, Any]) -> str | None:
        problem = self._period_problem(record_type, body.get("tranDate"))
        if problem:
            return problem
        if record_type == "journalentry":
            lines = (body.get("line") or {}).get("items") or []
            debit = sum((Decimal(str(line.get("debit", 0))) for line in lines), Decimal(0))
            credit = sum((Decimal(str(line.get("credit", 0))) for line in lines), Decimal(0))
            if debit != credit:
                return "The transaction is out of balance."
            unknown = [line["account"]["id"] for line in lines if line["account"]["id"] not in self.accounts]
            return f"Invalid account reference key {unknown[0]}." if unknown else None
        if record_type in ("customer", "vendor", "employee"):
            return None
        party_type = "vendor" if record_type in AP else "customer"
        party = body.get("entity") or body.get("customer") or {}
        if not self._find(party_type, None, party.get("id")):
            return f"Invalid entity reference key {party.get('id')}."
        for line in (body.get("item") or {}).get("items") or []:
            if line["item"]["id"] not in self.items:
                return f"Invalid item reference key {line['item']['id']}."
        for line in (body.get("expense") or {}).get("items") or []:
            if line["account"]["id"] not in self.accounts:
                return f"Invalid account reference key {line['account']['id']}."
        for line in (body.get("apply") or {}).get("items") or []:
            target = next((r for kind in ("invoice", "vendorbill") for r in self.of(kind)
                           if r["id"] == line["doc"]["id"]), None)
            if target is None:
                return "The transaction to apply to does not exist."
            if Decimal(str(line["amount"])) > target["amountRemaining"]:
                return "The amount applied exceeds the amount remaining."
        return None

    def _upsert(self, record_type: str, external_id: str, body: dict[str, Any]) -> Response:
        if "externalId" in body or "id" in body:
            return ns_error(400, "INVALID_FLD_VALUE", "Do not set ids in the body of an upsert.")
        problem = self._validate(record_type, body)
        if problem:
            return ns_error(400, "USER_ERROR", problem)
        existing = self._find(record_type, external_id, None)
        if existing is not None:
            existing.update(body)        # an upsert of an existing record updates it: never a second record
            internal = existing["id"]
        else:
            internal = self._create(record_type, external_id, body)
        location = f"{REST}/record/v1/{record_type}/{internal}"
        return Response(204, None, {"Location": location})

    def _create(self, record_type: str, external_id: str, body: dict[str, Any]) -> str:
        self._ids += 1
        internal = str(self._ids)
        record = {**body, "id": internal, "externalId": external_id}
        if record_type in ("invoice", "vendorbill"):
            lines = ((body.get("item") or body.get("expense") or {}).get("items")) or []
            record["amountRemaining"] = sum((Decimal(str(line["amount"])) for line in lines), Decimal(0))
        for line in (body.get("apply") or {}).get("items") or []:
            for kind in ("invoice", "vendorbill"):
                target = self.records.get(kind, {}).get(line["doc"]["id"])
                if target:
                    target["amountRemaining"] -= Decimal(str(line["amount"]))
        self.records.setdefault(record_type, {})[internal] = record
        return internal

    # ---- asynchronous requests ----------------------------------------------------------------------

    def _submit_async(self, record_type: str, request: Request) -> Response:
        key = request.header("x-netsuite-idempotency-key")
        if key:
            try:
                uuid.UUID(key)
            except ValueError:
                return ns_error(400, "INVALID_HEADER", "X-NetSuite-Idempotency-Key must be a UUID (RFC 4122).")
            if key in self.idempotency_keys:
                response = ns_error(400, "IDEMPOTENCY_ERROR", "A request with the same idempotency key is already "
                                                             "submitted. See the \"Location\" header.")
                response.headers["Location"] = f"{REST}/async/v1/job/{self.idempotency_keys[key]}"
                return response
        with self.lock:
            job = str(len(self.jobs) + 1)
            self.jobs[job] = {"record_type": record_type, "body": request.json(), "polls": 0, "result": None}
            if key:
                self.idempotency_keys[key] = job
        return self.after_commit(Response(202, None, {"Location": f"{REST}/async/v1/job/{job}",
                                                      "Preference-Applied": "respond-async"}))

    def _run(self, job: dict[str, Any]) -> None:
        body = dict(job["body"])
        external_id = body.pop("externalId", None)
        problem = self._validate(job["record_type"], body)
        if problem:
            job["result"] = ns_error(400, "USER_ERROR", problem)
        elif external_id and self._find(job["record_type"], external_id, None):
            job["result"] = ns_error(400, "DUP_RCRD", "A record with the same external ID already exists.")
        else:
            internal = self._create(job["record_type"], external_id, body)
            job["result"] = Response(204, None, {"Location": f"{REST}/record/v1/{job['record_type']}/{internal}"})

    def _job(self, job_id: str, task: str | None, result: str | None) -> Response:
        job = self.jobs.get(job_id)
        if job is None:
            return ns_error(404, "NONEXISTENT_ID", "no such job")
        with self.lock:
            job["polls"] += 1
            if job["result"] is None and job["polls"] >= self.async_polls_to_complete:
                self._run(job)
        href = f"{REST}/async/v1/job/{job_id}"
        if task is None:
            done = job["result"] is not None
            return Response(200, {"id": job_id, "completed": done, "progress": "succeeded" if done else "pending",
                                  "links": [{"rel": "self", "href": href}]})
        if result is None:
            return Response(200, {"items": [{"links": [{"rel": "self", "href": f"{href}/task/1"}]}]})
        return job["result"] or ns_error(404, "NONEXISTENT_ID", "not finished")

    # ---- SuiteQL ------------------------------------------------------------------------------------

    def _suiteql(self, request: Request) -> Response:
        query = (request.json() or {}).get("q", "")
        if request.header("prefer") != "transient":
            return ns_error(400, "INVALID_HEADER", "SuiteQL requests need Prefer: transient")
        transactions = GL_QUERY.search(query)
        if transactions:
            rows = self._gl_rows(transactions.group(1), [t.strip().strip("'") for t in transactions.group(2).split(",")])
        elif "FROM accountingperiod" in query and "TO_CHAR(startdate, 'YYYY-MM-DD')" in query:
            rows = [{"links": [], **period} for period in self.periods]
        else:
            return ns_error(400, "INVALID_SEARCH", "unsupported query in this test server")
        limit = int(request.query.get("limit") or MAX_ROWS)
        offset = int(request.query.get("offset") or 0)
        if not 1 <= limit <= MAX_ROWS:
            return ns_error(400, "INVALID_PARAMETER", f"limit must be between 1 and {MAX_ROWS}")
        page = rows[offset: offset + limit]
        more = offset + limit < len(rows)
        links = [{"rel": "self", "href": f"{REST}/query/v1/suiteql?limit={limit}&offset={offset}"}]
        if more:
            links.append({"rel": "next", "href": f"{REST}/query/v1/suiteql?limit={limit}&offset={offset + limit}"})
        return Response(200, {"links": links, "count": len(page), "hasMore": more, "items": page, "offset": offset,
                              "totalResults": len(rows)})

    def _gl_rows(self, day: str, record_types: list[str]) -> list[dict[str, Any]]:
        """transaction ⋈ transactionaccountingline for one date: one row per GL line, debits and credits."""
        rows = []
        records = [(record_type, record) for record_type in record_types for record in self.of(record_type)
                   if record.get("tranDate") == day]
        for record_type, record in sorted(records, key=lambda pair: int(pair[1]["id"])):
            head = {"links": [], "id": record["id"], "externalid": record.get("externalId"), "recordtype": record_type,
                    "trandate": day, "memo": record.get("memo")}
            for account, debit, credit in self._gl_lines(record_type, record):
                rows.append({**head, "account": account, "debit": debit, "credit": credit})
        return rows

    @staticmethod
    def _gl_lines(record_type: str, record: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        if record_type == "journalentry":
            return [(line["account"]["id"], line.get("debit"), line.get("credit"))
                    for line in (record.get("line") or {}).get("items") or []]
        lines = ((record.get("item") or record.get("expense") or {}).get("items")) or []
        total = sum((Decimal(str(line.get("amount", 0))) for line in lines), Decimal(0))
        if record_type in ("customerpayment", "vendorpayment"):
            total = sum((Decimal(str(line["amount"])) for line in (record.get("apply") or {}).get("items") or []),
                        Decimal(0))
        debit_side = record_type in ("invoice", "vendorcredit", "customerpayment")
        control = "control"
        return [(control, total, None) if debit_side else (control, None, total)] + [
            (str((line.get("account") or line.get("item") or {}).get("id")), None if debit_side else line["amount"],
             line["amount"] if debit_side else None) for line in lines]
