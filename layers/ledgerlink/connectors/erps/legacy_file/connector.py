"""The legacy flat-file target: a GL import file (CSV or fixed width) per entity and accounting day, with a
control-total trailer, for ERPs that only read files (and for documents dated before an entity's cutover).

Layout (an S3 prefix on AWS, a directory locally)::

    parts/<entity>/<day>/<document id>.json   one per posted journal, created once (the exactly-once guard)
    index/<document id>                       "<entity>/<day>", for lookups by external id
    pending/<entity>/<day>                    "this day has parts not yet in a file"
    files/<entity>/GL_<company>_<entity>_<yyyymmdd>_<seq>.<csv|txt>   the import files, never rewritten

``seal`` (the scheduled flush) turns a day's new parts into the next numbered file: the pending marker is
removed *before* the parts are listed, so a part staged meanwhile re-creates it and is sealed next time;
files are created only if absent, so two concurrent seals cannot both write file 001. Every file ends
with one trailer record per currency: number of lines, total debits, total credits (equal by construction).

CSV records: ``H,company,entity,yyyymmdd,seq`` · ``D,company,entity,yyyymmdd,document id,line,account,debit,
credit,currency,memo`` · ``T,currency,lines,debits,credits``. Fixed width uses the same fields at fixed
positions (see ``FIXED_WIDTH``), amounts right-aligned with an explicit decimal point, text ASCII-folded.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypedDict

from ledgerlink.config.model import Entity
from ledgerlink.connectors.erps.base import (
    BulkItemResult,
    BulkPoster,
    ConnectionLimits,
    DayLister,
    PeriodStatus,
    PostResult,
)
from ledgerlink.connectors.erps.legacy_file.config import LegacyFileConnection
from ledgerlink.model.documents import JournalEntry
from ledgerlink.model.money import Money
from ledgerlink.store.objects import ObjectStore

# field → width, for the fixed-width layout (records are padded to the same length)
FIXED_WIDTH = {"type": 1, "company": 8, "entity": 12, "date": 8, "document": 36, "line": 4, "account": 20,
               "debit": 18, "credit": 18, "currency": 3, "memo": 40}


class StagedLine(TypedDict):
    account: str
    amount: str          # Money.canonical()
    currency: str
    memo: str


class StagedJournal(TypedDict):
    """A journal staged as ``parts/<entity>/<day>/<document id>.json`` until its day is sealed into a file."""

    document_id: str
    entity: str
    date: str
    memo: str
    lines: list[StagedLine]


@dataclass(frozen=True, slots=True)
class SealedFile:
    name: str
    entity: str
    day: date
    lines: int
    totals: dict[str, tuple[Decimal, Decimal]]   # currency → (debits, credits)


def _ascii(text: str, width: int | None = None) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    folded = " ".join(folded.split())
    return folded[:width] if width else folded


class LegacyFile:
    def __init__(self, connection: LegacyFileConnection, store: ObjectStore) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self.store = store

    # ---- connector interface -----------------------------------------------------------------------

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=None, daily_budget=None, max_concurrency=None, bulk_size=1000)

    def period_status(self, entity: Entity, on: date) -> PeriodStatus:
        closed = entity.closed_through is not None and on <= entity.closed_through
        return PeriodStatus(open=not closed, closed_through=entity.closed_through, source="config")

    def post_journal(self, journal: JournalEntry) -> PostResult:
        day = journal.accounting_date.isoformat()
        part = f"parts/{journal.entity_id}/{day}/{journal.document_id}.json"
        created = self.store.create(part, json.dumps(self._part(journal), sort_keys=True).encode())
        self.store.create(f"index/{journal.document_id}", f"{journal.entity_id}/{day}".encode())
        self.store.write(f"pending/{journal.entity_id}/{day}", b"")   # after the part: see the module docstring
        return PostResult(erp_ref=self.store.location(part), created=created)

    def post_journals(self, journals: Sequence[JournalEntry]) -> list[BulkItemResult]:
        return [BulkItemResult(journal.document_id, self.post_journal(journal)) for journal in journals]

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        """Import files hold journals only: ``kind`` does not narrow anything."""
        where = self.store.read(f"index/{external_id}")
        if where is None:
            return None
        part = f"parts/{where.decode()}/{external_id}.json"
        return PostResult(erp_ref=self.store.location(part), created=False) if self.store.read(part) else None

    # ---- what else it does (the port's capability questions) ------------------------------------

    def as_bulk_poster(self) -> BulkPoster:
        return self

    def as_document_poster(self) -> None:
        return None   # a GL import file holds journals

    def as_party_keeper(self) -> None:
        return None

    def as_reader(self) -> None:
        return None   # reconciliation lists the staged parts by id (as_day_lister)

    def as_day_lister(self) -> DayLister:
        return self

    def as_preparer(self) -> None:
        return None   # the legacy GL's accounts are the legacy GL's

    def api_calls(self) -> None:
        return None

    def posted_on(self, entity_id: str, business_date: str) -> list[str]:
        """External ids staged for an entity's day (reconciliation's ERP check reads the target itself)."""
        prefix = f"parts/{entity_id}/{business_date}/"
        return sorted(name.rsplit("/", 1)[-1].removesuffix(".json") for name in self.store.names(prefix))

    def posted_count(self, entity_id: str, business_date: str) -> int:
        return len(self.store.names(f"parts/{entity_id}/{business_date}/"))

    @staticmethod
    def _part(journal: JournalEntry) -> StagedJournal:
        return {"document_id": journal.document_id, "entity": journal.entity_id,
                "date": journal.accounting_date.isoformat(), "memo": journal.memo or "",
                "lines": [{"account": line.account, "amount": line.amount.canonical(),
                           "currency": line.amount.currency, "memo": line.memo or journal.memo or ""}
                          for line in journal.lines]}

    # ---- sealing: parts → import files -------------------------------------------------------------

    def pending_days(self) -> list[tuple[str, date]]:
        days = []
        for name in self.store.names("pending/"):
            _, entity, day = name.split("/")
            days.append((entity, date.fromisoformat(day)))
        return sorted(days)

    def seal(self, through: date | None = None) -> list[SealedFile]:
        """Write the import file(s) for every pending (entity, day) up to ``through`` (inclusive)."""
        sealed = []
        for entity, day in self.pending_days():
            if through is None or day <= through:
                result = self.seal_day(entity, day)
                if result is not None:
                    sealed.append(result)
        return sealed

    def sealed_files(self, entity: str, day: date | None = None) -> list[str]:
        stamp = f"_{day:%Y%m%d}_" if day else ""
        return [name for name in self.store.names(f"files/{entity}/") if stamp in name]

    def seal_day(self, entity: str, day: date) -> SealedFile | None:
        self.store.delete(f"pending/{entity}/{day.isoformat()}")
        for _ in range(5):
            existing = self.sealed_files(entity, day)
            done = {document for name in existing for document in self._documents_in(name)}
            parts = [name for name in self.store.names(f"parts/{entity}/{day.isoformat()}/")
                     if name.rsplit("/", 1)[-1].removesuffix(".json") not in done]
            if not parts:
                return None
            journals: list[StagedJournal] = [json.loads(self.store.read(name) or b"{}") for name in sorted(parts)]
            name = self._file_name(entity, day, len(existing) + 1)
            text, totals, count = self.render(entity, day, len(existing) + 1, journals)
            if self.store.create(name, text.encode("utf-8")):
                return SealedFile(name=self.store.location(name), entity=entity, day=day, lines=count, totals=totals)
        return None  # another seal kept winning the race; its files hold the parts

    def _file_name(self, entity: str, day: date, sequence: int) -> str:
        suffix = "csv" if self.connection.format == "csv" else "txt"
        return f"files/{entity}/GL_{self.connection.company_code}_{entity}_{day:%Y%m%d}_{sequence:03d}.{suffix}"

    def _documents_in(self, name: str) -> set[str]:
        text = (self.store.read(name) or b"").decode("utf-8")
        documents = set()
        for record in self.parse(text):
            if record["type"] == "D":
                documents.add(record["document"])
        return documents

    def render(self, entity: str, day: date, sequence: int,
               journals: list[StagedJournal]) -> tuple[str, dict[str, tuple[Decimal, Decimal]], int]:
        records: list[dict[str, str]] = [{"type": "H", "company": self.connection.company_code, "entity": entity,
                                          "date": f"{day:%Y%m%d}", "document": f"{sequence:03d}"}]
        totals: dict[str, tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
        count = 0
        for journal in journals:
            for number, line in enumerate(journal["lines"], start=1):
                amount = Decimal(Money.of(line["amount"], line["currency"]).canonical())
                debit, credit = (amount, Decimal(0)) if amount > 0 else (Decimal(0), -amount)
                currency = line["currency"]
                totals[currency] = (totals[currency][0] + debit, totals[currency][1] + credit)
                count += 1
                records.append({"type": "D", "company": self.connection.company_code, "entity": entity,
                                "date": f"{day:%Y%m%d}", "document": journal["document_id"], "line": str(number),
                                "account": line["account"], "debit": f"{debit:f}", "credit": f"{credit:f}",
                                "currency": currency, "memo": line["memo"]})
        for currency in sorted(totals):
            debits, credits = totals[currency]
            lines = sum(1 for r in records if r["type"] == "D" and r["currency"] == currency)
            records.append({"type": "T", "currency": currency, "line": str(lines), "debit": f"{debits:f}",
                            "credit": f"{credits:f}"})
        return self._format(records), dict(totals), count

    # ---- formats ------------------------------------------------------------------------------------

    CSV_FIELDS = {"H": ("type", "company", "entity", "date", "document"),
                  "D": ("type", "company", "entity", "date", "document", "line", "account", "debit", "credit",
                        "currency", "memo"),
                  "T": ("type", "currency", "line", "debit", "credit")}

    def _format(self, records: list[dict[str, str]]) -> str:
        if self.connection.format == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            for record in records:
                writer.writerow([record.get(field, "") for field in self.CSV_FIELDS[record["type"]]])
            return out.getvalue()
        lines = []
        for record in records:
            row = ""
            for field, width in FIXED_WIDTH.items():
                value = _ascii(record.get(field, ""), width)
                row += value.rjust(width) if field in ("debit", "credit", "line") else value.ljust(width)
            lines.append(row)
        return "\r\n".join(lines) + "\r\n"

    def parse(self, text: str) -> list[dict[str, str]]:
        """Read a file back (tests, reconciliation, the demo's control-total check)."""
        records = []
        if self.connection.format == "csv":
            for row in csv.reader(io.StringIO(text)):
                if row:
                    records.append(dict(zip(self.CSV_FIELDS[row[0]], row, strict=False)))
            return records
        for raw in text.splitlines():
            if not raw:
                continue
            record, position = {}, 0
            for field, width in FIXED_WIDTH.items():
                record[field] = raw[position:position + width].strip()
                position += width
            records.append(record)
        return records
