"""QuickBooks Online accounting API as documented, for contract tests.

Enforced: OAuth 2.0 refresh-token grant (Basic client auth) and bearer expiry; 500 requests/minute and
10/second per realm, 40 batch requests/minute (429 with a ``Fault``, no Retry-After: Intuit says wait 60 s);
``requestid`` replay of the stored answer — or, with ``requestid_reliable=False``, no replay at all (it is
reported unreliable); batches of at most 30 items, run in order, each answering with its entity or its own
``Fault``; journal entries that balance (debits = credits), known accounts, the books closing date
("Account Period Closed", 6200); DocNumber duplicates are accepted (as QuickBooks does) — only the
connector's discipline prevents a second posting; display names unique across customers and vendors.
"""

from __future__ import annotations

import base64
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from tests.contract.server import ErpApp, FakeClock, RateWindow, Request, Response, admit_all

CLOSED = {"Fault": {"Error": [{"Message": "Account Period Closed",
                               "Detail": "The account period has closed and the account books cannot be updated "
                                         "through the QBO Services API. Please use the QBO website to make these "
                                         "changes.", "code": "6200"}], "type": "ValidationFault"}}


MAX_RESULTS = 1000    # the most entities one query returns


def fault(message: str, code: str, detail: str = "") -> dict[str, Any]:
    return {"Fault": {"Error": [{"Message": message, "Detail": detail or message, "code": code}],
                      "type": "ValidationFault"}}


class QuickBooksApp(ErpApp):
    def __init__(self, clock: FakeClock, *, realm_id: str, client_id: str, client_secret: str, refresh_token: str,
                 accounts: set[str], items: set[str] | None = None, book_close: date | None = None,
                 requestid_reliable: bool = True, classes: set[str] | None = None,
                 departments: set[str] | None = None) -> None:
        super().__init__(clock)
        self.realm_id = realm_id
        self.client = (client_id, client_secret)
        self.refresh_token = refresh_token
        self.access_tokens: dict[str, float] = {}
        self.accounts = accounts
        self.items = items or set()
        self.classes = classes or set()          # tracking: Class and Department (location) ids
        self.departments = departments or set()
        self.book_close = book_close
        self.requestid_reliable = requestid_reliable
        self.minute = RateWindow(500, 60, clock)
        self.second = RateWindow(10, 1, clock)
        self.batch_minute = RateWindow(40, 60, clock)
        self.request_ids: dict[str, Response] = {}
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.rate_limited = 0
        self._ids = 100

    def of(self, entity: str) -> list[dict[str, Any]]:
        return self.records.setdefault(entity, [])

    # ---- dispatch -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/oauth2/v1/tokens/bearer":
            return self._token(request)
        prefix = f"/v3/company/{self.realm_id}/"
        if not request.path.startswith(prefix):
            return Response(404, fault("Unsupported Operation", "500"))
        token = (request.header("authorization") or "").removeprefix("Bearer ")
        if self.access_tokens.get(token, 0) <= self.clock.now():
            return Response(401, {"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; "
                                                                  "statusCode=401", "code": "3200"}],
                                            "type": "AUTHENTICATION"}})
        resource = request.path[len(prefix):]
        windows = [self.minute, self.second] + ([self.batch_minute] if resource == "batch" else [])
        if admit_all(*windows) is not None:
            self.rate_limited += 1
            return Response(429, fault("message=ThrottleExceeded; errorCode=003001; statusCode=429", "3001"))
        if request.method == "GET":
            return self._read(request, resource)
        request_id = request.query.get("requestid")
        if request_id and self.requestid_reliable and request_id in self.request_ids:
            return self.request_ids[request_id]
        with self.lock:
            early = self.before_commit()
            if early is not None:
                return early
            if resource == "batch":
                response = self._batch(request.json())
            else:
                response = self._create(resource, request.json())
            if request_id and response.status < 500:
                self.request_ids[request_id] = response
        return self.after_commit(response)

    def _token(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{self.client[0]}:{self.client[1]}".encode()).decode()
        form = dict(pair.split("=", 1) for pair in request.body.decode().split("&"))
        if request.header("authorization") != expected:
            return Response(401, {"error": "invalid_client"})
        if form.get("refresh_token") != self.refresh_token:
            return Response(400, {"error": "invalid_grant"})
        access = uuid.uuid4().hex
        self.access_tokens[access] = self.clock.now() + 3600
        return Response(200, {"access_token": access, "expires_in": 3600, "token_type": "bearer",
                              "refresh_token": self.refresh_token, "x_refresh_token_expires_in": 8_726_400})

    def throttled(self, retry_after: int) -> Response:   # Intuit sends no Retry-After: clients wait 60 s
        self.rate_limited += 1
        return Response(429, fault("message=ThrottleExceeded; errorCode=003001; statusCode=429", "3001"))

    # ---- reads --------------------------------------------------------------------------------------

    def _read(self, request: Request, resource: str) -> Response:
        if resource == "preferences":
            prefs: dict[str, Any] = {"CurrencyPrefs": {"HomeCurrency": {"value": "USD"}, "MultiCurrencyEnabled": True}}
            if self.book_close:
                prefs["AccountingInfoPrefs"] = {"BookCloseDate": self.book_close.isoformat()}
            return Response(200, {"Preferences": prefs})
        if resource == "query":
            match = re.fullmatch(r"select \* from (\w+) where (\w+) = '([^']*)'(?: orderby (\w+))?"
                                 r"(?: startposition (\d+))?(?: maxresults (\d+))?", request.query.get("query", ""),
                                 flags=re.IGNORECASE)
            if not match:
                return Response(400, fault("QueryParserError", "4000"))
            entity, field, value, order, start, size = match.groups()
            if size is not None and not 1 <= int(size) <= MAX_RESULTS:
                return Response(400, fault("QueryValidationError", "4001",
                                           f"MAXRESULTS must be between 1 and {MAX_RESULTS}"))
            found = [r for r in self.of(entity) if str(r.get(field)) == value]
            if order:
                found = sorted(found, key=lambda r: int(r[order]) if str(r.get(order, "")).isdigit() else 0)
            first = int(start or 1)
            found = found[first - 1: first - 1 + int(size or 100)]   # Intuit's default page: 100
            page = {entity: found, "startPosition": first, "maxResults": len(found)} if found else {}
            return Response(200, {"QueryResponse": page})
        return Response(404, fault("Unsupported Operation", "500"))

    # ---- writes -------------------------------------------------------------------------------------

    def _batch(self, body: dict[str, Any]) -> Response:
        items = body.get("BatchItemRequest") or []
        if len(items) > 30:
            return Response(400, fault("Too many batch items", "2010", "at most 30 items per batch"))
        answers = []
        for item in items:   # in order; an item cannot see what an earlier one created (Intuit's rule)
            entity = next(k for k in item if k not in ("bId", "operation"))
            result = self._create(entity.lower(), item[entity])
            if result.status == 200:
                answers.append({"bId": item["bId"], entity: result.body[entity]})
            else:
                answers.append({"bId": item["bId"], **result.body})
        return Response(200, {"BatchItemResponse": answers, "time": "2026-01-01T00:00:00.000-08:00"})

    def _create(self, resource: str, body: dict[str, Any]) -> Response:
        entity = {"journalentry": "JournalEntry", "customer": "Customer", "vendor": "Vendor", "invoice": "Invoice",
                  "bill": "Bill", "creditmemo": "CreditMemo", "vendorcredit": "VendorCredit", "payment": "Payment",
                  "billpayment": "BillPayment"}.get(resource)
        if entity is None:
            return Response(400, fault("Unsupported Operation", "500"))
        if entity in ("Customer", "Vendor"):
            name = body.get("DisplayName")
            if any(r["DisplayName"] == name for r in self.of("Customer") + self.of("Vendor")):
                return Response(400, fault("Duplicate Name Exists Error", "6240"))
        else:
            errors = self._transaction_errors(entity, body)
            if errors:
                return Response(400, errors)
        self._ids += 1
        record = {**body, "Id": str(self._ids), "SyncToken": "0"}
        if entity in ("Payment", "BillPayment"):
            for line in body.get("Line") or []:
                for linked in line.get("LinkedTxn") or []:
                    target = next(r for r in self.of(linked["TxnType"]) if r["Id"] == linked["TxnId"])
                    target["Balance"] = Decimal(str(target["Balance"])) - Decimal(str(line["Amount"]))
        elif entity != "JournalEntry":
            record["Balance"] = sum((Decimal(str(line["Amount"])) for line in body.get("Line") or []), Decimal(0))
        if entity not in ("JournalEntry", "Customer", "Vendor"):
            record["TotalAmt"] = sum((Decimal(str(line["Amount"])) for line in body.get("Line") or []), Decimal(0))
        self.of(entity).append(record)
        return Response(200, {entity: record, "time": "2026-01-01T00:00:00.000-08:00"})

    def _transaction_errors(self, entity: str, body: dict[str, Any]) -> dict[str, Any] | None:
        txn_date = body.get("TxnDate")
        if txn_date and self.book_close and date.fromisoformat(txn_date) <= self.book_close:
            return CLOSED
        lines = body.get("Line") or []
        if entity == "JournalEntry":
            totals = {"Debit": Decimal(0), "Credit": Decimal(0)}
            for line in lines:
                detail = line["JournalEntryLineDetail"]
                if detail["AccountRef"]["value"] not in self.accounts:
                    return fault("Invalid Reference Id", "2500", f"Account {detail['AccountRef']['value']} not found")
                if "ClassRef" in detail and detail["ClassRef"]["value"] not in self.classes:
                    return fault("Invalid Reference Id", "2500", f"Class {detail['ClassRef']['value']} not found")
                if "DepartmentRef" in detail and detail["DepartmentRef"]["value"] not in self.departments:
                    return fault("Invalid Reference Id", "2500",
                                 f"Department {detail['DepartmentRef']['value']} not found")
                if Decimal(str(line["Amount"])) <= 0:
                    return fault("Amount must be positive", "6000")
                totals[detail["PostingType"]] += Decimal(str(line["Amount"]))
            if totals["Debit"] != totals["Credit"]:
                return fault("Transaction Not Balanced", "6000",
                             "You must have an equal amount of debits and credits.")
            return None
        party = body.get("CustomerRef") or body.get("VendorRef") or {}
        parties = self.of("Customer") if "CustomerRef" in body else self.of("Vendor")
        if not any(p["Id"] == party.get("value") for p in parties):
            return fault("Invalid Reference Id", "2500", "Customer/Vendor not found")
        for line in lines:
            if "SalesItemLineDetail" in line and line["SalesItemLineDetail"]["ItemRef"]["value"] not in self.items:
                return fault("Invalid Reference Id", "2500", "Item not found")
            if "AccountBasedExpenseLineDetail" in line and \
                    line["AccountBasedExpenseLineDetail"]["AccountRef"]["value"] not in self.accounts:
                return fault("Invalid Reference Id", "2500", "Account not found")
            for linked in line.get("LinkedTxn") or []:
                target = next((r for r in self.of(linked["TxnType"]) if r["Id"] == linked["TxnId"]), None)
                if target is None:
                    return fault("Invalid Reference Id", "2500", "linked transaction not found")
                if Decimal(str(line["Amount"])) > Decimal(str(target["Balance"])):
                    return fault("Payment exceeds the open balance", "6000")
        return None
