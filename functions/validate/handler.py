"""post-document step: balance, chart and period gates (see ledgerlink.service.posting.validate_step)."""

from aws_lambda_powertools import Logger

from ledgerlink.service.posting import validate_step
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import config_reader

logger = Logger(service="ledgerlink-validate")


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@traced_handler("ledgerlink-validate")
def handler(event: dict, context: object) -> dict:
    logger.append_keys(document_id=event.get("document_id"))
    return validate_step(event, config_reader())
