"""post-document step: open an exception case (reason code, fix) and mark the document in the ledger."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from ledgerlink.service.posting import open_exception_step
from ledgerlink.wiring import exception_stores

logger = Logger(service="ledgerlink-open-exception")
metrics = Metrics(namespace="LedgerLink", service="exceptions")
by_reason = EphemeralMetrics(namespace="LedgerLink")  # its own EMF blob: the reason dimension is per case


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    logger.append_keys(document_id=event.get("document_id"))
    ledger, exceptions = exception_stores()
    result = open_exception_step(event, ledger, exceptions)
    logger.warning("exception opened", extra={"exception_id": result["exception_id"], "reason": result["reason"]})
    metrics.add_metric(name="ExceptionsOpened", unit=MetricUnit.Count, value=1)
    by_reason.add_dimension(name="reason", value=result["reason"])
    by_reason.add_metric(name="ExceptionsByReason", unit=MetricUnit.Count, value=1)
    by_reason.flush_metrics()
    by_reason.clear_metrics()  # flush does not clear when metrics are disabled (local runs)
    return result
