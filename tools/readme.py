"""Rewrite the README's generated sections from a run (``make readme``), so the numbers it quotes cannot go stale:

- ``demo-summary``: the summary ``make demo`` prints (the demo runs as of a fixed instant, so it is the same on
  every day); ``tests/acceptance/test_local_runtime.py`` and the calendar tier fail when they differ;
- ``test-count``: how many tests ``make test`` collects; ``tests/unit/test_readme_sections.py`` fails when the
  whole suite collects another number.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def replace_section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name}:begin -->\n?)(.*?)(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no {name} section")
    return pattern.sub(lambda match: match.group(1) + body + match.group(3), text, count=1)


def demo_summary() -> str:
    from ledgerlink.local.demo import demo_ok, format_report, run_demo, summary_lines

    with tempfile.TemporaryDirectory() as state:
        report = run_demo(REPO / "config" / "ledgerlink.example.yaml", REPO / "events", state_dir=Path(state) / "demo")
        problems = demo_ok(report)
        if problems:
            raise SystemExit(format_report(report) + "\n" + "\n".join(problems))
        return "```\n" + "\n".join(summary_lines(report, state_label=".ledgerlink/demo")) + "\n```\n"


def test_count() -> str:
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-p", "no:xdist"], cwd=REPO,
                            capture_output=True, text=True, check=False)
    match = re.search(r"^(\d+) tests? collected", result.stdout, re.M)
    if not match:
        raise SystemExit("pytest --collect-only printed no count:\n" + result.stdout[-2000:] + result.stderr[-2000:])
    return f"{int(match.group(1)):,}"


def main() -> None:
    text = README.read_text(encoding="utf-8")
    text = replace_section(text, "demo-summary", demo_summary())
    text = replace_section(text, "test-count", test_count())
    README.write_text(text, encoding="utf-8")
    print("README.md: demo summary and test count rewritten")


if __name__ == "__main__":
    main()
