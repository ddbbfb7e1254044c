"""post-document step: open an exception case (reason code, fix), mark the document, announce it on
EventBridge, and leave the execution waiting on the case's task token for finance ops' decision."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from ledgerlink.service.posting import open_exception_step
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import exception_stores

logger = Logger(service="ledgerlink-open-exception")
metrics = Metrics(namespace="LedgerLink", service="exceptions")
by_reason = EphemeralMetrics(namespace="LedgerLink")  # its own EMF blob: the reason dimension is per case


@logger.inject_lambda_context(correlation_id_path="state.correlation_id")
@metrics.log_metrics
@traced_handler("ledgerlink-open-exception")
def handler(event: dict, context: object) -> dict:
    state = event.get("state", event)  # waitForTaskToken payload: {"state": ..., "task_token": ...}
    logger.append_keys(document_id=state.get("document_id"))
    ledger, exceptions, events = exception_stores()
    result = open_exception_step(state, ledger, exceptions, task_token=event.get("task_token"), events=events)
    logger.warning("exception opened", extra={"exception_id": result["exception_id"], "reason": result["reason"]})
    metrics.add_metric(name="ExceptionsOpened", unit=MetricUnit.Count, value=1)
    by_reason.add_dimension(name="reason", value=result["reason"])
    by_reason.add_metric(name="ExceptionsByReason", unit=MetricUnit.Count, value=1)
    by_reason.flush_metrics()
    by_reason.clear_metrics()  # flush does not clear when metrics are disabled (local runs)
    return result
