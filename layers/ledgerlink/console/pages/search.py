"""Find and trace: search by document id, event id, correlation id, ERP reference, external id, customer/vendor or
amount; a document's timeline from the webhook through each step to the ERP reference, with the mapping version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ledgerlink.console.app import Request, Response, route
from ledgerlink.console.html import Markup, html, join, table
from ledgerlink.console.pages.layout import page
from ledgerlink.console.redact import redact
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices


@route("GET", "/search")
def search_page(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink.service.search import search

    text = request.arg("q")
    form = html('<form method="get" action="{a}" class="filters" role="search"><label>Document, event, correlation '
                'or ERP id, external id, customer/vendor, or amount <input name="q" value="{q}" size="40" '
                'maxlength="200"></label><button type="submit">Find</button></form>',
                a=request.url("/search"), q=text)
    if not text:
        return page(request, "Find and trace", form)
    ops = services.ops
    try:
        found = search(text, ledger=ops.ledger, inbox=ops.inbox, cases=ops.cases,
                       sources=[source.id for source in ops.config()[1].sources]).to_dict()
    except ValueError as error:
        raise OpsError(str(error), status=400, reason="bad_query") from None
    documents = table(("document", "type", "entity", "source", "status", "amount", "accounting date", "ERP reference",
                       "matched on"),
                      [[html('<a href="{h}">{d}</a>', h=request.url(f"/documents/{hit['document_id']}"),
                             d=hit["document_id"]), hit["document_type"], hit["entity_id"], hit["source"],
                        hit["status"], f"{hit['amount'] or ''} {hit['currency'] or ''}".strip() or "—",
                        hit["accounting_date"], hit["erp_reference"] or "—", hit["matched_on"]]
                       for hit in found["hits"]],
                      caption=f"{len(found['hits'])} document(s)" + (" (more: refine the search)"
                                                                      if found["truncated"] else ""),
                      numeric=frozenset({5}))
    cases = table(("case", "status", "reason", "document", "matched on"),
                  [[html('<a href="{h}">{c}</a>', h=request.url(f"/exceptions/{hit['exception_id']}"),
                         c=hit["exception_id"]), hit["status"], hit["reason"], hit["document_id"] or "—",
                    hit["matched_on"]] for hit in found["cases"]], caption=f"{len(found['cases'])} case(s)")
    events = table(("source", "event", "type", "received", "outcome", "documents", "matched on"),
                   [[hit["source"], hit["event_id"], hit["event_type"], hit["received_at"], hit["outcome"],
                     join(html('<a href="{h}">{d}</a> ', h=request.url(f"/documents/{d}"), d=d)
                           for d in hit["document_ids"]) or "—", hit["matched_on"]] for hit in found["events"]],
                   caption=f"{len(found['events'])} event(s)")
    return page(request, "Find and trace", join([form, documents, cases, events]))


@route("GET", "/documents/{document_id}")
def trace_page(request: Request, services: ConsoleServices, document_id: str) -> Response:
    from ledgerlink.service.timeline import timeline
    from ledgerlink.service.trace import trace as gather

    ops = services.ops
    trace = gather(document_id, ledger=ops.ledger, inbox=ops.inbox, cases=ops.cases, workflow=ops.workflow,
                   with_steps=True)
    steps = timeline(trace)
    items = join(html('<li><strong>{step}</strong> <span>{at}</span>{who}{version}<br>{detail}</li>',
                      step=e.step.replace("_", " "), at=e.at or "",
                      who=html(" — by {w}", w=e.who) if e.who else Markup(""),
                      version=html(" — configuration v{v}", v=e.config_version) if e.config_version else Markup(""),
                      detail=e.detail)
                 for e in steps)
    erp = trace["erp"]
    facts = [("status", trace["status"]), ("source", trace["webhook"]["source"]),
             ("event", trace["webhook"]["event_id"]), ("correlation id", trace["webhook"]["correlation_id"]),
             ("mapping (configuration) version", trace["mapping"]["config_version"]),
             ("ERP", f"{erp.get('connection') or '—'}: {erp.get('reference') or 'not posted'}"),
             ("accounting date", erp.get("accounting_date") or "—")]
    journal = trace.get("journal")
    body = html('<dl class="facts">{facts}</dl><h2>Timeline</h2><ol class="timeline">{items}</ol>'
                '<h2>Journal</h2>{journal}<h2>Document</h2><pre tabindex="0">{document}</pre>',
                facts=join(html("<dt>{k}</dt><dd>{v}</dd>", k=k, v="—" if v in (None, "") else v) for k, v in facts),
                items=items, journal=_journal(journal) if isinstance(journal, dict) else html("<p>none yet</p>"),
                document=json.dumps(redact(trace["document"]), indent=2, sort_keys=True, default=str))
    return page(request, f"Document {document_id}", body)


def _journal(journal: Mapping[str, object]) -> Markup:
    """Signed amounts (positive debits, negative credits) shown as debit and credit columns."""
    from decimal import Decimal, InvalidOperation

    lines = journal.get("lines")
    rows = []
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        money = line.get("amount") if isinstance(line.get("amount"), dict) else {}
        try:
            amount = Decimal(str((money or {}).get("amount")))
        except InvalidOperation:
            continue
        currency = (money or {}).get("currency", "")
        rows.append([line.get("account"), line.get("role") or "", f"{amount} {currency}" if amount > 0 else "",
                     f"{-amount} {currency}" if amount < 0 else "", line.get("memo") or ""])
    return table(("account", "role", "debit", "credit", "memo"), rows, caption="Journal lines",
                 numeric=frozenset({2, 3}))
