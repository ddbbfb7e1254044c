"""Xero accounting API (https://api.xero.com/api.xro/2.0), one organisation (tenant) per connection.

- **Auth**: OAuth 2.0 bearer tokens from the refresh-token grant; Xero rotates the refresh token on every
  refresh, so the new one is written back to Secrets Manager at once. Every call names the tenant
  (``xero-tenant-id``).
- **Journals** are ``ManualJournals`` with ``Status: POSTED`` (a draft never reaches the ledger) in the
  organisation's base currency (manual journals have no currency: foreign documents are converted first).
  ``Narration`` carries ``[document id]`` — the external id lookups match on.
- **Bulk**: many objects per ``PUT`` (``batch_size``, Xero recommends about 50) with
  ``summarizeErrors=false``, so one bad journal comes back with its ``ValidationErrors`` while the others post.
- **Exactly once**: ``Idempotency-Key`` (≤128 chars) derived from the external ids in the request, so a
  retried request is replayed by Xero rather than executed again; after an uncertain outcome each
  journal is looked up by external id before anything is retried.
- **Limits**: per tenant 60 calls/minute, 5,000/day, 5 concurrent; 429 with ``Retry-After`` and
  ``X-Rate-Limit-Problem``; ``X-MinLimit-Remaining`` / ``X-DayLimit-Remaining`` on every answer stop the
  limiter before Xero has to.
- **Periods**: the organisation's period lock date and end-of-year lock date (``GET /Organisation``).
- **Documents**: ACCREC/ACCPAY ``Invoices`` (number = external id), ``CreditNotes`` (allocated to the
  original invoice), ``Payments`` (reference = external id) for ``Contacts`` found or created by
  ``ContactNumber``. Every request body validates against Xero's OpenAPI spec (contract tests).
- **Reading back** (reconciliation): ``GET`` with ``where=Date==DateTime(y,m,d)``, ``page`` and ``pageSize=1000``
  until ``pagination.pageCount``; voided / deleted records are not held. A journal posted again after Xero lost
  it carries a new Idempotency-Key (the first post's key would replay the first answer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
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
    amount_of,
    in_batches,
    journal_currency,
    narration,
    obj,
    objects,
    only_result,
    optional_text,
    post_with_lookup,
    rejected_early,
    resolve_uncertain,
    text,
)
from ledgerlink.connectors.erps.http import HttpClient, HttpResponse
from ledgerlink.connectors.erps.ratelimit import wall_clock_ms
from ledgerlink.connectors.erps.session import ErpSession, OAuth2Tokens, rejected
from ledgerlink.connectors.erps.xero.bodies import (
    AllocationBody,
    ContactBody,
    CreditNoteBody,
    DocumentBody,
    InvoiceBody,
    LineItem,
    ManualJournalBody,
    ManualJournalLine,
    PaymentBody,
    TrackingOption,
)
from ledgerlink.connectors.erps.xero.config import XeroConnection
from ledgerlink.errors import DocumentRejected, TransientError, UncertainOutcome
from ledgerlink.model.documents import JournalEntry, Party
from ledgerlink.model.ids import fingerprint
from ledgerlink.model.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.connectors.erps.readback import ErpRecord, Listing, ReadbackBudget

_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
LOCK_WORDS = ("lock date", "locked", "period is closed")
ORGANISATION_TTL_MS = 300_000
READBACK_PAGE_SIZE = 1000          # Xero's largest page (the default is 100)


def xero_date(value: JsonValue) -> date | None:
    """Xero's ``/Date(1546214400000+0000)/`` (or ISO) → date."""
    if not value:
        return None
    match = _MS_DATE.match(str(value))
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC).date()
    return date.fromisoformat(str(value)[:10])


def idempotency_key(external_ids: Sequence[str]) -> str:
    return "ledgerlink-" + fingerprint(*sorted(external_ids))


class Xero(ApiConnector):
    readback_page_size = READBACK_PAGE_SIZE   # a page of the read-back listing (tests make it small)

    def __init__(self, connection: XeroConnection, context: ConnectorContext) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self._clock = context.clock_ms or wall_clock_ms
        self.tokens = OAuth2Tokens(token_url=connection.token_url or connection.default_token_url(),
                                   secret_id=connection.credentials.secret_id, secrets=context.secrets,
                                   clock_ms=self._clock, timeout=connection.timeout_seconds)
        self.session = ErpSession(
            connection_id=connection.id,
            http=HttpClient(connection.base_url or connection.default_base_url(), timeout=connection.timeout_seconds),
            auth=self._auth, reauthenticate=self.tokens.invalidate,
            limiter=limiter_for(context, connection, self.limits()), rate_limit_wait=60.0, observe=self._observe)
        self._organisation: Cached[JsonObject] = Cached(self._clock, ORGANISATION_TTL_MS)
        self._contacts: dict[str, str] = {}
        self._context = context
        self._gone: dict[str, int] = {}      # external id → voided / deleted copies seen by the last lookup

    # ---- plumbing -----------------------------------------------------------------------------------

    def _auth(self, method: str, url: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.access_token()}", "xero-tenant-id": self.connection.tenant_id}

    def _observe(self, response: HttpResponse) -> None:
        """Stop before Xero has to: the remaining-calls headers come with every answer."""
        if response.status == 429:
            return  # the session penalizes with Retry-After
        minute, day = response.header("x-minlimit-remaining"), response.header("x-daylimit-remaining")
        if day is not None and day.strip() == "0":
            self.session.limiter.penalize(3600, "day")   # a rolling day: Xero's 429 Retry-After says exactly
        elif minute is not None and minute.strip() == "0":
            self.session.limiter.penalize(60, "minute")

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=60, daily_budget=5000, max_concurrency=5,
                                bulk_size=self.connection.batch_size, burst=5)

    def _put(self, path: str, collection: str, items: Sequence[Mapping[str, object]], key: str) -> list[JsonObject]:
        """``items`` (request bodies of ``bodies.py``) as ``{collection: items}``; the answer's objects, in order."""
        response = self.session.call("PUT", path, query={"summarizeErrors": "false"}, json_body={collection: items},
                                     headers={"Idempotency-Key": key}, write=True)
        body = response.json_object()
        if response.status == 400 and not body.get(collection):
            raise rejected(self.connection_id, _messages(body) or "request rejected", reason="erp_rejected")
        if not response.ok:
            raise rejected(self.connection_id, f"{path} answered {response.status}: {_messages(body)}")
        results = objects(body.get(collection))
        if len(results) != len(items):
            raise UncertainOutcome(f"{self.connection_id}: {len(items)} sent, {len(results)} answered")
        return results

    def _get(self, path: str, **query: object) -> JsonObject:
        response = self.session.call("GET", path, query=query or None)
        if response.status == 404:
            return {}
        if not response.ok:
            raise TransientError(f"{self.connection_id}: GET {path} answered {response.status}",
                                 reason="erp_unavailable")
        return response.json_object()

    # ---- organisation: base currency and lock dates -------------------------------------------------

    def organisation(self) -> JsonObject:
        return self._organisation.get(lambda: (objects(self._get("/Organisation").get("Organisations")) or [{}])[0])

    def period_status(self, entity: Entity, on: date) -> PeriodStatus:
        organisation = self.organisation()
        locks = [d for d in (xero_date(organisation.get("PeriodLockDate")),
                             xero_date(organisation.get("EndOfYearLockDate"))) if d]
        closed_through = max(locks) if locks else None
        return PeriodStatus(open=closed_through is None or on > closed_through, closed_through=closed_through,
                            source="erp")

    # ---- journals -----------------------------------------------------------------------------------

    def manual_journal(self, journal: JournalEntry) -> ManualJournalBody:
        currency = journal_currency(journal)
        base = self.organisation().get("BaseCurrency")
        if base and currency != base:
            raise DocumentRejected(f"Xero manual journals are in the base currency {base}, this one is {currency}",
                                   reason="currency_not_supported",
                                   suggested_fix="set foreign_currency: convert_to_base on the entity")
        lines: list[ManualJournalLine] = []
        for line in journal.lines:
            item: ManualJournalLine = {"LineAmount": amount_of(line), "AccountCode": line.account,
                                       "Description": (line.memo or journal.memo or journal.document_id)[:4000]}
            tax_type, tracking = _tax_and_tracking(line.dimensions)
            if tax_type:
                item["TaxType"] = tax_type
            if tracking:
                item["Tracking"] = tracking
            lines.append(item)
        return {"Narration": narration(journal), "Date": journal.accounting_date.isoformat(), "Status": "POSTED",
                "LineAmountTypes": "NoTax", "JournalLines": lines, "ShowOnCashBasisReports": True}

    def post_journal(self, journal: JournalEntry) -> PostResult:
        (item,) = self.post_journals([journal])
        return only_result(self.connection_id, item)

    def post_journals(self, journals: Sequence[JournalEntry]) -> list[BulkItemResult]:
        return in_batches(journals, self.connection.batch_size, self._post_chunk)

    def _post_chunk(self, journals: list[JournalEntry]) -> list[BulkItemResult]:
        bodies: list[ManualJournalBody] = []
        early: dict[int, BulkItemResult] = {}
        for position, journal in enumerate(journals):
            try:
                bodies.append(self.manual_journal(journal))
            except DocumentRejected as exc:
                early[position] = rejected_early(journal, exc)
        sendable = [j for i, j in enumerate(journals) if i not in early]
        answered: list[JsonObject] = []
        if sendable:
            try:
                answered = self._put("/ManualJournals", "ManualJournals", bodies,
                                     idempotency_key([self._attempt_id(j.document_id) for j in sendable]))
            except UncertainOutcome:
                return self._resolve_uncertain(journals, early)
        out: list[BulkItemResult] = []
        replies = iter(answered)
        for position, journal in enumerate(journals):
            if position in early:
                out.append(early[position])
                continue
            reply = next(replies)
            errors = [str(e.get("Message", "")) for e in objects(reply.get("ValidationErrors"))]
            if reply.get("StatusAttributeString") == "ERROR" or errors:
                message = "; ".join(errors) or "rejected"
                reason = "period_closed" if any(w in message.lower() for w in LOCK_WORDS) else "erp_rejected"
                out.append(BulkItemResult(journal.document_id, reason=reason, message=message))
            else:
                out.append(BulkItemResult(journal.document_id, PostResult(
                    erp_ref=f"xero:ManualJournal/{reply.get('ManualJournalID')}", created=True)))
        return out

    def _attempt_id(self, external_id: str) -> str:
        """The external id in the Idempotency-Key — with the number of voided copies when the journal is posted
        again after Xero lost it (voided or deleted there), so Xero does not answer with the first post's reply."""
        gone = self._gone.get(external_id)
        return f"{external_id}#after-{gone}-voided" if gone else external_id

    def _resolve_uncertain(self, journals: list[JournalEntry], early: dict[int, BulkItemResult]) -> list[BulkItemResult]:
        """The PUT's outcome is unknown: look every journal up before anything is retried (one journal alone, not
        found: the outcome stays uncertain for the caller)."""
        out = resolve_uncertain(journals, early, lambda external_id: self.find_by_external_id(external_id, "journal"))
        missing = [item.external_id for position, item in enumerate(out)
                   if position not in early and item.reason == "uncertain_outcome"]
        if missing and len(journals) == 1:
            raise UncertainOutcome(f"{self.connection_id}: {missing[0]} not found after an uncertain outcome")
        return out

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        """``kind`` (journal, invoice, bill, credit_note, vendor_credit, payment, vendor_payment) narrows the
        lookup to one endpoint — one call instead of four when the caller knows what it posted."""
        marker = f"[{external_id}]"
        if kind in (None, "journal"):
            body = self._get("/ManualJournals", where=f'Narration.Contains("{marker}")')
            gone = 0
            for journal in objects(body.get("ManualJournals")):
                if marker not in text(journal.get("Narration")):
                    continue
                if journal.get("Status") in GONE:
                    gone += 1
                    continue
                return PostResult(erp_ref=f"xero:ManualJournal/{journal.get('ManualJournalID')}", created=False)
            if gone:   # voided / deleted in Xero (reconciliation's missing_in_erp): a post again is a new request
                self._gone[external_id] = gone
        for path, collection, key, where, kinds in (
                ("/Invoices", "Invoices", "InvoiceID", None, ("invoice", "bill")),
                ("/CreditNotes", "CreditNotes", "CreditNoteID", "CreditNoteNumber", ("credit_note", "vendor_credit")),
                ("/Payments", "Payments", "PaymentID", "Reference", ("payment", "vendor_payment"))):
            if kind is not None and kind not in kinds:
                continue
            found = self._find_document(path, collection, key, external_id, where)
            if found:
                return PostResult(erp_ref=f"xero:{collection[:-1]}/{found[key]}", created=False)
        return None

    def _find_document(self, path: str, collection: str, key: str, external_id: str,
                       where_field: str | None) -> JsonObject | None:
        if where_field is None:
            body = self._get(path, InvoiceNumbers=external_id)
        else:
            body = self._get(path, where=f'{where_field}=="{external_id}"')
        gone = 0
        for item in objects(body.get(collection)):
            if item.get("Status") not in GONE:
                return item
            gone += 1
        if gone:   # voided / deleted in Xero: a post again is a new request (see _attempt_id)
            self._gone[external_id] = gone
        return None

    # ---- parties and documents ----------------------------------------------------------------------

    def ensure_party(self, party: Party) -> str:
        number = f"LL-{party.role[:1].upper()}-{party.source_id}"[:50]
        if number in self._contacts:
            return self._contacts[number]
        body = self._get("/Contacts", where=f'ContactNumber=="{number}"')
        contacts = objects(body.get("Contacts"))
        if contacts:
            self._contacts[number] = str(contacts[0]["ContactID"])
            return self._contacts[number]
        contact: ContactBody = {"Name": f"{party.name or party.source_id} [{party.source_id}]"[:255],
                                   "ContactNumber": number}
        # IsCustomer / IsSupplier are read-only in Xero's spec: Xero infers them from the contact's transactions.
        try:
            (reply,) = self._put("/Contacts", "Contacts", [contact], idempotency_key([number]))
        except UncertainOutcome:
            found = objects(self._get("/Contacts", where=f'ContactNumber=="{number}"').get("Contacts"))
            if not found:
                raise
            reply = found[0]
        if reply.get("ValidationErrors"):
            raise rejected(self.connection_id, _messages(reply), reason="party_rejected")
        self._contacts[number] = str(reply["ContactID"])
        return self._contacts[number]

    def _line_items(self, document: ErpDocument) -> list[LineItem]:
        items: list[LineItem] = []
        for line in document.lines:
            tax_type, tracking = _tax_and_tracking(line.dimensions)
            item: LineItem = {"Description": (line.description or document.memo or document.external_id)[:4000],
                              "Quantity": Decimal(1), "UnitAmount": Decimal(line.amount.canonical()),
                              "AccountCode": line.account, "TaxType": tax_type or "NONE"}
            if tracking:
                item["Tracking"] = tracking
            items.append(item)
        return items

    def _invoice(self, document: ErpDocument, kind: str) -> PostResult:
        contact_id = self.ensure_party(document.party)
        body: InvoiceBody = {
            "Type": kind, "Contact": {"ContactID": contact_id}, "Date": document.date.isoformat(),
            "DueDate": (document.due_date or document.date).isoformat(), "LineAmountTypes": "NoTax",
            "InvoiceNumber": document.external_id, "CurrencyCode": document.currency, "Status": "AUTHORISED",
            "LineItems": self._line_items(document),
        }
        if kind == "ACCREC" and document.number:
            body["Reference"] = document.number[:255]
        if document.exchange_rate is not None:
            body["CurrencyRate"] = Decimal(1) / document.exchange_rate
        return self._post_document("/Invoices", "Invoices", "InvoiceID", body, document.external_id)

    def _post_document(self, path: str, collection: str, key: str, body: DocumentBody,
                       external_id: str) -> PostResult:
        kind = {"/Invoices": "invoice", "/CreditNotes": "credit_note", "/Payments": "payment"}[path]
        def post() -> PostResult:
            (reply,) = self._put(path, collection, [body], idempotency_key([self._attempt_id(external_id)]))
            if reply.get("StatusAttributeString") == "ERROR" or reply.get("ValidationErrors"):
                message = _messages(reply)
                reason = "period_closed" if any(w in message.lower() for w in LOCK_WORDS) else "erp_rejected"
                raise rejected(self.connection_id, message, reason=reason)
            return PostResult(erp_ref=f"xero:{collection[:-1]}/{reply.get(key)}", created=True)

        return post_with_lookup(external_id, post, lambda found: self.find_by_external_id(found, kind))

    def post_invoice(self, document: ErpDocument) -> PostResult:
        return self._invoice(document, "ACCREC")

    def post_bill(self, document: ErpDocument) -> PostResult:
        return self._invoice(document, "ACCPAY")

    def post_credit(self, document: ErpDocument) -> PostResult:
        contact_id = self.ensure_party(document.party)
        kind = "ACCRECCREDIT" if document.kind == "credit_note" else "ACCPAYCREDIT"
        body: CreditNoteBody = {
            "Type": kind, "Contact": {"ContactID": contact_id}, "Date": document.date.isoformat(),
            "LineAmountTypes": "NoTax", "CreditNoteNumber": document.external_id,
            "CurrencyCode": document.currency, "Status": "AUTHORISED", "LineItems": self._line_items(document)}
        result = self._post_document("/CreditNotes", "CreditNotes", "CreditNoteID", body, document.external_id)
        if document.applies_to and result.created:
            original = self._find_document("/Invoices", "Invoices", "InvoiceID", document.applies_to, None)
            if original is not None:
                credit_id = result.erp_ref.rsplit("/", 1)[-1]
                allocation: AllocationBody = {"Invoice": {"InvoiceID": str(original["InvoiceID"])},
                                              "Amount": Decimal(document.total.canonical()),
                                              "Date": document.date.isoformat()}
                self._put(f"/CreditNotes/{credit_id}/Allocations", "Allocations", [allocation],
                          idempotency_key([document.external_id, "allocation"]))
        return result

    def post_payment(self, document: ErpDocument) -> PostResult:
        if not document.applies_to or not document.account:
            raise rejected(self.connection_id, "a Xero payment needs the invoice it pays and a bank account",
                           reason="unsupported_document")
        original = self._find_document("/Invoices", "Invoices", "InvoiceID", document.applies_to, None)
        if original is None:
            raise TransientError(f"invoice {document.applies_to} is not in Xero yet", reason="original_pending")
        body: PaymentBody = {
            "Invoice": {"InvoiceID": str(original["InvoiceID"])}, "Account": {"Code": document.account},
            "Date": document.date.isoformat(), "Amount": Decimal(document.total.canonical()),
            "Reference": document.external_id}
        return self._post_document("/Payments", "Payments", "PaymentID", body, document.external_id)

    # ---- reading back (issue 19) ---------------------------------------------------------------------


    @staticmethod
    def readback_kind(erp_ref: str) -> str:
        return _xero_readback_kind(erp_ref)

    def read_back(self, entity_id: str, on: date, kinds: frozenset[str] = frozenset({"journal"}),
                  budget: ReadbackBudget | None = None) -> Listing:
        """Everything the organisation holds dated ``on`` in the record types of ``kinds`` (journals always): one
        ``GET`` per page of up to 1,000 with ``where=Date==DateTime(y,m,d)``, until Xero's ``pagination`` says the
        last page was read. Voided and deleted records are not held."""
        from ledgerlink.connectors.erps.readback import Listing

        budget = budget if budget is not None else self.readback_budget()
        listing = Listing()
        where = f"Date==DateTime({on.year},{on.month:02d},{on.day:02d})"
        for path, collection, id_field, key_field, held in READBACK_SETS:
            if collection != "ManualJournals" and not kinds.intersection(held):
                continue
            listing.records += [_xero_record(collection, id_field, key_field, item)
                                for item in self._read_set(budget, listing, path, collection, where)
                                if item.get("Status") not in GONE]
        return listing

    def _read_set(self, budget: ReadbackBudget, listing: Listing, path: str, collection: str,
                  where: str) -> list[JsonObject]:
        """Every object of ``collection`` dated by ``where``: one ``GET`` per page, until Xero's ``pagination`` says
        the last page was read (or, without it, a page comes back short)."""
        from ledgerlink.connectors.erps.readback import read_page

        found: list[JsonObject] = []
        page = 1
        while True:
            body = read_page(budget, listing, partial(self._list, path, where=where, order="Date ASC", page=page,
                                                      pageSize=self.readback_page_size))
            items = objects(body.get(collection))
            found += items
            pages = obj(body.get("pagination")).get("pageCount")
            if (pages is not None and page >= int(str(pages))) or (
                    pages is None and len(items) < self.readback_page_size):
                return found
            page += 1

    def _list(self, path: str, **query: object) -> JsonObject:
        """A listing page: anything but 200 is an error (an empty answer would read as "everything missing")."""
        response = self.session.call("GET", path, query=query)
        if response.status != 200:
            raise TransientError(f"{self.connection_id}: GET {path} answered {response.status}",
                                 reason="erp_unavailable")
        return response.json_object()


def _messages(body: JsonObject) -> str:
    messages = [str(e.get("Message", "")) for e in objects(body.get("ValidationErrors"))]
    for element in objects(body.get("Elements")):
        messages += [str(e.get("Message", "")) for e in objects(element.get("ValidationErrors"))]
    return "; ".join(m for m in messages if m) or str(body.get("Message") or body.get("Detail") or "")


def _tax_and_tracking(dimensions: Mapping[str, str]) -> tuple[str | None, list[TrackingOption]]:
    """The mapping service's ``tax_code`` is the line's Xero ``TaxType`` (a tax rate code such as ``OUTPUT2``);
    the other dimensions are tracking categories (Xero allows two per line)."""
    tracking = [TrackingOption(Name=name, Option=option) for name, option in sorted(dimensions.items())
                if name != "tax_code"][:2]
    return dimensions.get("tax_code") or None, tracking


# ---- reading back (issue 19) --------------------------------------------------------------------------------
# (endpoint, collection, id field, LedgerLink's key field, kinds it holds)
READBACK_SETS = (("/ManualJournals", "ManualJournals", "ManualJournalID", "Narration", ("journal",)),
                 ("/Invoices", "Invoices", "InvoiceID", "InvoiceNumber", ("invoice", "bill")),
                 ("/CreditNotes", "CreditNotes", "CreditNoteID", "CreditNoteNumber", ("credit_note", "vendor_credit")),
                 ("/Payments", "Payments", "PaymentID", "Reference", ("payment", "vendor_payment")))
GONE = ("DELETED", "VOIDED")


def _xero_readback_kind(erp_ref: str) -> str:
    collection = erp_ref.removeprefix("xero:").split("/", 1)[0]
    return {"ManualJournal": "journal", "Invoice": "invoice", "CreditNote": "credit_note",
            "Payment": "payment"}.get(collection, "journal")


def _xero_record(collection: str, id_field: str, key_field: str, item: JsonObject) -> ErpRecord:
    from ledgerlink.connectors.erps.readback import ErpRecord, external_id_in

    on = xero_date(item.get("Date")) or date.min
    if collection == "ManualJournals":
        journal_lines = tuple((str(line.get("AccountCode")), Decimal(str(line.get("LineAmount", 0))))
                              for line in objects(item.get("JournalLines")))
        return ErpRecord(erp_ref=f"xero:ManualJournal/{item.get(id_field)}", kind="journal",
                         key=external_id_in(item.get(key_field)), on=on, lines=journal_lines)
    key = text(item.get(key_field))
    lines: tuple[tuple[str, Decimal], ...]
    if collection == "Payments":
        total = Decimal(str(item.get("Amount", 0)))
        lines = ((str(obj(item.get("Account")).get("Code")), total),)
    else:
        lines = tuple((str(line.get("AccountCode")), Decimal(str(line.get("LineAmount", line.get("UnitAmount", 0)))))
                      for line in objects(item.get("LineItems")))
        total = Decimal(str(item.get("Total", sum((amount for _, amount in lines), Decimal(0)))))
    kind = {"Invoices": "invoice", "CreditNotes": "credit_note", "Payments": "payment"}[collection]
    return ErpRecord(erp_ref=f"xero:{collection[:-1]}/{item.get(id_field)}", kind=kind,
                     key=key if key.startswith("doc_") else None, on=on, lines=lines, total=total,
                     currency=optional_text(item.get("CurrencyCode")))
