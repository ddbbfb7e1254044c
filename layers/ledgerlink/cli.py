"""The ``ledgerlink`` command (dev machine / CI / ops terminal; not shipped in the Lambda layer)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from ledgerlink.errors import ConfigError

DEFAULT_CONFIG = Path("config/ledgerlink.example.yaml")
DEFAULT_EVENTS = Path("events/stripe")


def _cmd_demo(args: argparse.Namespace) -> int:
    from ledgerlink.local.demo import demo_ok, format_report, run_demo

    report = run_demo(args.config, args.events, state_dir=args.state_dir, port=args.port)
    print(format_report(report))
    problems = demo_ok(report)
    for problem in problems:
        print(f"demo problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _cmd_local_up(args: argparse.Namespace) -> int:
    from ledgerlink.local.runtime import LocalOptions, LocalRuntime

    runtime = LocalRuntime(LocalOptions(config_path=args.config, state_dir=args.state_dir, port=args.port,
                                        secrets_file=args.secrets))
    runtime.start()
    assert runtime.config is not None
    print(f"LedgerLink local stack is up (configuration version {runtime.config_version} from {args.config})")
    print(f"  AWS endpoint (moto): {runtime.client('sts').meta.endpoint_url}")
    for source in runtime.config.sources:
        secret = runtime.secrets[source.id]
        print(f"  POST {runtime.webhook_url(source.id)}   ({source.kind}; signing secret from {secret.origin},"
              f" Secrets Manager name {source.signing_secret.secret_id})")
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
    print("Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        runtime.stop()
    return 0


def _cmd_local_sign(args: argparse.Namespace) -> int:
    from ledgerlink.connectors.sources.stripe.webhook import signature_header
    from ledgerlink.local import secrets as local_secrets

    secret = args.secret or local_secrets.resolve([args.source], secrets_file=args.secrets)[args.source].values[0]
    body = args.file.read_bytes()
    header = signature_header(body, secret, int(time.time()))
    name, value = next(iter(header.items()))
    if args.curl:
        print(f"curl -sS -X POST '{args.curl}' -H 'Content-Type: application/json' -H '{name}: {value}' "
              f"--data-binary @{args.file}")
    else:
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


def _cmd_config_apply(args: argparse.Namespace) -> int:
    from ledgerlink.config.loader import config_hash, load_config_file
    from ledgerlink.store.config_store import DynamoConfigStore

    config = load_config_file(args.file)
    applied_by = args.by or _caller_identity()
    version, changed = DynamoConfigStore(args.table).apply(config, applied_by=applied_by,
                                                           content_hash=config_hash(config))
    print(f"configuration version {version} {'applied' if changed else 'unchanged (already active)'}"
          f" in {args.table} by {applied_by}")
    return 0


def _caller_identity() -> str:
    from ledgerlink.store.clients import client

    try:
        return str(client("sts").get_caller_identity()["Arn"])
    except Exception:
        return "unknown"


def _cmd_books_check(args: argparse.Namespace) -> int:
    from ledgerlink.local.demo import run_bean_check

    code, output = run_bean_check(args.file)
    print(output or f"{args.file}: OK")
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ledgerlink", description="LedgerLink finance-integration middleware")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole pipeline locally on the samples and print a summary")
    demo.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    demo.add_argument("--events", type=Path, default=DEFAULT_EVENTS)
    demo.add_argument("--state-dir", type=Path, default=Path(".ledgerlink/demo"))
    demo.add_argument("--port", type=int, default=0, help="webhook port (default: any free port)")
    demo.set_defaults(func=_cmd_demo)

    local = commands.add_parser("local", help="the local stack").add_subparsers(dest="local_command", required=True)
    up = local.add_parser("up", help="start the local stack and serve webhooks until Ctrl-C")
    up.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    up.add_argument("--port", type=int, default=8787)
    up.add_argument("--secrets", type=Path, help='JSON {"<source id>": "whsec_..."} (default: generated)')
    up.add_argument("--state-dir", type=Path, default=Path(".ledgerlink/local"))
    up.set_defaults(func=_cmd_local_up)
    sign = local.add_parser("sign", help="print a valid signature header for a payload file")
    sign.add_argument("file", type=Path)
    sign.add_argument("--source", default="stripe")
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
    apply = config.add_parser("apply", help="store the file as the new active configuration version (AWS)")
    apply.add_argument("file", type=Path)
    apply.add_argument("--table", required=True, help="config table name (stack output ConfigTableName)")
    apply.add_argument("--by", help="who applies it (default: the caller's IAM identity)")
    apply.set_defaults(func=_cmd_config_apply)

    books = commands.add_parser("books", help="the embedded Beancount book").add_subparsers(dest="books_command",
                                                                                            required=True)
    check = books.add_parser("check", help="run Beancount's bean-check on a book")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_cmd_books_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
