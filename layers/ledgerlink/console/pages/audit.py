"""The audit trail of one day: every change made through the console, the CLI, the ops API and the pipeline's
operators (who, what, on which subject), newest first — the append-only table the audit export copies to S3."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from ledgerlink.clock import now
from ledgerlink.console.app import Request, Response, route
from ledgerlink.console.html import html, join, table
from ledgerlink.console.pages.layout import page
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices


@route("GET", "/audit")
def audit(request: Request, services: ConsoleServices) -> Response:
    text = request.arg("day") or now().date().isoformat()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise OpsError("the day is YYYY-MM-DD", status=400, reason="bad_date") from None
    entries = sorted(services.audit.on(day.isoformat()), key=lambda entry: str(entry.get("at")), reverse=True)
    form = html('<form method="get" action="{a}" class="filters"><label>Day (UTC) <input name="day" value="{d}" '
                'placeholder="YYYY-MM-DD"></label><button type="submit">Show</button></form>',
                a=request.url("/audit"), d=day.isoformat())
    rows = [[entry.get("at"), entry.get("actor"), entry.get("action"), entry.get("subject"), _detail(entry.get("detail"))]
            for entry in entries]
    return page(request, "Audit trail", join([form, table(("at", "who", "action", "subject", "detail"), rows,
                                                         caption=f"{len(rows)} action(s) on {day.isoformat()}")]))


def _detail(detail: object) -> str:
    if not isinstance(detail, Mapping):
        return ""
    return "; ".join(f"{key}: {value}" for key, value in sorted(detail.items()))[:400]
