"""EventBridge Scheduler → poll one source without webhooks (Expensify): claim, archive, enqueue, then move its mark."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import poll_service

logger = Logger(service="ledgerlink-poll")
metrics = Metrics(namespace="LedgerLink", service="poll")


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler("ledgerlink-poll")
def handler(event: dict, context: object) -> dict:
    metrics.add_metric(name="PollRuns", unit=MetricUnit.Count, value=1)  # a run that fails still counts
    service = poll_service()
    sources = [event["source"]] if isinstance(event.get("source"), str) else service.polled_sources()
    results = []
    for source in sources:
        outcome = service.run(source, correlation_id=context.aws_request_id)
        logger.info("source polled", extra=outcome.summary())
        metrics.add_metric(name="PolledAccepted", unit=MetricUnit.Count, value=outcome.accepted)
        metrics.add_metric(name="PolledDuplicates", unit=MetricUnit.Count, value=outcome.duplicates)
        results.append(outcome.summary())
    return {"polled": results}
