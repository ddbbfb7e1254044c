"""SQS inbound → canonical documents → posting ledger → one happy-path execution per new document."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.normalize import parse_message
from ledgerlink.service.sqs_batch import process_sqs_batch
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import normalize_service

logger = Logger(service="ledgerlink-normalize")
metrics = Metrics(namespace="LedgerLink", service="normalize")


def record_handler(record: dict) -> None:
    message = parse_message(record["body"])
    logger.append_keys(correlation_id=message["correlation_id"], source=message["source"],
                       event_id=message["event_id"])
    outcome = normalize_service().process(message)
    logger.info("event normalized", extra={"outcome": outcome.outcome, "documents": outcome.document_ids,
                                           "started": len(outcome.started), "reasons": outcome.reasons})
    metrics.add_metric(name=f"Events_{outcome.outcome}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DocumentsStarted", unit=MetricUnit.Count, value=len(outcome.started))


def record_failed(record: dict, error: Exception) -> None:
    # the type and the message id only: an error's text may quote the event, which can hold personal data
    logger.warning("record failed; SQS delivers it again", extra={
        "message_id": record.get("messageId"), "error_type": type(error).__name__})
    try:   # the reason on the inbox claim, for `ledgerlink dlq list` if the message ends in the DLQ
        normalize_service().note_failure(parse_message(record["body"]), error)
    except Exception as noted:  # noqa: BLE001 - noting the reason must never fail the batch
        logger.warning("failure not noted on the inbox claim", extra={"error_type": type(noted).__name__})


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler("ledgerlink-normalize")
def handler(event: dict, context: object) -> dict:
    return process_sqs_batch(event, record_handler, on_failure=record_failed)
