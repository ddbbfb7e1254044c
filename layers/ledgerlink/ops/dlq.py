"""DLQ tooling: list, show and redrive messages parked in a dead-letter queue.

Redrive uses SQS ``StartMessageMoveTask`` (what the console's "Start DLQ redrive" calls) when the
endpoint supports it, else a receive → send → delete loop (moto has no StartMessageMoveTask). Redriven
messages are processed idempotently downstream (inbox, ledger, document ids, ERP lookup). Every
redrive that moves something is audited.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgerlink.store.clients import error_code

UNSUPPORTED = {"UnsupportedOperation", "InvalidAction", "NotImplemented", "UnknownOperationException",
               "InvalidParameterValue", "AWS.SimpleQueueService.UnsupportedOperation"}


@dataclass
class ParkedMessage:
    message_id: str
    receive_count: int
    sent_at: int
    body: str
    # why its last attempt failed (error type and where), from the event's inbox claim; None when not noted
    last_error: str | None = None

    def event(self) -> tuple[str, str] | None:
        """(source, event id) of a parked inbound message, or None for a body that is not one."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("source"), str) and isinstance(data.get("event_id"), str):
            return data["source"], data["event_id"]
        return None

    def summary(self) -> dict[str, object]:
        try:
            data = json.loads(self.body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            keys = ("source", "event_id", "event_type", "correlation_id", "archive_key")
            return {"message_id": self.message_id, "receive_count": self.receive_count, "sent_at": self.sent_at,
                    **{key: data.get(key) for key in keys}, "last_error": self.last_error}
        return {"message_id": self.message_id, "receive_count": self.receive_count, "sent_at": self.sent_at,
                "body_preview": self.body[:120]}


@dataclass
class RedriveResult:
    mode: str                  # move_task | receive_send | dry_run
    moved: int = 0
    task_handle: str | None = None
    message_ids: list[str] = field(default_factory=list)


def _is_local(sqs: Any) -> bool:
    endpoint = str(getattr(getattr(sqs, "meta", None), "endpoint_url", "") or "")
    return "127.0.0.1" in endpoint or "localhost" in endpoint


class DlqTool:
    def __init__(self, sqs: Any, *, dlq_url: str, source_url: str, use_move_task: bool | None = None,
                 claims: Callable[[str, str], Mapping[str, object] | None] | None = None) -> None:
        self._sqs = sqs
        self._claims = claims   # the inbox's claim of (source, event id): why its last attempt failed
        self.dlq_url = dlq_url
        self.source_url = source_url
        # moto answers StartMessageMoveTask with a bare 500 in server mode: locally, go straight to the fallback
        self._use_move_task = (not _is_local(sqs)) if use_move_task is None else use_move_task

    def _arn(self, url: str) -> str:
        return str(self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def depth(self) -> int:
        attributes = self._sqs.get_queue_attributes(QueueUrl=self.dlq_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def list(self, limit: int = 100) -> list[ParkedMessage]:
        """Peek: receive with a short visibility, then make everything visible again at once."""
        seen: dict[str, ParkedMessage] = {}
        handles: list[str] = []
        while len(seen) < limit:
            batch = self._sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=30,
                                              AttributeNames=["All"]).get("Messages", [])
            if not batch:
                break
            for message in batch:
                handles.append(message["ReceiptHandle"])
                attributes = message.get("Attributes", {})
                seen.setdefault(message["MessageId"], ParkedMessage(
                    message_id=message["MessageId"], body=message["Body"],
                    receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
                    sent_at=int(attributes.get("SentTimestamp", 0)) // 1000))
        for start in range(0, len(handles), 10):
            self._sqs.change_message_visibility_batch(QueueUrl=self.dlq_url, Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(handles[start:start + 10])])
        parked = list(seen.values())
        if self._claims is not None:
            for message in parked:
                event = message.event()
                claim = self._claims(*event) if event else None
                message.last_error = str(claim["last_error"]) if claim and claim.get("last_error") else None
        return parked

    def show(self, message_id: str) -> ParkedMessage | None:
        return next((m for m in self.list() if m.message_id == message_id), None)

    def redrive(self, *, dry_run: bool = False) -> RedriveResult:
        if dry_run:
            parked = self.list()
            return RedriveResult("dry_run", moved=0, message_ids=[m.message_id for m in parked])
        if not self._use_move_task:
            return self._receive_send()
        try:
            response = self._sqs.start_message_move_task(SourceArn=self._arn(self.dlq_url),
                                                         DestinationArn=self._arn(self.source_url))
            return RedriveResult("move_task", moved=self.depth(), task_handle=response.get("TaskHandle"))
        except Exception as exc:
            if error_code(exc) not in UNSUPPORTED and "not yet implemented" not in str(exc).lower() \
                    and not isinstance(exc, NotImplementedError):
                raise
        return self._receive_send()

    def _receive_send(self) -> RedriveResult:
        result = RedriveResult("receive_send")
        while True:
            batch = self._sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                              MessageAttributeNames=["All"]).get("Messages", [])
            if not batch:
                return result
            for message in batch:
                attributes = {name: {k: v for k, v in attr.items() if k in ("DataType", "StringValue", "BinaryValue")}
                              for name, attr in (message.get("MessageAttributes") or {}).items()}
                self._sqs.send_message(QueueUrl=self.source_url, MessageBody=message["Body"],
                                       **({"MessageAttributes": attributes} if attributes else {}))
                self._sqs.delete_message(QueueUrl=self.dlq_url, ReceiptHandle=message["ReceiptHandle"])
                result.moved += 1
                result.message_ids.append(message["MessageId"])
