"""QuickBooks Online accounting API (``/v3/company/{realm}``), one company (realm) per connection.

- **Auth**: OAuth 2.0 bearer tokens from the refresh-token grant (Intuit rotates refresh tokens; the new one
  is written back to Secrets Manager).
- **Journals**: ``JournalEntry`` with one ``JournalEntryLineDetail`` per line (``PostingType`` Debit/Credit,
  positive ``Amount``; the ``class`` dimension → ``ClassRef``, ``department``/``location`` → ``DepartmentRef``). ``DocNumber`` holds at most 21 characters, so it carries a deterministic
  ``LL…`` reference of the document id; ``PrivateNote`` carries the full id, which a lookup checks.
- **Bulk**: ``POST /batch`` with at most 30 ``BatchItemRequest`` items (Intuit's limit); each item answers
  with its entity or its own ``Fault``. Items cannot see each other's creations, so parties are ensured first.
- **Exactly once**: every write carries ``requestid`` (the document id; a batch: a fingerprint of its ids,
  36 characters, with 10-character ``bId``). ``requestid`` is reported unreliable, so after an uncertain
  outcome the connector queries by ``DocNumber`` before anything is retried — and DocNumber duplicates are
  *allowed* by QuickBooks, so nothing else would stop a second posting.
- **Limits**: 500 requests/minute and 10/second per realm (a burst of 1 keeps any second under 10), 40 batch
  requests/minute; 429 → wait 60 seconds (Intuit's guidance; no Retry-After is sent).
- **Periods**: the books closing date (``Preferences.AccountingInfoPrefs.BookCloseDate``); a transaction
  dated on or before it fails with "Account Period Closed" (6200).
- **Reading back** (reconciliation): ``SELECT * FROM <entity> WHERE TxnDate = '…' ORDERBY Id STARTPOSITION n
  MAXRESULTS 1000`` per page; ``PrivateNote`` names the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    in_batches,
    journal_currency,
    narration,
    obj,
    objects,
    optional_text,
    post_with_lookup,
    rejected_early,
    resolve_uncertain,
    short_ref,
    text,
)
from ledgerlink.connectors.erps.http import HttpClient
from ledgerlink.connectors.erps.quickbooks.bodies import (
    AccountLine,
    BatchItem,
    BatchRequest,
    JournalEntryBody,
    JournalEntryLineDetail,
    JournalLine,
    PartyBody,
    PaymentLine,
    SalesItemLine,
    TransactionBody,
)
from ledgerlink.connectors.erps.quickbooks.config import QuickBooksConnection
from ledgerlink.connectors.erps.ratelimit import LimitPolicy, NullLimiter, wall_clock_ms
from ledgerlink.connectors.erps.session import ErpSession, OAuth2Tokens, rejected
from ledgerlink.errors import DocumentRejected, TransientError, UncertainOutcome
from ledgerlink.model.documents import JournalEntry, Party
from ledgerlink.model.ids import fingerprint
from ledgerlink.model.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.connectors.erps.readback import ErpRecord, Listing, ReadbackBudget

DOC_NUMBER_LENGTH = 21
PERIOD_CLOSED_CODES = {"6200", "6190"}
ENTITY_OF_KIND = {"invoice": "Invoice", "bill": "Bill", "credit_note": "CreditMemo", "vendor_credit": "VendorCredit",
                  "payment": "Payment", "vendor_payment": "BillPayment"}
KIND_OF_ENTITY = {"JournalEntry": "journal", **{entity: kind for kind, entity in ENTITY_OF_KIND.items()}}
READBACK_PAGE_SIZE = 1000      # MAXRESULTS: Intuit returns at most 1,000 entities per query


def _fault(body: JsonValue) -> tuple[str, str]:
    """(code, message) of a QuickBooks ``Fault``."""
    answer = obj(body)
    fault = obj(answer.get("Fault") or answer.get("fault"))
    errors = objects(fault.get("Error") or fault.get("error")) or [{}]
    first = errors[0]
    message = " ".join(str(first.get(k, "")) for k in ("Message", "Detail")).strip() or "rejected"
    return str(first.get("code", "")), message


class QuickBooksOnline(ApiConnector):
    readback_page_size = READBACK_PAGE_SIZE   # a page of the read-back listing (tests make it small)

    def __init__(self, connection: QuickBooksConnection, context: ConnectorContext) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self._clock = context.clock_ms or wall_clock_ms
        self.tokens = OAuth2Tokens(token_url=connection.token_url or connection.default_token_url(),
                                   secret_id=connection.credentials.secret_id, secrets=context.secrets,
                                   clock_ms=self._clock, timeout=connection.timeout_seconds)
        base = (connection.base_url or connection.default_base_url()).rstrip("/")
        self.session = ErpSession(
            connection_id=connection.id,
            http=HttpClient(f"{base}/v3/company/{connection.realm_id}", timeout=connection.timeout_seconds),
            auth=self._auth, reauthenticate=self.tokens.invalidate,
            limiter=limiter_for(context, connection, self.limits()), rate_limit_wait=60.0)
        # Intuit throttles batch requests separately: 40 per minute per realm and app.
        self.batch_limiter = (context.limiters.for_connection(f"{connection.id}#batch",
                                                              LimitPolicy(requests_per_minute=40, burst=4))
                              if context.limiters is not None else NullLimiter())
        self._preferences: Cached[JsonObject] = Cached(self._clock)
        self._parties: dict[str, str] = {}
        self._context = context

    def _auth(self, method: str, url: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.access_token()}"}

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=500, daily_budget=None, max_concurrency=10,
                                bulk_size=self.connection.batch_size, burst=1)

    def _query(self, statement: str) -> JsonObject:
        response = self.session.call("GET", "query", query={"query": statement,
                                                             "minorversion": self.connection.minor_version})
        if not response.ok:
            code, message = _fault(response.json())
            raise TransientError(f"{self.connection_id}: query failed ({response.status} {code})",
                                 reason="erp_unavailable")
        return obj(response.json_object().get("QueryResponse"))

    def _create(self, entity: str, body: JournalEntryBody | TransactionBody | PartyBody,
                request_id: str) -> JsonObject:
        response = self.session.call("POST", entity.lower(), json_body=body, write=True,
                                     query={"requestid": request_id, "minorversion": self.connection.minor_version})
        payload = response.json_object()
        if not response.ok:
            code, message = _fault(payload)
            reason = "period_closed" if code in PERIOD_CLOSED_CODES or "period" in message.lower() else "erp_rejected"
            raise rejected(self.connection_id, f"{entity}: {message} ({code})", reason=reason, erp_code=code)
        return obj(payload.get(entity))

    # ---- periods ------------------------------------------------------------------------------------

    def preferences(self) -> JsonObject:
        return self._preferences.get(self._read_preferences)

    def _read_preferences(self) -> JsonObject:
        response = self.session.call("GET", "preferences", query={"minorversion": self.connection.minor_version})
        if not response.ok:
            raise TransientError(f"{self.connection_id}: preferences answered {response.status}",
                                 reason="erp_unavailable")
        return obj(response.json_object().get("Preferences"))

    def period_status(self, entity: Entity, on: date) -> PeriodStatus:
        raw = obj(self.preferences().get("AccountingInfoPrefs")).get("BookCloseDate")
        closed_through = date.fromisoformat(str(raw)[:10]) if raw else None
        return PeriodStatus(open=closed_through is None or on > closed_through, closed_through=closed_through,
                            source="erp")

    # ---- journals -----------------------------------------------------------------------------------

    def journal_entry(self, journal: JournalEntry) -> JournalEntryBody:
        currency = journal_currency(journal)
        lines: list[JournalLine] = []
        for position, line in enumerate(journal.lines):
            debit, credit = debit_credit(line)
            lines.append({"Id": str(position), "Description": (line.memo or journal.memo or "")[:4000],
                          "Amount": debit or credit, "DetailType": "JournalEntryLineDetail",
                          "JournalEntryLineDetail": _line_detail(line.account, line.dimensions, bool(debit))})
        body: JournalEntryBody = {"DocNumber": short_ref(journal.document_id, DOC_NUMBER_LENGTH),
                                "TxnDate": journal.accounting_date.isoformat(),
                                "PrivateNote": narration(journal), "Line": lines,
                                "CurrencyRef": {"value": currency}}
        return body

    def post_journal(self, journal: JournalEntry) -> PostResult:
        body = self.journal_entry(journal)

        def post() -> PostResult:
            created = self._create("JournalEntry", body, journal.document_id)
            return PostResult(erp_ref=f"qbo:JournalEntry/{created.get('Id')}", created=True)

        return post_with_lookup(journal.document_id, post, lambda found: self.find_by_external_id(found, "journal"))

    def post_journals(self, journals: Sequence[JournalEntry]) -> list[BulkItemResult]:
        return in_batches(journals, self.connection.batch_size, self._batch)

    def _batch(self, journals: list[JournalEntry]) -> list[BulkItemResult]:
        items: list[BatchItem] = []
        early: dict[int, BulkItemResult] = {}
        for position, journal in enumerate(journals):
            try:
                items.append({"bId": f"b{position}", "operation": "create", "JournalEntry": self.journal_entry(journal)})
            except DocumentRejected as exc:
                early[position] = rejected_early(journal, exc)
        answers: dict[str, JsonObject] = {}
        if items:
            request_id = "ll" + fingerprint(*[j.document_id for j in journals])[:34]   # batch requestid: ≤ 36
            lease = self.batch_limiter.acquire()
            try:
                request: BatchRequest = {"BatchItemRequest": items}
                response = self.session.call("POST", "batch", json_body=request, write=True,
                                             query={"requestid": request_id,
                                                    "minorversion": self.connection.minor_version})
            except UncertainOutcome:
                return resolve_uncertain(journals, early, self._journal_lookup)
            finally:
                self.batch_limiter.release(lease)
            if not response.ok:
                code, message = _fault(response.json())
                raise rejected(self.connection_id, f"batch: {message} ({code})")
            answers = {text(a.get("bId")): a for a in objects(response.json_object().get("BatchItemResponse"))}
        out = []
        for position, journal in enumerate(journals):
            if position in early:
                out.append(early[position])
                continue
            answer = answers.get(f"b{position}")
            if answer is None:
                found = self.find_by_external_id(journal.document_id, "journal")
                out.append(BulkItemResult(journal.document_id, PostResult(found.erp_ref, True)) if found else
                           BulkItemResult(journal.document_id, reason="uncertain_outcome", message="no answer"))
            elif "Fault" in answer:
                code, message = _fault(answer)
                reason = "period_closed" if code in PERIOD_CLOSED_CODES else "erp_rejected"
                out.append(BulkItemResult(journal.document_id, reason=reason, message=f"{message} ({code})"))
            else:
                out.append(BulkItemResult(journal.document_id, PostResult(
                    erp_ref=f"qbo:JournalEntry/{obj(answer['JournalEntry']).get('Id')}", created=True)))
        return out

    def _journal_lookup(self, external_id: str) -> PostResult | None:
        return self.find_by_external_id(external_id, "journal")

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        """``kind`` narrows the lookup to one entity (one query instead of seven)."""
        number = short_ref(external_id, DOC_NUMBER_LENGTH)
        wanted = {"JournalEntry"} if kind == "journal" else ({ENTITY_OF_KIND[kind]} if kind else None)
        for entity in ("JournalEntry", "Invoice", "Bill", "CreditMemo", "VendorCredit"):
            if wanted is not None and entity not in wanted:
                continue
            for record in objects(self._query(f"select * from {entity} where DocNumber = '{number}'").get(entity)):
                if external_id in text(record.get("PrivateNote")):
                    return PostResult(erp_ref=f"qbo:{entity}/{record.get('Id')}", created=False)
        for entity in ("Payment", "BillPayment"):
            if wanted is not None and entity not in wanted:
                continue
            for record in objects(self._query(f"select * from {entity} where PaymentRefNum = '{number}'").get(entity)):
                if external_id in text(record.get("PrivateNote")):
                    return PostResult(erp_ref=f"qbo:{entity}/{record.get('Id')}", created=False)
        return None

    # ---- reading back (issue 19) ---------------------------------------------------------------------


    @staticmethod
    def readback_kind(erp_ref: str) -> str:
        entity = erp_ref.removeprefix("qbo:").split("/", 1)[0]
        return KIND_OF_ENTITY.get(entity, "journal")


    def read_back(self, entity_id: str, on: date, kinds: frozenset[str] = frozenset({"journal"}),
                  budget: ReadbackBudget | None = None) -> Listing:
        """Every transaction of the company dated ``on`` in the entities of ``kinds`` (journal entries always): the
        query language's ``WHERE TxnDate = '…' ORDERBY Id STARTPOSITION n MAXRESULTS 1000`` (Intuit's largest page),
        one call per page, until a page comes back short."""
        from ledgerlink.connectors.erps.readback import Listing, read_page

        budget = budget if budget is not None else self.readback_budget()
        listing = Listing()
        entities = ["JournalEntry"] + [ENTITY_OF_KIND[kind] for kind in sorted(kinds) if kind in ENTITY_OF_KIND]
        for entity in dict.fromkeys(entities):
            start = 1
            while True:
                statement = (f"SELECT * FROM {entity} WHERE TxnDate = '{on.isoformat()}' ORDERBY Id "
                             f"STARTPOSITION {start} MAXRESULTS {self.readback_page_size}")
                found = objects(read_page(budget, listing, partial(self._query, statement)).get(entity))
                listing.records += [_readback_record(entity, record) for record in found]
                if len(found) < self.readback_page_size:
                    break
                start += self.readback_page_size
        return listing

    # ---- parties and documents ----------------------------------------------------------------------

    def ensure_party(self, party: Party) -> str:
        entity = "Vendor" if party.role == "vendor" else "Customer"
        name = f"{party.name or party.source_id} [{party.source_id}]"[:500].replace("'", "")
        key = f"{entity}:{name}"
        if key in self._parties:
            return self._parties[key]
        found = objects(self._query(f"select * from {entity} where DisplayName = '{name}'").get(entity))
        if not found:
            request_id = "ll" + fingerprint(entity, party.source_id)[:34]
            try:
                created = self._create(entity, {"DisplayName": name}, request_id)
            except UncertainOutcome:
                found = objects(self._query(f"select * from {entity} where DisplayName = '{name}'").get(entity))
                if not found:
                    raise
                created = found[0]
            found = [created]
        self._parties[key] = str(found[0]["Id"])
        return self._parties[key]

    def _item_lines(self, document: ErpDocument) -> list[SalesItemLine]:
        lines: list[SalesItemLine] = []
        for line in document.lines:
            item = self.connection.items.get(line.account)
            if item is None:
                raise DocumentRejected(f"no QuickBooks item for account {line.account}", reason="unsupported_document",
                                       suggested_fix=f"map account {line.account} to an item in the connection's "
                                                     "items, or post these documents as journals")
            amount = Decimal(line.amount.canonical())
            lines.append({"Amount": amount, "Description": (line.description or "")[:4000],
                          "DetailType": "SalesItemLineDetail",
                          "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1, "UnitPrice": amount}})
        return lines

    def _account_lines(self, document: ErpDocument) -> list[AccountLine]:
        return [{"Amount": Decimal(line.amount.canonical()), "Description": (line.description or "")[:4000],
                 "DetailType": "AccountBasedExpenseLineDetail",
                 "AccountBasedExpenseLineDetail": {"AccountRef": {"value": line.account}}}
                for line in document.lines]

    def _post_document(self, document: ErpDocument, fields: TransactionBody) -> PostResult:
        entity = ENTITY_OF_KIND[document.kind]
        body = fields.copy()
        body["PrivateNote"] = f"{document.memo or document.kind} [{document.external_id}]"[:4000]
        body["CurrencyRef"] = {"value": document.currency}
        if document.exchange_rate is not None:
            body["ExchangeRate"] = document.exchange_rate

        def post() -> PostResult:
            created = self._create(entity, body, document.external_id)
            return PostResult(erp_ref=f"qbo:{entity}/{created.get('Id')}", created=True)

        return post_with_lookup(document.external_id, post,
                                lambda found: self.find_by_external_id(found, document.kind))

    def _sales(self, document: ErpDocument) -> PostResult:
        customer = self.ensure_party(document.party)
        body: TransactionBody = {"CustomerRef": {"value": customer}, "TxnDate": document.date.isoformat(),
                "DocNumber": short_ref(document.external_id, DOC_NUMBER_LENGTH), "Line": self._item_lines(document)}
        if document.kind == "invoice" and document.due_date:
            body["DueDate"] = document.due_date.isoformat()
        return self._post_document(document, body)

    def _purchase(self, document: ErpDocument) -> PostResult:
        vendor = self.ensure_party(document.party)
        body: TransactionBody = {"VendorRef": {"value": vendor}, "TxnDate": document.date.isoformat(),
                "DocNumber": short_ref(document.external_id, DOC_NUMBER_LENGTH), "Line": self._account_lines(document)}
        if document.kind == "bill" and document.due_date:
            body["DueDate"] = document.due_date.isoformat()
        return self._post_document(document, body)

    def post_invoice(self, document: ErpDocument) -> PostResult:
        return self._sales(document)

    def post_bill(self, document: ErpDocument) -> PostResult:
        return self._purchase(document)

    def post_credit(self, document: ErpDocument) -> PostResult:
        return self._sales(document) if document.kind == "credit_note" else self._purchase(document)

    def post_payment(self, document: ErpDocument) -> PostResult:
        if not document.applies_to or not document.account:
            raise rejected(self.connection_id, "a payment needs the document it settles and a bank account",
                           reason="unsupported_document")
        original = self.find_by_external_id(document.applies_to)
        if original is None:
            raise TransientError(f"{document.applies_to} is not in QuickBooks yet", reason="original_pending")
        txn_type, txn_id = original.erp_ref.removeprefix("qbo:").split("/")
        amount = Decimal(document.total.canonical())
        line: PaymentLine = {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]}
        reference = short_ref(document.external_id, DOC_NUMBER_LENGTH)
        body: TransactionBody
        if document.kind == "payment":
            body = {"CustomerRef": {"value": self.ensure_party(document.party)}, "TotalAmt": amount,
                    "TxnDate": document.date.isoformat(), "DepositToAccountRef": {"value": document.account},
                    "PaymentRefNum": reference, "Line": [line]}
        else:
            body = {"VendorRef": {"value": self.ensure_party(document.party)}, "TotalAmt": amount,
                    "TxnDate": document.date.isoformat(), "PayType": "Check",
                    "CheckPayment": {"BankAccountRef": {"value": document.account}}, "DocNumber": reference,
                    "PaymentRefNum": reference, "Line": [line]}
        return self._post_document(document, body)


def _line_detail(account: str, dimensions: Mapping[str, str], debit: bool) -> JournalEntryLineDetail:
    """A journal line's posting side, account and references (dimension values are QuickBooks ids, like the
    accounts): ``class`` → ``ClassRef``; ``department`` (else ``location``: QuickBooks "locations" are
    Departments) → ``DepartmentRef``."""
    detail: JournalEntryLineDetail = {"PostingType": "Debit" if debit else "Credit", "AccountRef": {"value": account}}
    if dimensions.get("class"):
        detail["ClassRef"] = {"value": dimensions["class"]}
    department = dimensions.get("department") or dimensions.get("location")
    if department:
        detail["DepartmentRef"] = {"value": department}
    return detail


def _signed_lines(lines: list[JsonObject]) -> list[tuple[str, Decimal]]:
    """Journal lines signed (Debit +, Credit −); a native document's account lines as QuickBooks shows them."""
    signed: list[tuple[str, Decimal]] = []
    for line in lines:
        amount = Decimal(str(line.get("Amount", 0)))
        detail = line.get("JournalEntryLineDetail")
        if detail is not None:
            posting = obj(detail)
            sign = Decimal(1) if posting.get("PostingType") == "Debit" else Decimal(-1)
            signed.append((str(obj(posting.get("AccountRef")).get("value")), sign * amount))
        elif "AccountBasedExpenseLineDetail" in line:
            account = obj(obj(line["AccountBasedExpenseLineDetail"]).get("AccountRef", {})).get("value")
            signed.append((str(account), amount))
    return signed


def _readback_record(entity: str, record: JsonObject) -> ErpRecord:
    """A QuickBooks transaction as read back: its signed lines and, for a native document, its ``TotalAmt``."""
    from ledgerlink.connectors.erps.readback import ErpRecord, external_id_in

    record_lines = objects(record.get("Line"))
    total = None
    if entity != "JournalEntry":
        total = Decimal(str(record.get("TotalAmt", sum((Decimal(str(line.get("Amount", 0)))
                                                        for line in record_lines), Decimal(0)))))
    return ErpRecord(erp_ref=f"qbo:{entity}/{record.get('Id')}", kind=KIND_OF_ENTITY.get(entity, "journal"),
                     key=external_id_in(record.get("PrivateNote")), on=date.fromisoformat(str(record.get("TxnDate"))),
                     lines=tuple(_signed_lines(record_lines)), total=total,
                     currency=optional_text(obj(record.get("CurrencyRef")).get("value")))
