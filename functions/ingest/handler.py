"""POST /webhooks/{source} — verify the signature, archive, dedupe, enqueue; answer 202 fast."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.ingest import WebhookRequest
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import ingest_service

logger = Logger(service="ledgerlink-ingest")
metrics = Metrics(namespace="LedgerLink", service="ingest")


# Nothing of an unauthenticated request is logged but fixed fields (D95): never the event (log_event=False even if
# POWERTOOLS_LOGGER_LOG_EVENT is set), never the path's source id unless it names a configured source, the
# correlation id only once ingest has accepted it as [A-Za-z0-9._:-]{8,64} (else it is API Gateway's request id).
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
@metrics.log_metrics
@traced_handler("ledgerlink-ingest")
def handler(event: dict, context: object) -> dict:
    request = WebhookRequest.from_api_gateway(event)
    response = ingest_service().receive(request)
    logger.set_correlation_id(response.correlation_id)
    fields = {"source": response.source, "outcome": response.outcome, "status": response.status,
              "reason": response.body.get("reason"), "body_bytes": len(request.body)}
    if response.defect:  # a connector raised on this request: its error type and where, never the error's text
        fields["defect"] = response.defect
    logger.info("webhook handled", extra=fields)
    metrics.add_metric(name=f"Webhook_{response.outcome}", unit=MetricUnit.Count, value=1)
    return response.to_api_gateway()
