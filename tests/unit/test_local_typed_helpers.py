"""The local stack's SQS delivery, the documents filter and the snapshot's waiting cases, read through typed
helpers: what each keeps or drops."""

from datetime import date
from decimal import Decimal

import pytest

from ledgerlink.cli_support.documents import Filters
from ledgerlink.local.sqs_poller import deliver_batch
from ledgerlink.local.state import Snapshot, waiting_cases


class FakeSqs:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete_message_batch(self, *, QueueUrl: str, Entries: list[dict]) -> None:  # noqa: N803 - boto3's names
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]


def messages(*ids: str) -> list[dict]:
    return [{"MessageId": message_id, "ReceiptHandle": f"rh-{message_id}", "Body": "{}"} for message_id in ids]


@pytest.mark.parametrize(("answer", "failed", "deleted"), [
    (None, 0, ["rh-m1", "rh-m2", "rh-m3"]),
    ({"batchItemFailures": []}, 0, ["rh-m1", "rh-m2", "rh-m3"]),
    ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, 1, ["rh-m1", "rh-m3"]),
    (["not", "an", "answer"], 3, []),                       # not an object: the whole batch failed
    ({"batchItemFailures": "m2"}, 3, []),                    # not a list of failures: the whole batch failed
])
def test_a_batch_deletes_what_the_answer_does_not_name(answer, failed, deleted):
    sqs = FakeSqs()
    counts = deliver_batch(sqs, "https://queue/inbound", "arn:queue", lambda event: answer, messages("m1", "m2", "m3"))
    assert counts == (failed, 3 - failed)
    assert sqs.deleted == deleted


def test_a_handler_that_raises_fails_the_whole_batch():
    sqs = FakeSqs()

    def crash(event):
        assert [record["messageId"] for record in event["Records"]] == ["m1", "m2"]
        assert event["Records"][0]["eventSource"] == "aws:sqs"
        raise RuntimeError("boom")

    assert deliver_batch(sqs, "https://queue/inbound", "arn:queue", crash, messages("m1", "m2")) == (2, 0)
    assert sqs.deleted == []


def item(**attributes):
    return {"document_id": "doc_1", "entity_id": "us01", "source_id": "stripe", "status": "posted",
            "day_key": "us01#2026-01-02", "amount": Decimal("100.00"), **attributes}


@pytest.mark.parametrize(("filters", "kept"), [
    (Filters(), True),
    (Filters(entity="gb01"), False),
    (Filters(source="stripe", status="posted"), True),
    (Filters(status="exception"), False),
    (Filters(first=date(2026, 1, 2), last=date(2026, 1, 2)), True),
    (Filters(first=date(2026, 1, 3)), False),
    (Filters(last=date(2026, 1, 1)), False),
    (Filters(min_amount=Decimal("100.00"), max_amount=Decimal("100.00")), True),
    (Filters(min_amount=Decimal("100.01")), False),
    (Filters(max_amount=Decimal("99.99")), False),
])
def test_filters_keep_only_what_every_given_filter_allows(filters, kept):
    assert filters.keeps(item()) is kept


def test_an_amount_range_drops_a_document_without_an_amount_and_a_date_range_one_without_a_date():
    assert not Filters(min_amount=Decimal(1)).keeps(item(amount=None))
    assert not Filters(first=date(2026, 1, 1)).keeps(item(day_key=None))
    assert Filters().keeps(item(amount=None, day_key=None))


def test_waiting_cases_are_the_open_ones_with_a_task_token():
    cases = [
        {"exception_id": {"S": "exc_1"}, "task_token": {"S": "token"}, "status": {"S": "open"}},
        {"exception_id": {"S": "exc_2"}, "task_token": {"S": "token"}, "status": {"S": "resolved"}},
        {"exception_id": {"S": "exc_3"}, "status": {"S": "open"}},
        {"exception_id": {"S": "exc_4"}, "task_token": {"NULL": True}},
        {"exception_id": {"S": "exc_5"}, "task_token": {"S": "token"}},
    ]
    waiting = waiting_cases(Snapshot(taken_at="", tables={"exceptions": cases}))
    assert [case["exception_id"] for case in waiting] == [{"S": "exc_1"}, {"S": "exc_5"}]
