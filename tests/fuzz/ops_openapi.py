"""The ops API's OpenAPI document: generated from the handler's routes, completed with what the routes read by hand.

``functions/ops/handler.py`` runs Powertools' ``APIGatewayRestResolver`` without request validation (its
OpenAPI/validation models cost ≈0.13 s of cold start), so ``app.get_openapi_schema()`` knows the routes and
their path parameters but not the query parameters, bodies and error answers the handler reads and writes
itself. Those are added here from the handler's docstring contract; ``docs/ops-api.openapi.json`` is this
document (a test keeps it current). Regenerate: ``.venv/bin/python -m tests.fuzz.ops_openapi``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

from ledgerlink.model.documents import DOCUMENT_TYPES

from tests.conftest import REPO

DOCUMENT = REPO / "docs" / "ops-api.openapi.json"
ACTIONS = ("retry", "resolve", "ignore")
CASE_STATUSES = ("open", "retrying", "resolved", "ignored", "rejected")

ERROR = {"type": "object", "required": ["status", "reason"],
         "properties": {"status": {"type": "string", "enum": ["error", "rejected"]},
                        "reason": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                        "message": {"type": "string"}}}
NOTE_OR_REASON = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 500},
                                                   "reason": {"type": "string", "maxLength": 500}}}


def handler_app() -> Any:
    spec = importlib.util.spec_from_file_location("ledgerlink_ops_handler_for_openapi",
                                                  REPO / "functions" / "ops" / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def ops_openapi() -> dict[str, Any]:
    document = handler_app().get_openapi_schema(
        title="LedgerLink ops API", version="1",
        description="Exceptions queue, document trace, synchronous validation and the month-end close check (API "
                    "Gateway REST, IAM auth). "
                    "Every error answer is JSON with a machine-readable `reason`.",
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
    document["components"] = {"schemas": {"Error": ERROR}}
    paths = document["paths"]
    paths["/exceptions"]["get"]["parameters"] = [
        {"name": "status", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(CASE_STATUSES)}},
        {"name": "entity", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64}},
        {"name": "reason", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64}},
    ]
    for parameter in paths["/exceptions/{exception_id}/{action}"]["post"]["parameters"]:
        if parameter["name"] == "action":
            parameter["schema"] = {"type": "string", "enum": list(ACTIONS)}
    paths["/exceptions/{exception_id}/{action}"]["post"]["requestBody"] = {
        "required": False, "content": {"application/json": {"schema": NOTE_OR_REASON}}}
    for parameter in paths["/validate/{document_type}"]["post"]["parameters"]:
        if parameter["name"] == "document_type":
            parameter["schema"] = {"type": "string", "enum": list(DOCUMENT_TYPES)}
    paths["/validate/{document_type}"]["post"]["requestBody"] = {
        "required": True, "content": {"application/json": {"schema": {
            "type": "object", "description": "a canonical document (ledgerlink.model.documents)",
            "properties": {"document_id": {"type": "string"}, "entity_id": {"type": "string"},
                           "currency": {"type": "string"}, "accounting_date": {"type": "string", "format": "date"},
                           "source": {"type": "object"}, "lines": {"type": "array", "items": {"type": "object"}},
                           "total": {"type": "object", "properties": {"amount": {"type": "string"},
                                                                      "currency": {"type": "string"}}}}}}}}
    paths["/close-check"]["get"]["parameters"] = [
        {"name": "entity", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 64}},
        {"name": "period", "in": "query", "required": True,
         "schema": {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}},
    ]
    paths["/backlog"]["get"]["parameters"] = [
        {"name": "lookback_days", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 0, "maximum": 62}},
    ]
    for operations in paths.values():
        for operation in operations.values():
            operation["responses"]["default"] = _json({"$ref": "#/components/schemas/Error"},
                                                      "an error: its `reason` code says which")
    return document


def main() -> int:
    DOCUMENT.write_text(json.dumps(ops_openapi(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {DOCUMENT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
