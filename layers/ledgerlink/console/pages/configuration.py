"""Configuration: the versions with who applied them and when, the diff between two versions, and for a proposed
change (YAML pasted by a mapping admin) its diff against the active version and which open cases it would fix.
Nothing is applied from here: a change is applied with ``ledgerlink config apply``, reviewed like code."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ledgerlink.console.app import Request, Response, route
from ledgerlink.console.html import Markup, html, join, table
from ledgerlink.console.pages.layout import can, csrf_field, page
from ledgerlink.console.roles import Action
from ledgerlink.errors import OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices
    from ledgerlink.service.config_impact import DiffJson
    from ledgerlink.store.config_store import DynamoConfigStore

MAX_PROPOSAL = 60_000


def _store(services: ConsoleServices) -> DynamoConfigStore:
    from ledgerlink import wiring

    return wiring.config_reader()


def _diff(request: Request, diff: DiffJson) -> Markup:
    rows = [[change["section"], change["kind"], change["line"]] for change in diff["changes"]]
    title = f"v{diff['from_version']} → " + (f"v{diff['to_version']}" if diff["to_version"] else "proposal")
    who = f" applied by {diff['applied_by']} at {diff['applied_at']}" if diff["applied_by"] else ""
    return table(("section", "change", "what"), rows, caption=f"{title}: {diff['total']} change(s){who}")


def _version(text: str, name: str) -> int:
    if not text.isdigit():
        raise OpsError(f"{name} must be a version number", status=400, reason="bad_version")
    return int(text)


@route("GET", "/configuration")
def configuration(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink.service.config_impact import version_diff

    store = _store(services)
    history = sorted(store.history(), key=lambda item: int(str(item["version"])))
    active = services.ops.config()[0]
    rows = []
    for item in reversed(history):
        changes = item.get("changes")
        if isinstance(changes, str):
            changes = json.loads(changes)
        summary = f"{changes['total']} change(s)" if isinstance(changes, dict) else "initial / unrecorded"
        number = int(str(item["version"]))
        link = html('<a href="{h}">v{n}</a>', h=request.url("/configuration", a=number - 1, b=number), n=number) \
            if number > 1 else html("v{n}", n=number)
        rows.append([link, "active" if number == active else "", item.get("applied_at"), item.get("applied_by"),
                     summary])
    versions = table(("version", "", "applied at", "applied by", "changes"), rows, caption="Configuration versions")
    parts = [versions]
    if request.arg("a") and request.arg("b"):
        diff = version_diff(store, _version(request.arg("a"), "a"), _version(request.arg("b"), "b"))
        parts.append(html("<h2>Diff</h2>{d}", d=_diff(request, diff.to_dict())))
    if can(request, Action.CONFIGURE):
        parts.append(html(
            '<h2>Check a proposed change</h2><form method="post" action="{a}">{csrf}<label>The whole proposed '
            'configuration (YAML) <textarea name="yaml" rows="14" cols="100" required></textarea></label>'
            '<button type="submit">Check against the open cases</button></form>',
            a=request.url("/configuration/impact"), csrf=csrf_field(request)))
    return page(request, "Configuration", join(parts))


@route("POST", "/configuration/impact", Action.CONFIGURE)
def impact(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink.service.config_impact import (
        ProposedConfigInvalid,
        cases_fixed_by,
        parse_proposed,
        proposed_diff,
    )

    text = request.form.get("yaml", [""])[0]
    if not text.strip():
        raise OpsError("paste the proposed configuration", status=400, reason="proposal_required")
    if len(text) > MAX_PROPOSAL:
        raise OpsError("the proposal is too large", status=413, reason="proposal_too_large")
    try:
        proposed = parse_proposed(text)
    except ProposedConfigInvalid as invalid:
        findings = join(html("<li>{f}</li>", f=f) for f in invalid.findings)
        return page(request, "Proposed configuration — not valid",
                    html('<p class="error" role="alert">{m}</p><ul>{f}</ul>', m=str(invalid), f=findings),
                    status=400)
    version = services.ops.config()[0]
    report = cases_fixed_by(proposed, cases=services.ops.cases, ledger=services.ops.ledger,
                            current_version=version).to_dict()
    diff = proposed_diff(_store(services), proposed, current_version=version).to_dict()
    rows = [[html('<a href="{h}">{c}</a>', h=request.url(f"/exceptions/{case['exception_id']}"),
                  c=case["exception_id"]), case["reason"], case["outcome"].replace("_", " "),
             case["new_reason"] or "", case["message"] or case["why"] or ""] for case in report["cases"]]
    counts = report["counts"]
    summary = html("<p>Against active version v{v}: <strong>{fix}</strong> open case(s) would be fixed, {still} would "
                   "still fail, {na} cannot be fixed by configuration.</p>", v=version, fix=counts["would_fix"],
                   still=counts["still_fails"], na=counts["not_applicable"])
    services.audit.record("config_impact_checked", actor=request.user.actor, subject=f"v{version}",
                          detail={"changes": diff["total"], **counts})
    return page(request, "Proposed configuration", join([
        summary, table(("case", "reason", "outcome", "new reason", "why"), rows, caption="Open cases"),
        html("<h2>Diff against the active version</h2>{d}", d=_diff(request, diff))]))
