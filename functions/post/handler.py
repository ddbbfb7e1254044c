"""post-document step: post the journal to the entity's ERP connection, once.

Two guards: the connector looks the document up by external id before posting (uncertain outcomes),
and Powertools idempotency returns the stored result when Step Functions re-invokes a step whose
first invocation succeeded but whose result was lost (timeout) — without calling the ERP again.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

from ledgerlink.service.posting import post_step
from ledgerlink.wiring import post_dependencies, summary_buckets

logger = Logger(service="ledgerlink-post")
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="document_id", expires_after_seconds=35 * 86_400)
_post_once = None


def _post(state: dict) -> dict:
    config_store, connectors, _ = post_dependencies()
    return post_step(state, config_store, connectors, summary_buckets())


@logger.inject_lambda_context(correlation_id_path="correlation_id")
def handler(event: dict, context: object) -> dict:
    global _post_once
    logger.append_keys(document_id=event.get("document_id"))
    if _post_once is None:  # built on first call: the persistence layer needs settings and a client
        _post_once = idempotent_function(_post, data_keyword_argument="state",
                                         persistence_store=post_dependencies()[2], config=IDEMPOTENCY)
    IDEMPOTENCY.register_lambda_context(context)
    result = _post_once(state=event)
    logger.info("document posted", extra={"erp_ref": result["posting"]["erp_ref"],
                                          "new_posting": result["posting"]["created"]})
    return result
