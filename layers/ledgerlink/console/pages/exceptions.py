"""The exceptions queue: open and resolved tabs, filters, counts per reason, bulk actions, CSV export, a case page
with its document, suggested fix, redacted raw payload, history and trace, and the actions on one case."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ledgerlink.clock import now
from ledgerlink.console.app import Request, Response, redirect, route
from ledgerlink.console.html import Markup, html, join, query, select, table
from ledgerlink.console.pages.layout import can, csrf_field, page
from ledgerlink.console.roles import Action
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices

TABS = {"open": ("open", "retrying"), "resolved": ("resolved", "ignored", "rejected")}
SORTS = (("-opened_at", "newest first"), ("opened_at", "oldest first"), ("-amount", "largest amount"),
         ("amount", "smallest amount"), ("reason", "reason"), ("entity", "entity"))
FILTERS = ("tab", "reason", "entity", "source", "min_age_days", "min_amount", "max_amount", "assignee", "sort")
CSV_COLUMNS = ("exception_id", "status", "reason", "entity_id", "source", "document_id", "amount", "currency",
               "opened_at", "age_days", "assignee", "message", "suggested_fix")
MAX_BULK = 200


def case_amount(case: Mapping[str, Any]) -> tuple[Decimal | None, str]:
    """The case's amount (the service's reading of ``detail.amount``) and its currency (``detail.currency``, or the
    code after the amount: "1.00 USD")."""
    from ledgerlink.service.exceptions import case_amount as amount_of

    stored = case.get("detail")
    detail: Mapping[str, object] = stored if isinstance(stored, Mapping) else {}
    words = str(detail.get("amount") or "").split()
    return amount_of(case), str(detail.get("currency") or (words[1] if len(words) > 1 else ""))


def age_days(case: Mapping[str, Any]) -> int | None:
    from datetime import datetime

    try:
        opened = datetime.fromisoformat(str(case.get("opened_at")))
    except ValueError:
        return None
    return (now() - opened).days


def _decimal(request: Request, name: str) -> Decimal | None:
    text = request.arg(name).replace(",", "")
    if not text:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise OpsError(f"{name} must be a number", status=400, reason="bad_filter") from None


def _int(request: Request, name: str) -> int | None:
    text = request.arg(name)
    if not text:
        return None
    if not text.isdigit():
        raise OpsError(f"{name} must be a whole number of days", status=400, reason="bad_filter")
    return int(text)


def filtered(request: Request, services: ConsoleServices) -> list[dict[str, object]]:
    """The cases of the tab that match the page's filters, in its sort order (the service filters and sorts)."""
    tab = request.arg("tab", "open")
    if tab not in TABS:
        raise OpsError(f"unknown tab {tab!r} (open, resolved)", status=400, reason="bad_filter")
    sort = request.arg("sort", "-opened_at")
    if sort not in dict(SORTS):
        raise OpsError(f"unknown sort {sort!r}", status=400, reason="bad_filter")
    low, high, age = _decimal(request, "min_amount"), _decimal(request, "max_amount"), _int(request, "min_age_days")
    return services.exceptions.list(
        status=TABS[tab], sort=sort, entity=request.arg("entity") or None, reason=request.arg("reason") or None,
        source=request.arg("source") or None, min_age_days=age, min_amount=low, max_amount=high,
        assignee=request.arg("assignee") or None)


@route("GET", "/")
def home(request: Request, services: ConsoleServices) -> Response:
    return redirect(request.url("/exceptions"))


@route("GET", "/exceptions")
def queue(request: Request, services: ConsoleServices) -> Response:
    cases = filtered(request, services)
    tab = request.arg("tab", "open")
    open_cases = services.exceptions.list(status=TABS["open"])
    counts = Counter(str(case.get("reason")) for case in open_cases)
    filters = {name: request.arg(name) for name in FILTERS}
    tabs = join(html('<li><a href="{href}"{cur}>{label}</a></li>', label=label,
                     href=request.url("/exceptions", **{**filters, "tab": key}),
                     cur=Markup(' aria-current="page"') if key == tab else Markup(""))
                for key, label in (("open", f"Open ({len(open_cases)})"), ("resolved", "Resolved")))
    glance = join(html('<li><a href="{href}">{reason}</a> <span class="count">{n}</span></li>',
                       href=request.url("/exceptions", tab="open", reason=reason), reason=reason, n=n)
                  for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    reasons = [("", "any reason"), *((r, r) for r in sorted(counts))]
    form = html(
        '<form method="get" action="{action}" class="filters"><input type="hidden" name="tab" value="{tab}">'
        '{reason}<label>Entity <input name="entity" value="{entity}"></label>'
        '<label>Source <input name="source" value="{source}"></label>'
        '<label>Older than (days) <input name="min_age_days" inputmode="numeric" value="{age}"></label>'
        '<label>Amount from <input name="min_amount" inputmode="decimal" value="{low}"></label>'
        '<label>to <input name="max_amount" inputmode="decimal" value="{high}"></label>'
        '<label>Assignee <input name="assignee" value="{assignee}"></label>{sort}'
        '<button type="submit">Filter</button> <a href="{csv}">Export CSV</a></form>',
        action=request.url("/exceptions"), tab=tab, reason=select("reason", "Reason", reasons, request.arg("reason")),
        entity=filters["entity"], source=filters["source"], age=filters["min_age_days"], low=filters["min_amount"],
        high=filters["max_amount"], assignee=filters["assignee"],
        sort=select("sort", "Sort", SORTS, request.arg("sort", "-opened_at")),
        csv=request.url("/exceptions/export", **filters))
    worker = can(request, Action.WORK_CASES)
    rows = []
    for case in cases:
        amount, currency = case_amount(case)
        box = html('<input type="checkbox" name="ids" value="{id}" aria-label="select {id}" form="bulk">',
                   id=case["exception_id"]) if worker and case.get("status") in TABS["open"] else Markup("")
        rows.append([box, html('<a href="{href}">{id}</a>', href=request.url(f"/exceptions/{case['exception_id']}"),
                               id=case["exception_id"]),
                     case.get("status"), case.get("reason"), case.get("entity_id") or "—", case.get("source") or "—",
                     f"{amount} {currency}" if amount is not None else "—", age_days(case),
                     case.get("assignee") or "—", str(case.get("message", ""))[:120]])
    listing = table(("", "case", "status", "reason", "entity", "source", "amount", "age (days)", "assignee",
                     "message"), rows, caption=f"{len(cases)} case(s)", numeric=frozenset({6, 7}))
    bulk = html(
        '<form method="post" id="bulk" action="{action}" class="bulk">{csrf}'
        '{choice}<label>Reason or note <input name="text" maxlength="2000"></label>'
        '<button type="submit">Apply to selected</button></form>',
        action=request.url("/exceptions/bulk"), csrf=csrf_field(request),
        choice=select("action", "Action", (("retry", "retry"), ("resolve", "resolve"), ("ignore", "ignore")),
                      "retry")) if worker and tab == "open" else Markup("")
    body = html('<ul class="tabs">{tabs}</ul><section aria-labelledby="glance"><h2 id="glance">Open cases by reason'
                '</h2><ul class="glance">{glance}</ul></section>{form}{bulk}{listing}',
                tabs=tabs, glance=glance or html("<li>none open</li>"), form=form, bulk=bulk, listing=listing)
    return page(request, "Exceptions queue", body)


@route("GET", "/exceptions/export")
def export(request: Request, services: ConsoleServices) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for case in filtered(request, services):
        amount, currency = case_amount(case)
        row = {**case, "amount": "" if amount is None else str(amount), "currency": currency,
               "age_days": age_days(case)}
        writer.writerow(["" if row.get(column) is None else _cell(row.get(column)) for column in CSV_COLUMNS])
    return Response(200, out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="exceptions.csv"'})


def _cell(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@route("POST", "/exceptions/bulk", Action.WORK_CASES)
def bulk(request: Request, services: ConsoleServices) -> Response:
    ids = request.values("ids")
    if not ids:
        raise OpsError("select at least one case", status=400, reason="nothing_selected")
    if len(ids) > MAX_BULK:
        raise OpsError(f"at most {MAX_BULK} cases at once", status=400, reason="too_many")
    outcomes = services.exceptions.bulk(request.value("action"), ids, actor=request.user.actor,
                                        text=request.value("text"))
    done = sum(1 for outcome in outcomes if outcome["ok"])
    failed = [f"{o['exception_id']}: {o['reason']}" for o in outcomes if not o["ok"]]
    notice = f"{request.value('action')}: {done} of {len(outcomes)} case(s) done" + (
        f"; not done: {'; '.join(failed[:10])}" if failed else "")
    return redirect(request.url("/exceptions", notice=notice))


def _json_block(value: object) -> Markup:
    from ledgerlink.console.redact import redact

    return html('<pre tabindex="0">{text}</pre>', text=json.dumps(redact(value), indent=2, sort_keys=True, default=str))


def _facts(case: Mapping[str, Any]) -> Markup:
    amount, currency = case_amount(case)
    facts = [("status", case.get("status")), ("reason", case.get("reason")), ("message", case.get("message")),
             ("entity", case.get("entity_id")), ("source", case.get("source")),
             ("amount", f"{amount} {currency}" if amount is not None else "—"),
             ("opened", case.get("opened_at")), ("assignee", case.get("assignee") or "—"),
             ("correlation id", case.get("correlation_id")), ("waiting execution", case.get("waiting_execution"))]
    return html('<dl class="facts">{f}</dl>', f=join(html("<dt>{k}</dt><dd>{v}</dd>", k=k,
                                                           v="—" if v in (None, "") else v) for k, v in facts))


def _document(services: ConsoleServices, document_id: object) -> Markup:
    stored = services.ops.ledger.get(str(document_id)) if document_id else None
    if not stored:
        return html("<p>not in the ledger</p>")
    document = stored.get("document")
    return _json_block(json.loads(document) if isinstance(document, str) else document)


def _raw(services: ConsoleServices, archive_key: object) -> Markup:
    from ledgerlink.console.redact import redacted_text

    if not archive_key:
        return html("<p>no archived payload</p>")
    try:
        return html('<pre tabindex="0">{t}</pre>', t=redacted_text(services.archive.get(str(archive_key))))
    except Exception as exc:   # an archived object that is gone or unreadable: say so, keep the page
        return html("<p>raw payload unavailable ({kind})</p>", kind=type(exc).__name__)


@route("GET", "/exceptions/{exception_id}")
def case_page(request: Request, services: ConsoleServices, exception_id: str) -> Response:
    from ledgerlink.service.exceptions import public

    case = public(services.exceptions.get(exception_id))
    document_id = case.get("document_id")
    trace = html('<a href="{href}">Trace of document {id}</a>', href=request.url(f"/documents/{document_id}"),
                 id=document_id) if document_id else html("<span>no document (the payload never normalized)</span>")
    history = table(("at", "action", "by", "note"), [[h.get("at"), h.get("action"), h.get("by"),
                                                      h.get("note") or h.get("reason") or ""]
                                                     for h in case.get("history") or []], caption="History")
    actions = _actions(request, case) if can(request, Action.WORK_CASES) else Markup("")
    approval = html('<p><a href="{href}">Approve or reject on the approvals page</a></p>',
                    href=request.url("/approvals")) if case.get("reason") == "approval_required" else Markup("")
    body = html(
        '{facts}<h2>Suggested fix</h2><p>{fix}</p>{approval}<p>{trace}</p>{actions}'
        '<h2>History</h2>{history}<h2>Document</h2>{document}<h2>Raw payload (redacted)</h2>{raw}',
        facts=_facts(case), fix=case.get("suggested_fix") or "none given", approval=approval, trace=trace,
        actions=actions, history=history, document=_document(services, document_id),
        raw=_raw(services, case.get("archive_key")))
    return page(request, f"Case {exception_id}", body)


def _actions(request: Request, case: Mapping[str, Any]) -> Markup:
    base = f"/exceptions/{case['exception_id']}"
    csrf = csrf_field(request)
    forms = []
    if case.get("status") in TABS["open"]:
        forms.append(html('<form method="post" action="{a}">{csrf}<label>Note <input name="text" maxlength="2000">'
                          '</label><button type="submit">Retry</button></form>', a=request.url(base + "/retry"),
                          csrf=csrf))
        for verb in ("resolve", "ignore"):
            forms.append(html('<form method="post" action="{a}">{csrf}<label>Reason for {verb} <input name="text" '
                              'required maxlength="2000"></label><button type="submit">{label}</button></form>',
                              a=request.url(f"{base}/{verb}"), csrf=csrf, verb=verb, label=verb.capitalize()))
    forms.append(html('<form method="post" action="{a}">{csrf}<label>Assign to <input name="text" value="{who}" '
                      'maxlength="200"></label><button type="submit">Assign</button></form>',
                      a=request.url(base + "/assign"), csrf=csrf, who=case.get("assignee") or ""))
    forms.append(html('<form method="post" action="{a}">{csrf}<label>Note <textarea name="text" required '
                      'maxlength="2000"></textarea></label><button type="submit">Add note</button></form>',
                      a=request.url(base + "/note"), csrf=csrf))
    return html('<section class="actions" aria-labelledby="act"><h2 id="act">Work this case</h2>{f}</section>',
                f=join(forms))


@route("POST", "/exceptions/{exception_id}/{action}", Action.WORK_CASES)
def act(request: Request, services: ConsoleServices, exception_id: str, action: str) -> Response:
    service = services.exceptions
    text = request.value("text")
    who = request.user.actor
    if action == "retry":
        service.retry(exception_id, actor=who, note=text)
    elif action in ("resolve", "ignore"):
        service.close(exception_id, action, actor=who, reason=text)
    elif action == "assign":
        service.assign(exception_id, actor=who, assignee=text)
    elif action == "note":
        service.add_note(exception_id, actor=who, note=text)
    else:
        raise OpsError(f"unknown action {action!r}", status=404, reason="not_found")
    return redirect(request.url(f"/exceptions/{exception_id}", notice=f"{action}: done"))


__all__ = ["query"]
