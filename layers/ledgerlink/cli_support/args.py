"""Argument types of the ``ledgerlink`` command: each refuses what it does not understand.

argparse calls them while it parses; a refusal is an ``ArgumentTypeError`` whose text starts with a stable
reason code (``invalid_date: ...``), so the command stops with exit 2 and one line on stderr before it reads or
writes anything. Values that only the target's active configuration can judge (entities, sources) are checked
by :func:`check_known` once the target is known.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import NoReturn

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")   # ids of the config (model Identifier)
EXCEPTION_STATUSES = ("open", "retrying", "resolved", "ignored", "rejected", "all")
DOCUMENT_STATUSES = ("received", "posted", "exception", "ignored", "summarized")


class UsageError(Exception):
    """A value the command cannot act on, found after parsing (exit 2): ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str, *, code: int = 2) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.code = code          # 1 when the input was fine but the target cannot answer (a stopped stack)


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: ``ledgerlink reconcile: error: argument --date: invalid_date: ...``."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _refuse(reason: str, message: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{reason}: {message}")


def business_date(text: str) -> str:
    """YYYY-MM-DD, a real calendar day; returned as the ISO text the stores key on."""
    if not DATE.match(text or ""):
        _refuse("invalid_date", f"{text!r} is not a date YYYY-MM-DD (e.g. 2026-12-15)")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        _refuse("invalid_date", f"{text!r} is not a calendar date ({exc})")


def calendar_date(text: str) -> date:
    return date.fromisoformat(business_date(text))


def period(text: str) -> str:
    """YYYY-MM with a month 01..12."""
    match = PERIOD.match(text or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        _refuse("invalid_period", f"{text!r} is not a period YYYY-MM (e.g. 2026-11)")
    return text


def identifier(kind: str) -> Callable[[str], str]:   # an argparse type
    def parse(text: str) -> str:
        if not IDENTIFIER.match(text or ""):
            _refuse(f"invalid_{kind}", f"{text!r} is not a {kind} id (letters, digits, _ . : -; at most 128)")
        return text

    parse.__name__ = kind
    return parse


def choice(kind: str, allowed: Iterable[str]) -> Callable[[str], str]:   # an argparse type
    options = tuple(allowed)

    def parse(text: str) -> str:
        if text not in options:
            close = difflib.get_close_matches(text, options, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            _refuse(f"invalid_{kind}", f"{text!r} is not one of {', '.join(options)}{hint}")
        return text

    parse.__name__ = kind
    return parse


def document_id(text: str) -> str:
    if not re.match(r"^doc_[A-Za-z0-9_\-]+$", text or ""):
        _refuse("invalid_document_id", f"{text!r} is not a document id (doc_...)")
    return text


def stack_name(text: str) -> str:
    """A CloudFormation stack name: a letter, then letters, digits and hyphens, at most 128 characters."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9-]{0,127}$", text or ""):
        _refuse("invalid_stack", f"{text!r} is not a CloudFormation stack name (e.g. LedgerLink-prod)")
    return text


def reference(text: str) -> str:
    """Any id a document can be found by: printable, no spaces, at most 512 characters."""
    if not text or len(text) > 512 or not text.isprintable() or any(c.isspace() for c in text):
        _refuse("invalid_id", f"{text!r} is not an id (printable, no spaces, at most 512 characters)")
    return text


def amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        _refuse("invalid_amount", f"{text!r} is not a decimal amount (e.g. 100.00)")
    if not value.is_finite():
        _refuse("invalid_amount", f"{text!r} is not a finite amount")
    return value


def positive_int(maximum: int) -> Callable[[str], int]:   # an argparse type
    def parse(text: str) -> int:
        if not re.match(r"^\d+$", text or "") or not 1 <= int(text) <= maximum:
            _refuse("invalid_number", f"{text!r} is not a whole number from 1 to {maximum}")
        return int(text)

    parse.__name__ = "number"
    return parse


def ordered(first: str | date | None, last: str | date | None, what: str) -> None:
    """--from after --to is refused: the range would silently be empty."""
    if first is not None and last is not None and str(first) > str(last):
        raise UsageError(f"invalid_{what}_range", f"--from {first} is after --to {last}")


def check_known(kind: str, value: str | None, known: Iterable[str], where: str) -> None:
    """``value`` must be one of ``known`` (the target's active configuration): else a usage error that names the
    closest known one."""
    if value is None:
        return
    names = sorted(set(known))
    if value in names:
        return
    close = difflib.get_close_matches(value, names, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    raise UsageError(f"unknown_{kind}", f"no {kind} {value!r} in {where} (known: {', '.join(names) or 'none'}{hint})")
