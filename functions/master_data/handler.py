"""post-document step 1: master data first (employees known and active; customers/vendors in the ERP)."""

from aws_lambda_powertools import Logger

from ledgerlink.service.master_data import master_data_step
from ledgerlink.tracing import traced_handler
from ledgerlink.wiring import master_data_dependencies

logger = Logger(service="ledgerlink-master-data")


@logger.inject_lambda_context(correlation_id_path="correlation_id")
@traced_handler("ledgerlink-master-data")
def handler(event: dict, context: object) -> dict:
    logger.append_keys(document_id=event.get("document_id"))
    config_store, connectors, parties = master_data_dependencies()
    return master_data_step(event, config_store, connectors, parties)
