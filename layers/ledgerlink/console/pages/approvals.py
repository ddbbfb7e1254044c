"""Approvals: documents held as ``approval_required`` (above an entity's approval threshold) are approved or rejected
by an approver. Approval resumes the execution that waits on the case and posts once; rejection ends it with the
reason. The approver may not be whoever applied the configuration that set the threshold (the service refuses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ledgerlink.console.app import Request, Response, redirect, route
from ledgerlink.console.html import Markup, html, join, table
from ledgerlink.console.pages.exceptions import age_days, case_amount
from ledgerlink.console.pages.layout import can, csrf_field, page
from ledgerlink.console.roles import Action

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices


@route("GET", "/approvals")
def approvals(request: Request, services: ConsoleServices) -> Response:
    cases = services.exceptions.list(status="open", reason="approval_required")
    approver = can(request, Action.APPROVE)
    rows = []
    for case in cases:
        amount, currency = case_amount(case)
        stored = case.get("detail")
        detail: Mapping[str, object] = stored if isinstance(stored, Mapping) else {}
        link = html('<a href="{href}">{id}</a>', href=request.url(f"/exceptions/{case['exception_id']}"),
                    id=case["exception_id"])
        document = html('<a href="{href}">{d}</a>', href=request.url(f"/documents/{case['document_id']}"),
                        d=case["document_id"]) if case.get("document_id") else "—"
        actions: Markup | str = "—"
        if approver and case.get("waiting_execution"):
            base = f"/approvals/{case['exception_id']}"
            actions = html(
                '<form method="post" action="{a}" class="inline">{csrf}<label>Note <input name="text" '
                'maxlength="2000"></label><button type="submit">Approve</button></form>'
                '<form method="post" action="{r}" class="inline">{csrf}<label>Reason to reject <input name="text" '
                'required maxlength="2000"></label><button type="submit">Reject</button></form>',
                a=request.url(base + "/approve"), r=request.url(base + "/reject"), csrf=csrf_field(request))
        rows.append([link, document, case.get("entity_id") or "—",
                     f"{amount} {currency}" if amount is not None else "—", f"{detail.get('threshold')} {detail.get('currency') or ''}".strip() if detail.get("threshold") else "—",
                     age_days(case), actions])
    listing = table(("case", "document", "entity", "amount", "threshold", "age (days)", "decision"), rows,
                    caption=f"{len(cases)} document(s) waiting for approval", numeric=frozenset({3, 4, 5}))
    note = html("<p>Approving posts the document once, on the configuration active now; rejecting ends it as "
                "ignored with your reason. Both are audited under your name.</p>")
    return page(request, "Approvals", join([note, listing]))


@route("POST", "/approvals/{exception_id}/{decision}", Action.APPROVE)
def decide(request: Request, services: ConsoleServices, exception_id: str, decision: str) -> Response:
    from ledgerlink.errors import OpsError

    if decision == "approve":
        services.exceptions.approve(exception_id, actor=request.user.actor, note=request.value("text"))
    elif decision == "reject":
        services.exceptions.reject(exception_id, actor=request.user.actor, reason=request.value("text"))
    else:
        raise OpsError(f"unknown decision {decision!r} (approve, reject)", status=404, reason="not_found")
    done = {"approve": "approved", "reject": "rejected"}[decision]
    return redirect(request.url("/approvals", notice=f"{exception_id}: {done}"))
