"""Copy every change of the audit table to the write-once audit bucket (DynamoDB stream → S3 Object Lock).

The table is append-only by code and by policy (conditional puts only); this copy is what makes the trail
tamper-evident: each stream record — an ``INSERT``, or a ``MODIFY``/``REMOVE`` that should never happen —
becomes one object under its item's prefix, written once and locked for the bucket's retention. The record is
kept as DynamoDB sent it (attribute-value JSON, old and new images), so nothing is lost in a conversion.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NotRequired, Protocol, TypedDict

from ledgerlink.model.json import JsonObject

AUDIT_PREFIX = "audit/"


class AuditCopies(Protocol):
    def put_once(self, key: str, body: bytes) -> bool: ...


class StreamChange(TypedDict):
    """The ``dynamodb`` part of a DynamoDB stream record (attribute-value JSON, as DynamoDB sends it)."""

    Keys: dict[str, dict[str, str]]           # the audit table's pk and sk, each {"S": ...}
    SequenceNumber: str
    ApproximateCreationDateTime: NotRequired[float]
    NewImage: NotRequired[JsonObject]
    OldImage: NotRequired[JsonObject]


class StreamRecord(TypedDict):
    """One record of a DynamoDB stream event."""

    eventName: str                            # INSERT | MODIFY | REMOVE
    dynamodb: StreamChange
    eventID: NotRequired[str]
    eventSourceARN: NotRequired[str]


def audit_object(record: StreamRecord) -> tuple[str, bytes]:
    """``audit/<pk>/<sk>/<sequence number>-<event>.json`` and the record's body for one stream record."""
    change = record["dynamodb"]
    keys = change["Keys"]
    sequence = change["SequenceNumber"]
    event = str(record["eventName"]).lower()
    key = f"{AUDIT_PREFIX}{keys['pk']['S']}/{keys['sk']['S']}/{sequence}-{event}.json"
    body = {"event": record["eventName"], "event_id": record.get("eventID"), "sequence_number": sequence,
            "approximate_creation_time": change.get("ApproximateCreationDateTime"), "keys": keys,
            "new_image": change.get("NewImage"), "old_image": change.get("OldImage"),
            "event_source_arn": record.get("eventSourceARN")}
    return key, json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


@dataclass
class ExportResult:
    written: int = 0
    already_there: int = 0
    tampering: list[str] = field(default_factory=list)      # keys of MODIFY / REMOVE records
    failed_sequence_number: str | None = None               # where the stream must resume

    def response(self) -> dict[str, list[dict[str, str]]]:
        """The partial-batch answer Lambda's stream event source understands (resume at the first failure)."""
        failures = [{"itemIdentifier": self.failed_sequence_number}] if self.failed_sequence_number else []
        return {"batchItemFailures": failures}


def export(records: Iterable[StreamRecord], copies: AuditCopies) -> ExportResult:
    """Write each record in stream order; stop at the first failure so the stream resumes exactly there."""
    result = ExportResult()
    for record in records:
        key, body = audit_object(record)
        try:
            written = copies.put_once(key, body)
        except Exception:  # noqa: BLE001 - any storage failure: retry from this record on
            result.failed_sequence_number = record["dynamodb"]["SequenceNumber"]
            return result
        if written:
            result.written += 1
        else:
            result.already_there += 1
        if record["eventName"] != "INSERT":
            result.tampering.append(key)
    return result
