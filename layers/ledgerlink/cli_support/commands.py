"""Commands of ``ledgerlink`` that live outside ``cli.py``: ``trace`` by any id, ``documents list|show``, the
on-demand runs against the local stack (``local drop-file|flush|release``) and the target checks they share.

Handlers get their target through ``ledgerlink.cli._target`` (looked up at call time, so tests can point it at
an in-process stack).
"""

from __future__ import annotations

import argparse
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from ledgerlink.cli_support import args as types
from ledgerlink.cli_support.args import UsageError
from ledgerlink.cli_support.output import cell, pick, print_json, print_lines, table

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.ops.target import Target
    from ledgerlink.store.ledger import DynamoLedger

# `trace --json`: {"query", "matched_by", "traces": [trace...]}; each trace has these keys (README)
TRACE_KEYS = ("document_id", "status", "webhook", "document", "mapping", "journal", "erp", "exceptions", "execution",
              "ignored_reason")


def target_of(args: argparse.Namespace) -> Target:
    from ledgerlink import cli

    return cli._target(args)


def probe_local(target: Target, timeout: float = 1.0) -> None:
    """A local target's moto endpoint must answer: a stack.json left by a stopped `local up` is refused at once
    with what to do, instead of a botocore traceback after its retries."""
    endpoint = target.environment.get("AWS_ENDPOINT_URL") if target.name == "local" else None
    if not endpoint:
        return
    url = urlparse(endpoint)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=timeout):
            return
    except OSError:
        raise UsageError("local_stack_down", f"the local stack does not answer at {endpoint} (its stack.json is "
                                             "left from a stack that stopped): start it with `ledgerlink local up` "
                                             "(same --state-dir), or name a deployed stack with --stack NAME", code=1) from None


def active_config(target: Target) -> LedgerLinkConfig:
    from ledgerlink import settings
    from ledgerlink.store.config_store import DynamoConfigStore

    target.activate()
    return DynamoConfigStore(target.get(settings.CONFIG_TABLE), cache_seconds=0).active()[1]


def check_entity(target: Target, entity: str | None) -> None:
    if entity is not None:
        config = active_config(target)
        types.check_known("entity", entity, [e.id for e in config.entities],
                          f"the active configuration of {target.name}")


def check_source(target: Target, source: str | None, *, kind: str | None = None) -> None:
    if source is not None:
        config = active_config(target)
        types.check_known("source", source, [s.id for s in config.sources if kind is None or s.kind == kind],
                          f"the {kind + ' ' if kind else ''}sources of the active configuration of {target.name}")


def _ledger(target: Target) -> DynamoLedger:
    from ledgerlink import settings
    from ledgerlink.store.ledger import DynamoLedger

    target.activate()
    return DynamoLedger(target.get(settings.LEDGER_TABLE), totals_table=target.get(settings.TOTALS_TABLE))


# ---- trace ------------------------------------------------------------------------------------------------------

def cmd_trace(args: argparse.Namespace) -> int:
    from ledgerlink import wiring
    from ledgerlink.cli_support.documents import resolve
    from ledgerlink.service.trace import trace

    target = target_of(args)
    ledger = _ledger(target)
    kind, document_ids = resolve(args.id, ledger=ledger, local=target.name == "local")
    services = wiring.ops_services()
    traces = [pick(trace(document_id, ledger=services.ledger, inbox=services.inbox, cases=services.cases,
                         workflow=services.workflow), TRACE_KEYS) for document_id in document_ids]
    if args.json:
        print_json({"query": args.id, "matched_by": kind, "traces": traces})
        return 0
    print(f"{args.id}: {kind.replace('erp', 'ERP reference').replace('external', 'external id')}"
          f"{' id' if kind in ('event', 'correlation', 'document') else ''} → {len(traces)} document(s)")
    for number, shown in enumerate(traces):
        if number:
            print()
        print_lines(trace_lines(shown))
    return 0


def _instant(epoch_seconds: object) -> str:
    """An epoch-seconds value of the stores as ISO 8601 UTC (the JSON keeps the number)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    if isinstance(epoch_seconds, int | Decimal) or (isinstance(epoch_seconds, str) and epoch_seconds.isdigit()):
        return datetime.fromtimestamp(int(epoch_seconds), UTC).isoformat()
    return cell(epoch_seconds)


def _field(value: object, key: str) -> object:
    """``value.get(key)`` when ``value`` is a mapping (a JSON object), else None."""
    return value.get(key) if isinstance(value, Mapping) else None


def _entries(value: object, *, strict: bool = False) -> list[object]:
    """The entries of a JSON array; None (or, unless ``strict``, anything else) as none."""
    if isinstance(value, list):
        return value
    if strict and value is not None:
        raise TypeError(f"{type(value).__name__} is not a list")
    return []


def _journal_table(lines: object, *, strict: bool = False) -> list[str]:
    """A journal's lines as a table (account, amount, currency, role)."""
    def amount(line: object) -> object:
        return _field(line, "amount") or {}

    rows = [[_field(line, "account"), _field(amount(line), "amount"), _field(amount(line), "currency"),
             _field(line, "role")] for line in _entries(lines, strict=strict)]
    return table(rows, ("account", "amount", "currency", "role"), right=[1])


def trace_lines(shown: Mapping[str, object]) -> list[str]:
    webhook, erp, document = shown["webhook"], shown["erp"], shown.get("document") or {}
    amount = _field(document, "total") or _field(document, "amount") or {}
    lines = [f"document {shown['document_id']}  status {shown['status']}",
             f"  webhook    {cell(_field(webhook, 'source'))} event {cell(_field(webhook, 'event_id'))}  correlation "
             f"{cell(_field(webhook, 'correlation_id'))}  received {_instant(_field(webhook, 'received_at'))}  inbox "
             f"{cell(_field(webhook, 'inbox'))}",
             f"  archive    {cell(_field(webhook, 'archive_key'))}",
             f"  document   {cell(_field(document, 'document_type'))} "
             f"{cell(_field(_field(document, 'source') or {}, 'object_id'))}"
             f"  entity {cell(_field(document, 'entity_id'))}  accounting date "
             f"{cell(_field(document, 'accounting_date'))}"
             f"  {cell(_field(amount, 'amount') if isinstance(amount, dict) else amount)} "
             f"{cell(_field(document, 'currency'))}",
             f"  mapping    configuration version {cell(_field(shown['mapping'], 'config_version'))}"]
    journal = shown.get("journal")
    if journal:
        lines.append(f"  journal    {len(_entries(_field(journal, 'lines')))} line(s), accounting date "
                     f"{cell(_field(journal, 'accounting_date'))}")
        lines += ["             " + text for text in _journal_table(_field(journal, "lines"))]
    else:
        lines.append("  journal    none (not enriched yet, or ignored)")
    lines.append(f"  ERP        {cell(_field(erp, 'connection'))} reference {cell(_field(erp, 'reference'))}  posted at "
                 f"{cell(_field(erp, 'posted_at'))}  accounting date {cell(_field(erp, 'accounting_date'))}"
                 + ("  (period adjusted)" if _field(erp, "period_adjusted") else ""))
    for case in _entries(shown.get("exceptions")):
        lines.append(f"  exception  {_field(case, 'exception_id')} {_field(case, 'status')} {_field(case, 'reason')}: "
                     f"{str(_field(case, 'message') or '')[:100]}")
    execution = shown.get("execution")
    if execution:
        logs = _field(execution, "logs")
        lines.append(f"  execution  {_field(execution, 'workflow')} {cell(_field(execution, 'status'))}"
                     + (f" — {logs}" if logs else ""))
    if shown.get("ignored_reason"):
        lines.append(f"  ignored    {shown['ignored_reason']}")
    return lines


# ---- documents list | show ----------------------------------------------------------------------------------------

def cmd_documents(args: argparse.Namespace) -> int:
    return _show_documents(args) if args.documents_command == "show" else _list_documents(args)


def _show_documents(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support.documents import detail, resolve, summary

    target = target_of(args)
    local = target.name == "local"
    ledger = _ledger(target)
    _, ids = resolve(args.id, ledger=ledger, local=local)
    items = ledger.get_many(ids)
    if args.json:
        print_json({"documents": [detail(item) for item in items]})
        return 0
    for number, item in enumerate(items):
        if number:
            print()
        shown = summary(item)
        print_lines(f"{key:<15} {cell(value)}" for key, value in shown.items())
        journal = detail(item)["journal"]
        if journal:
            print_lines(["journal"] + ["  " + text for text in _journal_table(_field(journal, "lines"), strict=True)])
    return 0


def _list_documents(args: argparse.Namespace) -> int:
    from ledgerlink.cli_support.documents import Filters, list_documents, summary

    first, last = (args.date, args.date) if args.date else (args.start, args.end)
    if args.date and (args.start or args.end):
        raise UsageError("conflicting_dates", "give --date, or --from and --to, not both")
    types.ordered(first, last, "date")
    if args.min_amount is not None and args.max_amount is not None and args.min_amount > args.max_amount:
        raise UsageError("invalid_amount_range", f"--min-amount {args.min_amount} is above --max-amount "
                                                 f"{args.max_amount}")
    target = target_of(args)
    local = target.name == "local"
    check_entity(target, args.entity)
    check_source(target, args.source)
    filters = Filters(reference=args.id, entity=args.entity, source=args.source, status=args.status,
                      first=first, last=last, min_amount=args.min_amount, max_amount=args.max_amount)
    page = list_documents(_ledger(target), filters, local=local, limit=args.limit, after=args.after)
    records = [summary(item) for item in page.documents]
    if args.json:
        print_json({"documents": records, "next": page.next_cursor, "matched_by": page.matched_by})
        return 0
    rows = [[r["business_date"], r["document_id"], r["status"], r["document_type"], r["source"], r["entity_id"],
             r["amount"], r["currency"], r["erp_ref"] or r["exception_id"]] for r in records]
    print_lines(table(rows, ("date", "document", "status", "type", "source", "entity", "amount", "ccy",
                             "ERP ref / case"), right=[6]))
    print(f"{len(records)} document(s)" + (f"; next page: --after {page.next_cursor}" if page.next_cursor else ""))
    return 0


# ---- local drop-file | flush | release ------------------------------------------------------------------------------

def _local_target(args: argparse.Namespace) -> Target:
    from ledgerlink.ops.target import load_target

    target = load_target(None, args.state_dir)
    probe_local(target)
    target.activate()
    return target


def save_report(state_dir: Path, name: str, data: Mapping[str, object]) -> Path:
    """Keep an on-demand run's report on disk: ``<state dir>/reports/<name>.json`` (a run again replaces it)."""
    import json

    folder = state_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str, sort_keys=True) + "\n", encoding="utf-8")
    return path


def cmd_local_drop_file(args: argparse.Namespace) -> int:
    import uuid

    from ledgerlink import settings, wiring
    from ledgerlink.service.bank_files import INBOX_PREFIX
    from ledgerlink.store import clients

    if not args.file.is_file():
        raise UsageError("file_not_found", f"{args.file} is not a file")
    target = _local_target(args)
    config = active_config(target)
    banks = [source.id for source in config.sources if source.kind == "bank"]
    source = args.source or (banks[0] if len(banks) == 1 else None)
    if source is None:
        raise UsageError("source_required", f"several bank sources ({', '.join(banks)}): give --source"
                         if banks else "the active configuration has no bank source")
    types.check_known("source", source, banks, "the bank sources of the active configuration")
    key = f"{INBOX_PREFIX}{source}/{args.file.name}"
    clients.client("s3").put_object(Bucket=target.get(settings.ARCHIVE_BUCKET), Key=key, Body=args.file.read_bytes())
    outcome = wiring.bank_file_service().receive(key, correlation_id=f"cli-{uuid.uuid4()}")
    result = {"key": outcome.key, "outcome": outcome.outcome, "reason": outcome.reason,
              "event_id": outcome.event_id, "archive_key": outcome.archive_key}
    if args.json:
        print_json(result)
    else:
        print(f"{args.file} → s3 {key}: {outcome.outcome}" + (f" ({outcome.reason})" if outcome.reason else "")
              + (f", event {outcome.event_id}" if outcome.event_id else ""))
    return 1 if outcome.outcome == "rejected" else 0    # a duplicate was received before: nothing to do


def cmd_local_flush(args: argparse.Namespace) -> int:
    from ledgerlink import wiring

    target = _local_target(args)
    del target
    report = wiring.flush_service().run(through=args.through).as_dict()
    path = save_report(args.state_dir, f"flush-{args.through or 'scheduled'}", report)
    if args.json:
        print_json({**report, "report_file": str(path)})
    else:
        print(f"flush{f' through {args.through}' if args.through else ''}: {report.get('posted', 0)} summary "
              f"journal(s) posted, {report.get('exceptions', 0)} exception(s) — report {path}")
    return 1 if report.get("exceptions") else 0


def cmd_local_release(args: argparse.Namespace) -> int:
    from ledgerlink import wiring

    target = _local_target(args)
    check_entity(target, args.entity)
    report = wiring.revenue_release_service().run(entity_id=args.entity, period=args.period).as_dict()
    report["fx_revaluation"] = wiring.fx_revaluation_service().run(entity_id=args.entity, period=args.period)
    path = save_report(args.state_dir, f"release-{args.entity or 'all'}-{args.period or 'ended'}", report)
    if args.json:
        print_json({**report, "report_file": str(path)})
        return 0
    rows = [[e.get("entity_id"), e.get("period"), e.get("status"), len(e.get("journals_posted") or []),
             e.get("lines_released"), e.get("detail")] for e in report.get("entities", [])]
    print_lines(table(rows, ("entity", "period", "status", "journals", "lines", "detail"), right=[3, 4]))
    print(f"report {path}")
    return 0


# ---- parsers ----------------------------------------------------------------------------------------------------

def add_parsers(commands: Any, local: Any, add_target: Any) -> None:
    trace = commands.add_parser("trace", help="webhook → document → mapping version → journal → ERP reference, "
                                              "from any id: document, event, correlation, external, ERP reference")
    trace.add_argument("id", type=types.reference, metavar="ID",
                       help="doc_..., the event id or correlation id of the 202, the provider's object id "
                            "(in_..., a pspReference), or the ERP reference of the posting")
    trace.add_argument("--json", action="store_true")
    add_target(trace)
    trace.set_defaults(func=cmd_trace)

    documents = commands.add_parser("documents", help="the ledger's documents: list with filters, show one")
    verbs = documents.add_subparsers(dest="documents_command", required=True)
    listing = verbs.add_parser("list", help="documents by business date then id, a page at a time")
    listing.add_argument("--id", type=types.reference, help="only the documents of this id (any kind, as trace)")
    listing.add_argument("--entity", type=types.identifier("entity"))
    listing.add_argument("--source", type=types.identifier("source"))
    listing.add_argument("--status", type=types.choice("status", types.DOCUMENT_STATUSES))
    listing.add_argument("--date", type=types.calendar_date, help="business date YYYY-MM-DD (entity time zone)")
    listing.add_argument("--from", dest="start", type=types.calendar_date, help="first business date")
    listing.add_argument("--to", dest="end", type=types.calendar_date, help="last business date")
    listing.add_argument("--min-amount", type=types.amount, help="document amount at least (document currency)")
    listing.add_argument("--max-amount", type=types.amount, help="document amount at most")
    listing.add_argument("--limit", type=types.positive_int(1000), default=50, help="page size (default 50)")
    listing.add_argument("--after", metavar="CURSOR", type=types.reference, help="the cursor a previous page printed")
    listing.add_argument("--json", action="store_true")
    add_target(listing)
    show = verbs.add_parser("show", help="one document (or the documents of an event, correlation, external or ERP "
                                         "id): status, ids, canonical document, journal")
    show.add_argument("id", type=types.reference, metavar="ID")
    show.add_argument("--json", action="store_true")
    add_target(show)
    documents.set_defaults(func=cmd_documents)

    state = {"type": Path, "default": Path(".ledgerlink/local"), "help": "local stack state (of `ledgerlink local up`)"}
    drop = local.add_parser("drop-file", help="drop a bank statement file (camt.053, BAI2, CSV) into the running "
                                              "local stack's bank inbox, as S3 would deliver it")
    drop.add_argument("file", type=Path)
    drop.add_argument("--source", type=types.identifier("source"), help="the bank source (default: the only one)")
    drop.add_argument("--state-dir", **state)
    drop.add_argument("--json", action="store_true")
    drop.set_defaults(func=cmd_local_drop_file)
    flush = local.add_parser("flush", help="run the summary flush now on the running local stack (report kept in "
                                           "<state dir>/reports/)")
    flush.add_argument("--through", type=types.calendar_date, help="also flush open buckets up to this date")
    flush.add_argument("--state-dir", **state)
    flush.add_argument("--json", action="store_true")
    flush.set_defaults(func=cmd_local_flush)
    release = local.add_parser("release", help="run the revenue release (and FX revaluation) now on the running "
                                               "local stack (report kept in <state dir>/reports/)")
    release.add_argument("--entity", type=types.identifier("entity"), help="one entity (default: all)")
    release.add_argument("--period", type=types.period, help="an ended period YYYY-MM (default: the last ended)")
    release.add_argument("--state-dir", **state)
    release.add_argument("--json", action="store_true")
    release.set_defaults(func=cmd_local_release)
