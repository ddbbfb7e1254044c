"""Parsers for bank statement files → plain statement lines (stdlib + defusedxml; amounts stay decimal strings).

- **camt.053** (``urn:iso:std:iso:20022:tech:xsd:camt.053.001.02`` … ``.08``): read namespace-agnostically
  because the versions differ in small ways (``Sts`` text vs ``Sts/Cd``, ``BookgDt/Dt`` vs ``DtTm``, account
  ``IBAN`` vs ``Othr/Id``, related parties with or without ``Pty``). Every ``Ntry`` is one line; ``CRDT`` is
  positive, ``DBIT`` negative, a reversal (``RvslInd=true``) flips the sign.
- **BAI2**: records split by ``/`` and line breaks (continuations of the text field and several records on
  one line both occur in real files); ``16`` detail records with the funds-type-specific fields skipped;
  amounts in minor units of the group's (or account's) currency; type codes 100–399 credit, 400–699 debit.

Anything that is not such a file raises :class:`StatementError` (the caller makes it an exception case): camt.053
XML is parsed by ``safe_parse.parse_xml`` (defusedxml: a DOCTYPE or entity is refused in any encoding, elements
nest at most 64 deep), and a file in UTF-16/32 is refused before any parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date

from ledgerlink.connectors.sources import safe_parse


class StatementError(ValueError):
    """The file is not a readable camt.053 / BAI2 statement."""


@dataclass(frozen=True, slots=True)
class StatementLine:
    line_key: str               # stable within the bank account: servicer reference or statement position
    account: str
    currency: str
    amount: str                 # signed decimal string in major units ("-12.50")
    minor_units: int | None     # BAI2 gives minor units; camt gives a decimal
    booking_date: str
    value_date: str | None
    status: str                 # BOOK | PDNG | INFO
    reference: str | None       # remittance information / customer reference (what cash application reads)
    references: tuple[str, ...]
    counterparty: str | None
    bank_reference: str | None
    statement_id: str
    format: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def detect(text: str) -> str:
    if text.startswith(("\xff\xfe", "\xfe\xff")) or "\x00" in text[:4]:
        # UTF-16/32 bytes read as Latin-1 (a byte-order mark) or as UTF-8 (NULs between the first characters):
        # nothing of such a file is parsed, whatever it declares (a DOCTYPE included, D95)
        raise StatementError("the file is encoded in UTF-16 or UTF-32: camt.053 statements are read as UTF-8 and "
                             "BAI2 files as ASCII; have the bank (or the export) deliver UTF-8")
    head = text.lstrip("\ufeff \r\n\t")[:4096]
    if head.startswith("01,"):
        return "bai2"
    if "camt.053" in head and "<" in head:
        return "camt053"
    raise StatementError("neither a camt.053 XML statement nor a BAI2 file")


def parse(text: str) -> list[StatementLine]:
    return parse_camt053(text) if detect(text) == "camt053" else parse_bai2(text)


# ---- camt.053 -----------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element | None, *path: str) -> ET.Element | None:
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _children(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name] if element is not None else []


def _text(element: ET.Element | None, *path: str) -> str | None:
    found = _child(element, *path)
    value = (found.text or "").strip() if found is not None else ""
    return value or None


def _all_text(element: ET.Element | None, name: str) -> list[str]:
    if element is None:
        return []
    return [(e.text or "").strip() for e in element.iter() if _local(e.tag) == name and (e.text or "").strip()]


def _date(element: ET.Element | None) -> str | None:
    raw = _text(element, "Dt") or _text(element, "DtTm")
    return raw[:10] if raw else None


_CAMT_AMOUNT = re.compile(r"\d{1,18}(\.\d{0,5})?|\.\d{1,5}", re.ASCII)   # ActiveOrHistoricCurrencyAndAmount


def _camt_amount(entry: ET.Element, statement_id: str, position: int) -> tuple[str, str | None]:
    """The entry's amount as written (a non-negative decimal string) and its currency attribute."""
    amount_el = _child(entry, "Amt")
    amount = (amount_el.text or "").strip() if amount_el is not None else ""
    if amount_el is None or not amount:
        raise StatementError(f"statement {statement_id} entry {position} has no amount")
    if not _CAMT_AMOUNT.fullmatch(amount):   # xs:decimal ≥ 0: no sign, exponent, NaN or grouping
        raise StatementError(f"statement {statement_id} entry {position}: amount {amount[:40]!r} is not a "
                             "non-negative decimal")
    return amount, amount_el.get("Ccy")


def _camt_entry(entry: ET.Element, position: int, statement_id: str, account: str,
                account_currency: str | None) -> StatementLine:
    amount, entry_currency = _camt_amount(entry, statement_id, position)
    currency = entry_currency or account_currency
    if not currency:
        raise StatementError(f"statement {statement_id} entry {position} has no currency")
    direction = _text(entry, "CdtDbtInd")
    if direction not in ("CRDT", "DBIT"):
        raise StatementError(f"statement {statement_id} entry {position}: CdtDbtInd {direction!r}")
    negative = (direction == "DBIT") != (_text(entry, "RvslInd") == "true")
    status = _text(entry, "Sts") or _text(entry, "Sts", "Cd") or "BOOK"
    booking = _date(_child(entry, "BookgDt"))
    if not booking:
        raise StatementError(f"statement {statement_id} entry {position} has no booking date")
    details = _child(entry, "NtryDtls")
    remittance = [*_all_text(details, "Ustrd"), *_all_text(_child(details, "TxDtls", "RmtInf"), "Ref")]
    refs = [*_all_text(_child(details, "TxDtls", "Refs"), "EndToEndId"),
            *_all_text(_child(details, "TxDtls", "Refs"), "InstrId"),
            *_all_text(entry, "AddtlNtryInf")]
    party_root = _child(details, "TxDtls", "RltdPties")
    party = "Dbtr" if direction == "CRDT" else "Cdtr"
    counterparty = _text(party_root, party, "Nm") or _text(party_root, party, "Pty", "Nm")
    servicer = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    return StatementLine(
        line_key=f"{statement_id}:{servicer or position}", account=account, currency=currency.upper(),
        amount=("-" if negative else "") + amount, minor_units=None, booking_date=booking,
        value_date=_date(_child(entry, "ValDt")), status=status,
        reference=" ".join(remittance) or None, references=tuple(dict.fromkeys([*remittance, *refs])),
        counterparty=counterparty, bank_reference=servicer, statement_id=statement_id, format="camt053")


def _camt_statement(statement: ET.Element) -> list[StatementLine]:
    statement_id = _text(statement, "Id") or "unknown"
    account_el = _child(statement, "Acct")
    account = _text(account_el, "Id", "IBAN") or _text(account_el, "Id", "Othr", "Id")
    if not account:
        raise StatementError(f"statement {statement_id} names no account")
    account_currency = _text(account_el, "Ccy")
    return [_camt_entry(entry, position, statement_id, account, account_currency)
            for position, entry in enumerate(_children(statement, "Ntry"))]


def parse_camt053(text: str) -> list[StatementLine]:
    try:  # defusedxml: no DOCTYPE / entity / external reference in any encoding; at most 64 nested elements
        root = safe_parse.parse_xml(text.encode("utf-8"))
    except safe_parse.UnreadableInput as exc:
        raise StatementError(f"{exc.message} ({exc.reason})") from None
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if not re.fullmatch(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0[2-8]", namespace):
        raise StatementError(f"unsupported camt namespace {namespace!r} (camt.053.001.02 to .08 are read)")
    statements = _children(_child(root, "BkToCstmrStmt"), "Stmt")
    if not statements:
        raise StatementError("camt.053 document has no Stmt")
    return [line for statement in statements for line in _camt_statement(statement)]


# ---- BAI2 ---------------------------------------------------------------------------------------

_RECORD_START = re.compile(r"^\d{2},")


def _records(text: str) -> list[str]:
    """Logical records: physical lines, several records on one line split at ``/`` before a record code,
    continuation lines (not starting with a record code) appended to the record before."""
    records: list[str] = []
    for raw_line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not raw_line.strip():
            continue
        for piece in re.split(r"/\s+(?=\d{2},)", raw_line.strip()):
            if _RECORD_START.match(piece) or not records:
                records.append(piece)
            else:
                records[-1] += " " + piece
    return [record.rstrip().removesuffix("/").rstrip() for record in records]


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts other scripts' digits and superscripts (``int('²')`` fails)."""
    return text.isascii() and text.isdigit()


def _yymmdd(raw: str) -> str:
    try:
        return date(2000 + int(raw[0:2]), int(raw[2:4]), int(raw[4:6])).isoformat()
    except (ValueError, IndexError):
        raise StatementError(f"BAI2 date {raw!r} is not YYMMDD") from None


_FUNDS_EXTRA = {"V": 2, "S": 3}


@dataclass(slots=True)
class _Bai2Reader:
    """Where a BAI2 file is while its records are read: the group (02) and account (03) in force, the lines so far."""

    file_id: str
    group_currency: str = "USD"
    as_of: str | None = None
    account: str | None = None
    account_currency: str | None = None
    index: int = 0
    previous: str = "01"
    lines: list[StatementLine] = field(default_factory=list)

    def group(self, fields: list[str], rest: str, continues_detail: bool) -> None:
        self.as_of = _yymmdd(fields[3]) if len(fields) > 3 else None
        self.group_currency = (fields[5] if len(fields) > 5 and fields[5] else "USD").upper()

    def open_account(self, fields: list[str], rest: str, continues_detail: bool) -> None:
        self.account = fields[0] or None
        self.account_currency = (fields[1] if len(fields) > 1 and fields[1] else self.group_currency).upper()

    def detail(self, fields: list[str], rest: str, continues_detail: bool) -> None:
        if self.account is None or self.as_of is None:
            raise StatementError("BAI2 16 record outside an account (03) of a group (02)")
        self.index += 1
        self.lines.append(_bai2_detail(fields, rest, self.account, self.account_currency or self.group_currency,
                                       self.as_of, f"{self.file_id}:{self.as_of}:{self.index}", self.file_id))

    def continuation(self, fields: list[str], rest: str, continues_detail: bool) -> None:
        """An 88 after a 16 continues its text; after 02/03 it continues a summary record: nothing to keep."""
        extra = rest.strip()
        if continues_detail and self.lines and extra:
            last = self.lines[-1]
            self.lines[-1] = replace(last, reference=f"{last.reference or ''} {extra}".strip(),
                                     references=(*last.references, extra))

    def trailer(self, fields: list[str], rest: str, continues_detail: bool) -> None:
        """49 / 98 / 99: account, group and file trailers carry nothing a line needs."""


_BAI2_RECORDS: dict[str, Callable[[_Bai2Reader, list[str], str, bool], None]] = {
    "02": _Bai2Reader.group, "03": _Bai2Reader.open_account, "16": _Bai2Reader.detail,
    "88": _Bai2Reader.continuation, "49": _Bai2Reader.trailer, "98": _Bai2Reader.trailer,
    "99": _Bai2Reader.trailer,
}


def _bai2_detail_refs(fields: list[str]) -> tuple[str | None, str, str, str]:
    """(value date, bank reference, customer reference, free text) after a 16 record's funds type, whose extra
    fields (availability distribution) are skipped."""
    funds = fields[2].strip()
    position = 3 + _FUNDS_EXTRA.get(funds, 0)
    value_date = _yymmdd(fields[3]) if funds == "V" and len(fields) > 3 and fields[3] else None
    if funds == "D" and len(fields) > 3 and _digits(fields[3]):
        position = 4 + 2 * int(fields[3])
    bank_ref = fields[position].strip() if len(fields) > position else ""
    customer_ref = fields[position + 1].strip() if len(fields) > position + 1 else ""
    free_text = ",".join(fields[position + 2:]).strip() if len(fields) > position + 2 else ""
    return value_date, bank_ref, customer_ref, free_text


def _bai2_sign(type_code: int) -> int:
    if 100 <= type_code < 400:
        return 1
    if 400 <= type_code < 700:
        return -1
    raise StatementError(f"BAI2 type code {type_code} is neither a credit nor a debit detail")


def _bai2_detail(fields: list[str], rest: str, account: str, currency: str, as_of: str, key: str,
                 file_id: str) -> StatementLine:
    """A 16 (transaction detail) record: type code, amount in minor units, funds type, references, text."""
    if len(fields) < 3 or not _digits(fields[0]):
        raise StatementError(f"BAI2 16 record has no type code: {('16,' + rest)[:40]!r}")
    type_code = int(fields[0])
    raw_amount = fields[1].strip()
    if not _digits(raw_amount):
        raise StatementError(f"BAI2 16 record amount {raw_amount!r} is not unsigned minor units")
    value_date, bank_ref, customer_ref, free_text = _bai2_detail_refs(fields)
    minor = _bai2_sign(type_code) * int(raw_amount)
    refs = tuple(r for r in (customer_ref, free_text) if r)
    return StatementLine(
        line_key=f"{key}:{bank_ref}", account=account, currency=currency, amount=str(minor), minor_units=minor,
        booking_date=as_of, value_date=value_date, status="BOOK", reference=" ".join(refs) or None, references=refs,
        counterparty=None, bank_reference=bank_ref or None, statement_id=f"{file_id}:{account}", format="bai2")


def parse_bai2(text: str) -> list[StatementLine]:
    records = _records(text)
    if not records or not records[0].startswith("01,"):
        raise StatementError("BAI2 file does not start with a 01 file header")
    header = records[0].split(",")
    if len(header) < 5 or not re.fullmatch(r"\d{6}", header[3] or ""):
        raise StatementError("BAI2 file header has no creation date (YYMMDD)")
    reader = _Bai2Reader(file_id=header[5] if len(header) > 5 and header[5] else header[3])
    for record in records[1:]:
        code, _, rest = record.partition(",")
        continues_detail = code == "88" and reader.previous == "16"
        if code != "88":
            reader.previous = code
        handler = _BAI2_RECORDS.get(code)
        if handler is None:
            raise StatementError(f"unknown BAI2 record code {code!r}")
        handler(reader, rest.split(","), rest, continues_detail)
    return reader.lines
