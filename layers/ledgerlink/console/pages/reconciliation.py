"""Reconciliation: a calendar per entity and month (balanced, difference, not checked) from the daily reconciliation
reports, each day drilling down to the named items (documents, events, ERP references) and the control totals."""

from __future__ import annotations

import calendar as months
from datetime import date
from typing import TYPE_CHECKING

from ledgerlink.clock import today_in
from ledgerlink.console.app import Request, Response, route
from ledgerlink.console.html import Markup, html, join, table
from ledgerlink.console.pages.close import entities, entity_period_form
from ledgerlink.console.pages.layout import page
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices
    from ledgerlink.store.reports import S3Reports

LABELS = {"balanced": "balanced", "difference": "difference", "not_checked": "not checked", "future": "—"}


def _entity(request: Request, services: ConsoleServices) -> tuple[str, date]:
    config = services.ops.config()[1]
    entity = request.arg("entity") or (entities(services) or [""])[0]
    found = next((e for e in config.entities if e.id == entity), None)
    if found is None:
        raise OpsError(f"unknown entity {entity!r}", status=400, reason="unknown_entity")
    return entity, today_in(found.time_zone)


def _reports(services: ConsoleServices) -> S3Reports:
    from ledgerlink.store.reports import S3Reports

    return S3Reports(services.settings.reports_bucket)


@route("GET", "/reconciliation")
def reconciliation(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink.service.recon_calendar import calendar

    entity, today = _entity(request, services)
    month = request.arg("month") or today.strftime("%Y-%m")
    form = entity_period_form(request, services, "/reconciliation", "Month", "month")
    cal = calendar(_reports(services), entity=entity, month=month, today=today)
    cells = {cell.date: cell for cell in cal.days}
    year, number = int(month[:4]), int(month[5:7])
    weeks = []
    for week in months.Calendar(firstweekday=0).monthdatescalendar(year, number):
        row = []
        for day in week:
            cell = cells.get(day.isoformat())
            if day.month != number or cell is None:
                row.append("")
                continue
            what = LABELS.get(cell.status, cell.status)
            if cell.status == "difference":
                what = f"{cell.difference_count} difference(s) " + ", ".join(
                    f"{amount} {currency}" for currency, amount in cell.amounts.items())
            row.append(html('<a href="{h}">{d}</a><br><span class="status-{s}">{w}</span>',
                            h=request.url(f"/reconciliation/{entity}/{day.isoformat()}"), d=day.day, s=cell.status,
                            w=what))
        weeks.append(row)
    grid = table(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), weeks,
                 caption=f"{entity} {month}: " + ", ".join(f"{n} {LABELS.get(s, s)}" for s, n in cal.counts.items()
                                                           if n and s != "future"))
    return page(request, "Reconciliation", join([form, html('<div class="calendar">{g}</div>', g=grid)]))


@route("GET", "/reconciliation/{entity}/{business_date}")
def reconciliation_day(request: Request, services: ConsoleServices, entity: str, business_date: str) -> Response:
    from ledgerlink.service.recon_calendar import day

    if entity not in entities(services):
        raise OpsError(f"unknown entity {entity!r}", status=400, reason="unknown_entity")
    found = day(_reports(services), entity=entity, business_date=business_date)
    links = []
    for item in found.items:
        documents = join(html('<a href="{h}">{d}</a> ', h=request.url(f"/documents/{d}"), d=d)
                         for d in item.document_ids)
        case = html('<a href="{h}">{c}</a>', h=request.url(f"/exceptions/{item.exception_id}"),
                    c=item.exception_id) if item.exception_id else "—"
        links.append([item.kind, item.sentence, documents or "—", ", ".join(item.event_ids) or "—",
                      ", ".join(item.erp_refs) or "—",
                      f"{item.amount} {item.currency}" if item.amount else "—", case])
    items = table(("kind", "what", "documents", "events", "ERP references", "at stake", "case"), links,
                  caption=f"{len(found.items)} difference(s)")
    sources = table(("source", "currency", "received", "posted", "exceptions", "ignored", "in flight"),
                    [[s.source, s.currency] + [f"{s.counts[p]} ({s.amounts[p]})" for p in
                                               ("received", "posted", "exception", "ignored", "in_flight")]
                     for s in found.sources], caption="Control totals: received = posted + exceptions + ignored + "
                                                      "in flight")
    status = html('<p>Status: <span class="status-{s}">{label}</span>{why}{key}</p>', s=found.status,
                  label=LABELS.get(found.status, found.status),
                  why=html(" — {r}", r=found.reason) if found.reason else Markup(""),
                  key=html(" — report {k}", k=found.report_key) if found.report_key else Markup(""))
    back = html('<p><a href="{h}">Back to the calendar</a></p>',
                h=request.url("/reconciliation", entity=entity, month=business_date[:7]))
    return page(request, f"Reconciliation {entity} {business_date}", join([status, items, sources, back]))
