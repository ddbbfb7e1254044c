"""SQS producer for the inbound queue (message body = JSON; the correlation id also as an attribute)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ledgerlink.store.clients import client as default_client


class SqsQueue:
    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        self._url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("sqs")

    def send(self, message: Mapping[str, object], *, correlation_id: str) -> str:
        """Enqueue one inbound message (``InboundMessage.to_json()``, or a replay's JSON object as it was read)."""
        response = self.client.send_message(
            QueueUrl=self._url, MessageBody=json.dumps(message, separators=(",", ":")),
            MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": correlation_id}},
        )
        return str(response["MessageId"])
