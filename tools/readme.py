"""Rewrite the generated sections of the README and docs/ from a run (``make readme``), so the numbers they quote
cannot go stale. A section is the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` and is rewritten in
every file of README.md and docs/*.md that holds it:

- ``demo-summary``: the summary ``make demo`` prints (the demo runs as of a fixed instant, so it is the same on
  every day); ``tests/acceptance/test_local_runtime.py`` and the calendar tier fail when they differ;
- ``test-count``: how many tests ``make test`` collects; ``tests/unit/test_readme_sections.py`` fails when the
  whole suite collects another number;
- ``bench-table``: the benchmark table rendered from the committed ``bench/results.json`` (``python -m bench.readme``
  prints the same); ``tests/unit/test_bench_readme.py`` fails when it differs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:begin -->\n?)(.*?)(<!-- {name}:end -->)", re.S)


def has_section(text: str, name: str) -> bool:
    return bool(_pattern(name).search(text))


def replace_section(text: str, name: str, body: str) -> str:
    pattern = _pattern(name)
    if not pattern.search(text):
        raise SystemExit(f"no {name} section")
    return pattern.sub(lambda match: match.group(1) + body + match.group(3), text)


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


def bench_table() -> str:
    sys.path.insert(0, str(REPO))
    from bench.readme import render

    return render(json.loads((REPO / "bench" / "results.json").read_text(encoding="utf-8")))


GENERATORS: dict[str, Callable[[], str]] = {"demo-summary": demo_summary, "test-count": test_count,
                                            "bench-table": bench_table}


def main() -> None:
    texts = {path: path.read_text(encoding="utf-8") for path in documents()}
    for name, generate in GENERATORS.items():
        holders = [path for path, text in texts.items() if has_section(text, name)]
        if not holders:
            raise SystemExit(f"README.md and docs/*.md have no {name} section")
        body = generate()
        for path in holders:
            texts[path] = replace_section(texts[path], name, body)
            print(f"{path.relative_to(REPO)}: {name} rewritten")
    for path, text in texts.items():
        if text != path.read_text(encoding="utf-8"):
            path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
