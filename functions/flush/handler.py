"""Scheduled flush (EventBridge Scheduler): summary buckets → one journal each, legacy days → import files.

Event: ``{}`` from the schedule (days that are over in each entity's time zone), or ``{"through":
"YYYY-MM-DD"}`` for a manual run that also flushes open buckets up to that date.
"""

from datetime import date

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import flush_service

logger = Logger(service="ledgerlink-flush")
metrics = Metrics(namespace="LedgerLink", service="flush")


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler("ledgerlink-flush")
def handler(event: dict, context: object) -> dict:
    through = event.get("through") if isinstance(event, dict) else None
    report = flush_service().run(through=date.fromisoformat(through) if through else None,
                                 time_left_ms=getattr(context, "get_remaining_time_in_millis", None))
    summary = report.as_dict()
    logger.info("flush finished", extra=summary)
    metrics.add_metric(name="SummariesPosted", unit=MetricUnit.Count, value=summary["posted"])
    metrics.add_metric(name="SummaryExceptions", unit=MetricUnit.Count, value=summary["exceptions"])
    _publish_backlog_forecast()
    return summary


def _publish_backlog_forecast() -> None:
    """Every run (hourly): the backlog forecast per ERP connection as metrics, for the BacklogForecastLate alarm
    (issue 23). A forecast that cannot be read is logged, and never fails the flush that already posted."""
    from ledgerlink.ops.forecast import publish_from_settings

    try:
        late = publish_from_settings()
    except Exception as error:
        logger.warning("backlog forecast not published", extra={"error_type": type(error).__name__})
        return
    metrics.add_metric(name="BacklogForecastLate", unit=MetricUnit.Count, value=len(late))  # the alarm's metric
    if late:
        logger.warning("backlog forecast passes its deadline", extra={"connections": late})
