"""Output of the ``ledgerlink`` command: JSON with documented keys, plain-text tables, progress on a terminal.

- ``--json`` payloads are built from explicit key lists (:func:`pick`), never from stored items as they are:
  no DynamoDB keys (``pk``/``sk``), no attributes that happen to be stored; values are JSON (Decimal → string).
- Tables are fixed columns of plain text (stable under a pipe, independent of the terminal width); a nested
  value is written as ``key=value`` pairs, never as a Python repr.
- Progress goes to stderr and only when stderr is a terminal: a pipe or a CI log gets nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TextIO


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def print_json(data: object, stream: TextIO | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(data, indent=2, default=_default) + "\n")


def pick(item: Mapping[str, object], keys: Sequence[str]) -> dict[str, object]:
    """``keys`` of ``item`` in that order, absent ones as None: the documented shape of one JSON record."""
    return {key: item.get(key) for key in keys}


def cell(value: object) -> str:
    """One table cell: text, never a Python repr (a mapping is ``k=v k=v``, a list ``a, b``)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return " ".join(f"{key}={cell(item)}" for key, item in value.items()) or "-"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(cell(item) for item in value) or "-"
    return str(value)


def table(rows: Iterable[Sequence[object]], header: Sequence[str], *, right: Iterable[int] = (),
          max_width: int = 60) -> list[str]:
    """Lines of a table: columns as wide as their widest cell (cut at ``max_width`` with …), ``right`` aligned."""
    texts = [[cell(value) for value in row] for row in rows]
    texts = [[text if len(text) <= max_width else text[:max_width - 1] + "…" for text in row] for row in texts]
    widths = [max([len(name)] + [len(row[i]) for row in texts]) for i, name in enumerate(header)]
    aligned = set(right)

    def line(values: Sequence[str]) -> str:
        return "  ".join(value.rjust(widths[i]) if i in aligned else value.ljust(widths[i])
                         for i, value in enumerate(values)).rstrip()

    return [line(list(header)), *(line(row) for row in texts)]


def print_lines(lines: Iterable[str]) -> None:
    for text in lines:
        print(text)


class Progress:
    """``label 12/40`` rewritten in place on stderr when stderr is a terminal; silent otherwise."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, step: int = 1, note: str = "") -> None:
        self.done += step
        if self.enabled:
            of = f"/{self.total}" if self.total is not None else ""
            self.stream.write(f"\r{self.label} {self.done}{of} {note}"[:200].ljust(60))
            self.stream.flush()

    def finish(self) -> None:
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
