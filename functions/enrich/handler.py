"""post-document step: map the canonical document to GL accounts (see ledgerlink.service.posting.enrich_step)."""

from aws_lambda_powertools import Logger

from ledgerlink.service.posting import enrich_step
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import enrich_dependencies

logger = Logger(service="ledgerlink-enrich")


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@traced_handler("ledgerlink-enrich")
def handler(event: dict, context: object) -> dict:
    logger.append_keys(document_id=event.get("document_id"))
    config_store, ledger = enrich_dependencies()
    return enrich_step(event, config_store, ledger)
