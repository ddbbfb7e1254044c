"""SQS inbound → canonical documents → posting ledger → one post-document execution per document."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from ledgerlink.service.normalize import parse_message
from ledgerlink.wiring import normalize_service

logger = Logger(service="ledgerlink-normalize")
metrics = Metrics(namespace="LedgerLink", service="normalize")
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    message = parse_message(record.body)
    logger.append_keys(correlation_id=message["correlation_id"], source=message["source"],
                       event_id=message["event_id"])
    outcome = normalize_service().process(message)
    logger.info("event normalized", extra={"outcome": outcome.outcome, "documents": outcome.document_ids,
                                           "started": len(outcome.started), "reasons": outcome.reasons})
    metrics.add_metric(name=f"Events_{outcome.outcome}", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="DocumentsStarted", unit=MetricUnit.Count, value=len(outcome.started))


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict, context: object) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
