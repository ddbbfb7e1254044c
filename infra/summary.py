"""Summarize a synthesized cloud assembly: ``python -m infra.summary cdk.out`` (``make synth`` runs it).

Per stack: resources by type, outputs, asset sizes, and the cdk-nag result — unacknowledged findings
(a synth with any fails anyway) and every acknowledged finding with its reason and where it was made.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _human(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.1f} KB"


def stacks(assembly: Path) -> dict[str, dict[str, Any]]:
    manifest = _load(assembly / "manifest.json")
    found = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            found[name] = artifact
    return found


def asset_sizes(assembly: Path, stack_name: str) -> list[tuple[str, int]]:
    path = assembly / f"{stack_name}.assets.json"
    if not path.exists():
        return []
    sizes = []
    for asset in _load(path).get("files", {}).values():
        source = asset.get("source", {})
        if source.get("packaging") != "zip":  # the template itself is a file asset too
            continue
        label = asset.get("displayName") or source.get("path", "?")
        sizes.append((label.removesuffix("/Code"), _size(assembly / source["path"])))
    return sorted(sizes)


def nag_report(assembly: Path) -> dict[str, Any] | None:
    path = assembly / "validation-report.json"
    return _load(path) if path.exists() else None


def render(assembly: Path) -> str:
    lines: list[str] = []
    for name, artifact in stacks(assembly).items():
        template = _load(assembly / artifact["properties"]["templateFile"])
        resources = template.get("Resources", {})
        lines.append(f"{name}: {len(resources)} resources ({artifact.get('environment', '?')})")
        for resource_type, count in sorted(Counter(r["Type"] for r in resources.values()).items()):
            lines.append(f"  {count:3d}  {resource_type}")
        lines.append("  outputs:")
        for output, body in template.get("Outputs", {}).items():
            lines.append(f"    {output:32s} {body.get('Description', '')}")
        assets = asset_sizes(assembly, name)
        if assets:
            lines.append("  assets (unzipped):")
            lines.extend(f"    {label:48s} {_human(size):>9s}" for label, size in assets)
    report = nag_report(assembly)
    if report is None:
        lines.append("cdk-nag: no validation-report.json in the assembly (were the checks added?)")
        return "\n".join(lines)
    for plugin in report.get("pluginReports", []):
        violations = plugin.get("violations", [])
        acknowledged = plugin.get("suppressedViolations", [])
        lines.append(f"cdk-nag {plugin.get('pluginName')}: {plugin.get('conclusion')}, "
                     f"{len(violations)} unacknowledged, {len(acknowledged)} acknowledged")
        for violation in violations:
            paths = ", ".join(c["constructPath"] for c in violation.get("violatingConstructs", []))
            lines.append(f"  UNACKNOWLEDGED {violation['ruleName']}: {paths}")
        grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
        for item in acknowledged:
            grouped[(item["ruleName"], item.get("reason", ""))].append(item.get("acknowledgedAt", "?"))
        for (rule, reason), where in sorted(grouped.items()):
            lines.append(f"  {rule} x{len(where)}: {reason}")
            lines.append(f"      at {', '.join(sorted(set(where)))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.summary", description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    args = parser.parse_args(argv)
    if not (args.assembly / "manifest.json").exists():
        print(f"error: {args.assembly} is not a cloud assembly (run make synth)", file=sys.stderr)
        return 1
    print(render(args.assembly))
    report = nag_report(args.assembly) or {}
    unacknowledged = sum(len(p.get("violations", [])) for p in report.get("pluginReports", []))
    return 1 if unacknowledged else 0


if __name__ == "__main__":
    raise SystemExit(main())
