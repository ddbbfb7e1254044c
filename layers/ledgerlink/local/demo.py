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
class DemoReport:
    deliveries: list[Delivery] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    book_file: Path | None = None
    bean_check: tuple[int, str] = (0, "")
    trial_balance: dict[tuple[str, str], Any] = field(default_factory=dict)
    reconciliations: list[Any] = field(default_factory=list)
    idle: bool = False
    seconds: float = 0.0

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


def reconcile_everything(ledger: list[dict[str, Any]]) -> list[Any]:
    """Reconcile every business date the run touched, and today's events (UTC receipt date)."""
    from ledgerlink import wiring

    wiring.reset()
    reconciler = wiring.reconciler()
    days = sorted({item["accounting_date"] for item in ledger} | {time.strftime("%Y-%m-%d", time.gmtime())})
    return [reconciler.run(day) for day in days]


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
        tables = runtime.resources.tables  # type: ignore[union-attr]
        report.ledger = DynamoLedger(tables["ledger"], totals_table=tables["totals"]).scan()
        report.reconciliations = reconcile_everything(report.ledger)
        report.inbox = DynamoInbox(tables["inbox"], totals_table=tables["totals"]).scan()
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
    differences = [d for r in report.reconciliations for d in r.differences]
    if differences:
        problems.append(f"reconciliation differences: {[(d.kind, d.detail) for d in differences]}")
    stuck = [item["document_id"] for item in report.ledger if item["status"] == "received"]
    if stuck:
        problems.append(f"documents still in flight: {stuck}")
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
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = ["", "LedgerLink demo — local stack (moto) + embedded Beancount book", ""]
    lines += [f"  {label.ljust(width, '.')} {value:>4}" for label, value in rows]
    lines.append(f"  {'books'.ljust(width, '.')} {report.book_file}")
    check = "OK" if report.bean_check[0] == 0 else f"FAILED\n{report.bean_check[1]}"
    lines.append(f"  {'bean-check'.ljust(width, '.')} {check}")
    balanced = sum(1 for r in report.reconciliations if r.status == "balanced")
    lines.append(f"  {'reconciliation'.ljust(width, '.')} {balanced}/{len(report.reconciliations)} days balanced, "
                 f"{sum(len(r.differences) for r in report.reconciliations)} differences")
    lines.append(f"  {'elapsed'.ljust(width, '.')} {report.seconds:.1f} s")
    lines += ["", "  deliveries:"]
    for delivery in report.deliveries:
        detail = delivery.body.get("reason") or delivery.body.get("status", "")
        lines.append(f"    {delivery.status}  {delivery.label:<48} {detail}")
    lines += ["", "  trial balance (from the book):"]
    for (account, currency), amount in report.trial_balance.items():
        lines.append(f"    {account:<44} {amount:>12} {currency}")
    for case in report.exceptions:
        lines.append(f"  exception {case['exception_id']}: {case['reason']} — {case['message']}")
    lines.append("")
    return "\n".join(lines)
