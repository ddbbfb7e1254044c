"""The inbound queue message: what ingest, the pollers, backfill, bank files and replays send to normalize.

One JSON object per SQS message. The five identifying fields are required; everything else is optional and
omitted when absent, so the JSON a producer writes is exactly what it wrote before this type existed (key order
included) and a message written by an older or newer deployment reads here: unknown keys are ignored, an optional
field of an unexpected type reads as absent (what normalize did with the raw dict).

A slotted dataclass, not a pydantic model: ingest builds these on the webhook path, which imports no pydantic
(cold start, D2), and five required strings need no validator library.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from ledgerlink.clock import epoch, utc_day
from ledgerlink.model.json import JsonObject

MESSAGE_VERSION = 1
REQUIRED_FIELDS = ("source", "kind", "event_id", "correlation_id", "archive_key")


class InvalidMessage(ValueError):
    """The queue message itself is not a LedgerLink inbound message (goes to the DLQ)."""


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    source: str                         # the configured source id
    kind: str                           # its connector kind (stripe, ramp, bank…)
    event_id: str
    correlation_id: str
    archive_key: str                    # the raw request under raw/ (replays read it again)
    event_type: str | None = None
    v: int = MESSAGE_VERSION
    replay: bool = False                # sent by ``ledgerlink replay``: the inbox is not touched
    received_at: int | None = None      # epoch seconds of the first receipt
    received_day: str | None = None     # its UTC day: the inbox claim's (and event counters') partition
    backfilled: bool = False            # listed from the provider's API by the gap backfill
    body: str | None = None             # the event inline (≤ 200 kB), else read from ``payload_key``/the archive
    payload_key: str | None = None      # claim check of an oversized item of a batch
    config_version: int | None = None   # a replay pinned to a configuration version
    resolves_exception: str | None = None   # the exception case a replay retries

    @classmethod
    def from_json(cls, message: Mapping[str, object]) -> InboundMessage:
        """Read a decoded message; raises :class:`InvalidMessage` when an identifying field is missing."""
        source, kind, event_id, correlation_id, archive_key = (_required(message, key) for key in REQUIRED_FIELDS)
        received_at, config_version, version = (message.get("received_at"), message.get("config_version"),
                                                message.get("v"))
        return cls(
            source=source, kind=kind, event_id=event_id, correlation_id=correlation_id, archive_key=archive_key,
            event_type=_str(message.get("event_type")),
            v=version if isinstance(version, int) else MESSAGE_VERSION,
            replay=bool(message.get("replay")),
            received_at=int(received_at) if isinstance(received_at, int | float) and received_at else None,
            received_day=_str(message.get("received_day")) or None,
            backfilled=bool(message.get("backfilled")),
            body=_str(message.get("body")),
            payload_key=_str(message.get("payload_key")) or None,
            config_version=config_version if isinstance(config_version, int) else None,
            resolves_exception=_str(message.get("resolves_exception")) or None)

    @classmethod
    def of(cls, message: InboundMessage | Mapping[str, object]) -> InboundMessage:
        """The typed message, from itself or from a decoded JSON object (the handlers' raw dict)."""
        return message if isinstance(message, InboundMessage) else cls.from_json(message)

    def to_json(self) -> JsonObject:
        """The JSON object on the queue, in the key order producers have always written."""
        out: JsonObject = {"v": self.v, "source": self.source, "kind": self.kind, "event_id": self.event_id}
        if self.event_type is not None:
            out["event_type"] = self.event_type
        out.update(correlation_id=self.correlation_id, archive_key=self.archive_key)
        optional: tuple[tuple[str, str | int | bool | None], ...] = (
            ("replay", self.replay or None), ("received_at", self.received_at), ("received_day", self.received_day),
            ("backfilled", self.backfilled or None), ("body", self.body), ("payload_key", self.payload_key),
            ("config_version", self.config_version), ("resolves_exception", self.resolves_exception))
        out.update((name, value) for name, value in optional if value is not None)
        return out

    @property
    def day(self) -> str:
        """The UTC day the event was received (its inbox partition); now, for a message that does not say."""
        return self.received_day or utc_day(self.received_at or int(epoch()))


def _required(message: Mapping[str, object], key: str) -> str:
    value = message.get(key)
    if not isinstance(value, str):
        raise InvalidMessage(f"message lacks one of {REQUIRED_FIELDS}")
    return value


def read_message(body: str) -> InboundMessage:
    """An SQS message body → the typed message; :class:`InvalidMessage` if it is not one."""
    return InboundMessage.of(decode_message(body))


def decode_message(body: str) -> JsonObject:
    """An SQS message body → its JSON object, checked to carry the identifying fields."""
    try:
        message = json.loads(body)
    except ValueError:
        raise InvalidMessage("message body is not JSON") from None
    if not isinstance(message, dict) or any(not isinstance(message.get(key), str) for key in REQUIRED_FIELDS):
        raise InvalidMessage(f"message lacks one of {REQUIRED_FIELDS}")
    return message
