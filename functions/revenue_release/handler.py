"""Scheduled period-end release (EventBridge Scheduler, per entity in its time zone): deferred → revenue, then
the same entity's and period's FX revaluation of open foreign-currency balances and its reversal (D90).

Event: ``{"entity": "us01"}`` from the entity's schedule (the period that just ended), ``{}`` for every
entity, or ``{"entity": "us01", "period": "2026-10"}`` for a manual run of a period that is over. A malformed
request or an unknown entity answers ``{"error": {"reason": "invalid_release_request", ...}}`` and releases nothing.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.revenue import InvalidReleaseRequest, release_request
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import fx_revaluation_service, revenue_release_service

logger = Logger(service="ledgerlink-revenue-release")
metrics = Metrics(namespace="LedgerLink", service="revenue_release")


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler("ledgerlink-revenue-release")
def handler(event: dict, context: object) -> dict:
    try:
        entity, period = release_request(event)
        report = revenue_release_service().run(entity_id=entity, period=period).as_dict()
        report["fx_revaluation"] = fx_revaluation_service().run(entity_id=entity, period=period)
    except InvalidReleaseRequest as error:   # a bad manual invocation: say why, never retried by the scheduler
        logger.warning("revenue release refused", extra={"reason": error.reason, "field": error.detail.get("field")})
        return {"error": error.to_dict()}
    logger.info("revenue release finished", extra=report)
    metrics.add_metric(name="RevenueReleaseJournals", unit=MetricUnit.Count, value=report["journals_posted"])
    metrics.add_metric(name="UsageNotTied", unit=MetricUnit.Count, value=report["usage_differences"])
    metrics.add_metric(name="FxRevaluationJournals", unit=MetricUnit.Count,
                       value=report["fx_revaluation"]["journals_posted"])
    return report
