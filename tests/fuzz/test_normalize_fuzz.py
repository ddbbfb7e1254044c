"""Signed payloads can still be strange: the sample Stripe and Adyen events with fields deleted or replaced by values of
other types must normalize, or fail as a case with a snake_case reason (what the normalize step turns into an
exception case and acknowledges) — never with another exception, which SQS would retry into the DLQ with no case.
How many fell to the catch-all ``normalization_failed`` (a connector that did not expect the shape) is reported."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledgerlink.config.loader import load_config_file
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.errors import NormalizationError
from ledgerlink.service.normalize import read_event

from tests.conftest import EVENTS, EXAMPLE_CONFIG
from tests.fuzz.conftest import EXAMPLES, json_paths

# what a payload holds where another type was documented: nothing, numbers out of range, numbers as text
VALUES: list[Any] = [None, 0, -1, 1.5, True, 10**30, -(10**12), "", "x", "1e5", "NaN", "-5", "2026-13-45", "\u0668",
                     [], {}, [1, 2], {"a": 1}]


def _samples(kind: str) -> list[dict[str, Any]]:
    events = [json.loads(path.read_text()) for path in sorted((EVENTS / kind).glob("*.json"))]
    if kind == "adyen":   # one message per notification item, as the webhook module splits a delivery
        return [{"live": event.get("live"), "NotificationRequestItem": item["NotificationRequestItem"]}
                for event in events for item in event["notificationItems"]]
    return events


@st.composite
def mutated(draw: st.DrawFn, samples: list[dict[str, Any]]) -> dict[str, Any]:
    event = json.loads(json.dumps(draw(st.sampled_from(samples))))
    for _ in range(draw(st.integers(1, 3))):
        paths = json_paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = json.loads(json.dumps(draw(st.sampled_from(VALUES))))
    return event


@pytest.fixture(scope="module")
def config() -> LedgerLinkConfig:
    return load_config_file(EXAMPLE_CONFIG)


@pytest.mark.parametrize("kind", ["stripe", "adyen"])
def test_mutated_events_normalize_or_become_a_case_with_a_reason(config, record_property, kind):
    outcomes: dict[str, int] = {}
    context = NormalizeContext(config=config, source_id=kind, correlation_id="fuzz", archive_key="raw/fuzz")

    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(event=mutated(_samples(kind)))
    def property_(event: dict[str, Any]) -> None:
        try:
            read_event(kind, event, context)
        except NormalizationError as error:
            assert re.fullmatch(r"[a-z][a-z_]+", error.reason), error.reason
            key = error.reason if error.reason != "normalization_failed" else \
                f"normalization_failed:{error.detail.get('error_type', '?')}"
            outcomes[key] = outcomes.get(key, 0) + 1
            return
        except ValueError:   # pydantic's ValidationError among them: the step opens malformed_payload
            outcomes["malformed_payload"] = outcomes.get("malformed_payload", 0) + 1
            return
        outcomes["normalized"] = outcomes.get("normalized", 0) + 1

    property_()
    record_property("fuzz_cases", f"normalize {kind}: {sum(outcomes.values())} cases, "
                                  f"outcomes {dict(sorted(outcomes.items()))}")
    assert outcomes.get("normalized")
