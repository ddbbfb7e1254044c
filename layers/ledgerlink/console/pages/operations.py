"""Operations: queue and DLQ depths, the happy path and the Standard executions, the DLQ (list, redrive) and replay
with a dry run. Redrive needs the operations-admin role's ``redrive``, replay its ``replay``; both are audited under
the user and neither can post twice (a replay skips what is already posted or ignored)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from ledgerlink.console.app import Request, Response, redirect, route
from ledgerlink.console.html import Markup, html, join, table
from ledgerlink.console.pages.layout import can, csrf_field, page
from ledgerlink.console.roles import Action
from ledgerlink.errors import ConfigError, OpsError

if TYPE_CHECKING:
    from ledgerlink.console.services import ConsoleServices
    from ledgerlink.ops.replay import ReplayPlan


def _depths(services: ConsoleServices) -> list[list[object]]:
    from ledgerlink.store.clients import client

    rows: list[list[object]] = []
    for label, url in (("inbound", services.settings.inbound_queue_url),
                       ("inbound DLQ", services.settings.inbound_dlq_url)):
        attributes = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        rows.append([label, attributes["ApproximateNumberOfMessages"],
                     attributes["ApproximateNumberOfMessagesNotVisible"]])
    return rows


@route("GET", "/operations")
def operations(request: Request, services: ConsoleServices) -> Response:
    from ledgerlink.ops.commands import happy_path_activity
    from ledgerlink.store.workflow import running_executions

    queues = table(("queue", "waiting", "in flight"), _depths(services), caption="Queues",
                   numeric=frozenset({1, 2}))
    happy = happy_path_activity(services.settings.happy_path_state_machine_arn) \
        if services.settings.happy_path_state_machine_arn else {}
    standard = len(running_executions(services.settings.state_machine_arn))
    activity = html('<p>Standard executions running (escalations, waits, replays): <strong>{n}</strong>. Happy path '
                    '(Express): {h}.</p>', n=standard, h=", ".join(f"{k.replace('_', ' ')} {v}" for k, v in
                                                                  happy.items()) or "not deployed")
    parked = services.dlq.list()
    dlq = table(("message", "receives", "sent at", "source", "event", "last error"),
                [[m.message_id, s.get("receive_count"), s.get("sent_at"), s.get("source"), s.get("event_id"),
                  s.get("last_error") or s.get("body_preview")] for m in parked for s in [m.summary()]],
                caption=f"{len(parked)} message(s) parked in the DLQ")
    redrive = html('<form method="post" action="{a}" class="bulk">{csrf}<label>Dry run <select name="dry_run">'
                   '<option value="yes">yes: list what would move</option><option value="no">no: move them</option>'
                   '</select></label><button type="submit">Redrive the DLQ</button></form>',
                   a=request.url("/operations/redrive"), csrf=csrf_field(request)) \
        if can(request, Action.REDRIVE) else Markup("")
    replay = html(
        '<h2>Replay</h2><form method="post" action="{a}" class="bulk">{csrf}'
        '<label>Document id <input name="document"></label><span>or</span>'
        '<label>From (UTC day) <input name="start" placeholder="YYYY-MM-DD"></label>'
        '<label>To <input name="end" placeholder="YYYY-MM-DD"></label><label>Source <input name="source"></label>'
        '<label>Dry run <select name="dry_run"><option value="yes">yes: show what would replay and where it lands'
        '</option><option value="no">no: replay</option></select></label><button type="submit">Replay</button>'
        '</form>', a=request.url("/operations/replay"), csrf=csrf_field(request)) \
        if can(request, Action.REPLAY) else Markup("")
    body = html("{queues}{activity}<h2>Dead-letter queue</h2>{redrive}{dlq}{replay}", queues=queues,
                activity=activity, redrive=redrive, dlq=dlq, replay=replay)
    return page(request, "Operations", body)


@route("POST", "/operations/redrive", Action.REDRIVE)
def redrive(request: Request, services: ConsoleServices) -> Response:
    dry_run = request.value("dry_run", "yes") != "no"
    result = services.dlq.redrive(dry_run=dry_run)
    if dry_run:
        return redirect(request.url("/operations", notice=f"dry run: {len(result.message_ids)} message(s) would "
                                                          "move back to the inbound queue"))
    services.audit.record("dlq_redrive", actor=request.user.actor, subject=services.settings.inbound_dlq_url,
                          detail={"mode": result.mode, "moved": result.moved})
    return redirect(request.url("/operations", notice=f"moved {result.moved} message(s) back ({result.mode})"))


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise OpsError(f"{name} must be a date YYYY-MM-DD", status=400, reason="bad_date") from None


def plan(request: Request, services: ConsoleServices) -> ReplayPlan:
    document, start, end = request.value("document"), request.value("start"), request.value("end")
    try:
        if document and not (start or end):
            return services.replayer.plan_document(document)
        if start and end and not document:
            first, last = _day(start, "from"), _day(end, "to")
            if first > last:
                raise OpsError("from is after to", status=400, reason="bad_range")
            if (last - first).days > 31:
                raise OpsError("replay at most 31 days at once here (the CLI takes longer ranges)", status=400,
                               reason="range_too_long")
            return services.replayer.plan_range(first, last, source_id=request.value("source") or None)
    except ConfigError as error:
        raise OpsError(str(error), status=400, reason="replay_refused") from None
    raise OpsError("give a document id, or a from and a to day (not both)", status=400, reason="replay_scope")


@route("POST", "/operations/replay", Action.REPLAY)
def replay(request: Request, services: ConsoleServices) -> Response:
    planned = plan(request, services)
    dry_run = request.value("dry_run", "yes") != "no"
    landings = _landings(planned, services)
    sent = 0
    if not dry_run:
        sent = services.replayer.execute(planned)
        services.audit.record("replay", actor=request.user.actor, subject=request.value("document") or
                              f"{request.value('start')}..{request.value('end')}/{request.value('source') or 'all'}",
                              detail={"messages": sent, "skipped": len(planned.skipped)})
    rows = [[m.get("source"), m.get("event_id"), m.get("archive_key")] for m in planned.messages]
    skipped = [[s.get("document_id"), s.get("reason")] for s in planned.skipped]
    body = html('<p>{verb} {n} event(s); {k} skipped (a replay never posts twice).</p>{landings}{events}{skipped}'
                '<p><a href="{back}">Back to operations</a></p>',
                verb="Would replay" if dry_run else f"Replayed ({sent} sent)", n=len(planned.messages),
                k=len(planned.skipped), landings=landings,
                events=table(("source", "event", "archived as"), rows, caption="Events"),
                skipped=table(("document", "why skipped"), skipped, caption="Skipped"),
                back=request.url("/operations"))
    return page(request, "Replay — dry run" if dry_run else "Replay", body)


def _landings(planned: ReplayPlan, services: ConsoleServices) -> Markup:
    """Which period each document would land in (the validate step's own period rules)."""
    from ledgerlink.service.replay_periods import replay_periods

    landings = replay_periods(planned, ledger=services.ops.ledger, config=services.ops.config()[1],
                              inbox=services.ops.inbox)
    return table(("document", "event", "accounting date", "outcome", "posts on", "period", "why"),
                 [[x.document_id or "—", x.event_id or "—", x.accounting_date or "—", x.outcome.replace("_", " "),
                   x.posting_date or "—", x.period or "—", x.reason] for x in landings],
                 caption="Where each document would land")


__all__ = ["join"]
