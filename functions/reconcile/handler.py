"""Scheduled (EventBridge Scheduler, daily per entity in its time zone) or on-demand reconciliation."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.reconcile import reconcile_request
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import reconciler

logger = Logger(service="ledgerlink-reconcile")
metrics = Metrics(namespace="LedgerLink", service="reconcile")


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler("ledgerlink-reconcile")
def handler(event: dict, context: object) -> dict:
    service = reconciler()
    business_date, entities = reconcile_request(event, service.active_config())
    report = service.run(business_date, entities)
    logger.info("reconciliation finished", extra={"business_date": business_date, "entities": entities,
                                                  "status": report.status, "differences": len(report.differences),
                                                  "report_key": report.report_key})
    metrics.add_metric(name="ReconciliationDifferences", unit=MetricUnit.Count, value=len(report.differences))
    metrics.add_metric(name="ReconciliationCompleted", unit=MetricUnit.Count, value=1)
    return {"business_date": business_date, "status": report.status, "differences": len(report.differences),
            "report_key": report.report_key}
