"""Audit table stream → write-once audit bucket: one locked object per change, in stream order.

A ``MODIFY`` or ``REMOVE`` means someone changed the append-only trail: it is copied like any change (with
the old image) and logged at ERROR with the metric ``AuditTampering``, which is alarmed.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ledgerlink.service.audit_export import export
from ledgerlink.settings import AuditExportSettings, read_settings
from ledgerlink.store.audit_copies import S3AuditCopies
from ledgerlink.tracing import traced_handler

logger = Logger(service="ledgerlink-audit-export")
metrics = Metrics(namespace="LedgerLink", service="audit_export")


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler("ledgerlink-audit-export")
def handler(event: dict, context: object) -> dict:
    settings = read_settings(AuditExportSettings)
    result = export(event.get("Records", []), S3AuditCopies(settings.audit_bucket))
    metrics.add_metric(name="AuditRecordsExported", unit=MetricUnit.Count, value=result.written)
    metrics.add_metric(name="AuditTampering", unit=MetricUnit.Count, value=len(result.tampering))
    if result.tampering:
        logger.error("audit items were changed or deleted", extra={"objects": result.tampering})
    if result.failed_sequence_number:
        logger.warning("audit export stopped; the stream retries from here",
                       extra={"sequence_number": result.failed_sequence_number, "written": result.written})
    return result.response()
