"""POST /webhooks/{source} — verify the signature, archive, dedupe, enqueue; answer 202 fast."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.ingest import WebhookRequest
from ledgerlink.wiring import ingest_service

logger = Logger(service="ledgerlink-ingest")
metrics = Metrics(namespace="LedgerLink", service="ingest")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    request = WebhookRequest.from_api_gateway(event)
    response = ingest_service().receive(request)
    logger.set_correlation_id(response.correlation_id)
    logger.info("webhook handled", extra={"source": request.source_id, "outcome": response.outcome,
                                          "status": response.status, "reason": response.body.get("reason"),
                                          "body_bytes": len(request.body)})
    metrics.add_metric(name=f"Webhook_{response.outcome}", unit=MetricUnit.Count, value=1)
    return response.to_api_gateway()
