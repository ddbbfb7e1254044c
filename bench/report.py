"""Shared output for the benchmarks: a printed table and one section of ``bench/results.json``."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.json"


def write_section(name: str, data: dict[str, Any], path: Path = RESULTS) -> None:
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing[name] = {**data, "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                      "machine": f"{platform.machine()} {platform.python_version()}"}
    path.write_text(json.dumps(existing, indent=2, sort_keys=True, default=str) + "\n")


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)), line]
    out += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
            for row in cells[1:]]
    return "\n".join(out) + "\n"


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"
