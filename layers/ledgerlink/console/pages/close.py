"""The month-end close check per entity and period: each tie-out's expected, booked and difference, with the
documents behind it (``ledgerlink close-check``; the tie-outs and their standards in docs/)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledgerlink.console.app import Request, Response, route
from ledgerlink.console.html import Markup, html, join, select, table
from ledgerlink.console.pages.layout import page
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices
    from ledgerlink.service.recon_calendar import CloseDrilldown


def entities(services: ConsoleServices) -> list[str]:
    return [entity.id for entity in services.ops.config()[1].entities]


def entity_period_form(request: Request, services: ConsoleServices, action: str, period_label: str,
                       period_name: str) -> Markup:
    known = entities(services)
    return html('<form method="get" action="{a}" class="filters">{entity}<label>{plabel} <input name="{pname}" '
                'value="{period}" placeholder="YYYY-MM" pattern="[0-9]{{4}}-[0-9]{{2}}"></label>'
                '<button type="submit">Show</button></form>', a=request.url(action),
                entity=select("entity", "Entity", [(e, e) for e in known], request.arg("entity", known[0] if known
                                                                                       else "")),
                plabel=period_label, pname=period_name, period=request.arg(period_name))


@route("GET", "/close")
def close(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink import wiring
    from ledgerlink.service.close_check import CloseCheckRefused
    from ledgerlink.service.recon_calendar import close_drilldown

    form = entity_period_form(request, services, "/close", "Period", "period")
    entity, period = request.arg("entity"), request.arg("period")
    if not entity or not period:
        return page(request, "Month-end close", join([form, html("<p>Choose an entity and a period (YYYY-MM).</p>")]))
    if entity not in entities(services):
        raise OpsError(f"unknown entity {entity!r}", status=400, reason="unknown_entity")
    try:
        report = wiring.close_check_service().run(entity, period).to_dict()
    except CloseCheckRefused as refused:
        raise OpsError(str(refused), status=400, reason=refused.reason) from None
    rows = []
    for tie in report["tieouts"]:
        drill = _drilldown(request, close_drilldown(report, tie["name"])) if tie["drilldown"] else "—"
        rows.append([tie["check"], tie["account"], tie["currency"], tie["expected"], tie["booked"],
                     tie["difference"], html('<span class="status-{s}">{s}</span>',
                                             s="balanced" if tie["status"] == "tied" else "difference"),
                     "; ".join(tie["problems"]) or tie["basis"], drill])
    summary = html('<p>Close check {entity} {period} through {through}: <strong>{status}</strong> '
                   '({n} difference(s))</p>', entity=entity, period=period, through=report["through"],
                   status=report["status"], n=report["differences"])
    listing = table(("check", "account", "currency", "expected", "booked", "difference", "status", "basis / problem",
                     "documents"), rows, caption=f"Tie-outs of {entity} for {period}", numeric=frozenset({3, 4, 5}))
    return page(request, "Month-end close", join([form, summary, listing]))


def _drilldown(request: Request, found: CloseDrilldown) -> Markup:
    """The documents behind a tie-out: each one's part of expected and of booked, the differing ones first."""
    items, count = found.items, found.count
    rows = [[html('<a href="{h}">{d}</a>', h=request.url(f"/documents/{item['document_id']}"), d=item["document_id"])
             if item["document_id"].startswith("doc_") else item["document_id"], item["expected"],
             item["booked"] if item["booked"] is not None else "—", item["difference"] or "—"] for item in items]
    differing = sum(1 for item in items if item["difference"] not in (None, "0", "0.00"))
    return html('<details><summary>{n} document(s){d}</summary>{t}</details>', n=count,
                d=f", {differing} differing" if differing else "",
                t=table(("document", "expected", "booked", "difference"), rows, caption="Documents behind it",
                        numeric=frozenset({1, 2, 3})))
