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


def test_posting_in_progress_waits_out_a_whole_lease_before_giving_up():
    from ledgerlink.service.posting import POST_LEASE_SECONDS

    (wait,) = [r for r in post_retriers() if r["ErrorEquals"] == [errors.PostingInProgress.__name__]]
    assert issubclass(errors.PostingInProgress, errors.TransientError)
    assert "JitterStrategy" not in wait   # jitter could make every wait short
    waits = [min(wait["IntervalSeconds"] * wait["BackoffRate"] ** n, wait.get("MaxDelaySeconds", 10**9))
             for n in range(wait["MaxAttempts"])]
    assert sum(waits) > 2 * POST_LEASE_SECONDS    # a crashed holder's lease runs out well before the last retry
    post = json.loads(definition_text())["States"]["Post"]
    assert post["TimeoutSeconds"] <= POST_LEASE_SECONDS   # no invocation outlives the lease it took
