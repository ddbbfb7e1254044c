"""post-document step: post the journal to the entity's ERP connection once, and record it in the posting ledger.

The ledger item is the idempotency record: a lease before the ERP call, the stored result for a re-invocation
after a lost result, the posted transition (with its control totals) after the call. An uncertain outcome is
resolved by the connector's lookup by external id (D11).
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.posting import post_document_step
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import post_dependencies

logger = Logger(service="ledgerlink-post")
metrics = Metrics(namespace="LedgerLink", service="post")


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@metrics.log_metrics
@traced_handler("ledgerlink-post")
def handler(event: dict, context: object) -> dict:
    logger.append_keys(document_id=event.get("document_id"))
    result = post_document_step(event, **post_dependencies())
    if result.get("stored_result"):   # a re-invocation after a lost result: answered from the ledger, no ERP call
        metrics.add_metric(name="StoredResultsReturned", unit=MetricUnit.Count, value=1)
    else:                             # counted once: by the invocation that recorded the posting
        metrics.add_metric(name="DocumentsPosted", unit=MetricUnit.Count, value=1)
        if result["posting_latency_seconds"] is not None:  # webhook received → posted in the ERP
            metrics.add_metric(name="PostingLatency", unit=MetricUnit.Seconds, value=result["posting_latency_seconds"])
    logger.info("document posted", extra={"erp_ref": result["erp_ref"], "new_posting": result["created"],
                                          "stored_result": bool(result.get("stored_result"))})
    return result
