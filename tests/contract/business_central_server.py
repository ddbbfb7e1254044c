"""Business Central API v2.0 as documented, for contract tests.

Enforced: OAuth 2.0 client credentials (Entra ID token endpoint) and bearer expiry; 6,000 requests per
5 minutes and a concurrency cap (429 + ``Retry-After``); OData JSON ``$batch`` of at most 100 operations,
transactional with ``Isolation: snapshot`` (one failure rolls back every operation; later ones answer 424);
general journal lines with ``documentNumber`` / ``externalDocumentNumber`` of at most 20 characters, an ``id``
supplied on insert kept, and dimension set lines under a line (the company's dimension and value codes only); the
journal's ``Microsoft.NAV.post`` action posts every line of the journal batch, refusing a document that does
not balance or a posting date outside ``allowPostingFrom``/``allowPostingTo``; G/L entries filtered by
``documentNumber``; customers/vendors by ``number``; sales/purchase invoices and credit memos with
``lineType: Account`` lines, created as drafts and posted by their own action.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from tests.contract.server import ErpApp, FakeClock, RateWindow, Request, Response

API = "/api/v2.0"
BLANK = "0001-01-01"


def bc_error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": f"{message}  CorrelationId:  {uuid.uuid4()}."}})


class BusinessCentralApp(ErpApp):
    def __init__(self, clock: FakeClock, *, tenant: str, environment: str, company_id: str, journal_id: str,
                 client_id: str, client_secret: str, accounts: set[str], allow_from: str = BLANK,
                 allow_to: str = BLANK, concurrency: int = 100,
                 dimensions: dict[str, set[str]] | None = None) -> None:
        super().__init__(clock, max_concurrency=concurrency)
        self.tenant = tenant
        self.environment = environment
        self.company_id = company_id
        self.journal_id = journal_id
        self.client = (client_id, client_secret)
        self.tokens: dict[str, float] = {}
        self.window = RateWindow(6000, 300, clock)
        self.state: dict[str, Any] = {"accounts": set(accounts), "journal_lines": [], "gl_entries": [],
                                      "customers": [], "vendors": [], "documents": {}, "customer_ledger": [],
                                      "vendor_ledger": []}
        self.setup = {"allowPostingFrom": allow_from, "allowPostingTo": allow_to}
        self.dimensions = dimensions or {}   # dimension code → its value codes
        self.batches: list[dict[str, Any]] = []
        self.page_size = 20_000      # Business Central's largest server page (then @odata.nextLink)
        self.base_url = ""           # set by the test when it pages server-side (the nextLink is absolute)
        self.rate_limited = 0

    @property
    def gl_entries(self) -> list[dict[str, Any]]:
        return self.state["gl_entries"]

    def documents(self, entity_set: str) -> list[dict[str, Any]]:
        return self.state["documents"].setdefault(entity_set, [])

    def concurrency_exceeded(self, request: Request) -> Response:
        self.rate_limited += 1
        response = bc_error(429, "Application_TooManyRequests", "Too many requests; the limit is reached.")
        response.headers["Retry-After"] = "5"
        return response

    # ---- dispatch -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == f"/{self.tenant}/oauth2/v2.0/token":
            return self._token(request)
        base = f"/v2.0/{self.tenant}/{self.environment}{API}"
        if not request.path.startswith(base):
            return bc_error(404, "BadRequest_ResourceNotFound", "Resource not found")
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if self.tokens.get(token, 0) <= self.clock.now():
            return bc_error(401, "Authentication_InvalidCredentials", "The credentials provided are incorrect")
        wait = self.window.admit()
        if wait is not None:
            self.rate_limited += 1
            response = bc_error(429, "Application_TooManyRequests", "Too many requests")
            response.headers["Retry-After"] = str(int(wait + 0.999))
            return response
        path = request.path[len(base):].lstrip("/")
        if path == "$batch" and request.method == "POST":
            with self.lock:
                early = self.before_commit()
                if early:
                    return early
                response = self._batch(request)
            return self.after_commit(response)
        if request.method == "GET":
            return self._read(path, request.query)
        with self.lock:
            early = self.before_commit()
            if early:
                return early
            response = self._operation(self.state, request.method, path, request.json() or {})
        return self.after_commit(response)

    def _token(self, request: Request) -> Response:
        form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
        if (form.get("client_id"), form.get("client_secret")) != self.client:
            return Response(401, {"error": "invalid_client"})
        if form.get("grant_type") != "client_credentials" or \
                form.get("scope") != "https%3A%2F%2Fapi.businesscentral.dynamics.com%2F.default":
            return Response(400, {"error": "invalid_request"})
        token = uuid.uuid4().hex
        self.tokens[token] = self.clock.now() + 3599
        return Response(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    def throttled(self, retry_after: int) -> Response:
        self.rate_limited += 1
        response = bc_error(429, "Application_TooManyRequests", "Too many requests")
        response.headers["Retry-After"] = str(retry_after)
        return response

    # ---- reads --------------------------------------------------------------------------------------

    def _company(self, path: str) -> str | None:
        prefix = f"companies({self.company_id})/"
        return path[len(prefix):] if path.startswith(prefix) else None

    def _read(self, path: str, query: dict[str, str]) -> Response:
        resource = self._company(path)
        if resource is None:
            return bc_error(404, "BadRequest_NotFound", "company not found")
        if resource == "generalLedgerSetup":
            return Response(200, {"value": [{"id": str(uuid.UUID(int=7)), **self.setup}]})
        collections = {"generalLedgerEntries": self.state["gl_entries"], "customers": self.state["customers"],
                       "vendors": self.state["vendors"]}
        items = collections.get(resource)
        if items is None:
            items = self.state["documents"].get(resource, [])
        text = query.get("$filter", "")
        wanted = re.fullmatch(r"(\w+) eq '(.*)'", text) or re.fullmatch(r"(\w+) eq (\d{4}-\d{2}-\d{2})", text)
        if text and not wanted:
            return bc_error(400, "BadRequest", f"unsupported $filter in this test server: {text}")
        if wanted:
            field, value = wanted.groups()
            items = [i for i in items if str(i.get(field)) == value]
        skip = int(query.get("$skip") or 0)
        top = int(query["$top"]) if "$top" in query else None
        items = items[skip:]
        if top is not None:
            items = items[:top]
        body: dict[str, Any] = {"value": items[: self.page_size]}
        if len(items) > self.page_size:   # server-driven paging: the rest behind @odata.nextLink
            rest = {**query, "$skip": str(skip + self.page_size)}
            if top is not None:
                rest["$top"] = str(top - self.page_size)
            body["@odata.nextLink"] = (f"{self.base_url}/v2.0/{self.tenant}/{self.environment}{API}/{path}?"
                                       + urlencode(rest))
        return Response(200, body)

    # ---- writes -------------------------------------------------------------------------------------

    def _batch(self, request: Request) -> Response:
        operations = (request.json() or {}).get("requests") or []
        transactional = request.header("isolation") == "snapshot"
        self.batches.append({"operations": len(operations), "transactional": transactional})
        if len(operations) > 100:
            return bc_error(400, "BadRequest", "The batch request contains more than 100 operations.")
        work = copy.deepcopy(self.state) if transactional else self.state
        responses, failed = [], False
        for operation in operations:
            if failed and transactional:
                responses.append({"id": operation["id"], "status": 424, "body": {"error": {
                    "code": "FailedDependency", "message": "An earlier request in the batch failed."}}})
                continue
            url = operation["url"]
            result = self._operation(work, operation["method"], url.split("?")[0], operation.get("body") or {})
            responses.append({"id": operation["id"], "status": result.status, "body": result.body or {}})
            failed = failed or result.status >= 400
        if transactional and not failed:
            self.state.clear()
            self.state.update(work)
        return Response(200, {"responses": responses})

    def _operation(self, state: dict[str, Any], method: str, path: str, body: dict[str, Any]) -> Response:
        resource = self._company(path)
        if resource is None or method != "POST":
            return bc_error(400, "BadRequest_MethodNotAllowed", "not supported in this test server")
        journal = f"journals({self.journal_id})/"
        if resource == journal + "journalLines":
            return self._journal_line(state, body)
        dimension_of = re.fullmatch(re.escape(journal) + r"journalLines\(([^)]+)\)/dimensionSetLines", resource)
        if dimension_of:
            return self._dimension_set_line(state, dimension_of.group(1), body)
        if resource == journal + "Microsoft.NAV.post":
            return self._post_journal(state)
        if resource in ("customers", "vendors"):
            if any(p["number"] == body.get("number") for p in state[resource]):
                return bc_error(400, "Internal_EntityWithSameKeyExists", "The record already exists.")
            record = {**body, "id": str(uuid.uuid4())}
            state[resource].append(record)
            return Response(201, record)
        posting = re.fullmatch(r"(\w+)\(([^)]+)\)/Microsoft\.NAV\.post", resource)
        if posting:
            return self._post_document(state, *posting.groups())
        if resource in ("salesInvoices", "salesCreditMemos", "purchaseInvoices", "purchaseCreditMemos"):
            return self._document(state, resource, body)
        return bc_error(404, "BadRequest_ResourceNotFound", f"{resource} not found")

    def _journal_line(self, state: dict[str, Any], body: dict[str, Any]) -> Response:
        for field in ("documentNumber", "externalDocumentNumber"):
            if len(str(body.get(field, ""))) > 20:
                return bc_error(400, "BadRequest", f"The length of the string, {len(body[field])}, exceeds the "
                                                   f"maximum length of 20 allowed by the {field} field.")
        kind = body.get("accountType", "G/L Account")
        known = {"G/L Account": state["accounts"], "Customer": {c["number"] for c in state["customers"]},
                 "Vendor": {v["number"] for v in state["vendors"]}}.get(kind, set())
        if body.get("accountNumber") not in known:
            return bc_error(400, "Internal_RecordNotFound",
                            f"The {kind} does not exist. Identification fields and values: No.='{body.get('accountNumber')}'")
        line_id = body.get("id") or str(uuid.uuid4())   # the SystemId may be supplied on insert
        if any(line["id"] == line_id for line in state["journal_lines"]):
            return bc_error(400, "Internal_EntityWithSameKeyExists", "The record already exists.")
        line = {**body, "id": line_id, "lineNumber": 10000 * (len(state["journal_lines"]) + 1), "dimensions": {}}
        state["journal_lines"].append(line)
        return Response(201, line)

    def _dimension_set_line(self, state: dict[str, Any], line_id: str, body: dict[str, Any]) -> Response:
        line = next((line for line in state["journal_lines"] if line["id"] == line_id), None)
        if line is None:
            return bc_error(404, "BadRequest_NotFound", f"journalLine {line_id} not found")
        code, value = body.get("code"), body.get("valueCode")
        if code not in self.dimensions:
            return bc_error(400, "Internal_RecordNotFound",
                            f"The Dimension does not exist. Identification fields and values: Code='{code}'")
        if value not in self.dimensions[code]:
            return bc_error(400, "Internal_RecordNotFound", "The Dimension Value does not exist. Identification "
                                                           f"fields and values: Dimension Code='{code}',Code='{value}'")
        if code in line["dimensions"]:
            return bc_error(400, "Internal_EntityWithSameKeyExists", "The record already exists.")
        line["dimensions"][code] = value
        return Response(201, {"id": str(uuid.uuid4()), "parentId": line_id, "code": code, "valueCode": value})

    def _date_allowed(self, value: str) -> bool:
        on = date.fromisoformat(value)
        start, end = self.setup["allowPostingFrom"], self.setup["allowPostingTo"]
        return (start == BLANK or on >= date.fromisoformat(start)) and (end == BLANK or on <= date.fromisoformat(end))

    def _post_journal(self, state: dict[str, Any]) -> Response:
        lines = state["journal_lines"]
        totals: dict[tuple[str, str], Decimal] = {}
        for line in lines:
            if not self._date_allowed(line["postingDate"]):
                return bc_error(400, "Internal_ErrorMessage",
                                "Posting Date is not within your range of allowed posting dates.")
            key = (line["documentNumber"], line["postingDate"])
            totals[key] = totals.get(key, Decimal(0)) + Decimal(str(line["amount"]))
        unbalanced = [key for key, total in totals.items() if total != 0]
        if unbalanced:
            return bc_error(400, "Internal_ErrorMessage",
                            f"Document No. {unbalanced[0][0]} is out of balance by {totals[unbalanced[0]]}.")
        for line in lines:
            entry = {"id": str(uuid.uuid4()), "entryNumber": len(state["gl_entries"]) + 1,
                     "postingDate": line["postingDate"], "documentNumber": line["documentNumber"],
                     "externalDocumentNumber": line.get("externalDocumentNumber"), "accountNumber": line["accountNumber"],
                     "accountType": line.get("accountType", "G/L Account"), "amount": Decimal(str(line["amount"])),
                     "debitAmount": max(Decimal(str(line["amount"])), Decimal(0)),
                     "creditAmount": max(-Decimal(str(line["amount"])), Decimal(0)), "documentType": " ",
                     "description": line.get("description"), "dimensions": dict(line["dimensions"])}
            target = {"Customer": "customer_ledger", "Vendor": "vendor_ledger"}.get(entry["accountType"], "gl_entries")
            state[target].append(entry)
            if target != "gl_entries":
                state["gl_entries"].append({**entry, "accountNumber": f"{entry['accountType']}:{entry['accountNumber']}"})
        state["journal_lines"] = []
        return Response(204, None)

    def _document(self, state: dict[str, Any], entity_set: str, body: dict[str, Any]) -> Response:
        party_field = "vendorNumber" if entity_set.startswith("purchase") else "customerNumber"
        parties = state["vendors"] if party_field == "vendorNumber" else state["customers"]
        if not any(p["number"] == body.get(party_field) for p in parties):
            return bc_error(400, "Internal_RecordNotFound", f"The party {body.get(party_field)} does not exist.")
        lines_field = entity_set[:-1] + "Lines"
        for line in body.get(lines_field) or []:
            if line.get("lineType") != "Account" or line.get("lineObjectNumber") not in state["accounts"]:
                return bc_error(400, "Internal_RecordNotFound", "G/L Account does not exist.")
        record = {**body, "id": str(uuid.uuid4()), "status": "Draft",
                  "totalAmountIncludingTax": sum((Decimal(str(line["unitPrice"])) * Decimal(str(line["quantity"]))
                                                  for line in body.get(lines_field) or []), Decimal(0))}
        state["documents"].setdefault(entity_set, []).append(record)
        return Response(201, record)

    def _post_document(self, state: dict[str, Any], entity_set: str, document_id: str) -> Response:
        record = next((d for d in state["documents"].get(entity_set, []) if d["id"] == document_id), None)
        if record is None:
            return bc_error(404, "BadRequest_NotFound", "document not found")
        if not self._date_allowed(record["postingDate"]):
            return bc_error(400, "Internal_ErrorMessage",
                            "Posting Date is not within your range of allowed posting dates.")
        record["status"] = "Open"
        return Response(204, None)
