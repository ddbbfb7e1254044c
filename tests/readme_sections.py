"""Read the README's generated sections (``make readme`` writes them; tests compare them with a fresh run)."""

from __future__ import annotations

import re

from tests.conftest import REPO

README = REPO / "README.md"


def section(name: str) -> str:
    """The text between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    match = re.search(rf"<!-- {name}:begin -->\n?(.*?)<!-- {name}:end -->", README.read_text(), re.S)
    assert match, f"README.md has no {name} section"
    return match.group(1)


def readme_demo_summary() -> list[str]:
    """The demo summary lines inside the README's fenced block."""
    body = section("demo-summary").strip("\n")
    lines = body.splitlines()
    assert lines[0].startswith("```") and lines[-1] == "```", "the demo summary is one fenced block"
    return lines[1:-1]
