"""Read a synthesized CloudFormation template the way an auditor would: by what resources are, not their ids.

Functions are identified by their code asset (the staged directory holds that folder's handler.py),
tables by their key schema (``ledgerlink.store.tables.TABLES``), buckets/queues/state machine by the
stack outputs that name them. References are rendered as logical ids (``Ref``/``Fn::GetAtt``) so IAM
grants can be compared as plain ``(action, resource)`` pairs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledgerlink.store.tables import TABLES

from tests.conftest import REPO

FUNCTIONS_DIR = REPO / "functions"


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def ref(value: Any) -> str:
    """A resource reference or ARN expression as text: ``Ref``/``GetAtt`` → logical id, joins concatenated."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(ref(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def output_target(template: dict[str, Any], output: str) -> str:
    return ref(template["Outputs"][output]["Value"])


def table_ids(template: dict[str, Any]) -> dict[str, str]:
    """TABLES name → logical id: the construct path (Tables/<Name>) names it, and its key schema and TTL
    attribute must match the spec (several tables share the pk/sk shape)."""
    found: dict[str, str] = {}
    for lid, table in of_type(template, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
        ttl = props.get("TimeToLiveSpecification", {}).get("AttributeName")
        for name, spec in TABLES.items():
            construct = "Tables" + "".join(part.capitalize() for part in name.split("_"))
            if not lid.startswith(construct) or lid[len(construct):len(construct) + 1].islower():
                continue
            if (keys.get("HASH"), keys.get("RANGE"), ttl) == (spec.partition_key, spec.sort_key, spec.ttl_attribute):
                found[name] = lid
    return found


def function_names(template: dict[str, Any], assets: dict[str, Any], outdir: Path) -> dict[str, str]:
    """functions/<name> → logical id of the Lambda whose staged code is that folder's handler.py."""
    staged = {}
    for asset_hash, asset in assets["files"].items():
        handler = outdir / asset["source"]["path"] / "handler.py"
        if handler.is_file():
            staged[asset_hash] = handler.read_bytes()
    sources = {p.parent.name: p.read_bytes() for p in FUNCTIONS_DIR.glob("*/handler.py")}
    names: dict[str, str] = {}
    for lid, function in of_type(template, "AWS::Lambda::Function").items():
        key = function["Properties"]["Code"].get("S3Key", "")
        body = staged.get(key.removesuffix(".zip"))
        for name, source in sources.items():
            if body is not None and body == source:
                names[name] = lid
    return names


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement that applies to the role: its inline policies and the AWS::IAM::Policy resources on it."""
    statements: list[dict[str, Any]] = []
    role = template["Resources"][role_id]["Properties"]
    for policy in role.get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(template: dict[str, Any], role_id: str) -> set[tuple[str, str, str | None]]:
    """``(action, resource, kms:ViaService service or None)`` for every Allow statement of the role."""
    found: set[tuple[str, str, str | None]] = set()
    for statement in role_statements(template, role_id):
        assert statement["Effect"] == "Allow", statement
        via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        service = ref(via).split(".")[0] if via else None
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                found.add((action, ref(resource), service))
    return found


def function_role(template: dict[str, Any], function_id: str) -> str:
    return ref(template["Resources"][function_id]["Properties"]["Role"])
