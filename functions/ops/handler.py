"""The ops API (API Gateway REST, IAM auth): the exceptions queue, document traces, synchronous validation.

    GET  /exceptions?status=open&entity=us01&reason=mapping_missing
    GET  /exceptions/{exception_id}
    POST /exceptions/{exception_id}/retry     {"note": "..."}
    POST /exceptions/{exception_id}/resolve   {"reason": "..."}   (reason required)
    POST /exceptions/{exception_id}/ignore    {"reason": "..."}   (reason required)
    GET  /documents/{document_id}             webhook → document → mapping version → journal → ERP reference
    POST /validate/{document_type}            enrich + validate a canonical document, post nothing
    GET  /close-check?entity=us01&period=2026-11   the month-end tie-outs (ledgerlink close-check)
    GET  /backlog?lookback_days=7               per ERP connection: documents waiting, API budget left, achieved
                                                rate, when the backlog is posted at the current budget, deadline

The caller is the IAM principal API Gateway authenticated; every change is audited under it.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from ledgerlink.errors import OpsError
from ledgerlink.service.ops import caller, ops_response
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import ops_services

logger = Logger(service="ledgerlink-ops")
app = APIGatewayRestResolver()


@app.exception_handler(OpsError)
def _ops_error(error: OpsError) -> Response:
    return ops_response(error.status, {"status": "error", "reason": error.reason, "message": error.message})


@app.exception_handler(ValueError)
def _bad_input(error: ValueError) -> Response:
    return ops_response(400, {"status": "error", "reason": "bad_request", "message": str(error)[:500]})


@app.get("/exceptions")
def list_exceptions() -> dict:
    query = app.current_event.query_string_parameters or {}
    cases = ops_services().exceptions.list(status=query.get("status", "open") or None, entity=query.get("entity"),
                                           reason=query.get("reason"))
    return {"exceptions": cases, "count": len(cases)}


@app.get("/exceptions/<exception_id>")
def get_exception(exception_id: str) -> dict:
    from ledgerlink.service.exceptions import public

    return public(ops_services().exceptions.get(exception_id))


@app.post("/exceptions/<exception_id>/<action>")
def act_on_exception(exception_id: str, action: str) -> dict:
    body = app.current_event.json_body or {}
    if not isinstance(body, dict):
        raise OpsError("the body must be a JSON object", status=400, reason="bad_request")
    who = caller(app.current_event.raw_event)
    service = ops_services().exceptions
    if action == "retry":
        return service.retry(exception_id, actor=who, note=str(body.get("note", "")))
    if action in ("resolve", "ignore"):
        return service.close(exception_id, action, actor=who, reason=str(body.get("reason", "")))
    raise OpsError(f"unknown action {action!r} (retry, resolve, ignore)", status=404, reason="not_found")


@app.get("/documents/<document_id>")
def get_document(document_id: str) -> dict:
    return ops_services().trace(document_id)


@app.post("/validate/<document_type>")
def validate_document(document_type: str) -> dict:
    return ops_services().validate(document_type, app.current_event.json_body)


@app.get("/close-check")
def close_check() -> dict:
    from ledgerlink.service.close_check import CloseCheckRefused
    from ledgerlink.wiring import close_check_service

    query = app.current_event.query_string_parameters or {}
    try:
        return close_check_service().run(str(query.get("entity") or ""), str(query.get("period") or "")).to_dict()
    except CloseCheckRefused as exc:
        raise OpsError(exc.message, status=400, reason=exc.reason) from None


@app.get("/backlog")
def backlog() -> dict:
    query = app.current_event.query_string_parameters or {}
    return ops_services().backlog(query.get("lookback_days"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@traced_handler("ledgerlink-ops")
def handler(event: dict, context: object) -> dict:
    return app.resolve(event, context)
