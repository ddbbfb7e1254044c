"""post-document step: record the ERP reference in the posting ledger (and count it, exactly once)."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.posting import record_step
from ledgerlink.wiring import record_stores, revenue_recorder

logger = Logger(service="ledgerlink-record")
metrics = Metrics(namespace="LedgerLink", service="record")


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    logger.append_keys(document_id=event.get("document_id"))
    result = record_step(event, *record_stores(), revenue=revenue_recorder())
    metrics.add_metric(name="DocumentsPosted", unit=MetricUnit.Count, value=1)
    if result["posting_latency_seconds"] is not None:  # webhook received → posted in the ERP
        metrics.add_metric(name="PostingLatency", unit=MetricUnit.Seconds, value=result["posting_latency_seconds"])
    return result
