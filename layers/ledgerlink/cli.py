"""The ``ledgerlink`` command (dev machine / CI / ops terminal; not shipped in the Lambda layer)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

from ledgerlink.clock import epoch
from ledgerlink.errors import ConfigError

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
                                        injected_faults=plan))
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
    runtime.start()
    assert runtime.config is not None
    print(f"LedgerLink local stack is up (configuration version {runtime.config_version} from {args.config})")
    if plan is not None:
        print(f"  faults injected: {plan.describe()} — rehearse with `ledgerlink exceptions list`, "
              "`ledgerlink dlq list`, `ledgerlink replay`")
    print(f"  AWS endpoint (moto): {runtime.client('sts').meta.endpoint_url}")
    for source in runtime.config.sources:
        if source.id not in runtime.secrets:  # bank files arrive through S3, not a webhook
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
    for connection in runtime.config.erp_connections:
        if connection.kind == "beancount":
            print(f"  books ({connection.id}): {runtime.book_main_file(connection.id)}")
        elif connection.kind == "legacy_file":
            print(f"  legacy GL files ({connection.id}): {runtime.legacy_dir / connection.prefix / 'files'}"
                  " (written by the flush)")
        else:
            print(f"  {connection.kind} ({connection.id}): {connection.base_url or connection.default_base_url()}"
                  f" (credentials: Secrets Manager {connection.credentials.secret_id})")
    print(f"  Lambda logs: {args.state_dir / 'lambda.log'}")
    print("  sign a file: ledgerlink local sign --source stripe events/stripe/01-invoice.finalized.json")
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


def _cmd_local_sign(args: argparse.Namespace) -> int:
    from ledgerlink.local import secrets as local_secrets
    from ledgerlink.local.signers import sign

    kind = args.kind or args.source
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
    print(f"{args.file}: valid — {len(config.entities)} entities, {len(config.sources)} sources, "
          f"{len(config.erp_connections)} ERP connections, {sum(len(m.accounts) for m in config.account_mappings)} "
          f"account mappings (sha256 {config_hash(config)[:12]})")
    return 0


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
    from ledgerlink.ops.commands import config_history

    versions = config_history(_target(args))
    if args.json:
        _print_json(versions)
        return 0
    for item in versions:
        changes = json.loads(item["changes"]) if item.get("changes") else None
        what = f"{changes['total']} change(s) {changes['sections']}" if changes else "initial / unrecorded"
        print(f"v{int(item['version'])}  {item['applied_at']}  {item['applied_by']}  {what}")
    return 0


def _cmd_books_check(args: argparse.Namespace) -> int:
    from ledgerlink.local.demo import run_bean_check

    code, output = run_bean_check(args.file)
    print(output or f"{args.file}: OK")
    return code


def _target(args: argparse.Namespace):  # noqa: ANN202
    from ledgerlink.ops.target import load_target

    return load_target(getattr(args, "stack", None), getattr(args, "state_dir", Path(".ledgerlink/local")))


def _print_json(data: object) -> None:
    print(json.dumps(data, indent=2, default=str))


def _cmd_reconcile(args: argparse.Namespace) -> int:
    from ledgerlink.ops.commands import reconcile

    report = reconcile(_target(args), args.date, args.entity)
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
            if entity.erp.get("checked"):
                print(f"  {entity.entity_id} ERP {entity.erp['connection']}: ledger posted {entity.erp['ledger_posted']},"
                      f" ERP holds {entity.erp['erp_posted']}")
        for difference in report.differences:
            print(f"  DIFFERENCE {difference.kind}: {json.dumps(difference.detail, default=str)}")
    return 3 if report.differences else 0


def _cmd_status(args: argparse.Namespace) -> int:
    from ledgerlink.ops.commands import status

    data = status(_target(args))
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
    return 0


def _cmd_dlq(args: argparse.Namespace) -> int:
    from ledgerlink.ops.commands import dlq_redrive, dlq_tool

    target = _target(args)
    if args.dlq_command == "list":
        _print_json([message.summary() for message in dlq_tool(target).list()])
    elif args.dlq_command == "show":
        message = dlq_tool(target).show(args.message_id)
        if message is None:
            print(f"no message {args.message_id} in the DLQ", file=sys.stderr)
            return 1
        _print_json({**message.summary(), "body": message.body})
    else:
        result = dlq_redrive(target, dry_run=args.dry_run)
        verb = "would move" if args.dry_run else "moved"
        count = len(result.message_ids) if args.dry_run else result.moved
        print(f"{verb} {count} message(s) back to the inbound queue ({result.mode})")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from datetime import date

    from ledgerlink.ops.commands import replay

    if not args.document and not (args.start and args.end):
        print("error: give --document ID, or --from DATE and --to DATE", file=sys.stderr)
        return 2
    plan, sent = replay(_target(args), document_id=args.document,
                        start=date.fromisoformat(args.start) if args.start else None,
                        end=date.fromisoformat(args.end) if args.end else None, source_id=args.source,
                        config_version=args.mapping_version, dry_run=args.dry_run)
    for skipped in plan.skipped:
        print(f"skip {skipped['document_id']}: {skipped['reason']} (a replay never posts twice)")
    for message in plan.messages:
        print(f"{'would replay' if args.dry_run else 'replayed'} {message['source']} {message['event_id']} "
              f"from {message['archive_key']}")
    print(f"{len(plan.messages)} event(s) {'planned' if args.dry_run else f'sent ({sent})'}")
    return 0


def _cmd_exceptions(args: argparse.Namespace) -> int:
    from ledgerlink import wiring
    from ledgerlink.errors import OpsError
    from ledgerlink.ops.commands import actor
    from ledgerlink.service.exceptions import public

    target = _target(args)
    target.activate()
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
            _print_json(public(service.get(args.exception_id)))
        elif args.exceptions_command == "retry":
            _print_json(service.retry(args.exception_id, actor=actor(target), note=args.note or ""))
        else:
            _print_json(service.close(args.exception_id, args.exceptions_command, actor=actor(target),
                                      reason=args.reason_text))
    except OpsError as error:
        print(f"error: {error.reason}: {error.message}", file=sys.stderr)
        return 1
    return 0


def _cmd_trace(args: argparse.Namespace) -> int:
    from ledgerlink import wiring
    from ledgerlink.errors import OpsError

    _target(args).activate()
    try:
        _print_json(wiring.ops_services().trace(args.document_id))
    except OpsError as error:
        print(f"error: {error.reason}: {error.message}", file=sys.stderr)
        return 1
    return 0


def _revenue_store(target):  # noqa: ANN001, ANN202
    from ledgerlink import settings
    from ledgerlink.store.revenue import DynamoRevenue

    target.activate()
    return DynamoRevenue(target.get(settings.REVENUE_TABLE))


def _cmd_close_check(args: argparse.Namespace) -> int:
    from ledgerlink import wiring
    from ledgerlink.service.close_check import CloseCheckRefused, period_end

    try:
        period_end(args.period)
        target = _target(args)
        target.activate()
        report = wiring.close_check_service().run(args.entity, args.period)
    except CloseCheckRefused as exc:
        print(f"error: {exc.reason}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.table())
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
    from ledgerlink.service.revenue import waterfall_report

    report = waterfall_report(_revenue_store(_target(args)), args.entity, first=args.start, last=args.end)
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
    parser.add_argument("--stack", help="a deployed stack (CloudFormation name); default: the local stack")
    parser.add_argument("--state-dir", type=Path, default=Path(".ledgerlink/local"),
                        help="local stack state (written by `ledgerlink local up`)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledgerlink", description="LedgerLink finance-integration middleware")
    commands = parser.add_subparsers(dest="command", required=True)

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
    close.add_argument("--entity", required=True)
    close.add_argument("--period", required=True, metavar="YYYY-MM")
    close.add_argument("--json", action="store_true")
    _add_target(close)
    close.set_defaults(func=_cmd_close_check)

    local = commands.add_parser("local", help="the local stack").add_subparsers(dest="local_command", required=True)
    up = local.add_parser("up", help="start the local stack and serve webhooks until Ctrl-C")
    up.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    up.add_argument("--port", type=int, default=8787)
    up.add_argument("--secrets", type=Path, help='JSON {"<source id>": "whsec_..."} (default: generated)')
    up.add_argument("--state-dir", type=Path, default=Path(".ledgerlink/local"))
    up.add_argument("--poll-every", type=float, default=60.0, metavar="SECONDS",
                    help="poll sources without webhooks (Expensify) this often; 0 = never (default 60)")
    up.add_argument("--faults", metavar="erp=P,throttle=P", type=_fault_plan,
                    help="rehearse incidents: ERP write faults (503, 429, timeouts, committed-then-dropped) and "
                         "throttled DynamoDB writes, each with probability P")
    up.add_argument("--faults-seed", type=int, default=0, help="seed of the fault coins (default 0)")
    up.set_defaults(func=_cmd_local_up)
    sign = local.add_parser("sign", help="print a valid signature header for a payload file")
    sign.add_argument("file", type=Path)
    sign.add_argument("--source", default="stripe")
    sign.add_argument("--kind", help="the source's kind when its id is not the kind name")
    sign.add_argument("--url", help="the webhook URL (HubSpot signs it; implied by --curl)")
    sign.add_argument("--secrets", type=Path)
    sign.add_argument("--secret", help="sign with this secret instead of the local one")
    sign.add_argument("--curl", metavar="URL", help="print a complete curl command for URL")
    sign.set_defaults(func=_cmd_local_sign)

    config = commands.add_parser("config", help="the configuration file").add_subparsers(dest="config_command",
                                                                                           required=True)
    validate = config.add_parser("validate", help="validate a configuration file")
    validate.add_argument("file", type=Path)
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
    reconcile.add_argument("--date", required=True, help="business date YYYY-MM-DD (entity time zone)")
    reconcile.add_argument("--entity", help="one entity (default: all)")
    reconcile.add_argument("--json", action="store_true")
    _add_target(reconcile)
    reconcile.set_defaults(func=_cmd_reconcile)

    state = commands.add_parser("status", help="queue depths, executions (happy path and standard), open exceptions, last reconciliation")
    state.add_argument("--json", action="store_true")
    _add_target(state)
    state.set_defaults(func=_cmd_status)

    dlq = commands.add_parser("dlq", help="the inbound dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", help="parked messages (peek, nothing is consumed)")
    _add_target(dlq_list)
    dlq_show = dlq_commands.add_parser("show", help="one parked message with its body")
    dlq_show.add_argument("message_id")
    _add_target(dlq_show)
    dlq_redrive = dlq_commands.add_parser("redrive", help="move parked messages back to the inbound queue")
    dlq_redrive.add_argument("--dry-run", action="store_true")
    _add_target(dlq_redrive)
    dlq.set_defaults(func=_cmd_dlq)

    replay = commands.add_parser("replay", help="re-run a document or a date range from the raw archive")
    replay.add_argument("--document", help="document id (doc_...)")
    replay.add_argument("--from", dest="start", help="first UTC receipt date YYYY-MM-DD")
    replay.add_argument("--to", dest="end", help="last UTC receipt date YYYY-MM-DD")
    replay.add_argument("--source", help="only this source (with --from/--to)")
    replay.add_argument("--mapping-version", type=int, help="pin a configuration version (default: active)")
    replay.add_argument("--dry-run", action="store_true")
    _add_target(replay)
    replay.set_defaults(func=_cmd_replay)

    exceptions = commands.add_parser("exceptions", help="the exceptions queue (finance ops)")
    exception_commands = exceptions.add_subparsers(dest="exceptions_command", required=True)
    listing = exception_commands.add_parser("list", help="cases, oldest first")
    listing.add_argument("--status", default="open", help="open | retrying | resolved | ignored | all")
    listing.add_argument("--entity")
    listing.add_argument("--reason")
    listing.add_argument("--json", action="store_true")
    _add_target(listing)
    for name, text in (("show", "one case with its history"), ("retry", "resume the posting on the active "
                       "configuration (after fixing a mapping)"), ("resolve", "close: fixed elsewhere (reason "
                       "required)"), ("ignore", "close: not to be posted (reason required)")):
        sub = exception_commands.add_parser(name, help=text)
        sub.add_argument("exception_id")
        if name == "retry":
            sub.add_argument("--note")
        if name in ("resolve", "ignore"):
            sub.add_argument("--reason", dest="reason_text", required=True)
        _add_target(sub)
    exceptions.set_defaults(func=_cmd_exceptions)

    trace = commands.add_parser("trace", help="webhook → document → mapping version → journal → ERP reference")
    trace.add_argument("document_id")
    _add_target(trace)
    trace.set_defaults(func=_cmd_trace)

    revenue = commands.add_parser("revenue", help="revenue schedules and the deferred-revenue waterfall")
    revenue_commands = revenue.add_subparsers(dest="revenue_command", required=True)
    schedule = revenue_commands.add_parser("schedule", help="the schedules of an invoice (or of a change to one)")
    schedule.add_argument("--document", required=True, help="document id of an invoice, credit note or refund")
    schedule.add_argument("--json", action="store_true")
    _add_target(schedule)
    schedule.set_defaults(func=_cmd_revenue_schedule)
    flow = revenue_commands.add_parser("waterfall", help="an entity's deferred revenue per period, per currency")
    flow.add_argument("--entity", required=True)
    flow.add_argument("--from", dest="start", help="first period (YYYY-MM); default: the first with activity")
    flow.add_argument("--to", dest="end", help="last period (YYYY-MM); default: the last with activity")
    flow.add_argument("--json", action="store_true")
    _add_target(flow)
    flow.set_defaults(func=_cmd_revenue_waterfall)

    books = commands.add_parser("books", help="the embedded Beancount book").add_subparsers(dest="books_command",
                                                                                            required=True)
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
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
