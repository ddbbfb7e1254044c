"""What a configuration change changes: ``ledgerlink config diff`` and the audit of ``config apply``.

Configuration is reviewed like code: the diff is computed between the *stored* JSON of the active version
and the validated JSON of the file, section by section. List sections are matched by their natural key
(an entity by ``id``, an account mapping by entity + source + ``effective_from``, a tax code by entity +
treatment + ``effective_from``…), not by position, so reordering a file is no change and a new effective-dated
row shows up as one added row rather than a cascade of edits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ledgerlink.model.json import JsonValue

# section → the fields that identify one row (rows lacking a field match on None)
ROW_KEYS: dict[str, tuple[str, ...]] = {
    "entities": ("id",),
    "erp_connections": ("id",),
    "sources": ("id",),
    "account_mappings": ("entity", "source", "effective_from"),
    "posting_policies": ("source", "document_type"),
    "fx_rates": ("from_currency", "to_currency", "valid_from"),
    "tax_codes": ("entity", "treatment", "effective_from"),
    "dimension_rules": ("entity", "source", "product_id", "category", "employee", "effective_from"),
    "employees": ("source", "employee_id", "effective_from"),
    "master_data": ("source", "role"),
    "controls": ("entity",),
}
SUMMARY_LIMIT = 50  # changes listed in an audit entry (the count is always exact)

Kind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Change:
    kind: Kind
    path: str
    before: JsonValue = None
    after: JsonValue = None

    def line(self) -> str:
        mark = {"added": "+", "removed": "-", "changed": "~"}[self.kind]
        if self.kind == "added":
            return f"{mark} {self.path}: {_short(self.after)}"
        if self.kind == "removed":
            return f"{mark} {self.path}: {_short(self.before)}"
        return f"{mark} {self.path}: {_short(self.before)} → {_short(self.after)}"

    def to_dict(self) -> dict[str, JsonValue]:
        return {"kind": self.kind, "path": self.path, "before": self.before, "after": self.after}


def _short(value: JsonValue, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _row_label(section: str, row: Mapping[str, JsonValue], index: int) -> str:
    keys = ROW_KEYS.get(section)
    if not keys:
        return f"{section}[{index}]"
    parts = [f"{key}={row.get(key)}" for key in keys if row.get(key) is not None]
    return f"{section}[{' '.join(parts) or index}]"


def _rows(section: str, rows: list[JsonValue]) -> dict[str, JsonValue]:
    labelled: dict[str, JsonValue] = {}
    for index, row in enumerate(rows):
        label = _row_label(section, row, index) if isinstance(row, dict) else f"{section}[{index}]"
        if label in labelled:  # duplicate natural key: fall back to the position
            label = f"{label}#{index}"
        labelled[label] = row
    return labelled


def _walk(path: str, before: JsonValue, after: JsonValue, out: list[Change]) -> None:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            child = f"{path}.{key}" if path else str(key)
            if key not in before:
                out.append(Change("added", child, after=after[key]))
            elif key not in after:
                out.append(Change("removed", child, before=before[key]))
            else:
                _walk(child, before[key], after[key], out)
        return
    out.append(Change("changed", path, before=before, after=after))


def _keyed(config: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """Top-level sections, list sections spread into one entry per row under its natural-key label."""
    keyed: dict[str, JsonValue] = {}
    for section, value in config.items():
        if isinstance(value, list):
            keyed.update(_rows(section, value))
        else:
            keyed[section] = value
    return keyed


def diff(before: Mapping[str, JsonValue] | None, after: Mapping[str, JsonValue]) -> list[Change]:
    """The changes from the stored configuration JSON ``before`` (None: nothing applied yet) to ``after``."""
    changes: list[Change] = []
    _walk("", _keyed(before or {}), _keyed(after), changes)
    return changes


def section_of(change: Change) -> str:
    """The top-level section a change is in (``account_mappings[entity=us01 …].accounts.refunds`` → ``account_mappings``)."""
    return change.path.split("[", 1)[0].split(".", 1)[0]


def summary(changes: list[Change]) -> dict[str, JsonValue]:
    """Counts per kind and per section, and the first ``SUMMARY_LIMIT`` change lines (for the audit trail)."""
    sections: dict[str, int] = {}
    for change in changes:
        section = section_of(change)
        sections[section] = sections.get(section, 0) + 1
    return {
        "total": len(changes),
        "added": sum(c.kind == "added" for c in changes),
        "removed": sum(c.kind == "removed" for c in changes),
        "changed": sum(c.kind == "changed" for c in changes),
        "sections": {section: count for section, count in sections.items()},
        "lines": [change.line() for change in changes[:SUMMARY_LIMIT]],
    }
