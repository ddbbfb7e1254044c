"""Read the generated sections of the README and docs/ (``make readme`` writes them; tests compare them with a fresh
run). A section is the text between ``<!-- name:begin -->`` and ``<!-- name:end -->``; ``tools/readme.py`` names which
sections exist and rewrites each wherever it appears."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"


def documents() -> list[Path]:
    """Every file a generated section may live in: the README first, then docs/*.md."""
    return [README, *sorted(DOCS.glob("*.md"))]


def sections(name: str) -> dict[str, str]:
    """Every occurrence of the named section: ``{"docs/x.md#2": text, ...}`` (the file, and the occurrence's number)."""
    found: dict[str, str] = {}
    for path in documents():
        pattern = rf"<!-- {name}:begin -->\n?(.*?)<!-- {name}:end -->"
        for number, match in enumerate(re.finditer(pattern, path.read_text(encoding="utf-8"), re.S), start=1):
            found[f"{path.relative_to(REPO)}#{number}"] = match.group(1)
    return found


def section(name: str) -> str:
    """The text of the named section; every occurrence must say the same."""
    found = sections(name)
    assert found, f"no {name} section in README.md or docs/*.md"
    assert len(set(found.values())) == 1, f"the {name} sections differ ({sorted(found)}): run `make readme`"
    return next(iter(found.values()))


def readme_demo_summary() -> list[str]:
    """The demo summary lines inside the generated fenced block."""
    body = section("demo-summary").strip("\n")
    lines = body.splitlines()
    assert lines[0].startswith("```") and lines[-1] == "```", "the demo summary is one fenced block"
    return lines[1:-1]
