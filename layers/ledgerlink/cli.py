"""The ``ledgerlink`` command (dev machine / CI / ops terminal; not shipped in the Lambda layer)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ledgerlink.clock import epoch

if TYPE_CHECKING:
    from ledgerlink.config.roles import RoleFinding
    from ledgerlink.local.faults import FaultPlan
    from ledgerlink.local.runtime import LocalRuntime
    from ledgerlink.model.json import JsonValue
    from ledgerlink.ops.replay import ReplayPlan
    from ledgerlink.ops.target import Target
    from ledgerlink.store.revenue import DynamoRevenue

DEFAULT_CONFIG = Path("config/ledgerlink.example.yaml")
DEFAULT_EVENTS = Path("events")


def _instant(text: str) -> datetime:
    from ledgerlink.clock import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 instant: {text!r} (e.g. 2026-12-15T12:00:00Z)") from None


def _cmd_demo(args: argparse.Namespace) -> int:
    from ledgerlink.local.demo import DEMO_AS_OF, demo_ok, format_report, run_demo

    args.as_of = args.as_of or DEMO_AS_OF

    report = run_demo(args.config, args.events, state_dir=args.state_dir, port=args.port, as_of=args.as_of)
    print(format_report(report))
    problems = demo_ok(report)
    for problem in problems:
        print(f"demo problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _cmd_local_up(args: argparse.Namespace) -> int:
    import contextlib
    import dataclasses
    import os
    import time

    from ledgerlink.local.runtime import LocalOptions, LocalRuntime

    plan = dataclasses.replace(args.faults, seed=args.faults_seed) if args.faults else None
    runtime = LocalRuntime(LocalOptions(config_path=args.config, state_dir=args.state_dir, port=args.port,
                                        secrets_file=args.secrets, poll_every_seconds=args.poll_every or None,
                                        injected_faults=plan, fresh=args.fresh,
                                        snapshot_every_seconds=args.snapshot_every))
    # SIGTERM and Ctrl-C (SIGINT) both ask for the same clean stop; a second one exits at once. Installed before
    # start(): a signal during start-up stops the stack as soon as it is up instead of killing it half-built.
    # The clean stop waits at most `clean_stop_seconds` for pollers and executions (LocalRuntime.stop); should
    # anything still hang, the process exits anyway `force_exit_seconds` after the stop began.
    # The handler only sets a flag: it runs between two bytecodes of the main thread, which may hold a threading
    # lock right then (an Event's, a Thread.start's) — Event.set() or starting a thread there can deadlock it.
    clean_stop_seconds, force_exit_seconds = 1.5, 10.0
    requested: list[int] = []

    def force_exit(code: int, why: str) -> None:
        os.write(2, f"local stack: {why}; exiting now\n".encode())   # not print(): safe inside a signal handler
        os._exit(code)

    def request_stop(signum: int, _frame: object) -> None:
        if requested:
            force_exit(128 + signum, "second signal")
        requested.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    from ledgerlink.local.state import LocalStateError

    try:
        runtime.start()
    except LocalStateError as exc:   # LocalRuntime.start() stopped whatever it had started
        print(f"error: {exc} (reason: {exc.reason})", file=sys.stderr)
        return 2
    _print_stack(runtime, args, plan)
    print("Ctrl-C to stop.", flush=True)
    try:
        # a short sleep, not an untimed wait: a signal the kernel hands to another thread only sets a flag that
        # the main thread reads when it next runs bytecode, and a thread blocked on a lock would never read it
        while not requested:
            time.sleep(0.2)
    finally:
        watchdog = threading.Timer(force_exit_seconds, force_exit,
                                   (1, f"the clean stop took more than {force_exit_seconds:.0f} s"))
        watchdog.daemon = True
        watchdog.start()
        with contextlib.suppress(OSError, ValueError):   # a closed terminal or pipe must not skip the stop
            print("stopping the local stack", flush=True)
        runtime.stop(timeout=clean_stop_seconds)
    # Exit without the interpreter's teardown: it frees every object moto and the handlers hold one by one, which
    # took seconds after a busy run (tens of seconds on a large heap). Everything worth keeping was closed by
    # stop(); only stdout/stderr are left to flush.
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)


def _print_stack(runtime: LocalRuntime, args: argparse.Namespace, plan: FaultPlan | None) -> None:
    """What ``local up`` prints once the stack is up: its state, its endpoints, its books."""
    assert runtime.config is not None
    print(f"LedgerLink local stack is up (configuration version {runtime.config_version} from {args.config})")
    recovery = runtime.recovery
    if recovery is not None and recovery.restored:
        print(f"  state from {args.state_dir}: {recovery.describe()}")
    else:
        print(f"  state: {args.state_dir} (empty; kept across restarts, --fresh starts empty)")
    if plan is not None:
        print(f"  faults injected: {plan.describe()} — rehearse with `ledgerlink exceptions list`, "
              "`ledgerlink dlq list`, `ledgerlink replay`")
    print(f"  AWS endpoint (moto): {runtime.client('sts').meta.endpoint_url}")
    _print_sources(runtime, args)
    _print_books(runtime)
    print(f"  Lambda logs: {args.state_dir / 'lambda.log'}")
    _print_console(runtime, args)
    print("  sign a file: ledgerlink local sign --source stripe events/stripe/01-invoice.finalized.json")


def _print_console(runtime: LocalRuntime, args: argparse.Namespace) -> None:
    """The console's address and its generated users (new passwords at every start; also in console-users.json)."""
    pool = runtime.resources.console if runtime.resources is not None else None
    if pool is None:
        return
    print(f"  finance-ops console: {runtime.console_url}   (users for this run, also in "
          f"{args.state_dir / 'console-users.json'}):")
    for role, (username, password) in pool.users.items():
        print(f"    {role:<14} user {username:<14} password {password}")


def _print_sources(runtime: LocalRuntime, args: argparse.Namespace) -> None:
    assert runtime.config is not None
    for source in runtime.config.sources:
        if source.id not in runtime.secrets or source.signing_secret is None:  # bank files arrive through S3
            continue
        secret = runtime.secrets[source.id]
        print(f"  POST {runtime.webhook_url(source.id)}   ({source.kind}; signing secret from {secret.origin},"
              f" Secrets Manager name {source.signing_secret.secret_id})")
    if runtime.fake_apis is not None:
        print(f"  vendor APIs (Ramp, HubSpot, SAP Concur, Adyen reports, Expensify): local fake at "
              f"{runtime.fake_apis.url}, serving events/<source>/api/")
    polled = [source.id for source in runtime.config.sources if source.kind == "expensify"]
    if polled:
        print(f"  polled every {args.poll_every} s: {', '.join(polled)}" if args.poll_every
              else f"  polled sources (no schedule): {', '.join(polled)}")


def _print_books(runtime: LocalRuntime) -> None:
    assert runtime.config is not None
    for connection in runtime.config.erp_connections:
        if connection.kind == "beancount":
            print(f"  books ({connection.id}): {runtime.book_main_file(connection.id)}")
        elif connection.kind == "legacy_file":
            print(f"  legacy GL files ({connection.id}): {runtime.legacy_dir / connection.prefix / 'files'}"
                  " (written by the flush)")
        else:
            print(f"  {connection.kind} ({connection.id}): {connection.base_url or connection.default_base_url()}"
                  f" (credentials: Secrets Manager {connection.credentials.secret_id})")


def _cmd_local_sign(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support.args import UsageError
    from ledgerlink.connectors.sources import SOURCE_KINDS, WEBHOOK_KINDS
    from ledgerlink.local import secrets as local_secrets
    from ledgerlink.local.signers import sign

    if not args.file.is_file():
        raise UsageError("file_not_found", f"{args.file} is not a file")
    if args.source is None:   # events/<source>/... names it; never a silent default
        folder = args.file.resolve().parent
        inferred = folder.name if folder.parent.name == "events" or folder.name in SOURCE_KINDS else None
        if inferred is None:
            raise UsageError("source_required", f"cannot tell the source of {args.file} (not under events/<source>/):"
                                                " give --source ID")
        args.source = inferred
    kind = args.kind or args.source
    if kind not in WEBHOOK_KINDS:
        raise UsageError("unknown_kind", f"{kind!r} is not a webhook source kind ({', '.join(WEBHOOK_KINDS)}): give "
                                         "--kind when the source id is not its kind")
    secret = args.secret or local_secrets.resolve([args.source], secrets_file=args.secrets,
                                                  kinds={args.source: kind})[args.source].values[0]
    signed = sign(kind, args.file.read_bytes(), secret, now=int(epoch()), url=args.curl or args.url or "")
    if (signed.body != args.file.read_bytes() or signed.url_suffix) and not args.curl:
        # the provider signs inside the body or the URL: the header alone is not enough
        print(f"note: {kind} signs the body or URL too; use --curl to get the request to send", file=sys.stderr)
    if args.curl:
        headers = " ".join(f"-H '{name}: {value}'" for name, value in signed.headers.items())
        body = signed.body.decode("utf-8").replace("'", "'\\''")
        print(f"curl -sS -X POST '{args.curl}{signed.url_suffix}' -H 'Content-Type: {signed.content_type}' {headers} "
              f"--data-binary '{body}'")
    else:
        for name, value in signed.headers.items():
            print(f"{name}: {value}")
    return 0


def _cmd_config_validate(args: argparse.Namespace) -> int:
    from ledgerlink.config.loader import config_hash, load_config_file

    config = load_config_file(args.file)
    findings = _role_findings(args.file, config)
    errors = [finding for finding in findings if finding.severity == "error"]
    if args.json:
        _print_json({"file": str(args.file), "valid": not errors, "sha256": config_hash(config),
                     "findings": [finding.to_dict() for finding in findings],
                     "counts": {"entities": len(config.entities), "sources": len(config.sources),
                                "erp_connections": len(config.erp_connections),
                                "account_mappings": sum(len(m.accounts) for m in config.account_mappings)}})
    if errors:
        return 2
    if not args.json:
        print(f"{args.file}: valid — {len(config.entities)} entities, {len(config.sources)} sources, "
              f"{len(config.erp_connections)} ERP connections, {sum(len(m.accounts) for m in config.account_mappings)}"
              f" account mappings (sha256 {config_hash(config)[:12]})"
              + (f", {len(findings)} warning(s)" if findings else ""))
    return 0


def _role_findings(path: Path, config: object) -> list[RoleFinding]:
    """Check every mapping role against the posting rules; print each finding as ``file:line: error|warning: ...``
    on stderr (config/roles.py)."""
    from ledgerlink.config.loader import line_of
    from ledgerlink.config.roles import check_roles

    findings = check_roles(config)
    text = path.read_text(encoding="utf-8") if findings else ""
    for finding in findings:
        line = line_of(text, finding.loc)
        print(f"{path}{f':{line}' if line else ''}: {finding.severity}: {finding.message}", file=sys.stderr)
    return findings


def _cmd_config_schema(args: argparse.Namespace) -> int:
    from ledgerlink.config.loader import config_json_schema

    text = json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"
    if args.output:
        args.output.write_text(text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_config_diff(args: argparse.Namespace) -> int:
    from ledgerlink.config.loader import load_config_file
    from ledgerlink.ops.commands import config_diff

    config = load_config_file(args.file)
    if any(finding.severity == "error" for finding in _role_findings(args.file, config)):
        return 2
    version, changes = config_diff(_target(args), config)
    against = f"active version {version}" if version else "nothing applied yet"
    if args.json:
        _print_json({"active_version": version, "changes": [change.to_dict() for change in changes]})
    else:
        print(f"{args.file} against {against}:")
        for change in changes:
            print(f"  {change.line()}")
        print(f"{len(changes)} change(s)" if changes else "no change")
    return 1 if changes and args.exit_code else 0


def _cmd_config_apply(args: argparse.Namespace) -> int:
    from ledgerlink.config.loader import load_config_file
    from ledgerlink.ops.commands import config_apply

    config = load_config_file(args.file)
    if any(finding.severity == "error" for finding in _role_findings(args.file, config)):
        print(f"error: unknown_role: {args.file} not applied (fix the roles above)", file=sys.stderr)
        return 2
    result = config_apply(_target(args), config, applied_by=args.by)
    if not result["changed"]:
        print(f"configuration version {result['version']} unchanged (already active)")
        return 0
    counts = result["changes"]
    print(f"configuration version {result['version']} applied by {result['applied_by']} (was "
          f"{result['previous_version'] or 'none'}): {counts['total']} change(s), {counts['added']} added, "
          f"{counts['changed']} changed, {counts['removed']} removed — audited")
    for line in counts["lines"]:
        print(f"  {line}")
    return 0


def _cmd_config_history(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support.output import cell, print_lines, table
    from ledgerlink.ops.commands import config_history

    versions: list[_ConfigVersion] = [
        {"version": int(item["version"]), "applied_at": item.get("applied_at"),
         "applied_by": item.get("applied_by"), "content_hash": item.get("content_hash"),
         "changes": json.loads(item["changes"]) if isinstance(item.get("changes"), str) else item.get("changes")}
        for item in config_history(_target(args))]
    if args.json:
        _print_json(versions)
        return 0
    rows = [[f"v{item['version']}", item["applied_at"], item["applied_by"], _changes_cell(item["changes"], cell)]
            for item in versions]
    print_lines(table(rows, ("version", "applied at", "applied by", "changes")))
    return 0


class _ConfigVersion(TypedDict):
    """A row of ``config history`` (``--json`` prints these keys, in this order)."""

    version: int
    applied_at: object
    applied_by: object
    content_hash: object
    changes: JsonValue   # {"total": n, "sections": [...]}, or None for the initial / an unrecorded version


def _changes_cell(changes: JsonValue, cell: Callable[[object], str]) -> str:
    if not changes:
        return "initial / unrecorded"
    if not isinstance(changes, dict):
        raise TypeError(f"a configuration version's changes are {type(changes).__name__}, not an object")
    return f"{changes['total']} change(s) in {cell(changes.get('sections'))}"


def _cmd_books_check(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support.args import UsageError
    from ledgerlink.local.demo import run_bean_check

    if not args.file.is_file():
        raise UsageError("file_not_found", f"{args.file} is not a file")
    code, output = run_bean_check(args.file)
    print(output or f"{args.file}: OK")
    return code


def _target(args: argparse.Namespace) -> Target:
    from ledgerlink.cli_support.args import UsageError
    from ledgerlink.cli_support.commands import probe_local
    from ledgerlink.ops.target import load_target

    state_dir = getattr(args, "state_dir", Path(".ledgerlink/local"))
    try:
        target = load_target(getattr(args, "stack", None), state_dir)
    except (ValueError, KeyError, TypeError) as exc:   # a stack.json cut short or edited by hand
        raise UsageError("stack_file_unreadable", f"{state_dir / 'stack.json'} cannot be read ({type(exc).__name__}): "
                                                  "start the stack again with `ledgerlink local up`", code=1) from None
    probe_local(target)
    return target


def _print_json(data: object) -> None:
    from ledgerlink.cli_support.output import print_json

    print_json(data)


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support.commands import check_entity
    from ledgerlink.ops.commands import reconcile

    target = _target(args)
    check_entity(target, args.entity)
    report = reconcile(target, args.date, args.entity)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(f"reconciliation {report.business_date} ({args.entity or 'all entities'}): {report.status.upper()}"
              f" — report {report.report_key}.json/.csv")
        for source, counts in sorted(report.events.items()):
            print(f"  events {source}: received {counts['received']}, processed {counts['processed']} "
                  f"(ignored {counts['ignored']}, exception {counts['exception']})")
        for entity in report.entities:
            for row in entity.documents:
                print(f"  {entity.entity_id} {row.source} {row.currency}: received {row.received_count} "
                      f"({row.received_amount}) = posted {row.posted_count} ({row.posted_amount}) + exceptions "
                      f"{row.exception_count} + ignored {row.ignored_count} + in flight {row.in_flight_count}")
            for erp in entity.erp.get("connections") or ([entity.erp] if entity.erp else []):
                if erp.get("checked"):
                    print(f"  {entity.entity_id} ERP {erp['connection']}: ledger posted {erp['ledger_posted']},"
                          f" ERP holds {erp['erp_posted']}"
                          + (f" ({erp['erp_calls']} ERP calls)" if "erp_calls" in erp else ""))
                else:
                    reason = str(erp.get("reason", "")).removeprefix("not checked: ")
                    print(f"  {entity.entity_id} ERP {erp.get('connection')}: not checked: {reason}")
        for difference in report.differences:
            print(f"  DIFFERENCE {difference.kind}: {json.dumps(difference.detail, default=str)}")
    return 3 if report.differences else 0


def _cmd_status(args: argparse.Namespace) -> int:
    from ledgerlink.ops.commands import status
    from ledgerlink.ops.forecast import format_line, target_backlog

    target = _target(args)
    data = status(target)
    data["backlog"] = target_backlog(target, lookback_days=args.lookback_days)
    if args.json:
        _print_json(data)
        return 0
    print(f"LedgerLink status ({data['target']})")
    for name, depth in data["queues"].items():
        print(f"  queue {name}: {depth['visible']} waiting, {depth['in_flight']} in flight")
    print(f"  standard executions running (escalations, waits, replays): {data['running_executions']}")
    happy = data["happy_path"]
    print("  happy path (Express): " + (f"{happy['running']} running" if "running" in happy else
                                        "last hour " + ", ".join(f"{count} {key.replace('_', ' ')}"
                                                                 for key, count in happy["last_hour"].items())))
    print(f"  open exceptions: {data['open_exceptions']} {data['open_exceptions_by_reason'] or ''}")
    last = data["last_reconciliation"]
    print("  last reconciliation: " + (f"{last['business_date']} {last['scope']} {last['status']} "
                                       f"({last['difference_count']} differences) at {last['generated_at']}"
                                       if last else "none yet"))
    print("  ERP backlog per connection (at the current API budget):")
    for forecast in data["backlog"]:
        print(f"    {format_line(forecast)}")
    return 0


def _cmd_dlq(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support.output import pick, print_lines, table
    from ledgerlink.ops.commands import dlq_redrive, dlq_tool

    keys = ("message_id", "receive_count", "sent_at", "source", "event_id", "event_type", "correlation_id",
            "archive_key", "last_error", "body_preview")
    target = _target(args)
    if args.dlq_command == "list":
        messages = [pick(message.summary(), keys) for message in dlq_tool(target).list()]
        if args.json:
            _print_json(messages)
            return 0
        print_lines(table([[m["message_id"], m["receive_count"], m["sent_at"], m["source"], m["event_id"],
                            m["last_error"] or m["body_preview"]] for m in messages],
                          ("message", "receives", "sent at", "source", "event", "last error")))
        print(f"{len(messages)} message(s) parked")
    elif args.dlq_command == "show":
        message = dlq_tool(target).show(args.message_id)
        if message is None:
            print(f"error: not_found: no message {args.message_id} in the DLQ", file=sys.stderr)
            return 1
        shown = {**pick(message.summary(), keys), "body": message.body}
        if args.json:
            _print_json(shown)
            return 0
        print_lines(f"{key:<15} {value}" for key, value in shown.items() if key != "body" and value is not None)
        print(f"body\n{message.body}")
    else:
        result = dlq_redrive(target, dry_run=args.dry_run)
        verb = "would move" if args.dry_run else "moved"
        count = len(result.message_ids) if args.dry_run else result.moved
        print(f"{verb} {count} message(s) back to the inbound queue ({result.mode})")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support import args as types
    from ledgerlink.cli_support.commands import check_source

    by_range = bool(args.start and args.end)
    if bool(args.document) == by_range or (args.start is None) != (args.end is None):
        print("error: replay_scope: give --document ID, or --from DATE and --to DATE (not both)", file=sys.stderr)
        return 2
    if args.source and args.document:
        print("error: replay_scope: --source goes with --from/--to", file=sys.stderr)
        return 2
    types.ordered(args.start, args.end, "date")
    target = _target(args)
    check_source(target, args.source)
    plan, sent = _replay_with_progress(target, args)
    for skipped in plan.skipped:
        print(f"skip {skipped['document_id']}: {skipped['reason']} (a replay never posts twice)")
    for message in plan.messages:
        print(f"{'would replay' if args.dry_run else 'replayed'} {message['source']} {message['event_id']} "
              f"from {message['archive_key']}")
    print(f"{len(plan.messages)} event(s) {'planned' if args.dry_run else f'sent ({sent})'}")
    return 0


def _replay_with_progress(target: Target, args: argparse.Namespace) -> tuple[ReplayPlan, int]:
    """``ops.commands.replay`` with the sends counted on stderr when it is a terminal (a range can be long)."""
    from ledgerlink.cli_support.output import Progress
    from ledgerlink.ops.commands import replay

    progress = Progress("replayed")

    def sent(done: int, total: int) -> None:
        progress.total = total
        progress.advance()

    try:
        return replay(target, document_id=args.document, start=args.start, end=args.end, source_id=args.source,
                      config_version=args.mapping_version, dry_run=args.dry_run, on_sent=sent)
    finally:
        progress.finish()


def _cmd_exceptions(args: argparse.Namespace) -> int:
    from ledgerlink import wiring
    from ledgerlink.cli_support.commands import check_entity
    from ledgerlink.cli_support.output import cell, print_lines
    from ledgerlink.errors import OpsError
    from ledgerlink.ops.commands import actor
    from ledgerlink.service.exceptions import public

    target = _target(args)
    target.activate()
    if args.exceptions_command == "list":
        check_entity(target, args.entity)
    service = wiring.ops_services().exceptions
    try:
        if args.exceptions_command == "list":
            cases = service.list(status=None if args.status == "all" else args.status, entity=args.entity,
                                 reason=args.reason)
            if args.json:
                _print_json(cases)
            else:
                for case in cases:
                    print(f"{case['exception_id']}  {case['status']:<8} {case['reason']:<22} {case.get('entity_id') or '-':<6} "
                          f"{case.get('document_id') or case.get('subject')}  {case['message'][:80]}")
                print(f"{len(cases)} case(s)")
        elif args.exceptions_command == "show":
            case = public(service.get(args.exception_id))
            if args.json:
                _print_json(case)
            else:
                print_lines(f"{key:<20} {cell(value)}" for key, value in case.items() if key != "history")
                for entry in case.get("history") or []:
                    print(f"  history: {cell(entry)}")
        elif args.exceptions_command == "retry":
            _print_json(service.retry(args.exception_id, actor=actor(target), note=args.note or ""))
        else:
            _print_json(service.close(args.exception_id, args.exceptions_command, actor=actor(target),
                                      reason=args.reason_text))
    except OpsError as error:
        print(f"error: {error.reason}: {error.message}", file=sys.stderr)
        return 1
    return 0


def _revenue_store(target: Target) -> DynamoRevenue:
    from ledgerlink import settings
    from ledgerlink.store.revenue import DynamoRevenue

    target.activate()
    return DynamoRevenue(target.get(settings.REVENUE_TABLE))


def _cmd_close_check(args: argparse.Namespace) -> int:
    from ledgerlink import wiring
    from ledgerlink.cli_support.commands import check_entity, save_report
    from ledgerlink.service.close_check import CloseCheckRefused, period_end

    try:
        period_end(args.period)
        target = _target(args)
        target.activate()
        check_entity(target, args.entity)
        report = wiring.close_check_service().run(args.entity, args.period)
    except CloseCheckRefused as exc:
        print(f"error: {exc.reason}: {exc}", file=sys.stderr)
        return 2
    kept = save_report(args.state_dir, f"close-check-{args.entity}-{args.period}", report.to_dict()) \
        if target.name == "local" else None
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.table())
        if kept:
            print(f"report {kept}")
    return 3 if report.differences else 0


def _cmd_revenue_schedule(args: argparse.Namespace) -> int:
    from decimal import Decimal

    from ledgerlink.service.revenue import schedule_report

    report = schedule_report(_revenue_store(_target(args)), args.document)
    if not report["schedules"]:
        print(f"error: no_schedule: no revenue schedule for document {args.document} (not a posted invoice with a "
              "service period, nor a change to one)", file=sys.stderr)
        return 1
    if args.json:
        _print_json(report)
        return 0
    print(f"revenue schedules of invoice {report['invoice_document_id']}"
          + (f" (asked: {args.document})" if args.document != report["invoice_document_id"] else ""))
    for line in report["schedules"]:
        print(f"  line {line['line_id']}  {line['description'] or line['product_id'] or ''}")
        print(f"    billed {line['billed']} {line['currency']}, service {line['service_start']} → "
              f"{line['service_end']} (end exclusive), {line['deferred_account']} → {line['revenue_account']}")
        print(f"    {'period':<9} {'scheduled':>14} {'released':>14}")
        for entry in line["entries"]:
            print(f"    {entry['period']:<9} {entry['amount']:>14} {entry['released']:>14}")
        for adjustment in line["adjustments"]:
            print(f"    change {adjustment['kind']} effective {adjustment['effective_date']}: {adjustment['amount']}"
                  f" to {adjustment['account']} (reclassified {adjustment['reclassified']})")
        taken = Decimal(line["billed"]) - Decimal(line["recognized"])
        print(f"    recognized {line['recognized']} + taken out by changes {taken} = billed {line['billed']}; released "
              f"{line['released_total']}, reclassified {line['reclassified_total']}, deferred now {line['deferred_now']}")
    for tie in report["usage"]:
        print(f"  usage tie-out {tie.get('line_id')}: {tie.get('status')} — metered {tie.get('metered_quantity')} "
              f"from {tie.get('records')} record(s), billed {tie.get('billed_quantity')}")
    return 0


def _cmd_revenue_waterfall(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support import args as types
    from ledgerlink.cli_support.commands import check_entity
    from ledgerlink.service.revenue import waterfall_report

    types.ordered(args.start, args.end, "period")
    target = _target(args)
    check_entity(target, args.entity)
    report = waterfall_report(_revenue_store(target), args.entity, first=args.start, last=args.end)
    if args.json:
        _print_json(report)
        return 0
    if not report["currencies"]:
        print(f"entity {args.entity}: no revenue schedules")
        return 0
    for currency, data in report["currencies"].items():
        print(f"deferred-revenue waterfall — entity {args.entity}, {currency} ({data['lines']} schedule line(s))")
        print(f"  {'period':<9} {'billed':>12} {'recognized':>12} {'adjusted':>12} {'closing':>12} {'released':>12}")
        for row in data["rows"]:
            print(f"  {row['period']:<9} {row['billed']:>12} {row['recognized']:>12} {row['adjusted']:>12} "
                  f"{row['closing_deferred']:>12} {row['released']:>12}")
        print(f"  deferred now (billed − released − reclassified): {data['deferred_now']} {currency}")
        for account, amount in data["by_revenue_account"].items():
            print(f"  scheduled to {account}: {amount} {currency}")
    return 0


def _add_target(parser: argparse.ArgumentParser) -> None:
    from ledgerlink.cli_support.args import stack_name

    parser.add_argument("--stack", type=stack_name,
                        help="a deployed stack (CloudFormation name); default: the local stack")
    parser.add_argument("--state-dir", type=Path, default=Path(".ledgerlink/local"),
                        help="local stack state (written by `ledgerlink local up`)")


def build_parser() -> argparse.ArgumentParser:
    from ledgerlink import __version__
    from ledgerlink.cli_support import args as types
    from ledgerlink.cli_support.args import Parser
    from ledgerlink.cli_support.commands import add_parsers

    parser = Parser(prog="ledgerlink", description="LedgerLink finance-integration middleware")
    parser.add_argument("--version", action="version", version=f"ledgerlink {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error as well")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    demo = commands.add_parser("demo", help="run the whole pipeline locally on the samples and print a summary")
    demo.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    demo.add_argument("--events", type=Path, default=DEFAULT_EVENTS)
    demo.add_argument("--state-dir", type=Path, default=Path(".ledgerlink/demo"))
    demo.add_argument("--port", type=int, default=0, help="webhook port (default: any free port)")
    demo.add_argument("--as-of", type=_instant, default=None, metavar="INSTANT",
                      help="run as of this ISO 8601 instant, e.g. 2027-01-31T23:30:00-05:00 (default: "
                           "the README's fixed instant, so every day gives the same summary)")
    demo.set_defaults(func=_cmd_demo)

    close = commands.add_parser("close-check", help="month-end tie-outs of an entity's book: trial balance, processor "
                                                     "clearing, payouts in transit, receivables, deferred revenue, tax "
                                                     "(exit 3 on a difference, 2 on bad input)")
    close.add_argument("--entity", required=True, type=types.identifier("entity"))
    close.add_argument("--period", required=True, metavar="YYYY-MM")   # CloseCheckRefused says invalid_period
    close.add_argument("--json", action="store_true")
    _add_target(close)
    close.set_defaults(func=_cmd_close_check)

    local = commands.add_parser("local", help="the local stack").add_subparsers(dest="local_command", required=True,
                                                                                 parser_class=Parser)
    up = local.add_parser("up", help="start the local stack and serve webhooks until Ctrl-C")
    up.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    up.add_argument("--port", type=int, default=8787)
    up.add_argument("--secrets", type=Path, help='JSON {"<source id>": "whsec_..."} (default: generated)')
    up.add_argument("--state-dir", type=Path, default=Path(".ledgerlink/local"),
                    help="DynamoDB, SQS and S3 contents, books and logs, kept across restarts: S3 objects are written "
                         "through, tables and queues snapshotted every 30 s and at stop (default .ledgerlink/local; "
                         "`ledgerlink demo` leaves its results in .ledgerlink/demo)")
    up.add_argument("--fresh", action="store_true", help="start empty: delete the state directory's contents first")
    up.add_argument("--snapshot-every", type=float, default=30.0, metavar="SECONDS",
                    help="snapshot DynamoDB and SQS this often (and at stop); 0 = at stop only (default 30)")
    up.add_argument("--poll-every", type=float, default=60.0, metavar="SECONDS",
                    help="poll sources without webhooks (Expensify) this often; 0 = never (default 60)")
    up.add_argument("--faults", metavar="erp=P,throttle=P", type=_fault_plan,
                    help="rehearse incidents: ERP write faults (503, 429, timeouts, committed-then-dropped) and "
                         "throttled DynamoDB writes, each with probability P")
    up.add_argument("--faults-seed", type=int, default=0, help="seed of the fault coins (default 0)")
    up.set_defaults(func=_cmd_local_up)
    sign = local.add_parser("sign", help="print a valid signature header for a payload file")
    sign.add_argument("file", type=Path)
    sign.add_argument("--source", type=types.identifier("source"),
                      help="the source id (default: the folder of FILE, events/<source>/...)")
    sign.add_argument("--kind", help="the source's kind when its id is not the kind name")
    sign.add_argument("--url", help="the webhook URL (HubSpot signs it; implied by --curl)")
    sign.add_argument("--secrets", type=Path)
    sign.add_argument("--secret", help="sign with this secret instead of the local one")
    sign.add_argument("--curl", metavar="URL", help="print a complete curl command for URL")
    sign.set_defaults(func=_cmd_local_sign)

    config = commands.add_parser("config", help="the configuration file").add_subparsers(dest="config_command",
                                                                                           required=True,
                                                                                           parser_class=Parser)
    validate = config.add_parser("validate", help="validate a configuration file")
    validate.add_argument("file", type=Path)
    validate.add_argument("--json", action="store_true", help="the result and every finding as JSON")
    validate.set_defaults(func=_cmd_config_validate)
    schema = config.add_parser("schema", help="print or write the JSON Schema of the configuration")
    schema.add_argument("-o", "--output", type=Path)
    schema.set_defaults(func=_cmd_config_schema)
    config_diff = config.add_parser("diff", help="what applying the file would change in the active version")
    config_diff.add_argument("file", type=Path)
    config_diff.add_argument("--json", action="store_true")
    config_diff.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes (CI)")
    _add_target(config_diff)
    config_diff.set_defaults(func=_cmd_config_diff)
    apply = config.add_parser("apply", help="store the file as the new active configuration version (audited)")
    apply.add_argument("file", type=Path)
    apply.add_argument("--by", help="who applies it (default: the caller's IAM identity / local user)")
    _add_target(apply)
    apply.set_defaults(func=_cmd_config_apply)
    history = config.add_parser("history", help="every applied version: who, when, what changed")
    history.add_argument("--json", action="store_true")
    _add_target(history)
    history.set_defaults(func=_cmd_config_history)

    reconcile = commands.add_parser("reconcile", help="source vs posted vs exceptions vs ERP for a business date")
    reconcile.add_argument("--date", required=True, type=types.business_date,
                           help="business date YYYY-MM-DD (entity time zone)")
    reconcile.add_argument("--entity", type=types.identifier("entity"), help="one entity (default: all)")
    reconcile.add_argument("--json", action="store_true")
    _add_target(reconcile)
    reconcile.set_defaults(func=_cmd_reconcile)

    state = commands.add_parser("status", help="queue depths, executions (happy path and standard), open exceptions, "
                                               "last reconciliation, the ERP backlog forecast per connection")
    state.add_argument("--json", action="store_true")
    state.add_argument("--lookback-days", type=int, default=7, choices=range(0, 63), metavar="N",
                       help="business days of documents counted as waiting (default 7)")
    _add_target(state)
    state.set_defaults(func=_cmd_status)

    dlq = commands.add_parser("dlq", help="the inbound dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, parser_class=Parser)
    dlq_list = dlq_commands.add_parser("list", help="parked messages (peek, nothing is consumed)")
    dlq_list.add_argument("--json", action="store_true")
    _add_target(dlq_list)
    dlq_show = dlq_commands.add_parser("show", help="one parked message with its body")
    dlq_show.add_argument("message_id", type=types.reference)
    dlq_show.add_argument("--json", action="store_true")
    _add_target(dlq_show)
    dlq_redrive = dlq_commands.add_parser("redrive", help="move parked messages back to the inbound queue")
    dlq_redrive.add_argument("--dry-run", action="store_true")
    _add_target(dlq_redrive)
    dlq.set_defaults(func=_cmd_dlq)

    replay = commands.add_parser("replay", help="re-run a document or a date range from the raw archive")
    replay.add_argument("--document", type=types.document_id, help="document id (doc_...)")
    replay.add_argument("--from", dest="start", type=types.calendar_date, help="first UTC receipt date YYYY-MM-DD")
    replay.add_argument("--to", dest="end", type=types.calendar_date, help="last UTC receipt date YYYY-MM-DD")
    replay.add_argument("--source", type=types.identifier("source"), help="only this source (with --from/--to)")
    replay.add_argument("--mapping-version", type=types.positive_int(1_000_000),
                        help="pin a configuration version (default: active)")
    replay.add_argument("--dry-run", action="store_true")
    _add_target(replay)
    replay.set_defaults(func=_cmd_replay)

    exceptions = commands.add_parser("exceptions", help="the exceptions queue (finance ops)")
    exception_commands = exceptions.add_subparsers(dest="exceptions_command", required=True, parser_class=Parser)
    listing = exception_commands.add_parser("list", help="cases, oldest first")
    listing.add_argument("--status", default="open", type=types.choice("status", types.EXCEPTION_STATUSES),
                         help="open | retrying | resolved | ignored | rejected | all")
    listing.add_argument("--entity", type=types.identifier("entity"))
    listing.add_argument("--reason", type=types.identifier("reason"))
    listing.add_argument("--json", action="store_true")
    _add_target(listing)
    for name, text in (("show", "one case with its history"), ("retry", "resume the posting on the active "
                       "configuration (after fixing a mapping)"), ("resolve", "close: fixed elsewhere (reason "
                       "required)"), ("ignore", "close: not to be posted (reason required)")):
        sub = exception_commands.add_parser(name, help=text)
        sub.add_argument("exception_id", type=types.reference)
        if name == "show":
            sub.add_argument("--json", action="store_true")
        if name == "retry":
            sub.add_argument("--note")
        if name in ("resolve", "ignore"):
            sub.add_argument("--reason", dest="reason_text", required=True)
        _add_target(sub)
    exceptions.set_defaults(func=_cmd_exceptions)

    add_parsers(commands, local, _add_target)   # trace, documents, local drop-file | flush | release

    revenue = commands.add_parser("revenue", help="revenue schedules and the deferred-revenue waterfall")
    revenue_commands = revenue.add_subparsers(dest="revenue_command", required=True, parser_class=Parser)
    schedule = revenue_commands.add_parser("schedule", help="the schedules of an invoice (or of a change to one)")
    schedule.add_argument("--document", required=True, type=types.document_id,
                          help="document id of an invoice, credit note or refund")
    schedule.add_argument("--json", action="store_true")
    _add_target(schedule)
    schedule.set_defaults(func=_cmd_revenue_schedule)
    flow = revenue_commands.add_parser("waterfall", help="an entity's deferred revenue per period, per currency")
    flow.add_argument("--entity", required=True, type=types.identifier("entity"))
    flow.add_argument("--from", dest="start", type=types.period,
                      help="first period (YYYY-MM); default: the first with activity")
    flow.add_argument("--to", dest="end", type=types.period,
                      help="last period (YYYY-MM); default: the last with activity")
    flow.add_argument("--json", action="store_true")
    _add_target(flow)
    flow.set_defaults(func=_cmd_revenue_waterfall)

    books = commands.add_parser("books", help="the embedded Beancount book").add_subparsers(dest="books_command",
                                                                                            required=True,
                                                                                            parser_class=Parser)
    check = books.add_parser("check", help="run Beancount's bean-check on a book")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_cmd_books_check)
    return parser


def _fault_plan(spec: str) -> object:
    """``--faults`` read by argparse: a bad spec is a usage error (exit 2) with the reason, never a traceback."""
    from ledgerlink.local.faults import FaultSpecError, parse_faults

    try:
        return parse_faults(spec)
    except FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Run one command. Every failure ends as one line on stderr and an exit code (cli_support/failures.py):
    2 for input the command did not understand, 1 for what it could not do; ``--debug`` adds the traceback."""
    import os
    import traceback

    from ledgerlink.cli_support.failures import BROKEN_PIPE, describe

    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args))
        sys.stdout.flush()   # a closed pipe shows here, inside the handler, not at interpreter exit
        return code
    except SystemExit as exit_:   # argparse: --help, --version (0) or a usage error already printed (2)
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    except BaseException as exc:  # noqa: BLE001 - the command's last word: a line, never a traceback
        failure = describe(exc)
        if failure.code == BROKEN_PIPE:   # the reader went away (`--json | head`): stop quietly
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            return BROKEN_PIPE
        if debug:
            traceback.print_exc()
        if failure.line:
            print(failure.line, file=sys.stderr)
        return failure.code


if __name__ == "__main__":
    sys.exit(main())
