"""The inbound queue message (model/messages.py): what producers write stays byte for byte what they wrote as dicts,
and what normalize reads from older or newer producers still reads."""

from __future__ import annotations

import json

import pytest

from ledgerlink.model.messages import InboundMessage, InvalidMessage, decode_message, read_message
from ledgerlink.service.normalize import parse_message

INGEST_DICT = {"v": 1, "source": "stripe", "kind": "stripe", "event_id": "evt_1", "event_type": "invoice.paid",
               "correlation_id": "corr-0001", "archive_key": "raw/stripe/2025/12/07/evt_1.json",
               "received_at": 1765065600, "received_day": "2025-12-07", "body": "{\"id\": \"evt_1\"}"}


def test_a_message_written_by_ingest_is_the_json_it_wrote_before_the_type_existed() -> None:
    message = InboundMessage(source="stripe", kind="stripe", event_id="evt_1", event_type="invoice.paid",
                             correlation_id="corr-0001", archive_key="raw/stripe/2025/12/07/evt_1.json",
                             received_at=1765065600, received_day="2025-12-07", body="{\"id\": \"evt_1\"}")
    assert json.dumps(message.to_json(), separators=(",", ":")) == json.dumps(INGEST_DICT, separators=(",", ":"))


def test_backfill_and_claim_check_fields_keep_their_place() -> None:
    backfilled = InboundMessage(source="stripe", kind="stripe", event_id="evt_2", event_type="invoice.paid",
                                correlation_id="backfill-1", archive_key="raw/k", received_at=5, received_day="",
                                backfilled=True, body="{}")
    assert list(backfilled.to_json()) == ["v", "source", "kind", "event_id", "event_type", "correlation_id",
                                          "archive_key", "received_at", "received_day", "backfilled", "body"]
    by_key = InboundMessage(source="s", kind="bank", event_id="e", correlation_id="c", archive_key="raw/k",
                            payload_key="raw/k/e.json")
    assert by_key.to_json() == {"v": 1, "source": "s", "kind": "bank", "event_id": "e", "correlation_id": "c",
                                "archive_key": "raw/k", "payload_key": "raw/k/e.json"}


def test_a_replay_message_reads_with_its_pin_and_its_case() -> None:
    replay = {**INGEST_DICT, "replay": True, "config_version": 3, "resolves_exception": "exc-1", "unknown": [1]}
    message = read_message(json.dumps(replay))
    assert (message.replay, message.config_version, message.resolves_exception) == (True, 3, "exc-1")
    assert message.to_json() == {key: value for key, value in replay.items() if key != "unknown"}


def test_optional_fields_of_another_type_read_as_absent() -> None:
    odd = {**INGEST_DICT, "body": 7, "config_version": "3", "resolves_exception": None, "received_day": None,
           "received_at": 0}
    message = InboundMessage.of(odd)
    assert (message.body, message.config_version, message.resolves_exception) == (None, None, None)
    assert message.received_at is None and len(message.day) == 10   # today: the message does not say


def test_the_day_is_the_received_day_else_that_of_received_at() -> None:
    assert InboundMessage.of(INGEST_DICT).day == "2025-12-07"
    assert InboundMessage.of({**INGEST_DICT, "received_day": ""}).day == "2025-12-07"


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"source": "stripe"}),
                                  json.dumps({**INGEST_DICT, "event_id": 1})])
def test_a_body_that_is_not_an_inbound_message_is_refused_by_every_reader(body: str) -> None:
    for reader in (read_message, decode_message, parse_message):
        with pytest.raises(InvalidMessage):
            reader(body)
    with pytest.raises(InvalidMessage):
        InboundMessage.of({"source": "stripe"})
