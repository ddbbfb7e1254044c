"""Dynamics 365 Business Central API v2.0 (``/v2.0/{tenant}/{environment}/api/v2.0``), one company per connection.

- **Auth**: OAuth 2.0 client credentials (Microsoft Entra ID), scope ``https://api.businesscentral.dynamics.com/.default``.
- **Journals**: general journal lines (``accountType: G/L Account``) in the journal batch reserved for
  LedgerLink, then the journal's ``Microsoft.NAV.post`` action — all inside one OData JSON ``$batch`` with
  ``Isolation: snapshot``, so the lines and their posting commit together or not at all (no half-entered
  journal is ever left behind). Each document's lines share a ``documentNumber`` *and* an
  ``externalDocumentNumber``: a deterministic 20-character ``LL…`` reference of the document id (Business
  Central allows 20 characters), which is what a lookup in the G/L entries finds.
- **Dimensions**: a journal line's dimensions that the connection maps to the company's dimension codes
  (``dimension_codes``: department → DEPARTMENT, …) are its dimension set lines, created in the same ``$batch``
  under the line's own id (LedgerLink supplies it), so they post with the line; unmapped dimensions are not sent.
- **Bulk**: several documents per ``$batch`` (at most 100 operations, Business Central's limit, including the
  post action). The batch is transactional: if one document fails, none is posted; the failing document is
  reported and the others are sent again in a new batch.
- **Limits**: 6,000 requests per 5 minutes per user (1,200/minute), 100 concurrent; the connection posts one
  batch at a time by default (the post action posts the whole journal batch). 429 answers carry Retry-After.
- **Periods**: ``generalLedgerSetup`` ``allowPostingFrom`` / ``allowPostingTo`` (``0001-01-01`` = no limit).
- **Documents**: sales invoices and credit memos, purchase invoices and credit memos on G/L account lines
  (``lineType: Account``), created and then posted (``Microsoft.NAV.post``); customers and vendors by number;
  payments as journal lines on the customer / vendor account (``accountType: Customer|Vendor``) against the bank
  or clearing account, in the same transactional ``$batch`` as journals.
- **Reading back** (reconciliation): ``generalLedgerEntries`` with ``$filter=postingDate eq …``, ``$select``,
  ``$top``/``$skip`` (or ``@odata.nextLink``), grouped by document number; posted documents from their own sets.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
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
from ledgerlink.connectors.erps.business_central.bodies import (
    BatchBody,
    BatchOperation,
    DimensionSetLineBody,
    DocumentBody,
    DocumentLineBody,
    JournalLineBody,
    NoBody,
    PartyBody,
)
from ledgerlink.connectors.erps.business_central.config import BusinessCentralConnection
from ledgerlink.connectors.erps.common import (
    ApiConnector,
    Cached,
    amount_of,
    journal_currency,
    looked_up,
    obj,
    objects,
    only_result,
    optional_text,
    post_with_lookup,
    rejected_early,
    short_ref,
    text,
)
from ledgerlink.connectors.erps.http import HttpClient
from ledgerlink.connectors.erps.ratelimit import wall_clock_ms
from ledgerlink.connectors.erps.session import ErpSession, OAuth2Tokens, rejected
from ledgerlink.errors import DocumentRejected, TransientError, UncertainOutcome
from ledgerlink.model.documents import JournalEntry, Party
from ledgerlink.model.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.connectors.erps.readback import Listing, ReadbackBudget

REF_LENGTH = 20
DIMENSION_VALUE_LENGTH = 20   # a dimension value code
# journal line ids are ours: uuid5(LINE_IDS, "<document id>/<line number>"), so a dimension set line can name its line
LINE_IDS = uuid.UUID("5b1d6c0e-7f3a-4e59-9d1c-2a8e4f6b0c17")
# a document's requests in a journal $batch: (path under the journal, body)
Operations = list[tuple[str, JournalLineBody | DimensionSetLineBody]]
BLANK_DATE = "0001-01-01"
SCOPE = "https://api.businesscentral.dynamics.com/.default"
DOCUMENT_SETS = {"invoice": ("salesInvoices", "salesInvoiceLines", "customerNumber"),
                 "credit_note": ("salesCreditMemos", "salesCreditMemoLines", "customerNumber"),
                 "bill": ("purchaseInvoices", "purchaseInvoiceLines", "vendorNumber"),
                 "vendor_credit": ("purchaseCreditMemos", "purchaseCreditMemoLines", "vendorNumber")}
READBACK_PAGE_SIZE = 1000
READBACK_GL_FIELDS = "id,entryNumber,postingDate,documentNumber,documentType,accountNumber,debitAmount,creditAmount"
_OUR_REFERENCE = re.compile(r"^LL[0-9A-F]{18}$")     # common.short_ref(document id, 20)


def _error(body: JsonValue) -> str:
    error = obj(obj(body).get("error"))
    return f"{error.get('message', '')} ({error.get('code', '')})".strip()


def _reason(message: str) -> str:
    text = message.lower()
    if "allowed posting dates" in text:
        return "period_closed"
    return "dimension_invalid" if "dimension" in text else "erp_rejected"


def _status(answer: JsonObject) -> int:
    """A ``$batch`` answer's HTTP status (none: treated as a server error)."""
    return int(str(answer.get("status", 500)))


class BusinessCentral(ApiConnector):
    readback_page_size = READBACK_PAGE_SIZE   # a page of the read-back listing (tests make it small)

    def __init__(self, connection: BusinessCentralConnection, context: ConnectorContext) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self._clock = context.clock_ms or wall_clock_ms
        self.tokens = OAuth2Tokens(token_url=connection.token_url or connection.default_token_url(),
                                   secret_id=connection.credentials.secret_id, secrets=context.secrets,
                                   grant="client_credentials", scope=SCOPE, basic_auth=False, clock_ms=self._clock,
                                   timeout=connection.timeout_seconds)
        self.session = ErpSession(
            connection_id=connection.id,
            http=HttpClient(connection.base_url or connection.default_base_url(), timeout=connection.timeout_seconds),
            auth=self._auth, reauthenticate=self.tokens.invalidate,
            limiter=limiter_for(context, connection, self.limits()), rate_limit_wait=30.0)
        self.company = f"companies({connection.company_id})"
        self._setup: Cached[JsonObject] = Cached(self._clock)
        self._parties: dict[str, str] = {}
        self._context = context

    def _auth(self, method: str, url: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.access_token()}"}

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=1200, daily_budget=None, max_concurrency=1,
                                bulk_size=self.connection.batch_size, burst=20)

    def _get(self, path: str, **query: object) -> list[JsonObject]:
        response = self.session.call("GET", f"{self.company}/{path}", query=query or None)
        if not response.ok:
            raise TransientError(f"{self.connection_id}: GET {path} answered {response.status}",
                                 reason="erp_unavailable")
        return objects(response.json_object().get("value"))

    # ---- periods ------------------------------------------------------------------------------------

    def period_status(self, entity: Entity, on: date) -> PeriodStatus:
        setup = self._setup.get(lambda: (self._get("generalLedgerSetup") or [{}])[0])
        start = text(setup.get("allowPostingFrom")) or BLANK_DATE
        end = text(setup.get("allowPostingTo")) or BLANK_DATE
        first = None if start == BLANK_DATE else date.fromisoformat(start)
        last = None if end == BLANK_DATE else date.fromisoformat(end)
        is_open = (first is None or on >= first) and (last is None or on <= last)
        return PeriodStatus(open=is_open, closed_through=first - timedelta(days=1) if first else None, source="erp")

    # ---- journals -----------------------------------------------------------------------------------

    def journal_lines(self, journal: JournalEntry) -> list[JournalLineBody]:
        """The journal's lines as Business Central journal lines. Each carries an ``id`` of our own (deterministic per
        document and line), so its dimension set lines can name it in the same ``$batch``."""
        journal_currency(journal)
        reference = short_ref(journal.document_id, REF_LENGTH)
        return [{"id": str(uuid.uuid5(LINE_IDS, f"{journal.document_id}/{number}")),
                 "accountType": "G/L Account", "accountNumber": line.account,
                 "postingDate": journal.accounting_date.isoformat(), "documentNumber": reference,
                 "externalDocumentNumber": reference, "amount": amount_of(line),
                 "description": (line.memo or journal.memo or journal.document_id)[:100],
                 "comment": journal.document_id}
                for number, line in enumerate(journal.lines)]

    def journal_operations(self, journal: JournalEntry) -> Operations:
        """What posting the journal takes in a ``$batch``, relative to the journal: each line, then a dimension set
        line for each of its dimensions the connection maps to a Business Central dimension code."""
        operations: Operations = []
        for body, line in zip(self.journal_lines(journal), journal.lines, strict=True):
            operations.append(("journalLines", body))
            for name, value in sorted(line.dimensions.items()):
                code = self.connection.dimension_codes.get(name)
                if code is None:
                    continue
                if not 0 < len(value) <= DIMENSION_VALUE_LENGTH:
                    raise DocumentRejected(
                        f"dimension {name} value {value!r} is not a Business Central dimension value code "
                        f"(1–{DIMENSION_VALUE_LENGTH} characters)", reason="dimension_invalid",
                        suggested_fix=f"map {name} to the value codes of dimension {code} in Business Central")
                dimension: DimensionSetLineBody = {"code": code, "valueCode": value}
                operations.append((f"journalLines({body.get('id')})/dimensionSetLines", dimension))
        if len(operations) > self.connection.batch_size - 1:
            raise DocumentRejected(f"{len(journal.lines)} lines ({len(operations)} operations with their dimensions) "
                                   f"do not fit one transactional $batch ({self.connection.batch_size} operations "
                                   "with the post action)", reason="journal_too_large",
                                   suggested_fix="post this source summarized, or split the document")
        return operations

    def post_journal(self, journal: JournalEntry) -> PostResult:
        (item,) = self.post_journals([journal])
        return only_result(self.connection_id, item)

    def post_journals(self, journals: Sequence[JournalEntry]) -> list[BulkItemResult]:
        results: dict[str, BulkItemResult] = {}
        pending: list[tuple[str, Operations]] = []
        for journal in journals:
            try:
                pending.append((journal.document_id, self.journal_operations(journal)))
            except DocumentRejected as exc:
                results[journal.document_id] = rejected_early(journal, exc)
        self._post_lines(pending, results)
        return [results[journal.document_id] for journal in journals]

    def _post_lines(self, pending: list[tuple[str, Operations]], results: dict[str, BulkItemResult]) -> None:
        """``pending``: each document's operations (a path under the journal, a body), posted in batches that
        keep a document's operations together."""
        while pending:
            chunk: list[tuple[str, Operations]] = []
            operations = 1   # the post action
            while pending and operations + len(pending[0][1]) <= self.connection.batch_size:
                operations += len(pending[0][1])
                chunk.append(pending.pop(0))
            failed = self._post_batch(chunk, results)
            if failed is not None:   # transactional: nothing committed; the others go again without it
                pending = [entry for entry in chunk if entry[0] != failed] + pending

    def _post_batch(self, chunk: list[tuple[str, Operations]], results: dict[str, BulkItemResult]) -> str | None:
        """Post a chunk in one transactional $batch. Returns the id of the document that made it fail."""
        journal_url = f"{self.company}/journals({self.connection.journal_id})"
        requests: list[BatchOperation] = []
        owner: dict[str, str] = {}
        for external_id, operations in chunk:
            for path, body in operations:
                request_id = f"{len(requests) + 1}"
                owner[request_id] = external_id
                requests.append({"method": "POST", "id": request_id, "url": f"{journal_url}/{path}",
                                 "headers": {"Content-Type": "application/json"}, "body": body})
        requests.append({"method": "POST", "id": "post", "url": f"{journal_url}/Microsoft.NAV.post",
                         "headers": {"Content-Type": "application/json"}, "body": NoBody()})
        batch: BatchBody = {"requests": requests}
        try:
            response = self.session.call("POST", "$batch", json_body=batch, write=True,
                                         headers={"Isolation": "snapshot"})
        except UncertainOutcome:
            for external_id, _ in chunk:
                results[external_id] = looked_up(external_id, self.find_by_external_id(external_id, "journal"))
            return None
        if not response.ok:
            message = _error(response.json())
            raise rejected(self.connection_id, f"$batch: {message}", reason=_reason(message))
        answers = objects(response.json_object().get("responses"))
        failure = next((a for a in answers if _status(a) >= 400 and _status(a) != 424), None)
        if failure is None:
            for external_id, _ in chunk:
                reference = short_ref(external_id, REF_LENGTH)
                results[external_id] = BulkItemResult(external_id, PostResult(erp_ref=f"bc:{reference}", created=True))
            return None
        message = _error(failure.get("body"))
        failed = owner.get(str(failure.get("id")))
        if failed is None:   # the post action failed (balance, dates): post each document alone to find which
            if len(chunk) > 1:
                for entry in chunk:
                    self._post_batch([entry], results)
                return None
            failed = chunk[0][0]
        results[failed] = BulkItemResult(failed, reason=_reason(message), message=message)
        return failed

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        """``kind`` narrows the lookup: journals and payments are G/L entries, documents their own set."""
        reference = short_ref(external_id, REF_LENGTH)
        if kind in (None, "journal", "payment", "vendor_payment") and self._get(
                "generalLedgerEntries", **{"$filter": f"documentNumber eq '{reference}'", "$top": 1}):
            return PostResult(erp_ref=f"bc:{reference}", created=False)
        for document_kind in DOCUMENT_SETS:
            if kind is not None and kind != document_kind:
                continue
            document = self._find_document(document_kind, external_id)
            if document is not None and document.get("status") not in ("Draft", "In Review"):
                return PostResult(erp_ref=f"bc:{DOCUMENT_SETS[document_kind][0]}/{document['id']}", created=False)
        return None

    # ---- reading back (issue 19) ---------------------------------------------------------------------

    @staticmethod
    def readback_key(document_id: str) -> str:
        """Business Central holds the 20-character reference, not the document id."""
        return short_ref(document_id, REF_LENGTH)

    @staticmethod
    def readback_kind(erp_ref: str) -> str:
        """``bc:<reference>``: G/L entries (journals, and payments posted as journal lines); ``bc:<set>/<id>``: a
        posted sales / purchase document."""
        entity_set = erp_ref.removeprefix("bc:").split("/", 1)[0]
        return next((kind for kind, sets in DOCUMENT_SETS.items() if sets[0] == entity_set), "journal")


    def read_back(self, entity_id: str, on: date, kinds: frozenset[str] = frozenset({"journal"}),
                  budget: ReadbackBudget | None = None) -> Listing:
        """The company's G/L entries with ``postingDate`` ``on`` (``$filter``, ``$select``, ``$top`` pages of 1,000 and
        ``$skip``, or the server's ``@odata.nextLink`` when it pages first), grouped by document number — a journal
        posted twice under one number shows as a multiple of its amounts; plus the posted sales / purchase documents
        of that date for the native kinds in ``kinds``."""
        from ledgerlink.connectors.erps.readback import ErpRecord, Listing

        budget = budget if budget is not None else self.readback_budget()
        listing = Listing()
        entries = self._read_set(budget, listing, "generalLedgerEntries", on, READBACK_GL_FIELDS)
        grouped: dict[str, list[JsonObject]] = {}
        for entry in entries:
            if text(entry.get("documentType")).strip() not in ("", "Payment", "Refund"):
                continue   # G/L entries of a posted sales / purchase document: read below as that document
            grouped.setdefault(str(entry.get("documentNumber")), []).append(entry)
        for number, lines in grouped.items():
            signed = tuple((str(e.get("accountNumber")), Decimal(str(e.get("debitAmount") or 0))
                            - Decimal(str(e.get("creditAmount") or 0))) for e in lines)
            listing.records.append(ErpRecord(erp_ref=f"bc:{number}", kind="journal",
                                             key=number if _OUR_REFERENCE.match(number) else None, on=on,
                                             lines=signed))
        for kind in sorted(kinds):
            if kind not in DOCUMENT_SETS:
                continue
            entity_set = DOCUMENT_SETS[kind][0]
            field = "vendorInvoiceNumber" if kind == "bill" else "externalDocumentNumber"
            for document in self._read_set(budget, listing, entity_set, on, None):
                if document.get("status") in ("Draft", "In Review"):
                    continue
                number = text(document.get(field))
                listing.records.append(ErpRecord(
                    erp_ref=f"bc:{entity_set}/{document.get('id')}", kind=kind,
                    key=number if _OUR_REFERENCE.match(number) else None, on=on,
                    total=Decimal(str(document.get("totalAmountIncludingTax") or 0)),
                    currency=optional_text(document.get("currencyCode"))))
        return listing

    def _read_set(self, budget: ReadbackBudget, listing: Listing, entity_set: str, on: date,
                  fields: str | None) -> list[JsonObject]:
        from ledgerlink.connectors.erps.readback import read_page

        query: dict[str, object] = {"$filter": f"postingDate eq {on.isoformat()}", "$top": self.readback_page_size}
        if fields:
            query["$select"] = fields
        found: list[JsonObject] = []
        skip = 0
        url: str | None = None
        while True:
            if url is not None:
                body = read_page(budget, listing, partial(self._get_page, url, None))
            else:
                body = read_page(budget, listing, partial(
                    self._get_page, f"{self.company}/{entity_set}", {**query, **({"$skip": skip} if skip else {})}))
            page = objects(body.get("value"))
            found += page
            url = optional_text(body.get("@odata.nextLink"))
            if url is None:
                if len(page) < self.readback_page_size:
                    return found
                skip += self.readback_page_size

    def _get_page(self, path: str, query: Mapping[str, object] | None) -> JsonObject:
        response = self.session.call("GET", path, query=query)
        if not response.ok:
            raise TransientError(f"{self.connection_id}: GET {path.split('?')[0]} answered {response.status}",
                                 reason="erp_unavailable")
        return response.json_object()

    # ---- parties and documents ----------------------------------------------------------------------

    def ensure_party(self, party: Party) -> str:
        entity_set = "vendors" if party.role == "vendor" else "customers"
        number = short_ref(f"{party.role}:{party.source_id}", REF_LENGTH)
        if number in self._parties:
            return self._parties[number]
        found = self._get(entity_set, **{"$filter": f"number eq '{number}'"})
        if not found:
            body: PartyBody = {"number": number, "displayName": (party.name or party.source_id)[:100]}
            try:
                response = self.session.call("POST", f"{self.company}/{entity_set}", json_body=body, write=True)
            except UncertainOutcome:
                found = self._get(entity_set, **{"$filter": f"number eq '{number}'"})
                if not found:
                    raise
            else:
                if response.status not in (200, 201):
                    raise rejected(self.connection_id, f"{entity_set}: {_error(response.json())}",
                                   reason="party_rejected")
        self._parties[number] = number
        return number

    def _find_document(self, kind: str, external_id: str) -> JsonObject | None:
        entity_set, _, _ = DOCUMENT_SETS[kind]
        field = "vendorInvoiceNumber" if kind == "bill" else "externalDocumentNumber"
        found = self._get(entity_set, **{"$filter": f"{field} eq '{short_ref(external_id, REF_LENGTH)}'"})
        return found[0] if found else None

    def _post_document(self, document: ErpDocument) -> PostResult:
        entity_set = DOCUMENT_SETS[document.kind][0]
        party = self.ensure_party(document.party)

        def create_and_post() -> PostResult:
            existing = self._find_document(document.kind, document.external_id)
            if existing is None:
                body = _document_body(document, party)
                response = self.session.call("POST", f"{self.company}/{entity_set}", json_body=body, write=True)
                if response.status not in (200, 201):
                    message = _error(response.json())
                    raise rejected(self.connection_id, f"{entity_set}: {message}", reason=_reason(message))
                existing = response.json_object()
            if existing.get("status") in ("Draft", None):
                # a draft left by an earlier attempt is posted now, never created twice
                response = self.session.call("POST", f"{self.company}/{entity_set}({existing['id']})/Microsoft.NAV.post",
                                             json_body=NoBody(), write=True)
                if response.status not in (200, 204):
                    message = _error(response.json())
                    raise rejected(self.connection_id, f"{entity_set} post: {message}", reason=_reason(message))
            return PostResult(erp_ref=f"bc:{entity_set}/{existing['id']}", created=True)

        return post_with_lookup(document.external_id, create_and_post,
                                lambda found: self.find_by_external_id(found, document.kind))

    def post_invoice(self, document: ErpDocument) -> PostResult:
        return self._post_document(document)

    def post_bill(self, document: ErpDocument) -> PostResult:
        return self._post_document(document)

    def post_credit(self, document: ErpDocument) -> PostResult:
        return self._post_document(document)

    def post_payment(self, document: ErpDocument) -> PostResult:
        """Money received from a customer (or paid to a vendor): the customer's / vendor's account against the
        bank or clearing account, posted like a journal (one transactional $batch with the post action)."""
        if not document.account:
            raise rejected(self.connection_id, "a payment needs the bank or clearing account",
                           reason="unsupported_document")
        party = self.ensure_party(document.party)
        reference = short_ref(document.external_id, REF_LENGTH)
        amount = Decimal(document.total.canonical())
        sign = Decimal(1) if document.kind == "payment" else Decimal(-1)
        lines = [_payment_line(document, reference, "Customer" if document.kind == "payment" else "Vendor", party,
                               -sign * amount),
                 _payment_line(document, reference, "G/L Account", document.account, sign * amount)]

        def post() -> PostResult:
            results: dict[str, BulkItemResult] = {}
            operations: Operations = [("journalLines", line) for line in lines]
            self._post_lines([(document.external_id, operations)], results)
            return only_result(self.connection_id, results[document.external_id])

        return post_with_lookup(document.external_id, post,
                                lambda found: self.find_by_external_id(found, document.kind))


def _payment_line(document: ErpDocument, reference: str, account_type: str, account: str,
                  amount: Decimal) -> JournalLineBody:
    """One side of a payment posted as journal lines (the party's account, or the bank / clearing account)."""
    return {"postingDate": document.date.isoformat(), "documentNumber": reference,
            "externalDocumentNumber": reference, "comment": document.external_id,
            "description": (document.memo or "payment")[:100], "accountType": account_type,
            "accountNumber": account, "amount": amount}


def _document_body(document: ErpDocument, party: str) -> DocumentBody:
    """A sales / purchase invoice or credit memo with its G/L account lines, under the party's number and LedgerLink's
    reference (``externalDocumentNumber``; a purchase invoice: ``vendorInvoiceNumber``)."""
    kind = document.kind
    body: DocumentBody = {}
    if kind in ("invoice", "credit_note"):
        body["customerNumber"] = party
    else:
        body["vendorNumber"] = party
    body["postingDate"] = document.date.isoformat()
    body["currencyCode"] = document.currency
    lines = [DocumentLineBody(lineType="Account", lineObjectNumber=line.account,
                              description=(line.description or "")[:100], quantity=Decimal(1),
                              unitPrice=Decimal(line.amount.canonical())) for line in document.lines]
    if kind == "invoice":
        body["salesInvoiceLines"] = lines
    elif kind == "credit_note":
        body["salesCreditMemoLines"] = lines
    elif kind == "bill":
        body["purchaseInvoiceLines"] = lines
    else:
        body["purchaseCreditMemoLines"] = lines
    if kind == "bill":
        body["vendorInvoiceNumber"] = short_ref(document.external_id, REF_LENGTH)
    else:
        body["externalDocumentNumber"] = short_ref(document.external_id, REF_LENGTH)
    if kind in ("invoice", "bill") and document.due_date:
        body["dueDate"] = document.due_date.isoformat()
    return body
