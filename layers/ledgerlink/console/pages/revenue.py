"""The deferred-revenue waterfall per entity and currency: a chart (server-drawn SVG) and its table."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from ledgerlink.console.app import Request, Response, route
from ledgerlink.console.html import Markup, html, join, table
from ledgerlink.console.pages.close import entities, entity_period_form
from ledgerlink.console.pages.layout import page
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices
    from ledgerlink.model.revenue import LineState, ScheduleLine
    from ledgerlink.pipeline.revenue_schedule import LineSchedule

CHART_HEIGHT = 180
BAR = 14


def chart(currency: str, rows: list[dict[str, str]]) -> Markup:
    """Billed, recognized and closing deferred per period, as grouped bars (values in the table below)."""
    series = (("billed", "bar-billed"), ("recognized", "bar-recognized"), ("closing_deferred", "bar-closing"))
    top = max((abs(Decimal(row[key])) for row in rows for key, _ in series), default=Decimal(0)) or Decimal(1)
    width = max(len(rows) * (BAR * 3 + 16) + 40, 200)
    bars = []
    for index, row in enumerate(rows):
        x = 30 + index * (BAR * 3 + 16)
        for offset, (key, css) in enumerate(series):
            height = int(abs(Decimal(row[key])) / top * (CHART_HEIGHT - 30))
            bars.append(html('<rect class="{css}" x="{x}" y="{y}" width="{w}" height="{h}"><title>{p} {k}: {v} {c}'
                             '</title></rect>', css=css, x=x + offset * BAR, y=CHART_HEIGHT - 20 - height, w=BAR - 2,
                             h=height, p=row["period"], k=key.replace("_", " "), v=row[key], c=currency))
        bars.append(html('<text x="{x}" y="{y}">{p}</text>', x=x, y=CHART_HEIGHT - 5, p=row["period"]))
    return html('<svg role="img" aria-labelledby="chart-{c}" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
                '<title id="chart-{c}">Deferred-revenue waterfall in {c}: billed, recognized and closing deferred per '
                'period</title>{bars}</svg><p class="legend">Bars: billed (blue), recognized (green), closing deferred '
                '(purple).</p>', c=currency, w=width, h=CHART_HEIGHT, bars=join(bars))


@route("GET", "/revenue")
def revenue(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink.service.revenue import schedules, waterfall_report
    from ledgerlink.store.revenue import DynamoRevenue

    form = entity_period_form(request, services, "/revenue", "Through period", "last")
    entity = request.arg("entity") or (entities(services) or [""])[0]
    if entity not in entities(services):
        raise OpsError(f"unknown entity {entity!r}", status=400, reason="unknown_entity")
    last = request.arg("last") or None
    if last is not None and not (len(last) == 7 and last[4] == "-" and last.replace("-", "").isdigit()):
        raise OpsError("the period is YYYY-MM", status=400, reason="invalid_period")
    store = DynamoRevenue(services.settings.revenue_table)
    report = waterfall_report(store, entity, last=last)
    lines = schedules(store, store.entity_lines(entity)) if report["currencies"] else []
    parts: list[Markup] = [form]
    if not report["currencies"]:
        parts.append(html("<p>Entity {e} has no revenue schedules.</p>", e=entity))
    for currency, data in report["currencies"].items():
        rows = [dict(row) for row in data["rows"]]
        parts.append(html("<h2>{e} — {c} ({n} schedule line(s))</h2>", e=entity, c=currency, n=data["lines"]))
        parts.append(chart(currency, rows))
        parts.append(table(("period", "billed", "recognized", "adjusted", "closing deferred", "released"),
                           [[r["period"], r["billed"], r["recognized"], r["adjusted"], r["closing_deferred"],
                             r["released"]] for r in rows], caption=f"Waterfall in {currency}",
                           numeric=frozenset({1, 2, 3, 4, 5})))
        parts.append(html("<p>Deferred now (billed − released − reclassified): <strong>{d} {c}</strong></p>",
                          d=data["deferred_now"], c=currency))
        parts.append(_lines(request, [found for found in lines if found[0].currency == currency], currency))
    return page(request, "Deferred revenue", join(parts))


def _lines(request: Request, found: list[tuple[ScheduleLine, LineSchedule, LineState]], currency: str) -> Markup:
    """The schedule lines behind the waterfall, each with its invoice (the document) and what it still defers."""
    from ledgerlink.service.revenue import deferred_now

    rows = [[html('<a href="{h}">{d}</a>', h=request.url(f"/documents/{line.invoice_document_id}"),
                  d=line.invoice_document_id), line.line_id, line.product_id or "—",
             f"{line.service_start} → {line.service_end}", line.billed, state.released_total,
             deferred_now(line, schedule, state)] for line, schedule, state in found]
    return html("<details><summary>{n} schedule line(s) behind these figures</summary>{t}</details>", n=len(rows),
                t=table(("invoice", "line", "product", "service (end exclusive)", "billed", "released",
                         "deferred now"), rows, caption=f"Schedule lines in {currency}",
                        numeric=frozenset({4, 5, 6})))
