"""ERP calls to read back one entity-day of 10,000 posted documents, per API ERP (issue 19): the daily
reconciliation lists what each ERP holds — page by page, never one call per document — and compares it with the
ledger document by document.

The ERPs are the contract-test servers (tests/contract) on 127.0.0.1, which page and filter the way each ERP does
(Xero ``page``/``pageSize`` ≤ 1,000; QuickBooks ``STARTPOSITION``/``MAXRESULTS`` ≤ 1,000; SuiteQL ``limit`` ≤ 1,000
rows, one row per GL line; Business Central ``$top``/``$skip`` over G/L entries, one per line). The 10,000 journals
are placed in each server as the connector's own request bodies would have created them (posting them over HTTP
first is what bench/erp_calls.py measures), with three changes made "by hand": one voided or deleted, one edited, one
posted twice. The Reconciler then runs for the day exactly as the reconcile Lambda does; the bench counts the
requests each server saw and the wall time, and checks that the three differences were named.

Target: ERP calls ≤ 1 % of the documents read back (≤ 100 per 10,000).
"""

from __future__ import annotations

import argparse
import copy
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bench.report import RESULTS, table, verdict, write_section

DAY = date(2026, 3, 4)
DOCUMENTS = 10_000
TARGET_RATIO = Decimal("0.01")
IDS = {"tenant": "2b9f1b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "company": "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1",
       "journal": "dd1b6a90-44e3-ea11-bb43-000d3a2feca1", "realm": "9130357012345678", "account": "1234567"}
DEBIT, CREDIT, OTHER = "1100", "4000", "6100"


def _journal(n: int) -> Any:
    from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
    from ledgerlink.model.money import Money

    amount = f"{100 + n % 900}.{n % 100:02d}"
    source = SourceRef(system="bench", object_type="journal", object_id=f"rb{n}", version="1", event_id=f"evt_rb{n}")
    return JournalEntry(document_id=source.document_id(), source=source, entity_id="us01", correlation_id=f"c{n}",
                        occurred_at=datetime(DAY.year, DAY.month, DAY.day, 12, tzinfo=UTC), accounting_date=DAY,
                        currency="USD", memo=f"bench journal {n}",
                        lines=(JournalLine(account=DEBIT, amount=Money.of(amount, "USD")),
                               JournalLine(account=CREDIT, amount=Money.of(f"-{amount}", "USD"))))


class _Erp:
    """One ERP: its server app, its connection, and how a posted journal sits in its store."""

    name = ""
    kind = ""

    def __init__(self, clock: Any) -> None:
        self.app = self.build(clock)

    def build(self, clock: Any) -> Any:
        raise NotImplementedError

    def connection(self, url: str) -> dict[str, Any]:
        raise NotImplementedError

    def credentials(self) -> dict[str, str]:
        raise NotImplementedError

    def place(self, connector: Any, journal: Any) -> str:
        """Store the journal as the connector's own request body creates it; returns its erp_ref."""
        raise NotImplementedError

    def change_by_hand(self, refs: list[str]) -> None:
        """refs[0] voided / deleted / reversed, refs[1] edited (amount), refs[2] posted twice."""
        raise NotImplementedError


class _Xero(_Erp):
    name, kind = "Xero", "xero"

    def build(self, clock):
        from tests.contract.xero_server import XeroApp, XeroSpec

        return XeroApp(clock, XeroSpec(), tenant_id=IDS["tenant"], client_id="b", client_secret="b",
                       refresh_token="r", accounts={DEBIT, CREDIT, OTHER})

    def connection(self, url):
        return {"id": "xero", "kind": "xero", "tenant_id": IDS["tenant"], "credentials": {"secret_id": "xero"},
                "base_url": f"{url}/api.xro/2.0", "token_url": f"{url}/connect/token"}

    def credentials(self):
        return {"client_id": "b", "client_secret": "b", "refresh_token": "r"}

    def place(self, connector, journal):
        body = {**connector.manual_journal(journal), "ManualJournalID": str(uuid.uuid4())}
        self.app.journals.append(body)
        return f"xero:ManualJournal/{body['ManualJournalID']}"

    def _get(self, ref):
        return next(j for j in self.app.journals if j["ManualJournalID"] == ref.rsplit("/", 1)[-1])

    def change_by_hand(self, refs):
        self._get(refs[0])["Status"] = "VOIDED"
        lines = self._get(refs[1])["JournalLines"]
        lines[0]["LineAmount"] += 1
        lines[1]["LineAmount"] -= 1
        self.app.journals.append({**copy.deepcopy(self._get(refs[2])), "ManualJournalID": str(uuid.uuid4())})


class _QuickBooks(_Erp):
    name, kind = "QuickBooks Online", "quickbooks_online"

    def build(self, clock):
        from tests.contract.quickbooks_server import QuickBooksApp

        return QuickBooksApp(clock, realm_id=IDS["realm"], client_id="b", client_secret="b", refresh_token="r",
                             accounts={DEBIT, CREDIT, OTHER})

    def connection(self, url):
        return {"id": "qbo", "kind": "quickbooks_online", "realm_id": IDS["realm"], "credentials": {"secret_id": "qbo"},
                "base_url": url, "token_url": f"{url}/oauth2/v1/tokens/bearer"}

    def credentials(self):
        return {"client_id": "b", "client_secret": "b", "refresh_token": "r"}

    def place(self, connector, journal):
        self.app._ids += 1
        self.app.of("JournalEntry").append({**connector.journal_entry(journal), "Id": str(self.app._ids)})
        return f"qbo:JournalEntry/{self.app._ids}"

    def _get(self, ref):
        return next(r for r in self.app.of("JournalEntry") if r["Id"] == ref.rsplit("/", 1)[-1])

    def change_by_hand(self, refs):
        self.app.of("JournalEntry").remove(self._get(refs[0]))
        for line in self._get(refs[1])["Line"]:
            line["Amount"] += 1
        self.app._ids += 1
        self.app.of("JournalEntry").append({**copy.deepcopy(self._get(refs[2])), "Id": str(self.app._ids)})


class _NetSuite(_Erp):
    name, kind = "NetSuite", "netsuite"

    def build(self, clock):
        from tests.contract.netsuite_server import NetSuiteApp

        return NetSuiteApp(clock, account=IDS["account"], consumer=("ck", "cs"), token=("tk", "ts"),
                           accounts={DEBIT, CREDIT, OTHER})

    def connection(self, url):
        return {"id": "netsuite", "kind": "netsuite", "account_id": IDS["account"],
                "credentials": {"secret_id": "netsuite"}, "base_url": f"{url}/services/rest"}

    def credentials(self):
        return {"consumer_key": "ck", "consumer_secret": "cs", "token_id": "tk", "token_secret": "ts"}

    def place(self, connector, journal):
        self.app._ids += 1
        internal = str(self.app._ids)
        self.app.records.setdefault("journalentry", {})[internal] = {
            **connector.journal_body(journal), "id": internal, "externalId": journal.document_id}
        return f"netsuite:journalentry/{internal}"

    def change_by_hand(self, refs):
        records = self.app.records["journalentry"]
        del records[refs[0].rsplit("/", 1)[-1]]
        items = records[refs[1].rsplit("/", 1)[-1]]["line"]["items"]
        items[0]["debit"] += 1
        items[1]["credit"] += 1
        self.app._ids += 1
        records[str(self.app._ids)] = {**copy.deepcopy(records[refs[2].rsplit("/", 1)[-1]]), "id": str(self.app._ids),
                                       "externalId": None}


class _BusinessCentral(_Erp):
    name, kind = "Business Central", "business_central"
    tenant = "bench.onmicrosoft.com"

    def build(self, clock):
        from tests.contract.business_central_server import BusinessCentralApp

        return BusinessCentralApp(clock, tenant=self.tenant, environment="production", company_id=IDS["company"],
                                  journal_id=IDS["journal"], client_id="b", client_secret="b",
                                  accounts={DEBIT, CREDIT, OTHER})

    def connection(self, url):
        return {"id": "bc", "kind": "business_central", "tenant_id": self.tenant, "company_id": IDS["company"],
                "journal_id": IDS["journal"], "credentials": {"secret_id": "bc"},
                "base_url": f"{url}/v2.0/{self.tenant}/production/api/v2.0",
                "token_url": f"{url}/{self.tenant}/oauth2/v2.0/token"}

    def credentials(self):
        return {"client_id": "b", "client_secret": "b"}

    def place(self, connector, journal):
        lines = connector.journal_lines(journal)
        for line in lines:
            self.app.gl_entries.append(self._entry(line["accountNumber"], line["amount"], line["documentNumber"]))
        return f"bc:{lines[0]['documentNumber']}"

    def _entry(self, account, amount, number):
        return {"id": str(uuid.uuid4()), "entryNumber": len(self.app.gl_entries) + 1, "postingDate": DAY.isoformat(),
                "documentNumber": number, "documentType": " ", "accountNumber": account, "amount": amount,
                "debitAmount": max(amount, Decimal(0)), "creditAmount": max(-amount, Decimal(0))}

    def change_by_hand(self, refs):
        numbers = [ref.removeprefix("bc:") for ref in refs]
        entries = self.app.gl_entries
        for entry in [e for e in entries if e["documentNumber"] == numbers[0]]:   # reversed
            entries.append(self._entry(entry["accountNumber"], -entry["amount"], entry["documentNumber"]))
        for entry in [e for e in entries if e["documentNumber"] == numbers[1]]:
            amount = entry["amount"] + (1 if entry["amount"] > 0 else -1)
            entry.update(amount=amount, debitAmount=max(amount, Decimal(0)), creditAmount=max(-amount, Decimal(0)))
        entries.extend([{**e, "id": str(uuid.uuid4())} for e in entries if e["documentNumber"] == numbers[2]])


def measure(erp_class: type[_Erp], documents: int) -> dict[str, Any]:
    import json

    from ledgerlink.connectors.erps import BUILDERS, ConnectorContext

    from tests.contract import readback as rb
    from tests.contract.conftest import Limiters
    from tests.contract.server import ContractServer, FakeClock, MemorySecrets

    clock = FakeClock()
    erp = erp_class(clock)
    server = ContractServer(erp.app).start()
    try:
        if hasattr(erp.app, "base_url"):
            erp.app.base_url = server.url
        secrets = MemorySecrets()
        connection = erp.connection(server.url)
        secrets.values[connection["credentials"]["secret_id"]] = json.dumps(erp.credentials())
        config = rb.config_for(connection, {"receivable": DEBIT, "revenue": CREDIT, "fees.processing": OTHER})
        context = ConnectorContext(secrets=secrets, limiters=Limiters(clock), clock_ms=clock.ms, sleeper=clock.sleep)
        connector = BUILDERS[erp.kind](config.connection(connection["id"]), context)
        items = []
        for n in range(documents):
            journal = _journal(n)
            items.append(rb.posted_item(journal, erp.place(connector, journal), connection["id"]))
        erp.change_by_hand([items[n]["erp_ref"] for n in (documents // 4, documents // 2, 3 * documents // 4)])
        before = len(erp.app.log)
        started = time.perf_counter()
        report = rb.reconcile(config, connector, items, DAY.isoformat())
        seconds = time.perf_counter() - started
    finally:
        server.stop()
    (check,) = report.erp["connections"]
    found = sorted((d.kind, d.detail.get("reason") if d.kind == "unexpected_in_erp" else "") for d in report.differences)
    calls = len(erp.app.log) - before
    return {"erp": erp.name, "documents": documents, "erp_calls": calls, "listing_calls": check.get("erp_calls"),
            "calls_per_10000": round(calls * 10_000 / documents, 2), "ratio": round(calls / documents, 5),
            "seconds": round(seconds, 2), "differences": found,
            "differences_named": found == [("changed_in_erp", ""), ("missing_in_erp", ""),
                                           ("unexpected_in_erp", "duplicate")]}


def run(documents: int = DOCUMENTS) -> dict[str, Any]:
    rows = [measure(erp, documents) for erp in (_Xero, _QuickBooks, _NetSuite, _BusinessCentral)]
    ok = all(Decimal(str(row["ratio"])) <= TARGET_RATIO and row["differences_named"] for row in rows)
    return {"documents": documents, "rows": rows, "target_ratio": str(TARGET_RATIO), "target_met": ok}


def format_table(result: dict[str, Any]) -> str:
    return table(f"ERP read-back: one entity-day of {result['documents']:,} posted journals (3 changed by hand)",
                 ["ERP", "ERP calls", "per 10,000", "ratio", "seconds", "differences named"],
                 [[row["erp"], row["erp_calls"], row["calls_per_10000"], f"{row['ratio']:.2%}", row["seconds"],
                   "yes" if row["differences_named"] else f"NO {row['differences']}"] for row in result["rows"]]) + (
        f"target: ≤ {Decimal(result['target_ratio']):.0%} of documents — {verdict(result['target_met'])}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.erp_readback", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--documents", type=int, default=DOCUMENTS, help="posted journals on the entity-day")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(args.documents)
    print(format_table(result))
    write_section("erp_readback", {**result, "seconds": round(time.perf_counter() - started, 1)})
    print(f"results: {RESULTS.name} (key \"erp_readback\")")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
