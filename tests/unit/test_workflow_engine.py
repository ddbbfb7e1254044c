"""The post step's retry policy for the ERP: rate limits wait longer, uncertain outcomes are retried (the retry
looks the document up first), and the error names match the Python classes Lambda reports."""

from __future__ import annotations

import json

from ledgerlink import errors
from ledgerlink.workflow import definition_text


def post_retriers() -> list[dict]:
    return json.loads(definition_text())["States"]["Post"]["Retry"]


def test_rate_limited_is_retried_first_patiently_with_backoff():
    first = post_retriers()[0]
    assert first["ErrorEquals"] == [errors.RateLimited.__name__]
    assert first["IntervalSeconds"] >= 20 and first["MaxAttempts"] >= 8 and first["MaxDelaySeconds"] >= 300
    assert first["BackoffRate"] > 1 and first["JitterStrategy"] == "FULL"


def test_an_uncertain_outcome_is_a_transient_error_for_the_state_machine():
    retried = {error for retrier in post_retriers() for error in retrier["ErrorEquals"]}
    assert errors.UncertainOutcome.__name__ in retried and errors.TransientError.__name__ in retried
    assert issubclass(errors.UncertainOutcome, errors.TransientError)
    assert issubclass(errors.RateLimited, errors.TransientError)
    assert "DocumentRejected" not in retried
