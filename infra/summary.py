"""Summarize a synthesized cloud assembly: ``python -m infra.summary cdk.out`` (``make synth`` runs it).

Per stack: resources by type, outputs, asset sizes, what protects the data (Object Lock retention, append-only
tables, the WAF, operator roles and who may assume them, the console's user pool), and the cdk-nag result — unacknowledged findings
(a synth with any fails anyway) and every acknowledged finding with its reason and where it was made.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Mapping
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


def _text(value: Any) -> str:
    """A template value as short text: Ref/GetAtt → logical id, Fn::Join → joined, pseudo parameters kept."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(_text(part) for part in parts)
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def protection(template: dict[str, Any]) -> list[str]:
    resources = template.get("Resources", {})
    named = {_text(body.get("Value")): output for output, body in template.get("Outputs", {}).items()}
    return ["  protection:", *_object_locks(resources, named), *_append_only_tables(resources, named),
            *_waf(resources), *_operator_roles(template, resources), *_user_pools(resources, named)]


def _object_locks(resources: Mapping[str, Any], named: dict[str, str]) -> list[str]:
    lines = []
    for lid, resource in resources.items():
        lock = resource.get("Properties", {}).get("ObjectLockConfiguration") if resource["Type"] == "AWS::S3::Bucket" \
            else None
        if lock:
            retention = lock.get("Rule", {}).get("DefaultRetention", {})
            unit = "day" if "Days" in retention else "year"
            amount = retention.get("Days", retention.get("Years", "?"))
            lines.append(f"    Object Lock  {named.get(lid, lid):28s} {retention.get('Mode', '?').lower()}, "
                         f"{amount} {unit}{'' if amount == 1 else 's'} default retention")
    return lines


def _append_only_tables(resources: Mapping[str, Any], named: dict[str, str]) -> list[str]:
    lines = []
    for lid, resource in resources.items():
        policy = resource.get("Properties", {}).get("ResourcePolicy", {}).get("PolicyDocument", {})
        denied = sorted({action.split(":")[1] for statement in policy.get("Statement", [])
                         if statement.get("Effect") == "Deny" for action in statement.get("Action", [])})
        if resource["Type"] == "AWS::DynamoDB::Table" and denied:
            lines.append(f"    append-only  {named.get(lid, lid):28s} denied to every principal: {', '.join(denied)}")
    return lines


def _waf(resources: Mapping[str, Any]) -> list[str]:
    acls = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACL"]
    if not acls:
        return ["    WAF          off (on by default in prod; context waf=true adds managed rule groups and a "
                "per-IP rate limit)"]
    associations = sum(r["Type"] == "AWS::WAFv2::WebACLAssociation" for r in resources.values())
    lines = []
    for acl in acls:
        rules = []
        for rule in acl.get("Rules", []):
            rate = rule.get("Statement", {}).get("RateBasedStatement")
            rules.append(f"{rate['Limit']} req/IP/5 min" if rate else rule["Name"])
        lines.append(f"    WAF          on, {associations} API stage(s): {'; '.join(rules)}")
    return lines


def _operator_roles(template: Mapping[str, Any], resources: Mapping[str, Any]) -> list[str]:
    lines = []
    for output, body in template.get("Outputs", {}).items():
        role = resources.get(_text(body.get("Value")), {})
        if output.endswith("RoleArn") and role.get("Type") == "AWS::IAM::Role":
            who = "; ".join(_trusted(statement)
                            for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
            lines.append(f"    role         {output.removesuffix('RoleArn'):28s} assumable by {who}")
    return lines


def _user_pools(resources: Mapping[str, Any], named: dict[str, str]) -> list[str]:
    lines = []
    for lid, resource in resources.items():
        if resource["Type"] != "AWS::Cognito::UserPool":
            continue
        props = resource.get("Properties", {})
        who = "admin-created users only" if props.get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly") \
            else "self sign-up allowed"
        mfa = props.get("MfaConfiguration", "OFF")
        factors = "/".join(props.get("EnabledMfas", [])) or "none"
        length = props.get("Policies", {}).get("PasswordPolicy", {}).get("MinimumLength", "?")
        recovery = ", ".join(m["Name"] for m in props.get("AccountRecoverySetting", {}).get("RecoveryMechanisms", []))
        lines.append(f"    users        {named.get(lid, lid):28s} {who}, MFA {mfa} ({factors}), passwords of "
                     f"{length}+ characters, recovery {recovery or 'default'}")
    return lines


def _trusted(statement: dict[str, Any]) -> str:
    """One trust statement as text: its principals, narrowed by an ARN pattern or marked as needing MFA."""
    condition = statement.get("Condition", {})
    patterns = condition.get("ArnLike", {}).get("aws:PrincipalArn")
    if patterns:
        return _text(patterns)
    who = _text(statement.get("Principal", {}).get("AWS")).replace(
        "arn:AWS::Partition:iam::AWS::AccountId:root", "this account")
    mfa = str(condition.get("Bool", {}).get("aws:MultiFactorAuthPresent", "")).lower() == "true"
    return f"{who} (with MFA)" if mfa else who


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
        lines.extend(protection(template))
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
