"""The legacy flat-file target on a local directory: one import file per entity and day, exactly once, with
control totals that tie out (the S3 variant runs in tests/functional)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerlink.config.erps import LegacyFileConnection
from ledgerlink.connectors.erps.legacy_file import FIXED_WIDTH, LegacyFile
from ledgerlink.store.objects import FileObjectStore

from tests.contract.builders import journal


def target(tmp_path: Path, fmt: str = "csv") -> LegacyFile:
    connection = LegacyFileConnection(id="legacy", kind="legacy_file", format=fmt, company_code="ACME")
    return LegacyFile(connection, FileObjectStore(tmp_path / "legacy"))


DAY = date(2025, 6, 30)


def test_a_journal_is_staged_once_and_found_by_external_id(tmp_path: Path):
    legacy = target(tmp_path)
    entry = journal("a", [("1200", "100.00"), ("4000", "-100.00")], on=DAY)
    assert legacy.post_journal(entry).created is True
    assert legacy.post_journal(entry).created is False            # a retry finds the staged part
    assert legacy.find_by_external_id(entry.document_id) is not None
    assert legacy.find_by_external_id("doc_unknown") is None
    assert legacy.pending_days() == [("us01", DAY)]


def test_sealing_writes_one_file_per_entity_and_day_with_a_control_total_trailer(tmp_path: Path):
    legacy = target(tmp_path)
    legacy.post_journal(journal("a", [("1200", "100.00"), ("4000", "-100.00")], on=DAY))
    legacy.post_journal(journal("b", [("1200", "20.50"), ("4000", "-15.50"), ("2200", "-5.00")], on=DAY))
    legacy.post_journal(journal("c", [("1200", "1.00"), ("4000", "-1.00")], on=date(2025, 7, 1)))
    sealed = legacy.seal(through=DAY)
    (file,) = sealed
    assert Path(file.name).name == "GL_ACME_us01_20250630_001.csv"
    records = legacy.parse(Path(file.name).read_text())
    assert [r["type"] for r in records] == ["H"] + ["D"] * 5 + ["T"]
    (trailer,) = [r for r in records if r["type"] == "T"]
    debits = sum(Decimal(r["debit"]) for r in records if r["type"] == "D")
    credits = sum(Decimal(r["credit"]) for r in records if r["type"] == "D")
    assert (trailer["currency"], int(trailer["line"]), Decimal(trailer["debit"]), Decimal(trailer["credit"])) == (
        "USD", 5, debits, credits)
    assert debits == credits == Decimal("120.50")
    assert legacy.pending_days() == [("us01", date(2025, 7, 1))]   # the next day waits for its own seal


def test_late_parts_go_to_the_next_numbered_file_never_into_a_written_one(tmp_path: Path):
    legacy = target(tmp_path)
    legacy.post_journal(journal("a", [("1200", "10.00"), ("4000", "-10.00")], on=DAY))
    (first,) = legacy.seal()
    before = Path(first.name).read_bytes()
    assert legacy.seal() == []                                     # nothing new: no file
    legacy.post_journal(journal("late", [("1200", "3.00"), ("4000", "-3.00")], on=DAY))
    (second,) = legacy.seal()
    assert Path(second.name).name.endswith("_002.csv") and second.lines == 2
    assert Path(first.name).read_bytes() == before                 # file 001 untouched
    assert legacy.sealed_files("us01", DAY) == [f"files/us01/GL_ACME_us01_20250630_{n}.csv" for n in ("001", "002")]


def test_a_part_staged_while_a_seal_runs_is_sealed_next_time(tmp_path: Path):
    legacy = target(tmp_path)
    legacy.post_journal(journal("a", [("1200", "10.00"), ("4000", "-10.00")], on=DAY))
    # the seal removes the pending marker first; a part staged right after re-creates it
    legacy.store.delete(f"pending/us01/{DAY.isoformat()}")
    legacy.post_journal(journal("b", [("1200", "5.00"), ("4000", "-5.00")], on=DAY))
    sealed = legacy.seal()
    assert len(sealed) == 1 and sealed[0].lines == 4 and legacy.pending_days() == []


def test_each_currency_of_a_day_gets_its_own_trailer(tmp_path: Path):
    legacy = target(tmp_path)
    legacy.post_journal(journal("usd", [("1200", "10.00"), ("4000", "-10.00")], on=DAY))
    legacy.post_journal(journal("jpy", [("1200", "500"), ("4000", "-500")], currency="JPY", on=DAY))
    (sealed,) = legacy.seal()
    assert sealed.totals == {"JPY": (Decimal("500"), Decimal("500")), "USD": (Decimal("10.00"), Decimal("10.00"))}


def test_fixed_width_records_have_one_length_and_ascii_text(tmp_path: Path):
    legacy = target(tmp_path, "fixed_width")
    legacy.post_journal(journal("fw", [("1200", "1234567.89"), ("4000", "-1234567.89")], on=DAY,
                                memo="Überweisung für Müller, 日本"))
    (sealed,) = legacy.seal()
    text = Path(sealed.name).read_text()
    lines = text.splitlines()
    assert {len(line) for line in lines} == {sum(FIXED_WIDTH.values())}
    assert text.isascii()
    records = legacy.parse(text)
    assert [r["type"] for r in records] == ["H", "D", "D", "T"]
    assert Decimal(records[-1]["debit"]) == Decimal("1234567.89") == Decimal(records[-1]["credit"])


@pytest.mark.parametrize("fmt", ["csv", "fixed_width"])
def test_files_round_trip_every_document_id(tmp_path: Path, fmt: str):
    legacy = target(tmp_path, fmt)
    ids = {legacy.post_journal(j := journal(f"rt{i}", [("1200", "1.00"), ("4000", "-1.00")], on=DAY)) and j.document_id
           for i in range(7)}
    (sealed,) = legacy.seal()
    assert legacy._documents_in(sealed.name.split("/legacy/", 1)[1]) == ids
