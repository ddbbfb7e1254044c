"""A local stand-in for the Lambda SQS event source mapping.

Kept semantics: batches of up to ``batch_size``; a handler exception fails the whole batch; a
``batchItemFailures`` response fails only those records; failed records are *not* deleted, so they
reappear after the queue's visibility timeout and, past ``maxReceiveCount``, SQS moves them to the DLQ
(moto implements the redrive policy on receive). (moto's own event-source mappings invoke per message
and ignore ``batchItemFailures``, which is why this exists.)
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any, NotRequired, TypedDict


class SqsMessageAttribute(TypedDict, total=False):
    StringValue: str
    BinaryValue: bytes
    DataType: str


class SqsMessage(TypedDict):
    """A message as SQS ReceiveMessage returns it (boto3)."""

    MessageId: str
    ReceiptHandle: str
    Body: str
    MD5OfBody: NotRequired[str]
    Attributes: NotRequired[dict[str, str]]
    MessageAttributes: NotRequired[dict[str, SqsMessageAttribute]]


class LambdaMessageAttribute(TypedDict):
    stringValue: str | None
    binaryValue: bytes | None
    stringListValues: list[str]
    binaryListValues: list[bytes]
    dataType: str


class SqsRecord(TypedDict):
    """A record of the event Lambda's SQS event source mapping invokes a function with."""

    messageId: str
    receiptHandle: str
    body: str
    attributes: dict[str, str]
    messageAttributes: dict[str, LambdaMessageAttribute]
    md5OfBody: str
    eventSource: str
    eventSourceARN: str
    awsRegion: str


class SqsEvent(TypedDict):
    Records: list[SqsRecord]


# The function's answer: None, or an object that may name ``batchItemFailures``.
type Invoke = Callable[[SqsEvent], object]


def to_lambda_record(message: SqsMessage, queue_arn: str, region: str) -> SqsRecord:
    attributes: dict[str, LambdaMessageAttribute] = {
        name: {"stringValue": attr.get("StringValue"), "binaryValue": attr.get("BinaryValue"),
               "stringListValues": [], "binaryListValues": [], "dataType": attr.get("DataType", "String")}
        for name, attr in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message.get("Attributes", {}), "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": region,
    }


class SqsPoller(threading.Thread):
    def __init__(self, *, sqs: Any, queue_url: str, queue_arn: str, invoke: Invoke,
                 batch_size: int = 10, region: str = "us-east-1", wait_seconds: int = 1) -> None:
        super().__init__(daemon=True, name=f"sqs-poller:{queue_url.rsplit('/', 1)[-1]}")
        self._sqs = sqs
        self._url = queue_url
        self._arn = queue_arn
        self._invoke = invoke
        self._batch = batch_size
        self._region = region
        self._wait = wait_seconds
        self._halt = threading.Event()
        self._busy = threading.Event()
        self.batches = 0
        self.failed_records = 0
        self.deleted = 0

    def stop(self) -> None:
        self._halt.set()

    @property
    def busy(self) -> bool:
        return self._busy.is_set()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                response = self._sqs.receive_message(
                    QueueUrl=self._url, MaxNumberOfMessages=self._batch, WaitTimeSeconds=self._wait,
                    AttributeNames=["All"], MessageAttributeNames=["All"])
            except Exception:
                if self._halt.wait(0.5):
                    return
                continue
            messages: list[SqsMessage] = response.get("Messages", [])   # boto3's client is untyped
            if not messages:
                continue
            self._busy.set()
            try:
                self._process(messages)
            finally:
                self._busy.clear()

    def _process(self, messages: list[SqsMessage]) -> None:
        self.batches += 1
        failed, deleted = deliver_batch(self._sqs, self._url, self._arn, self._invoke, messages, self._region)
        self.failed_records += failed
        self.deleted += deleted


def deliver_batch(sqs: Any, queue_url: str, queue_arn: str, invoke: Invoke,
                  messages: list[SqsMessage], region: str = "us-east-1") -> tuple[int, int]:
    """One event-source-mapping delivery: invoke with the batch, delete what did not fail.

    Returns (failed records, deleted records).
    """
    event: SqsEvent = {"Records": [to_lambda_record(m, queue_arn, region) for m in messages]}
    try:
        failed = _failed_records(invoke(event) or {})
    except Exception:
        failed = {m["MessageId"] for m in messages}
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):
        chunk = done[start:start + 10]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])
    return len(failed), len(done)


def _failed_records(result: object) -> set[str]:
    """The ``itemIdentifier`` of each of the answer's ``batchItemFailures`` (TypeError/KeyError: not an answer)."""
    if not isinstance(result, dict):
        raise TypeError(f"{type(result).__name__} is not a function's answer")
    failures = result.get("batchItemFailures", [])
    if not isinstance(failures, list):
        raise TypeError("batchItemFailures is not a list")
    return {item["itemIdentifier"] for item in failures}
