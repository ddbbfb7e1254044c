"""``make demo``: start the local stack, send every webhook source's samples (each plus a duplicate and a
forgery), poll the sources without webhooks (twice: the second poll finds nothing new above the high-water
mark), drop the statement files, wait until the pipeline is idle, flush the summaries, release deferred revenue
through the latest ended period (twice: the second release posts nothing), print what happened and the
deferred-revenue waterfall, and check the books with ``bean-check``.

The demo runs "as of" a fixed instant (``DEMO_AS_OF``, or ``ledgerlink demo --as-of``): the process's clock starts
there and runs at normal speed, so the release covers the same months, the same days are reconciled and the
summary is the same whatever today is (D82)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlink import clock
from ledgerlink.connectors.sources import FILE_DROP_KINDS, POLLED_KINDS, WEBHOOK_KINDS
from ledgerlink.local.runtime import LocalOptions, LocalRuntime
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.model.status import DocumentStatus
from ledgerlink.service.revenue import WaterfallReport, waterfall_report
from ledgerlink.store.exceptions import DynamoExceptions
from ledgerlink.store.inbox import DynamoInbox
from ledgerlink.store.ledger import DynamoLedger
from ledgerlink.store.revenue import DynamoRevenue

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.config.sources import Source
    from ledgerlink.service.close_check import CloseCheckReport
    from ledgerlink.service.reconcile import ReconciliationReport

# The samples run from 2021 to November 2026: as of mid-December 2026, November has ended (the release posts the
# annual subscription's months through November) and the subscription still defers December to February.
# the sources whose files are dropped in S3 rather than sent, as the summary names them
_FILE_DROP = " / ".join(FILE_DROP_KINDS)
DEMO_AS_OF = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)

# A stored item (ledger, inbox, exception case) as the stores return it; read by key, values narrowed where used.
type StoredItem = Mapping[str, object]
# (entity, period, "reason: message"): a close check the entity's ERP could not be read for (D84)
type CloseCheckRefusal = tuple[str, str, str]


@dataclass
class Delivery:
    label: str
    status: int
    body: JsonObject


@dataclass
class LegacyFileCheck:
    """A legacy GL import file the flush wrote, read back: its lines and whether the trailer ties out."""

    path: Path
    entity: str
    lines: int
    totals: dict[str, tuple[str, str]]
    problems: list[str]


def check_legacy_file(path: Path, parse: Callable[[str], list[dict[str, str]]]) -> LegacyFileCheck:
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
        if (Decimal(record["debit"]), Decimal(record["credit"]), Decimal(int(record["line"]))) != (debit, credit, count):
            problems.append(f"{path.name}: {record['currency']} trailer does not match its lines")
        if debit != credit:
            problems.append(f"{path.name}: {record['currency']} debits {debit} != credits {credit}")
    if not totals:
        problems.append(f"{path.name}: no control-total trailer")
    header: dict[str, str] = next((r for r in records if r["type"] == "H"), {})
    return LegacyFileCheck(path=path, entity=header.get("entity", "?"), lines=int(sum(v[2] for v in sums.values())),
                           totals=totals, problems=problems)


@dataclass
class DemoReport:
    as_of: datetime = DEMO_AS_OF
    state_dir: Path = Path(".ledgerlink/demo")
    deliveries: list[Delivery] = field(default_factory=list)
    ledger: list[StoredItem] = field(default_factory=list)
    inbox: list[StoredItem] = field(default_factory=list)
    exceptions: list[StoredItem] = field(default_factory=list)
    book_file: Path | None = None
    bean_check: tuple[int, str] = (0, "")
    trial_balance: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    reconciliations: list[ReconciliationReport] = field(default_factory=list)
    bank_files: list[Delivery] = field(default_factory=list)
    polls: list[Delivery] = field(default_factory=list)
    idle: bool = False
    seconds: float = 0.0
    flush: JsonObject = field(default_factory=dict)
    legacy_files: list[LegacyFileCheck] = field(default_factory=list)
    releases: list[JsonObject] = field(default_factory=list)     # the period-end release, run twice
    waterfalls: dict[str, WaterfallReport] = field(default_factory=dict)   # entity → waterfall_report
    # (entity, deferred account, currency) → what the schedules still defer, for entities posting to the book
    deferred: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)
    close_checks: list[CloseCheckReport | CloseCheckRefusal] = field(default_factory=list)   # (D84)

    def count(self, predicate: Callable[[Delivery], bool]) -> int:
        return sum(1 for d in self.deliveries if predicate(d))

    @property
    def statuses(self) -> Counter[str]:
        return Counter(str(item["status"]) for item in self.ledger)


# ---- reading JSON answers and stored items (values are narrowed, never assumed) ------------------------------------

def _field(value: object, key: str) -> object:
    """``value[key]`` when ``value`` is an object (a mapping), else None."""
    return value.get(key) if isinstance(value, Mapping) else None


def _objects(value: object) -> list[Mapping[str, object]]:
    """The objects of a JSON array (nothing when ``value`` is not one)."""
    return [entry for entry in value if isinstance(entry, Mapping)] if isinstance(value, list) else []


def _json_objects(value: JsonValue) -> list[JsonObject]:
    """The objects of a JSON array in a function's answer."""
    if not isinstance(value, list):
        raise TypeError(f"{type(value).__name__} is not a JSON array")
    return [entry for entry in value if isinstance(entry, dict)]


def _number(value: object) -> int:
    """A count in a JSON answer (``int(value or 0)``)."""
    if not value:
        return 0
    if isinstance(value, bool | int | float | str | Decimal):
        return int(value)
    raise TypeError(f"{type(value).__name__} is not a count")


def post(url: str, body: bytes, headers: dict[str, str],
         content_type: str = "application/json") -> tuple[int, JsonObject]:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type, **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, _answer(response.status, response.read())
    except urllib.error.HTTPError as error:
        return error.code, _answer(error.code, error.read())


def _answer(status: int, raw: bytes) -> JsonObject:
    """JSON answers as they are; provider-mandated ones (``[accepted]``, SOAP Ack) summarized."""
    try:
        parsed: JsonValue = json.loads(raw or b"{}")
        if isinstance(parsed, dict):
            return parsed
    except ValueError:
        pass
    text = raw.decode("utf-8", "replace")
    label = "[accepted]" if text.strip() == "[accepted]" else ("SOAP Ack" if "<Ack>true</Ack>" in text else text[:40])
    return {"status": "acknowledged" if 200 <= status < 300 else "rejected", "ack": label}


def send_samples(runtime: LocalRuntime, source_id: str, samples: list[Path], report: DemoReport,
                 kind: str) -> None:
    """Every sample signed with the local secret, then a provider retry of the first and a forgery of the last."""
    from ledgerlink.local.secrets import generate
    from ledgerlink.local.signers import sign

    url = runtime.webhook_url(source_id)
    secret = runtime.secrets[source_id].values[0]

    def deliver(label: str, body: bytes, key: str) -> None:
        signed = sign(kind, body, key, url=url)
        status, answer = post(url + signed.url_suffix, signed.body, signed.headers, signed.content_type)
        report.deliveries.append(Delivery(label, status, answer))

    for sample in samples:
        deliver(f"{source_id}/{sample.name}", sample.read_bytes(), secret)
    if samples:  # a provider retry of the first event (new signature, same event id)
        deliver(f"duplicate of {source_id}/{samples[0].name}", samples[0].read_bytes(), secret)
        deliver(f"forged copy of {source_id}/{samples[-1].name}", samples[-1].read_bytes(), generate(kind))


def reconcile_everything(ledger: list[StoredItem]) -> list[ReconciliationReport]:
    """Reconcile every business date the run touched, and today's events (UTC receipt date)."""
    from ledgerlink import wiring

    wiring.reset()
    reconciler = wiring.reconciler()
    days = sorted({str(item["accounting_date"]) for item in ledger} | {clock.utc_day()})
    return [reconciler.run(day) for day in days]


def close_checks(runtime: LocalRuntime) -> list[CloseCheckReport | CloseCheckRefusal]:
    """The month-end close check of every entity for the last month that ended before the as-of instant (what a
    controller runs at the close); an entity whose ERP the check cannot read is reported with the reason."""
    from ledgerlink import wiring
    from ledgerlink.pipeline.revenue_schedule import period_of, previous_period
    from ledgerlink.service.close_check import CloseCheckRefused

    wiring.reset()
    service = wiring.close_check_service()
    results: list[CloseCheckReport | CloseCheckRefusal] = []
    for entity in _config(runtime).entities:
        period = previous_period(period_of(clock.today_in(entity.time_zone)))
        try:
            results.append(service.run(entity.id, period))
        except CloseCheckRefused as exc:
            results.append((entity.id, period, f"{exc.reason}: {exc}"))
    return results


def legacy_file_checks(runtime: LocalRuntime, flush: JsonObject) -> list[LegacyFileCheck]:
    """Read back every legacy GL import file the flush wrote."""
    from ledgerlink.config.erps import LegacyFileConnection
    from ledgerlink.connectors.erps.legacy_file import LegacyFile
    from ledgerlink.store.objects import FileObjectStore

    written = flush.get("legacy_files", [])
    checks = []
    for connection in _config(runtime).erp_connections:
        if isinstance(connection, LegacyFileConnection):
            target = LegacyFile(connection, FileObjectStore(runtime.legacy_dir / connection.prefix))
            for name in written if isinstance(written, list) else []:
                if isinstance(name, str) and name.startswith(str(target.store.location())):
                    checks.append(check_legacy_file(Path(name), target.parse))
    return checks


def deferred_balances(store: DynamoRevenue, entity_id: str) -> dict[tuple[str, str, str], Decimal]:
    """What an entity's schedule lines still defer (billed − released − reclassified), per account and currency:
    what the book's deferred-revenue accounts must hold."""
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for line, state in store.entity_lines(entity_id):
        totals[(entity_id, line.deferred_account, line.currency)] += (line.billed - state.released_total
                                                                      - state.reclassed_total)
    return dict(totals)


def run_bean_check(book_file: Path) -> tuple[int, str]:
    bean_check = Path(sys.executable).with_name("bean-check")
    command = [str(bean_check)] if bean_check.exists() else [sys.executable, "-m", "beancount.scripts.check"]
    result = subprocess.run([*command, str(book_file)], capture_output=True, text=True, timeout=120)
    return result.returncode, (result.stdout + result.stderr).strip()


def run_demo(config_path: Path, events_dir: Path, *, state_dir: Path = Path(".ledgerlink/demo"),
             port: int = 0, source_id: str | None = None, timeout: float = 180.0,
             as_of: datetime = DEMO_AS_OF) -> DemoReport:
    """``events_dir`` is either one source's samples (``*.json``, sent to ``source_id``, by default the folder's name) or ``events/`` with a
    folder per configured source: webhook sources are sent first, then statement files are dropped (cash
    application needs the payouts and invoices they settle to be registered). The whole run reads the clock
    as of ``as_of`` (it starts there and runs at normal speed)."""
    with clock.use(clock.AsOfClock(as_of)):
        return _run_demo(config_path, events_dir, state_dir=state_dir, port=port, source_id=source_id or events_dir.name,
                         timeout=timeout, as_of=as_of)


def _config(runtime: LocalRuntime) -> LedgerLinkConfig:
    assert runtime.config is not None, "runtime not started"
    return runtime.config


def _run_demo(config_path: Path, events_dir: Path, *, state_dir: Path, port: int, source_id: str, timeout: float,
              as_of: datetime) -> DemoReport:
    report = DemoReport(as_of=as_of, state_dir=state_dir)
    started = time.monotonic()
    # always from empty (the same summary every run); the stop leaves the state in ``state_dir``, so
    # ``ledgerlink local up --state-dir <it>`` opens the demo's results
    runtime = LocalRuntime(LocalOptions(config_path=config_path, state_dir=state_dir, port=port, fresh=True))
    runtime.start()
    try:
        plan = _sample_plan(_config(runtime), events_dir, source_id)
        _send_webhooks(runtime, plan, report)
        _poll_sources(runtime, report)
        report.idle = runtime.wait_idle(timeout=timeout)
        _drop_bank_files(runtime, plan, report)
        report.idle = report.idle and runtime.wait_idle(timeout=timeout)
        _collect_results(runtime, report)
    finally:
        runtime.stop()
    if report.book_file and report.book_file.exists():
        report.bean_check = run_bean_check(report.book_file)
    else:
        report.bean_check = (1, "no book was written")
    report.seconds = time.monotonic() - started
    return report


def _sample_plan(config: LedgerLinkConfig, events_dir: Path, source_id: str) -> list[tuple[Source | None, list[Path]]]:
    """(source, its sample files): ``events_dir``'s ``*.json`` for ``source_id``, or each source's folder."""
    if any(events_dir.glob("*.json")):
        return [(config.source(source_id), sorted(events_dir.glob("*.json")))]
    return [(source, sorted(p for p in (events_dir / source.id).glob("*") if p.is_file() and p.suffix in (".json", ".xml")))
            for source in config.sources if (events_dir / source.id).is_dir()]


def _send_webhooks(runtime: LocalRuntime, plan: list[tuple[Source | None, list[Path]]], report: DemoReport) -> None:
    for source, samples in plan:
        if source is not None and source.kind in WEBHOOK_KINDS:
            send_samples(runtime, source.id, samples, report, kind=source.kind)


def _poll_sources(runtime: LocalRuntime, report: DemoReport) -> None:
    """What EventBridge Scheduler does on AWS; twice to show the high-water mark."""
    for source in _config(runtime).sources:
        if source.kind in POLLED_KINDS:
            for attempt in ("first poll", "second poll"):
                for outcome in _json_objects(runtime.poll(source.id)["polled"]):
                    report.polls.append(Delivery(f"{attempt} {source.id}", 0, outcome))


def _drop_bank_files(runtime: LocalRuntime, plan: list[tuple[Source | None, list[Path]]], report: DemoReport) -> None:
    for source, samples in plan:
        if source is not None and source.kind in FILE_DROP_KINDS:
            for sample in samples:
                answer = runtime.drop_bank_file(source.id, sample.name, sample.read_bytes())
                for outcome in _json_objects(answer.get("files", [])):
                    report.bank_files.append(Delivery(f"{source.id}/{sample.name}", 0, outcome))


def _collect_results(runtime: LocalRuntime, report: DemoReport) -> None:
    """The flush and the period-end release, then what the stores, the reconciliation, the close check and the
    book show."""
    config = _config(runtime)
    # what EventBridge Scheduler does hourly on AWS: summaries and legacy GL files for the days that are over
    report.flush = runtime.flush(through="2100-12-31")
    report.legacy_files = legacy_file_checks(runtime, report.flush)
    assert runtime.resources is not None
    tables = runtime.resources.tables
    # what each entity's EventBridge schedule does at month start: release the month that ended (with the
    # catch-up of every earlier month); the second run finds nothing new (idempotent per period)
    report.releases = [runtime.release(), runtime.release()]
    revenue = DynamoRevenue(tables["revenue"])
    connection = config.entities[0].erp_connection
    for entity in config.entities:
        report.waterfalls[entity.id] = waterfall_report(revenue, entity.id)
        if entity.erp_connection == connection:
            report.deferred.update(deferred_balances(revenue, entity.id))
    report.ledger = list(DynamoLedger(tables["ledger"], totals_table=tables["totals"]).scan())
    report.reconciliations = reconcile_everything(report.ledger)
    report.close_checks = close_checks(runtime)
    report.inbox = list(DynamoInbox(tables["inbox"], totals_table=tables["totals"]).scan())
    report.exceptions = list(DynamoExceptions(tables["exceptions"]).list("open"))
    report.book_file = runtime.book_main_file(connection)
    report.trial_balance = _book_trial_balance(config, connection, report.book_file)


def _book_trial_balance(config: LedgerLinkConfig, connection_id: str, book_file: Path) -> dict[tuple[str, str], Decimal]:
    from ledgerlink.config.erps import BeancountConnection
    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.store.books import FileBookStore

    connection = config.connection(connection_id)
    if not isinstance(connection, BeancountConnection):
        raise TypeError(f"the demo's first entity posts to {connection_id!r}, not to a Beancount book")
    return BeancountBook(connection, FileBookStore(book_file.parent)).trial_balance()


# ---- what makes the demo fail -----------------------------------------------------------------------------------

def demo_ok(report: DemoReport) -> list[str]:
    """Problems that make the demo fail (exit 1); empty when everything behaved."""
    problems = [] if report.idle else ["the pipeline did not become idle in time"]
    problems += _delivery_problems(report)
    problems += _poll_problems(report)
    if report.bean_check[0] != 0:
        problems.append(f"bean-check failed: {report.bean_check[1]}")
    unexpected = [case["exception_id"] for case in report.exceptions if case["reason"] == "unexpected_error"]
    if unexpected:
        problems.append(f"exceptions from unexpected errors (see .ledgerlink/demo/lambda.log): {unexpected}")
    problems += [f"close check {checked.entity_id} {checked.period}: {t.check} {t.account} {t.currency} expected "
                 f"{t.expected}, booked {t.booked} {'; '.join(t.problems)}".rstrip()
                 for checked in report.close_checks if not isinstance(checked, tuple) for t in checked.differences]
    differences = [d for r in report.reconciliations for d in r.differences]
    if differences:
        problems.append(f"reconciliation differences: {[(d.kind, d.detail) for d in differences]}")
    in_flight = (DocumentStatus.RECEIVED, DocumentStatus.SUMMARIZED)
    stuck = [item["document_id"] for item in report.ledger if item["status"] in in_flight]
    if stuck:
        problems.append(f"documents still in flight: {stuck}")
    for checked in report.legacy_files:
        problems += checked.problems
    return problems + _release_problems(report) + _deferred_problems(report)


def _delivery_problems(report: DemoReport) -> list[str]:
    """Samples not accepted (or taken for duplicates), retries not answered 200, forgeries not refused, dropped files
    not accepted."""
    samples = [d for d in report.deliveries if not d.label.startswith(("duplicate", "forged"))]
    problems = [f"{d.label}: HTTP {d.status} {d.body.get('reason', '')}" for d in samples
                if d.status not in (200, 202) or d.body.get("status") == "duplicate"]
    problems += [f"{d.label} answered {d.status}, expected 200" for d in report.deliveries
                 if d.label.startswith("duplicate") and d.status != 200]
    problems += [f"{d.label} answered {d.status}, expected 401" for d in report.deliveries
                 if d.label.startswith("forged") and d.status != 401]
    problems += [f"{_FILE_DROP} file {d.label}: {d.body.get('outcome')} {d.body.get('reason') or ''}" for d in report.bank_files
                 if d.body.get("outcome") != "accepted"]
    return problems


def _poll_problems(report: DemoReport) -> list[str]:
    """The first poll accepts something, the second nothing (the high-water mark holds)."""
    firsts = [d for d in report.polls if d.label.startswith("first poll")]
    agains = [d for d in report.polls if d.label.startswith("second poll")]
    problems = [f"{d.label} accepted nothing" for d in firsts if not d.body.get("accepted")]
    problems += [f"{d.label} accepted {d.body.get('accepted')} again: the high-water mark did not hold"
                 for d in agains if d.body.get("accepted")]
    return problems


def _release_problems(report: DemoReport) -> list[str]:
    """The first release releases (or finds nothing to); the second posts nothing."""
    if not report.releases:
        return []
    first, again = report.releases[0], report.releases[-1]
    problems = [f"revenue release {e['entity_id']} {e['period']}: {e['status']} {e['detail']}"
                for e in _objects(first.get("entities")) if e["status"] not in ("released", "nothing_to_release")]
    problems += [f"revenue release run again posted {e['journals_posted']} for {e['entity_id']} {e['period']}"
                 for e in _objects(again.get("entities")) if e["journals_posted"]]
    return problems


def _deferred_problems(report: DemoReport) -> list[str]:
    """The book's deferred-revenue accounts hold what the schedules still defer."""
    booked: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (_, account, currency), amount in report.deferred.items():
        booked[(account, currency)] += amount
    problems = []
    for (account, currency), amount in booked.items():
        balance = -Decimal(str(report.trial_balance.get((account, currency), 0)))
        if balance != amount:
            problems.append(f"deferred revenue {account} {currency}: the book holds {balance}, the schedules "
                            f"defer {amount}")
    return problems


LABEL_WIDTH = 39   # the summary's dotted labels


def _shown(path: Path, report: DemoReport, state_label: str | None) -> str:
    """A path the demo wrote, under the state directory as the user named it (or ``state_label``)."""
    try:
        inside = path.resolve().relative_to(report.state_dir.resolve())
    except ValueError:
        return str(path)
    return str(Path(state_label or str(report.state_dir)) / inside)


def summary_lines(report: DemoReport, state_label: str | None = None) -> list[str]:
    """What the demo did, in numbers that depend on the samples and the as-of instant only: the README quotes
    these lines verbatim (``make readme``) and a test fails when they drift apart."""
    statuses = report.statuses
    ignored_events = sum(1 for item in report.inbox if item.get("outcome") == "ignored")
    rows = [
        ("webhooks received", len(report.deliveries)),
        ("accepted (2xx)", report.count(lambda d: d.status in (200, 202) and not d.label.startswith("duplicate"))),
        ("duplicates rejected (200 duplicate)", report.count(lambda d: d.body.get("status") == "duplicate")),
        ("forged rejected (401)", report.count(lambda d: d.status == 401)),
        (f"{_FILE_DROP} files dropped (S3)", len(report.bank_files)),
        ("polls (EventBridge Scheduler)", len(report.polls)),
        ("polled items accepted", sum(_number(d.body.get("accepted")) for d in report.polls)),
        ("events ignored (recorded, not posted)", ignored_events),
        ("documents posted", statuses.get(DocumentStatus.POSTED, 0)),
        ("documents ignored by policy", statuses.get(DocumentStatus.IGNORED, 0)),
        ("open exceptions", len(report.exceptions)),
        ("summary journals posted by the flush", _number(report.flush.get("posted", 0))),
        ("legacy GL import files written", len(report.legacy_files)),
    ]
    width = LABEL_WIDTH
    lines = ["LedgerLink demo — local stack (moto) + embedded Beancount book + a legacy GL file", ""]
    lines.append(f"  {'as of'.ljust(width, '.')} {report.as_of.astimezone(UTC).isoformat().replace('+00:00', 'Z')}")
    lines += [f"  {label.ljust(width, '.')} {value:>4}" for label, value in rows]
    book = _shown(report.book_file, report, state_label) if report.book_file else "(none)"
    lines.append(f"  {'books'.ljust(width, '.')} {book}")
    check = "OK" if report.bean_check[0] == 0 else "FAILED"
    lines.append(f"  {'bean-check'.ljust(width, '.')} {check}")
    for checked in report.legacy_files:
        lines.append(f"  {('legacy GL file (' + checked.entity + ')').ljust(width, '.')} "
                     f"{_shown(checked.path, report, state_label)}")
        totals = ", ".join(f"{currency} Dr {debit} = Cr {credit}" for currency, (debit, credit) in checked.totals.items())
        verdict = "OK" if not checked.problems else "FAILED: " + "; ".join(checked.problems)
        lines.append(f"  {'control totals'.ljust(width, '.')} {checked.lines} lines, {totals} — {verdict}")
    for close in report.close_checks:
        label = f"close check ({close[0]} {close[1]})" if isinstance(close, tuple) else \
            f"close check ({close.entity_id} {close.period})"
        verdict = "not checked — " + close[2].split(":")[0] if isinstance(close, tuple) else \
            f"{len(close.tieouts) - len(close.differences)}/{len(close.tieouts)} tie-outs at 0.00 difference"
        lines.append(f"  {label.ljust(width, '.')} {verdict}")
    balanced = sum(1 for r in report.reconciliations if r.status == "balanced")
    lines.append(f"  {'reconciliation'.ljust(width, '.')} {balanced}/{len(report.reconciliations)} days balanced, "
                 f"{sum(len(r.differences) for r in report.reconciliations)} differences")
    return lines


def format_report(report: DemoReport) -> str:
    lines = ["", *summary_lines(report)]
    if report.bean_check[0] != 0:
        lines.append(report.bean_check[1])
    lines.append(f"  {'elapsed'.ljust(LABEL_WIDTH, '.')} {report.seconds:.1f} s")
    for checked in report.close_checks:
        lines += ["", ("  " + checked.table().replace("\n", "\n  ")) if not isinstance(checked, tuple)
                  else f"  close check {checked[0]} {checked[1]}: {checked[2]}"]
    lines += ["", "  deliveries:", *_delivery_lines(report)]
    routed = Counter((item.get("entity_id"), item.get("erp_connection")) for item in report.ledger
                     if item.get("status") == DocumentStatus.POSTED)
    lines += ["", "  routing (entity → ERP connection: documents posted):"]
    lines += [f"    {entity} → {connection}: {count}" for (entity, connection), count in sorted(routed.items())]
    lines += ["", "  trial balance (from the book):"]
    for (account, currency), amount in report.trial_balance.items():
        lines.append(f"    {account:<44} {amount:>12} {currency}")
    for entity_id, waterfall in report.waterfalls.items():
        lines += _waterfall_lines(entity_id, waterfall)
    for number, release in enumerate(report.releases, 1):
        for entity in _objects(release.get("entities")):
            journals = entity["journals_posted"]
            lines.append(f"  revenue release #{number} {entity['entity_id']} {entity['period']}: {entity['status']}"
                         f", {len(journals) if isinstance(journals, list) else 0} journal(s), "
                         f"{entity['lines_released']} line(s)")
    for case in report.exceptions:
        lines.append(f"  exception {case['exception_id']}: {case['reason']} — {str(case['message'])[:160]}")
    lines.append("")
    return "\n".join(lines)


def _delivery_lines(report: DemoReport) -> list[str]:
    lines = []
    for delivery in report.deliveries:
        detail = delivery.body.get("reason") or delivery.body.get("ack") or delivery.body.get("status", "")
        lines.append(f"    {delivery.status}  {delivery.label:<58} {detail}")
    for delivery in report.bank_files:
        lines.append(f"    S3   {delivery.label:<58} {delivery.body.get('outcome')}")
    for delivery in report.polls:
        body = delivery.body
        lines.append(f"    poll {delivery.label:<58} read {body.get('read')}, accepted {body.get('accepted')}, "
                     f"duplicates {body.get('duplicates')}, mark {body.get('cursor_before')} → {body.get('cursor_after')}")
    return lines


def _waterfall_lines(entity_id: str, waterfall: Mapping[str, object]) -> list[str]:
    """An entity's ``waterfall_report``, a table per currency."""
    lines: list[str] = []
    currencies = waterfall["currencies"]
    for currency, data in currencies.items() if isinstance(currencies, Mapping) else ():
        lines += ["", f"  deferred-revenue waterfall {entity_id} {currency} (`ledgerlink revenue waterfall "
                      f"--entity {entity_id}`):",
                  f"    {'period':<9} {'billed':>11} {'recognized':>11} {'adjusted':>11} {'closing':>11} "
                  f"{'released':>11}"]
        lines += [f"    {row['period']:<9} {row['billed']:>11} {row['recognized']:>11} {row['adjusted']:>11} "
                  f"{row['closing_deferred']:>11} {row['released']:>11}" for row in _objects(_field(data, "rows"))]
        lines.append(f"    deferred now {_field(data, 'deferred_now')} {currency} ({_field(data, 'lines')} schedule lines)")
    return lines
