"""Xero accounting API as documented, for contract tests — every request body validated against Xero's own
OpenAPI spec (tests/contracts/xero/xero_accounting.yaml), plus the spec's rule that a manual journal's
debits equal its credits.

Enforced: OAuth 2.0 refresh-token grant with rotation (the previous refresh token keeps working for a
30-minute grace period), bearer expiry, ``xero-tenant-id``; per-tenant 60 calls/minute, 5,000/day and
5 concurrent (429 + ``Retry-After`` + ``X-Rate-Limit-Problem``), ``X-MinLimit-Remaining`` /
``X-DayLimit-Remaining`` on every answer; ``Idempotency-Key`` replay (same key, same body → the stored
answer; same key, other body → 400); ``summarizeErrors=false`` per-item ``ValidationErrors``; period and
end-of-year lock dates; unique invoice numbers and contact names; contacts must exist before documents.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import yaml

from tests.conftest import CONTRACTS
from tests.contract.server import ErpApp, FakeClock, RateWindow, Request, Response, admit_all

SPEC_FILE = CONTRACTS / "xero" / "xero_accounting.yaml"
API = "/api.xro/2.0"
MAX_PAGE_SIZE = 1000


@cache
def xero_spec() -> dict[str, Any]:
    return yaml.load(SPEC_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class XeroSpec:
    """Request validation against the official spec: body schema (OpenAPI 3.0 write context), required
    headers and typed query parameters of the matched operation."""

    def __init__(self) -> None:
        from openapi_schema_validator import OAS30WriteValidator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.spec = xero_spec()
        self.registry = Registry().with_resource("urn:xero", Resource.from_contents(self.spec,
                                                                                    default_specification=DRAFT4))
        self._validator_class = OAS30WriteValidator
        self._validators: dict[str, Any] = {}
        self._templates = [(re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$"), path)
                           for path in self.spec["paths"]]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for pattern, template in self._templates:
            if pattern.match(path):
                item = self.spec["paths"][template]
                operation = item.get(method.lower())
                if operation is not None:
                    return template, {**operation, "_shared": item.get("parameters", [])}
        return None

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def errors(self, request: Request, api_path: str) -> list[str]:
        found = self.operation(request.method, api_path)
        if found is None:
            return [f"{request.method} {api_path} is not an operation of the Xero Accounting API"]
        template, operation = found
        problems: list[str] = []
        for parameter in [self._resolve(p) for p in operation["_shared"] + operation.get("parameters", [])]:
            name, where = parameter["name"], parameter["in"]
            present = request.header(name) if where == "header" else request.query.get(name)
            if parameter.get("required") and present is None and where in ("header", "query"):
                problems.append(f"missing required {where} parameter {name}")
            if present is not None and where == "query" and parameter.get("schema", {}).get("type") == "boolean" \
                    and present not in ("true", "false"):
                problems.append(f"query parameter {name}={present!r} is not a boolean")
            if present is not None and name == "Idempotency-Key" and len(present) > 128:
                problems.append("Idempotency-Key longer than 128 characters")
        body_spec = operation.get("requestBody")
        if body_spec is not None:
            schema_ref = self._resolve(body_spec)["content"]["application/json"]["schema"]["$ref"]
            validator = self._validators.get(schema_ref)
            if validator is None:
                validator = self._validator_class({"$ref": "urn:xero" + schema_ref}, registry=self.registry)
                self._validators[schema_ref] = validator
            body = request.json()
            problems += [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
        return problems


def ms_date(day: date) -> str:
    epoch = (day - date(1970, 1, 1)).days * 86_400_000
    return f"/Date({epoch}+0000)/"


def money(value: Any) -> Decimal:
    return Decimal(str(value))


class XeroApp(ErpApp):
    def __init__(self, clock: FakeClock, spec: XeroSpec, *, tenant_id: str, client_id: str, client_secret: str,
                 refresh_token: str, accounts: set[str], base_currency: str = "USD",
                 period_lock: date | None = None, end_of_year_lock: date | None = None,
                 minute_limit: int = 60, day_limit: int = 5000, concurrency: int = 5) -> None:
        super().__init__(clock, max_concurrency=concurrency)
        self.spec = spec
        self.tenant_id = tenant_id
        self.client = (client_id, client_secret)
        self.refresh_tokens: dict[str, float | None] = {refresh_token: None}   # token → grace expiry
        self.access_tokens: dict[str, float] = {}
        self.accounts = accounts
        self.base_currency = base_currency
        self.period_lock = period_lock
        self.end_of_year_lock = end_of_year_lock
        self.minute = RateWindow(minute_limit, 60, clock)
        self.day = RateWindow(day_limit, 86_400, clock)
        self.app_minute = RateWindow(10_000, 60, clock)     # across every tenant of the app
        self.idempotency: dict[str, tuple[str, Response]] = {}
        self.journals: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.credit_notes: list[dict[str, Any]] = []
        self.payments: list[dict[str, Any]] = []
        self.schema_errors: list[tuple[str, list[str]]] = []
        self.validated_bodies = 0
        self.rate_limited = 0
        self._ids = 0

    # ---- helpers ------------------------------------------------------------------------------------

    def _id(self) -> str:
        self._ids += 1
        return str(uuid.UUID(int=self._ids))

    def posted_journals(self) -> list[dict[str, Any]]:
        return [j for j in self.journals if j["Status"] == "POSTED"]

    def balances(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for journal in self.posted_journals():
            for line in journal["JournalLines"]:
                totals[line["AccountCode"]] = totals.get(line["AccountCode"], Decimal(0)) + money(line["LineAmount"])
        return totals

    def locked_through(self) -> date | None:
        locks = [d for d in (self.period_lock, self.end_of_year_lock) if d]
        return max(locks) if locks else None

    def _limits_headers(self) -> dict[str, str]:
        return {"X-MinLimit-Remaining": str(max(0, self.minute.limit - len(self.minute.hits))),
                "X-DayLimit-Remaining": str(max(0, self.day.limit - len(self.day.hits))),
                "X-AppMinLimit-Remaining": str(max(0, self.app_minute.limit - len(self.app_minute.hits)))}

    def concurrency_exceeded(self, request: Request) -> Response:
        self.rate_limited += 1
        return Response(429, {"Title": "Too Many Requests"}, {"Retry-After": "1", "X-Rate-Limit-Problem": "concurrent"})

    # ---- dispatch -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/connect/token":
            return self._token(request)
        if not request.path.startswith(API):
            return Response(404, {"Message": "not found"})
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        expiry = self.access_tokens.get(token)
        if expiry is None or expiry <= self.clock.now():
            return Response(401, {"Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"})
        if request.header("xero-tenant-id") != self.tenant_id:
            return Response(403, {"Title": "Forbidden", "Status": 403, "Detail": "AuthorizationUnsuccessful"})
        refused = admit_all(self.app_minute, self.day, self.minute)
        if refused is not None:
            wait, window = refused
            problem = {id(self.app_minute): "appminute", id(self.day): "day", id(self.minute): "minute"}[id(window)]
            self.rate_limited += 1
            return Response(429, {"Title": "Too Many Requests"},
                            {"Retry-After": str(int(wait + 0.999)), "X-Rate-Limit-Problem": problem,
                             **self._limits_headers()})
        path = request.path[len(API):]
        if request.method in ("PUT", "POST"):
            problems = self.spec.errors(request, path)
            self.validated_bodies += 1
            if problems:
                self.schema_errors.append((f"{request.method} {path}", problems))
                return Response(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                                      "Message": "; ".join(problems)}, self._limits_headers())
            key = request.header("idempotency-key")
            if key:
                digest = hashlib.sha256(request.method.encode() + path.encode() + request.body).hexdigest()
                stored = self.idempotency.get(key)
                if stored is not None:
                    if stored[0] != digest:
                        return Response(400, {"Type": "ValidationException", "Message":
                                              "The Idempotency-Key was used with a different request"})
                    return stored[1]
            with self.lock:
                early = self.before_commit()
                if early is not None:
                    return early
                response = self._write(request, path)
                response.headers.update(self._limits_headers())
                if key and response.status < 500:
                    self.idempotency[key] = (digest, response)
            return self.after_commit(response)
        response = self._read(request, path)
        response.headers.update(self._limits_headers())
        return response

    def _token(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{self.client[0]}:{self.client[1]}".encode()).decode()
        if request.header("authorization") != expected:
            return Response(401, {"error": "invalid_client"})
        form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
        token = form.get("refresh_token", "")
        grace = self.refresh_tokens.get(token, "missing")
        if form.get("grant_type") != "refresh_token" or grace == "missing" or (
                grace is not None and grace < self.clock.now()):  # type: ignore[operator]
            return Response(400, {"error": "invalid_grant"})
        new_refresh = uuid.uuid4().hex
        for existing, expiry in list(self.refresh_tokens.items()):
            if expiry is None:
                self.refresh_tokens[existing] = self.clock.now() + 1800   # grace period for the old one
        self.refresh_tokens[new_refresh] = None
        access = uuid.uuid4().hex
        self.access_tokens[access] = self.clock.now() + 1800
        return Response(200, {"access_token": access, "expires_in": 1800, "token_type": "Bearer",
                              "refresh_token": new_refresh})

    # ---- reads --------------------------------------------------------------------------------------

    def _where(self, items: list[dict[str, Any]], where: str | None) -> list[dict[str, Any]]:
        if not where:
            return items
        selected = items
        for clause in re.split(r"\s*(?:&&| AND )\s*", where.strip()):
            selected = self._clause(selected, clause)
        return selected

    def _clause(self, items: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
        contains = re.fullmatch(r'(\w+)\.Contains\("(.*)"\)', where)
        if contains:
            field, needle = contains.groups()
            return [i for i in items if needle in str(i.get(field) or "")]
        equals = re.fullmatch(r'(\w+)=="(.*)"', where)
        if equals:
            field, wanted = equals.groups()
            return [i for i in items if str(i.get(field) or "") == wanted]
        on_date = re.fullmatch(r"(\w+)(==|>=|<=)DateTime\((\d{4}),\s*(\d{1,2}),\s*(\d{1,2})\)", where)
        if on_date:
            field, operator, year, month, day = on_date.groups()
            wanted_day = date(int(year), int(month), int(day))
            compare = {"==": lambda d: d == wanted_day, ">=": lambda d: d >= wanted_day,
                       "<=": lambda d: d <= wanted_day}[operator]
            return [i for i in items if i.get(field) and compare(date.fromisoformat(str(i[field])[:10]))]
        raise ValueError(f"unsupported where clause {where!r}")

    def throttled(self, retry_after: int) -> Response:
        self.rate_limited += 1
        return Response(429, {"Title": "Too Many Requests"},
                        {"Retry-After": str(retry_after), "X-Rate-Limit-Problem": "minute", **self._limits_headers()})

    def _read(self, request: Request, path: str) -> Response:
        where = request.query.get("where")
        if path == "/Organisation":
            organisation = {"OrganisationID": str(uuid.UUID(int=10**6)), "Name": "Contract Test Ltd",
                            "BaseCurrency": self.base_currency}
            if self.period_lock:
                organisation["PeriodLockDate"] = ms_date(self.period_lock)
            if self.end_of_year_lock:
                organisation["EndOfYearLockDate"] = ms_date(self.end_of_year_lock)
            return Response(200, {"Organisations": [organisation]})
        collections = {"/ManualJournals": ("ManualJournals", self.journals), "/Contacts": ("Contacts", self.contacts),
                       "/Invoices": ("Invoices", self.invoices), "/CreditNotes": ("CreditNotes", self.credit_notes),
                       "/Payments": ("Payments", self.payments)}
        if path not in collections:
            return Response(404, {"Message": "not found"})
        name, items = collections[path]
        try:
            selected = self._where(items, where)
        except ValueError as exc:
            return Response(400, {"Type": "QueryParseException", "Message": str(exc)})
        numbers = request.query.get("InvoiceNumbers")
        if numbers:
            wanted = set(numbers.split(","))
            selected = [i for i in selected if i.get("InvoiceNumber") in wanted]
        order = request.query.get("order")
        if order:   # e.g. "Date ASC": stable, ties keep their insertion order
            field, _, direction = order.partition(" ")
            selected = sorted(selected, key=lambda i: str(i.get(field) or ""), reverse=direction.upper() == "DESC")
        body: dict[str, Any] = {}
        if "page" in request.query:   # paged: at most pageSize (default 100, largest 1,000) with a pagination element
            page = max(1, int(request.query["page"]))
            size = min(int(request.query.get("pageSize") or 100), MAX_PAGE_SIZE)
            body["pagination"] = {"page": page, "pageSize": size, "pageCount": max(1, -(-len(selected) // size)),
                                  "itemCount": len(selected)}
            selected = selected[(page - 1) * size: page * size]
        # Xero answers dates in its Microsoft JSON form
        body[name] = [{**i, "Date": ms_date(date.fromisoformat(str(i["Date"])[:10]))} if i.get("Date") else i
                      for i in selected]
        return Response(200, body)

    # ---- writes -------------------------------------------------------------------------------------

    def _write(self, request: Request, path: str) -> Response:
        body = request.json()
        summarize = request.query.get("summarizeErrors", "true") != "false"
        handlers = {"/ManualJournals": ("ManualJournals", self._journal), "/Contacts": ("Contacts", self._contact),
                    "/Invoices": ("Invoices", self._invoice), "/CreditNotes": ("CreditNotes", self._credit_note),
                    "/Payments": ("Payments", self._payment)}
        allocation = re.fullmatch(r"/CreditNotes/([^/]+)/Allocations", path)
        if allocation:
            name, handler = "Allocations", lambda item: self._allocation(allocation.group(1), item)
        elif path in handlers:
            name, handler = handlers[path]
        else:
            return Response(404, {"Message": "not found"})
        results, stores = [], []
        for item in body.get(name) or []:
            errors, stored = handler(item)
            result = {k: v for k, v in {**item, **(stored or {})}.items() if k != "_commit"}
            if errors:
                result["StatusAttributeString"] = "ERROR"
                result["ValidationErrors"] = [{"Message": e} for e in errors]
            else:
                result["StatusAttributeString"] = "OK"
                stores.append(stored)
            results.append(result)
        if summarize and any(r["StatusAttributeString"] == "ERROR" for r in results):
            return Response(400, {"ErrorNumber": 10, "Type": "ValidationException",
                                  "Message": "A validation exception occurred",
                                  "Elements": [{"ValidationErrors": r.get("ValidationErrors", [])} for r in results]})
        for stored in stores:
            stored["_commit"]()
            del stored["_commit"]
        return Response(200, {"Id": str(uuid.uuid4()), "Status": "OK", name: results})

    def _date_errors(self, value: str | None) -> list[str]:
        locked = self.locked_through()
        if value and locked and date.fromisoformat(value[:10]) <= locked:
            return [f"The document date cannot be before the period lock date ({locked + timedelta(days=1)})"]
        return []

    def _journal(self, item: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        errors = []
        lines = item.get("JournalLines") or []
        debits = sum((money(line["LineAmount"]) for line in lines if money(line["LineAmount"]) > 0), Decimal(0))
        credits = sum((money(line["LineAmount"]) for line in lines if money(line["LineAmount"]) < 0), Decimal(0))
        if debits + credits != 0:   # the spec's own example: "The total debits (100.00) must equal total credits (-10.00)"
            errors.append(f"The total debits ({debits:.2f}) must equal total credits ({credits:.2f})")
        if len(lines) < 2:
            errors.append("Journal must have at least two lines")
        for line in lines:
            if line.get("AccountCode") not in self.accounts:
                errors.append(f"Account code '{line.get('AccountCode')}' is not a valid code for this document.")
        errors += self._date_errors(item.get("Date"))
        if errors:
            return errors, None
        stored = {**item, "ManualJournalID": self._id(), "Status": item.get("Status", "DRAFT")}
        stored["_commit"] = lambda: self.journals.append({k: v for k, v in stored.items() if k != "_commit"})
        return [], stored

    def _contact(self, item: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        if any(c["Name"] == item.get("Name") for c in self.contacts):
            return [f"The contact name {item.get('Name')} is already assigned to another contact."], None
        stored = {**item, "ContactID": self._id(), "ContactStatus": "ACTIVE"}
        stored["_commit"] = lambda: self.contacts.append({k: v for k, v in stored.items() if k != "_commit"})
        return [], stored

    def _contact_errors(self, item: dict[str, Any]) -> list[str]:
        contact_id = (item.get("Contact") or {}).get("ContactID")
        return [] if any(c["ContactID"] == contact_id for c in self.contacts) else ["Contact not found"]

    def _line_errors(self, item: dict[str, Any]) -> list[str]:
        return [f"Account code '{line.get('AccountCode')}' is not a valid code for this document."
                for line in item.get("LineItems") or [] if line.get("AccountCode") not in self.accounts]

    def _total(self, item: dict[str, Any]) -> Decimal:
        return sum((money(line.get("UnitAmount", 0)) * money(line.get("Quantity", 1))
                    for line in item.get("LineItems") or []), Decimal(0))

    def _invoice(self, item: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        errors = self._contact_errors(item) + self._line_errors(item) + self._date_errors(item.get("Date"))
        if item.get("Type") == "ACCREC" and any(i.get("InvoiceNumber") == item.get("InvoiceNumber")
                                                and i["Type"] == "ACCREC" for i in self.invoices):
            errors.append("Invoice # must be unique.")
        if errors:
            return errors, None
        total = self._total(item)
        stored = {**item, "InvoiceID": self._id(), "Total": total, "AmountDue": total}
        stored["_commit"] = lambda: self.invoices.append({k: v for k, v in stored.items() if k != "_commit"})
        return [], stored

    def _credit_note(self, item: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        errors = self._contact_errors(item) + self._line_errors(item) + self._date_errors(item.get("Date"))
        if any(c.get("CreditNoteNumber") == item.get("CreditNoteNumber") for c in self.credit_notes):
            errors.append("Credit Note # must be unique.")
        if errors:
            return errors, None
        total = self._total(item)
        stored = {**item, "CreditNoteID": self._id(), "Total": total, "RemainingCredit": total}
        stored["_commit"] = lambda: self.credit_notes.append({k: v for k, v in stored.items() if k != "_commit"})
        return [], stored

    def _allocation(self, credit_note_id: str, item: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        credit = next((c for c in self.credit_notes if c["CreditNoteID"] == credit_note_id), None)
        invoice = next((i for i in self.invoices if i["InvoiceID"] == (item.get("Invoice") or {}).get("InvoiceID")), None)
        amount = money(item.get("Amount", 0))
        if credit is None or invoice is None:
            return ["Credit note or invoice not found"], None
        if amount > credit["RemainingCredit"] or amount > invoice["AmountDue"]:
            return ["The amount allocated exceeds the remaining credit or the amount due"], None

        def commit() -> None:
            credit["RemainingCredit"] -= amount
            invoice["AmountDue"] -= amount

        return [], {"AllocationID": self._id(), "_commit": commit}

    def _payment(self, item: dict[str, Any]) -> tuple[list[str], dict[str, Any] | None]:
        invoice = next((i for i in self.invoices if i["InvoiceID"] == (item.get("Invoice") or {}).get("InvoiceID")), None)
        errors = self._date_errors(item.get("Date"))
        if invoice is None:
            errors.append("Invoice could not be found")
        elif money(item.get("Amount", 0)) > invoice["AmountDue"]:
            errors.append("Payment amount exceeds the amount outstanding on this document")
        if (item.get("Account") or {}).get("Code") not in self.accounts:
            errors.append("Account could not be found")
        if errors:
            return errors, None
        stored = {**item, "PaymentID": self._id(), "Status": "AUTHORISED"}

        def commit() -> None:
            invoice["AmountDue"] -= money(item["Amount"])   # type: ignore[index]
            self.payments.append({k: v for k, v in stored.items() if k != "_commit"})

        stored["_commit"] = commit
        return [], stored
