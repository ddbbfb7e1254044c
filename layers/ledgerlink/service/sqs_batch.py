"""SQS partial batch responses for a Lambda fed by an event source mapping with ``ReportBatchItemFailures``.

Each record is handled on its own; the ones that raise are answered as ``batchItemFailures`` so SQS redelivers
only them (and, after the queue's ``maxReceiveCount``, parks them in the DLQ). When every record of the batch
failed the whole invocation fails, so the function's ``Errors`` metric shows it — what Powertools'
``process_partial_response`` does; this is the same contract without its import cost on the normalize cold
start (the batch utility pulls in asyncio and every event data class, ≈ 0.1 s; D77).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ledgerlink.model.json import JsonObject


class BatchFailed(Exception):
    """Every record of the batch failed; the first failure is the cause."""


def process_sqs_batch(event: Mapping[str, object], handle: Callable[[JsonObject], None],
                      on_failure: Callable[[JsonObject, Exception], None] | None = None) -> JsonObject:
    """Handle every record of an SQS event; returns the partial batch response, raises :class:`BatchFailed`
    when no record succeeded (a batch with no records is an error too: the mapping never sends one)."""
    listed = event.get("Records")
    records: list[JsonObject] = [record for record in listed if isinstance(record, dict)] \
        if isinstance(listed, list) else []
    if not records:
        raise BatchFailed("the event holds no SQS records")
    failed: list[str] = []
    first_error: Exception | None = None
    for record in records:
        try:
            handle(record)
        except Exception as error:  # noqa: BLE001 - any failure of one record is that record's, retried by SQS
            failed.append(str(record["messageId"]))
            first_error = first_error or error
            if on_failure is not None:
                on_failure(record, error)
    if len(failed) == len(records):
        raise BatchFailed(f"all {len(records)} records failed") from first_error
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
