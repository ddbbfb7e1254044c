"""NetSuite REST web services (``/services/rest``), one account per connection.

- **Auth**: token-based authentication — OAuth 1.0a signed with HMAC-SHA256 on every request; the signing key
  is ``consumer_secret&token_secret`` and ``realm`` (the account id) goes in the header, not the base string.
- **Exactly once**: journals and documents are *upserted by external id* (``PUT /record/v1/{type}/eid:{id}``):
  a repeat of the same request updates the record it created instead of adding one, and the post step
  looks the external id up first, so an existing posting is never touched. Large journals (over
  ``async_line_threshold`` lines) go asynchronously (``Prefer: respond-async``) with an
  ``X-NetSuite-Idempotency-Key`` derived from the external id: a repeated submission answers with the
  first job instead of starting another.
- **Limits**: one account-wide concurrency limit shared with every other integration (REST, SOAP, RESTlets);
  the connection's limiter caps LedgerLink's share (``limits.max_concurrency``, default 5). Going over is
  answered 429 or ``SSS_REQUEST_LIMIT_EXCEEDED``; the call is not processed and is retried after a pause.
- **Periods**: accounting periods via SuiteQL — a *closed* period blocks everything; a period *locked* for
  all (``alllocked``) blocks posting too, A/R and A/P locks block invoices/credits and bills respectively.
- **Documents**: customers/vendors upserted by external id; invoices and credit memos (item lines, via the
  connection's ``items`` map), vendor bills and vendor credits (expense lines on GL accounts), customer and
  vendor payments applied to the document they settle.
- **Reading back** (reconciliation): one SuiteQL query over ``transaction`` ⋈ ``transactionaccountingline`` for the
  date, ``limit=1000`` rows per page with ``offset`` until ``hasMore`` is false; the external id (or, for a copy
  made by hand, the memo) names the document.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from ledgerlink.config.model import Entity
from ledgerlink.connectors.erps import ConnectorContext, limiter_for
from ledgerlink.connectors.erps.base import (
    BulkItemResult,
    ConnectionLimits,
    ErpDocument,
    PeriodStatus,
    PostResult,
)
from ledgerlink.connectors.erps.common import (
    ApiConnector,
    Cached,
    debit_credit,
    journal_currency,
    location_id,
    narration,
    obj,
    objects,
    post_with_lookup,
    rejected_early,
    text,
)
from ledgerlink.connectors.erps.http import HttpClient, HttpResponse
from ledgerlink.connectors.erps.netsuite.bodies import (
    Application,
    ExpenseLines,
    ItemLine,
    ItemLines,
    JournalBody,
    JournalLine,
    PartyBody,
    RecordBody,
    SuiteQlQuery,
)
from ledgerlink.connectors.erps.netsuite.config import NetSuiteConnection
from ledgerlink.connectors.erps.oauth1 import TokenCredentials, authorization_header
from ledgerlink.connectors.erps.ratelimit import real_sleep, wall_clock_ms
from ledgerlink.connectors.erps.session import ErpSession, load_credentials, rejected
from ledgerlink.errors import DocumentRejected, TransientError
from ledgerlink.model.documents import JournalEntry, Party
from ledgerlink.model.documents import JournalLine as LedgerLine
from ledgerlink.model.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.connectors.erps.readback import ErpRecord, Listing, ReadbackBudget

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c1f5e-8a39-4d0f-9a59-2c0a8b9f7e21")
RECORD_OF_KIND = {"invoice": "invoice", "bill": "vendorbill", "credit_note": "creditmemo",
                  "vendor_credit": "vendorcredit", "payment": "customerpayment", "vendor_payment": "vendorpayment"}
LOOKUP_TYPES = ("journalentry", "invoice", "vendorbill", "creditmemo", "vendorcredit", "customerpayment",
                "vendorpayment")
LOCK_OF_KIND = {"journalentry": None, "invoice": "arlocked", "creditmemo": "arlocked", "customerpayment": "arlocked",
                "vendorbill": "aplocked", "vendorcredit": "aplocked", "vendorpayment": "aplocked"}
PERIODS_QUERY = ("SELECT id, periodname, TO_CHAR(startdate, 'YYYY-MM-DD') AS startdate, "
                 "TO_CHAR(enddate, 'YYYY-MM-DD') AS enddate, closed, alllocked, arlocked, aplocked "
                 "FROM accountingperiod WHERE isquarter = 'F' AND isyear = 'F'")
ASYNC_POLLS = 8
KIND_OF_RECORD = {"journalentry": "journal", **{record: kind for kind, record in RECORD_OF_KIND.items()}}
READBACK_PAGE_SIZE = 1000      # SuiteQL: at most 1,000 rows per page
READBACK_QUERY = ("SELECT t.id, t.externalid, t.recordtype, TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, t.memo, "
                  "tal.account, tal.debit, tal.credit FROM transaction t "
                  "INNER JOIN transactionaccountingline tal ON tal.transaction = t.id "
                  "WHERE t.trandate = TO_DATE('{day}', 'YYYY-MM-DD') AND t.recordtype IN ({types}) "
                  "AND tal.posting = 'T' ORDER BY t.id")


def _error(body: JsonValue) -> tuple[str, str]:
    answer = obj(body)
    details = objects(answer.get("o:errorDetails")) or [{}]
    return str(details[0].get("o:errorCode", "")), str(details[0].get("detail", answer.get("title", "")))


def _concurrency_refused(response: HttpResponse) -> bool:
    return response.status == 400 and b"SSS_REQUEST_LIMIT_EXCEEDED" in response.body


def _flag(value: JsonValue) -> bool:
    return value is True or str(value).upper() in ("T", "TRUE")


class NetSuite(ApiConnector):
    readback_page_size = READBACK_PAGE_SIZE   # a page of the read-back listing (tests make it small)

    def __init__(self, connection: NetSuiteConnection, context: ConnectorContext) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self._secrets = context.secrets
        self._clock = context.clock_ms or wall_clock_ms
        self._sleep = context.sleeper or real_sleep
        self._credentials: TokenCredentials | None = None
        self.session = ErpSession(
            connection_id=connection.id,
            http=HttpClient(connection.base_url or connection.default_base_url(), timeout=connection.timeout_seconds),
            auth=self._sign, reauthenticate=self._forget_credentials,
            limiter=limiter_for(context, connection, self.limits()), rate_limit_wait=2.0,
            is_rate_limited=_concurrency_refused)
        self._periods: Cached[list[JsonObject]] = Cached(self._clock)
        self._parties: dict[str, str] = {}
        self._context = context

    # ---- auth ---------------------------------------------------------------------------------------

    def _forget_credentials(self) -> None:
        self._credentials = None

    def credentials(self) -> TokenCredentials:
        if self._credentials is None:
            raw = load_credentials(self._secrets, self.connection.credentials.secret_id,
                                   ("consumer_key", "consumer_secret", "token_id", "token_secret"))
            self._credentials = TokenCredentials(raw["consumer_key"], raw["consumer_secret"], raw["token_id"],
                                                 raw["token_secret"])
        return self._credentials

    def _sign(self, method: str, url: str) -> dict[str, str]:
        header = authorization_header(method, url, self.credentials(), realm=self.connection.account_id,
                                      timestamp=self._clock() // 1000)
        return {"Authorization": header}

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=None, daily_budget=None, max_concurrency=5, bulk_size=1)

    # ---- records ------------------------------------------------------------------------------------

    def _upsert(self, record_type: str, external_id: str, body: JournalBody | RecordBody | PartyBody) -> str:
        response = self.session.call("PUT", f"record/v1/{record_type}/eid:{external_id}", json_body=body, write=True)
        if response.status in (200, 204):
            return location_id(response.header("location"))
        code, detail = _error(response.json())
        raise self._rejection(record_type, code, detail)

    def _rejection(self, record_type: str, code: str, detail: str) -> DocumentRejected:
        lowered = detail.lower()
        reason = "period_closed" if "period" in lowered and ("closed" in lowered or "locked" in lowered) \
            else "erp_rejected"
        return rejected(self.connection_id, f"{record_type}: {detail} ({code})", reason=reason, erp_code=code)

    def _get_by_external_id(self, record_type: str, external_id: str) -> JsonObject | None:
        response = self.session.call("GET", f"record/v1/{record_type}/eid:{external_id}")
        if response.status == 404:
            return None
        if not response.ok:
            raise TransientError(f"{self.connection_id}: GET {record_type} answered {response.status}",
                                 reason="erp_unavailable")
        return response.json_object()

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        """``kind`` narrows the lookup to one record type (one call instead of seven)."""
        types = LOOKUP_TYPES if kind is None else (
            "journalentry" if kind == "journal" else RECORD_OF_KIND[kind],)
        for record_type in types:
            record = self._get_by_external_id(record_type, external_id)
            if record is not None:
                return PostResult(erp_ref=f"netsuite:{record_type}/{record.get('id')}", created=False)
        return None

    # ---- reading back (issue 19) ---------------------------------------------------------------------


    @staticmethod
    def readback_kind(erp_ref: str) -> str:
        record_type = erp_ref.removeprefix("netsuite:").split("/", 1)[0]
        return KIND_OF_RECORD.get(record_type, "journal")


    def read_back(self, entity_id: str, on: date, kinds: frozenset[str] = frozenset({"journal"}),
                  budget: ReadbackBudget | None = None) -> Listing:
        """The GL impact of every transaction dated ``on`` of the record types in ``kinds`` (journal entries always):
        one SuiteQL query over ``transaction`` ⋈ ``transactionaccountingline``, read ``limit=1000`` rows per call
        (SuiteQL's largest page) with ``offset`` until ``hasMore`` is false. Rows are accounting lines, so a
        transaction may span two pages: they are grouped by transaction id after the last page."""
        from ledgerlink.connectors.erps.readback import Listing

        budget = budget if budget is not None else self.readback_budget()
        listing = Listing()
        types = ["journalentry"] + [RECORD_OF_KIND[kind] for kind in sorted(kinds) if kind in RECORD_OF_KIND]
        query = READBACK_QUERY.format(day=on.isoformat(), types=", ".join(f"'{t}'" for t in dict.fromkeys(types)))
        grouped: dict[str, list[JsonObject]] = {}
        for row in self._readback_rows(budget, listing, query):
            grouped.setdefault(str(row["id"]), []).append(row)
        listing.records += [_readback_record(internal_id, lines) for internal_id, lines in grouped.items()]
        return listing

    def _readback_rows(self, budget: ReadbackBudget, listing: Listing, query: str) -> list[JsonObject]:
        """Every row of the read-back query: ``limit`` rows per call with ``offset`` until ``hasMore`` is false."""
        from ledgerlink.connectors.erps.readback import read_page

        rows: list[JsonObject] = []
        offset = 0
        while True:
            page = read_page(budget, listing, partial(self._suiteql, query, offset))
            rows += objects(page.get("items"))
            if not page.get("hasMore"):
                return rows
            offset += self.readback_page_size

    def _suiteql(self, query: str, offset: int) -> JsonObject:
        request: SuiteQlQuery = {"q": query}
        response = self.session.call("POST", "query/v1/suiteql", json_body=request,
                                     query={"limit": self.readback_page_size, "offset": offset},
                                     headers={"Prefer": "transient"})
        if not response.ok:
            code, detail = _error(response.json())
            raise TransientError(f"{self.connection_id}: SuiteQL answered {response.status} {code} {detail}"[:500],
                                 reason="erp_unavailable")
        return response.json_object()

    # ---- periods ------------------------------------------------------------------------------------

    def periods(self) -> list[JsonObject]:
        return self._periods.get(self._read_periods)

    def _read_periods(self) -> list[JsonObject]:
        request: SuiteQlQuery = {"q": PERIODS_QUERY}
        response = self.session.call("POST", "query/v1/suiteql", json_body=request, headers={"Prefer": "transient"})
        if not response.ok:
            raise TransientError(f"{self.connection_id}: SuiteQL answered {response.status}",
                                 reason="erp_unavailable")
        return objects(response.json_object().get("items"))

    def period_status(self, entity: Entity, on: date, record_type: str = "journalentry") -> PeriodStatus:
        lock = LOCK_OF_KIND.get(record_type)
        blocked_through: date | None = None
        is_open = True
        for period in self.periods():
            start, end = date.fromisoformat(str(period["startdate"])), date.fromisoformat(str(period["enddate"]))
            blocked = _flag(period.get("closed")) or _flag(period.get("alllocked")) or (
                lock is not None and _flag(period.get(lock)))
            if blocked and (blocked_through is None or end > blocked_through):
                blocked_through = end
            if start <= on <= end:
                is_open = not blocked
        return PeriodStatus(open=is_open, closed_through=blocked_through, source="erp")

    # ---- journals -----------------------------------------------------------------------------------

    def journal_body(self, journal: JournalEntry) -> JournalBody:
        currency = journal_currency(journal)
        body: JournalBody = {"tranDate": journal.accounting_date.isoformat(), "memo": narration(journal, 999),
                             "line": {"items": [_journal_line(line) for line in journal.lines]}}
        if self.connection.subsidiary_id:
            body["subsidiary"] = {"id": self.connection.subsidiary_id}
        if currency in self.connection.currency_ids:
            body["currency"] = {"id": self.connection.currency_ids[currency]}
        return body

    def post_journal(self, journal: JournalEntry) -> PostResult:
        body = self.journal_body(journal)
        if len(journal.lines) > self.connection.async_line_threshold:
            return self._post_async("journalentry", journal.document_id, body)
        return post_with_lookup(journal.document_id, lambda: PostResult(
            erp_ref=f"netsuite:journalentry/{self._upsert('journalentry', journal.document_id, body)}", created=True),
            lambda found: self.find_by_external_id(found, "journal"))

    def post_journals(self, journals: Sequence[JournalEntry]) -> list[BulkItemResult]:
        """NetSuite's REST record API takes one record per request: journals go one by one within the
        connection's concurrency share (large ones asynchronously); a rejection stays with its journal."""
        results = []
        for journal in journals:
            try:
                results.append(BulkItemResult(journal.document_id, self.post_journal(journal)))
            except DocumentRejected as exc:
                results.append(rejected_early(journal, exc))
        return results

    # ---- asynchronous requests ----------------------------------------------------------------------

    def _post_async(self, record_type: str, external_id: str, body: JournalBody) -> PostResult:
        key = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{self.connection.account_id}/{record_type}/{external_id}"))
        response = self.session.call("POST", f"record/v1/{record_type}", json_body={**body, "externalId": external_id},
                                     headers={"Prefer": "respond-async", "X-NetSuite-Idempotency-Key": key},
                                     write=True)
        code, detail = _error(response.json()) if response.body else ("", "")
        if response.status not in (202,) and code != "IDEMPOTENCY_ERROR":
            raise self._rejection(record_type, code, detail)
        job = location_id(response.header("location"))  # a replay points at the first job
        return self._await_job(record_type, external_id, job)

    def _await_job(self, record_type: str, external_id: str, job: str) -> PostResult:
        wait = 0.5
        for _ in range(ASYNC_POLLS):
            status = self.session.call("GET", f"async/v1/job/{job}").json_object()
            if status.get("completed"):
                break
            self._sleep(wait)
            wait = min(wait * 2, 8.0)
        else:
            raise TransientError(f"{self.connection_id}: async job {job} still running", reason="erp_async_pending")
        tasks = objects(self.session.call("GET", f"async/v1/job/{job}/task").json_object().get("items"))
        task = location_id(str(objects(tasks[0]["links"])[0]["href"])) if tasks else "1"
        result = self.session.call("GET", f"async/v1/job/{job}/task/{task}/result")
        if result.status in (200, 204):
            internal_id = location_id(result.header("location"))
            return PostResult(erp_ref=f"netsuite:{record_type}/{internal_id}", created=True)
        code, detail = _error(result.json())
        if code in ("DUP_RCRD", "DUP_ENTITY"):   # already created (an earlier attempt): find it
            found = self.find_by_external_id(external_id, "journal" if record_type == "journalentry" else None)
            if found is not None:
                return found
        raise self._rejection(record_type, code, detail)

    # ---- parties and documents ----------------------------------------------------------------------

    def ensure_party(self, party: Party) -> str:
        record_type = {"customer": "customer", "vendor": "vendor", "employee": "employee"}[party.role]
        external_id = f"LL-{record_type}-{party.source_id}"
        if external_id in self._parties:
            return self._parties[external_id]
        existing = self._get_by_external_id(record_type, external_id)
        if existing is not None:
            internal = str(existing.get("id"))
        else:
            body: PartyBody = {"companyName": (party.name or party.source_id)[:83]}
            if record_type == "employee":
                body = {"firstName": "LedgerLink", "lastName": (party.name or party.source_id)[:32]}
            if self.connection.subsidiary_id:
                body["subsidiary"] = {"id": self.connection.subsidiary_id}
            internal = self._upsert(record_type, external_id, body)   # an upsert: a repeat cannot add a second
        self._parties[external_id] = internal
        return internal

    def _item_lines(self, document: ErpDocument) -> ItemLines:
        items: list[ItemLine] = []
        for line in document.lines:
            item = self.connection.items.get(line.account)
            if item is None:
                raise DocumentRejected(f"no NetSuite item for account {line.account}", reason="unsupported_document",
                                       suggested_fix=f"map account {line.account} to an item in the connection's "
                                                     "items, or post these documents as journals")
            items.append({"item": {"id": item}, "amount": Decimal(line.amount.canonical()),
                          "description": (line.description or "")[:999]})
        return {"items": items}

    def _expense_lines(self, document: ErpDocument) -> ExpenseLines:
        return {"items": [{"account": {"id": line.account}, "amount": Decimal(line.amount.canonical()),
                           "memo": (line.description or "")[:999]} for line in document.lines]}

    def _post_record(self, document: ErpDocument, fields: RecordBody) -> PostResult:
        record_type = RECORD_OF_KIND[document.kind]
        body = fields.copy()
        body["tranDate"] = document.date.isoformat()
        body["memo"] = f"{document.memo or document.kind} [{document.external_id}]"[:999]
        if self.connection.subsidiary_id:
            body["subsidiary"] = {"id": self.connection.subsidiary_id}
        if document.currency in self.connection.currency_ids:
            body["currency"] = {"id": self.connection.currency_ids[document.currency]}
        if document.exchange_rate is not None:
            body["exchangeRate"] = document.exchange_rate
        return post_with_lookup(document.external_id, lambda: PostResult(
            erp_ref=f"netsuite:{record_type}/{self._upsert(record_type, document.external_id, body)}", created=True),
            lambda found: self.find_by_external_id(found, document.kind))

    def post_invoice(self, document: ErpDocument) -> PostResult:
        body: RecordBody = {"entity": {"id": self.ensure_party(document.party)}, "item": self._item_lines(document)}
        if document.due_date:
            body["dueDate"] = document.due_date.isoformat()
        return self._post_record(document, body)

    def post_bill(self, document: ErpDocument) -> PostResult:
        body: RecordBody = {"entity": {"id": self.ensure_party(document.party)}, "expense": self._expense_lines(document)}
        if document.due_date:
            body["dueDate"] = document.due_date.isoformat()
        return self._post_record(document, body)

    def post_credit(self, document: ErpDocument) -> PostResult:
        lines = self._item_lines(document) if document.kind == "credit_note" else None
        body: RecordBody = {"entity": {"id": self.ensure_party(document.party)}}
        if lines is not None:
            body["item"] = lines
        else:
            body["expense"] = self._expense_lines(document)
        return self._post_record(document, body)

    def post_payment(self, document: ErpDocument) -> PostResult:
        if not document.applies_to or not document.account:
            raise rejected(self.connection_id, "a payment needs the document it settles and a bank account",
                           reason="unsupported_document")
        original = self.find_by_external_id(document.applies_to)
        if original is None:
            raise TransientError(f"{document.applies_to} is not in NetSuite yet", reason="original_pending")
        internal = original.erp_ref.rsplit("/", 1)[-1]
        amount = Decimal(document.total.canonical())
        party = self.ensure_party(document.party)
        application: Application = {"doc": {"id": internal}, "apply": True, "amount": amount}
        body: RecordBody = {"account": {"id": document.account}, "apply": {"items": [application]}}
        if document.kind == "payment":
            body["customer"] = {"id": party}
            body["payment"] = amount
        else:
            body["entity"] = {"id": party}
        return self._post_record(document, body)


def _journal_line(line: LedgerLine) -> JournalLine:
    debit, credit = debit_credit(line)
    item: JournalLine = {"account": {"id": line.account}, "memo": (line.memo or "")[:4000]}
    if debit:
        item["debit"] = debit
    else:
        item["credit"] = credit
    dimensions = line.dimensions
    if "department" in dimensions:
        item["department"] = {"id": dimensions["department"]}
    if "class" in dimensions:
        item["class"] = {"id": dimensions["class"]}
    if "location" in dimensions:
        item["location"] = {"id": dimensions["location"]}
    return item


def _readback_record(internal_id: str, lines: list[JsonObject]) -> ErpRecord:
    """One transaction's accounting lines (rows of the read-back query) as the record reconciliation compares."""
    from ledgerlink.connectors.erps.readback import ErpRecord, external_id_in

    first = lines[0]
    record_type = str(first.get("recordtype"))
    external_id = text(first.get("externalid"))
    key = external_id if external_id.startswith("doc_") else external_id_in(first.get("memo"))
    signed = tuple((str(row.get("account")), Decimal(str(row.get("debit") or 0)) - Decimal(str(
        row.get("credit") or 0))) for row in lines)
    kind = KIND_OF_RECORD.get(record_type, "journal")
    return ErpRecord(erp_ref=f"netsuite:{record_type}/{internal_id}", kind=kind, key=key,
                     on=date.fromisoformat(str(first.get("trandate"))), lines=signed,
                     total=None if kind == "journal" else sum((a for _, a in signed if a > 0), Decimal(0)))
