"""``make demo``: start the local stack, send every Stripe sample (plus a duplicate and a forgery),
wait until the pipeline is idle, print what happened and check the books with ``bean-check``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.store.exceptions import DynamoExceptions
from ledgerlink.store.inbox import DynamoInbox
from ledgerlink.store.ledger import DynamoLedger


@dataclass
class Delivery:
    label: str
    status: int
    body: dict[str, Any]


@dataclass
class LegacyFileCheck:
    """A legacy GL import file the flush wrote, read back: its lines and whether the trailer ties out."""

    path: Path
    entity: str
    lines: int
    totals: dict[str, tuple[str, str]]
    problems: list[str]


def check_legacy_file(path: Path, parse: Any) -> LegacyFileCheck:
    from collections import defaultdict
    from decimal import Decimal

    records = parse(path.read_text(encoding="utf-8"))
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for record in records:
        if record["type"] == "D":
            sums[record["currency"]][0] += Decimal(record["debit"])
            sums[record["currency"]][1] += Decimal(record["credit"])
            sums[record["currency"]][2] += 1
    problems, totals = [], {}
    for record in (r for r in records if r["type"] == "T"):
        debit, credit, count = sums.get(record["currency"], [Decimal(0), Decimal(0), Decimal(0)])
        totals[record["currency"]] = (record["debit"], record["credit"])
        if (Decimal(record["debit"]), Decimal(record["credit"]), int(record["line"])) != (debit, credit, count):
            problems.append(f"{path.name}: {record['currency']} trailer does not match its lines")
        if debit != credit:
            problems.append(f"{path.name}: {record['currency']} debits {debit} != credits {credit}")
    if not totals:
        problems.append(f"{path.name}: no control-total trailer")
    header = next((r for r in records if r["type"] == "H"), {})
    return LegacyFileCheck(path=path, entity=header.get("entity", "?"), lines=int(sum(v[2] for v in sums.values())),
                           totals=totals, problems=problems)


@dataclass
class DemoReport:
    deliveries: list[Delivery] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    book_file: Path | None = None
    bean_check: tuple[int, str] = (0, "")
    trial_balance: dict[tuple[str, str], Any] = field(default_factory=dict)
    idle: bool = False
    seconds: float = 0.0
    flush: dict[str, Any] = field(default_factory=dict)
    legacy_files: list[LegacyFileCheck] = field(default_factory=list)

    def count(self, predicate: Any) -> int:
        return sum(1 for d in self.deliveries if predicate(d))

    @property
    def statuses(self) -> Counter[str]:
        return Counter(item["status"] for item in self.ledger)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def send_samples(runtime: LocalRuntime, source_id: str, samples: list[Path], report: DemoReport) -> None:
    url = runtime.webhook_url(source_id)
    secret = runtime.secrets[source_id].values[0]
    for sample in samples:
        body = sample.read_bytes()
        status, answer = post(url, body, signature_header(body, secret, int(time.time())))
        report.deliveries.append(Delivery(sample.name, status, answer))
    if samples:  # a provider retry of the first event (new signature, same event id)
        body = samples[0].read_bytes()
        status, answer = post(url, body, signature_header(body, secret, int(time.time())))
        report.deliveries.append(Delivery(f"duplicate of {samples[0].name}", status, answer))
        forged = samples[-1].read_bytes()
        status, answer = post(url, forged, signature_header(forged, "whsec_not_the_real_secret", int(time.time())))
        report.deliveries.append(Delivery(f"forged copy of {samples[-1].name}", status, answer))


def run_bean_check(book_file: Path) -> tuple[int, str]:
    bean_check = Path(sys.executable).with_name("bean-check")
    command = [str(bean_check)] if bean_check.exists() else [sys.executable, "-m", "beancount.scripts.check"]
    result = subprocess.run([*command, str(book_file)], capture_output=True, text=True, timeout=120)
    return result.returncode, (result.stdout + result.stderr).strip()


def run_demo(config_path: Path, events_dir: Path, *, state_dir: Path = Path(".ledgerlink/demo"),
             port: int = 0, source_id: str = "stripe", timeout: float = 180.0) -> DemoReport:
    report = DemoReport()
    started = time.monotonic()
    samples = sorted(events_dir.glob("*.json"))
    runtime = LocalRuntime(LocalOptions(config_path=config_path, state_dir=state_dir, port=port))
    runtime.start()
    try:
        send_samples(runtime, source_id, samples, report)
        report.idle = runtime.wait_idle(timeout=timeout)
        # what EventBridge Scheduler does hourly on AWS: summaries and legacy GL files for the days that are over
        report.flush = runtime.flush(through="2100-12-31")
        from ledgerlink.connectors.erps.legacy_file import LegacyFile

        for connection in runtime.config.erp_connections:  # type: ignore[union-attr]
            if connection.kind == "legacy_file":
                from ledgerlink.store.objects import FileObjectStore

                target = LegacyFile(connection, FileObjectStore(runtime.legacy_dir / connection.prefix))
                for name in report.flush.get("legacy_files", []):
                    if name.startswith(str(target.store.location())):
                        report.legacy_files.append(check_legacy_file(Path(name), target.parse))
        tables = runtime.resources.tables  # type: ignore[union-attr]
        report.ledger = DynamoLedger(tables["ledger"]).scan()
        report.inbox = DynamoInbox(tables["inbox"]).scan()
        report.exceptions = DynamoExceptions(tables["exceptions"]).list("open")
        assert runtime.config is not None
        connection = runtime.config.entities[0].erp_connection
        report.book_file = runtime.book_main_file(connection)
        from ledgerlink.connectors.erps.beancount import BeancountBook
        from ledgerlink.store.books import FileBookStore

        book = BeancountBook(runtime.config.connection(connection), FileBookStore(report.book_file.parent))
        report.trial_balance = book.trial_balance()
    finally:
        runtime.stop()
    if report.book_file and report.book_file.exists():
        report.bean_check = run_bean_check(report.book_file)
    else:
        report.bean_check = (1, "no book was written")
    report.seconds = time.monotonic() - started
    return report


def demo_ok(report: DemoReport) -> list[str]:
    """Problems that make the demo fail (exit 1); empty when everything behaved."""
    problems = []
    if not report.idle:
        problems.append("the pipeline did not become idle in time")
    samples = [d for d in report.deliveries if d.label.endswith(".json") and not d.label.startswith(("duplicate", "forged"))]
    problems += [f"{d.label}: HTTP {d.status} {d.body.get('reason', '')}" for d in samples if d.status != 202]
    duplicate = [d for d in report.deliveries if d.label.startswith("duplicate")]
    if duplicate and duplicate[0].status != 200:
        problems.append(f"duplicate delivery answered {duplicate[0].status}, expected 200")
    forged = [d for d in report.deliveries if d.label.startswith("forged")]
    if forged and forged[0].status != 401:
        problems.append(f"forged delivery answered {forged[0].status}, expected 401")
    if report.bean_check[0] != 0:
        problems.append(f"bean-check failed: {report.bean_check[1]}")
    unexpected = [case["exception_id"] for case in report.exceptions if case["reason"] == "unexpected_error"]
    if unexpected:
        problems.append(f"exceptions from unexpected errors (see .ledgerlink/demo/lambda.log): {unexpected}")
    stuck = [item["document_id"] for item in report.ledger if item["status"] in ("received", "summarized")]
    if stuck:
        problems.append(f"documents still in flight: {stuck}")
    for checked in report.legacy_files:
        problems += checked.problems
    return problems


def format_report(report: DemoReport) -> str:
    statuses = report.statuses
    ignored_events = sum(1 for item in report.inbox if item.get("outcome") == "ignored")
    rows = [
        ("webhooks received", len(report.deliveries)),
        ("accepted (202)", report.count(lambda d: d.status == 202)),
        ("duplicates rejected (200 duplicate)", report.count(lambda d: d.body.get("status") == "duplicate")),
        ("forged rejected (401)", report.count(lambda d: d.status == 401)),
        ("events ignored (recorded, not posted)", ignored_events),
        ("documents posted", statuses.get("posted", 0)),
        ("documents ignored by policy", statuses.get("ignored", 0)),
        ("open exceptions", len(report.exceptions)),
        ("summary journals posted by the flush", int(report.flush.get("posted", 0))),
        ("legacy GL import files written", len(report.legacy_files)),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = ["", "LedgerLink demo — local stack (moto) + embedded Beancount book + a legacy GL file", ""]
    lines += [f"  {label.ljust(width, '.')} {value:>4}" for label, value in rows]
    lines.append(f"  {'books'.ljust(width, '.')} {report.book_file}")
    check = "OK" if report.bean_check[0] == 0 else f"FAILED\n{report.bean_check[1]}"
    lines.append(f"  {'bean-check'.ljust(width, '.')} {check}")
    for checked in report.legacy_files:
        lines.append(f"  {('legacy GL file (' + checked.entity + ')').ljust(width, '.')} {checked.path}")
        totals = ", ".join(f"{currency} Dr {debit} = Cr {credit}" for currency, (debit, credit) in checked.totals.items())
        verdict = "OK" if not checked.problems else "FAILED: " + "; ".join(checked.problems)
        lines.append(f"  {'control totals'.ljust(width, '.')} {checked.lines} lines, {totals} — {verdict}")
    lines.append(f"  {'elapsed'.ljust(width, '.')} {report.seconds:.1f} s")
    lines += ["", "  deliveries:"]
    for delivery in report.deliveries:
        detail = delivery.body.get("reason") or delivery.body.get("status", "")
        lines.append(f"    {delivery.status}  {delivery.label:<48} {detail}")
    routed = Counter((item.get("entity_id"), item.get("erp_connection")) for item in report.ledger
                     if item.get("status") == "posted")
    lines += ["", "  routing (entity → ERP connection: documents posted):"]
    lines += [f"    {entity} → {connection}: {count}" for (entity, connection), count in sorted(routed.items())]
    lines += ["", "  trial balance (from the book):"]
    for (account, currency), amount in report.trial_balance.items():
        lines.append(f"    {account:<44} {amount:>12} {currency}")
    for case in report.exceptions:
        lines.append(f"  exception {case['exception_id']}: {case['reason']} — {case['message']}")
    lines.append("")
    return "\n".join(lines)
