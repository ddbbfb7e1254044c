"""S3 ObjectCreated under bank-inbox/<source id>/ — claim the statement file, archive it, enqueue it."""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.bank_files import object_keys
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import bank_file_service

logger = Logger(service="ledgerlink-bank-file")
metrics = Metrics(namespace="LedgerLink", service="bank_file")


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler("ledgerlink-bank-file")
def handler(event: dict, context: object) -> dict:
    outcomes = []
    for key in object_keys(event):
        outcome = bank_file_service().receive(key, correlation_id=context.aws_request_id)
        logger.info("bank file handled", extra={"outcome": outcome.outcome, "reason": outcome.reason,
                                                "event_id": outcome.event_id, "archive_key": outcome.archive_key})
        metrics.add_metric(name=f"BankFile_{outcome.outcome}", unit=MetricUnit.Count, value=1)
        outcomes.append({"key": outcome.key, "outcome": outcome.outcome, "reason": outcome.reason})
    return {"files": outcomes}
