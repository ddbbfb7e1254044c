"""The ops API's services, its caller identity and its response shape (HTTP status chosen here, by type)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from ledgerlink.errors import DocumentRejected, OpsError
from ledgerlink.model.json import JsonObject

if TYPE_CHECKING:
    from ledgerlink.ops.forecast import ForecastJson
    from ledgerlink.service.trace import Trace


class Validation(TypedDict):
    """``POST /validate/{type}``: the findings of enrich + validate, and the journal the document would post."""

    valid: bool
    findings: list[dict[str, object]]
    config_version: int
    journal: NotRequired[JsonObject | None]


class Backlog(TypedDict):
    """``GET /backlog``: the forecast per ERP connection."""

    connections: list[ForecastJson]
    lookback_days: int
    late: list[str]


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def caller(event: Mapping[str, object]) -> str:
    """The IAM principal API Gateway authenticated (IAM auth on every ops route); locally 'local'."""
    identity = _mapping(_mapping(event.get("requestContext")).get("identity"))
    return str(identity.get("userArn") or identity.get("caller") or identity.get("user") or "anonymous")


def ops_response(status: int, body: Mapping[str, object]) -> Any:   # Any: powertools' Response (lazy import)
    from aws_lambda_powertools.event_handler import Response

    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))


def validate_document(document_type: str, body: object, config: Any, version: int) -> Validation:
    """Enrich + validate a canonical document without posting: the findings other systems check against."""
    from pydantic import ValidationError

    from ledgerlink.model.documents import DOCUMENT_TYPES, DocumentAdapter
    from ledgerlink.pipeline.enrich import enrich
    from ledgerlink.pipeline.validate import validate

    if document_type not in DOCUMENT_TYPES:
        raise OpsError(f"unknown document type {document_type!r}", status=404, reason="unknown_document_type")
    if not isinstance(body, dict):
        raise OpsError("the body must be a canonical document (JSON object)", status=400, reason="bad_request")
    findings: list[dict[str, object]] = []
    try:
        document = DocumentAdapter.validate_python({**body, "document_type": document_type})
    except ValidationError as exc:
        findings = [{"reason": "invalid_document", "field": ".".join(str(p) for p in error["loc"]),
                     "message": error["msg"]} for error in exc.errors(include_url=False)]
        return {"valid": False, "findings": findings, "config_version": version}
    journal = None
    try:
        journal = validate(enrich(document, config, config_version=version), config, document.document_type)
    except DocumentRejected as rejection:
        findings.append(rejection.to_dict())
    return {"valid": not findings, "findings": findings, "config_version": version,
            "journal": journal.model_dump(mode="json") if journal is not None else None}


@dataclass
class OpsServices:
    exceptions: Any
    ledger: Any
    inbox: Any
    cases: Any
    workflow: Any
    config: Any   # () -> (version, LedgerLinkConfig)

    def trace(self, document_id: str) -> Trace:
        from ledgerlink.service.trace import trace

        return trace(document_id, ledger=self.ledger, inbox=self.inbox, cases=self.cases, workflow=self.workflow)

    def validate(self, document_type: str, body: object) -> Validation:
        version, config = self.config()
        return validate_document(document_type, body, config, version)

    def backlog(self, lookback_days: object = None) -> Backlog:
        """The backlog forecast per ERP connection (``GET /backlog?lookback_days=7``), published as metrics too."""
        return backlog_forecast(self.config()[1], lookback_days)


def backlog_forecast(config: Any, lookback_days: object = None) -> Backlog:
    from ledgerlink import settings
    from ledgerlink.ops.forecast import LOOKBACK_DAYS, read_backlog

    try:
        if lookback_days in (None, ""):
            days = LOOKBACK_DAYS
        elif isinstance(lookback_days, (str, int, float, Decimal)):
            days = int(lookback_days)
        else:
            days = -1
    except ValueError:
        days = -1
    if not 0 <= days <= 62:
        raise OpsError("lookback_days must be a whole number of days from 0 to 62", status=400,
                       reason="bad_lookback_days")
    s = settings.read_settings(settings.OpsSettings)
    forecasts = read_backlog(config=config, totals_table=s.totals_table, limiter_table=s.limiter_table,
                             lookback_days=days)
    return {"connections": [forecast.to_dict() for forecast in forecasts], "lookback_days": days,
            "late": [forecast.connection_id for forecast in forecasts if forecast.late]}
