"""The SQS partial batch response normalize answers the event source mapping with."""

import pytest

from ledgerlink.service.sqs_batch import BatchFailed, process_sqs_batch


def records(*ids: str) -> dict:
    return {"Records": [{"messageId": message_id, "body": message_id} for message_id in ids]}


def handle(record: dict) -> None:
    if record["body"].startswith("bad"):
        raise ConnectionError(f"storage unavailable for {record['body']}")


def test_only_the_records_that_failed_are_reported_and_each_failure_is_seen_once():
    seen: list[tuple[str, str]] = []
    response = process_sqs_batch(records("m1", "bad-2", "m3", "bad-4"), handle,
                                 on_failure=lambda record, error: seen.append((record["messageId"], type(error).__name__)))
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad-2"}, {"itemIdentifier": "bad-4"}]}
    assert seen == [("bad-2", "ConnectionError"), ("bad-4", "ConnectionError")]


def test_a_clean_batch_reports_no_failure():
    handled: list[str] = []
    assert process_sqs_batch(records("m1", "m2"), lambda record: handled.append(record["messageId"])) == {
        "batchItemFailures": []}
    assert handled == ["m1", "m2"]


def test_a_batch_where_every_record_failed_fails_the_invocation_with_the_first_cause():
    with pytest.raises(BatchFailed, match="all 2 records failed") as raised:
        process_sqs_batch(records("bad-1", "bad-2"), handle)
    assert isinstance(raised.value.__cause__, ConnectionError) and "bad-1" in str(raised.value.__cause__)


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": "nope"}])
def test_an_event_without_records_is_refused(event):
    with pytest.raises(BatchFailed, match="no SQS records"):
        process_sqs_batch(event, handle)
