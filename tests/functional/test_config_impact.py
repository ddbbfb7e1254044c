"""The console's configuration pages' services on the local stack (moto): a proposed configuration, pasted as YAML,
is checked against a real open case (the refund waiting on a missing mapping) without writing anything; once applied,
the version diff says what changed and who applied it."""

from __future__ import annotations

import pytest

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.ops.commands import config_apply
from ledgerlink.ops.target import Target
from ledgerlink.service.config_impact import cases_fixed_by, parse_proposed, proposed_diff, version_diff
from ledgerlink.store.config_store import DynamoConfigStore

from tests.conftest import EXAMPLE_CONFIG
from tests.functional.conftest import DELETE, Stack, config_with, served_like
from tests.functional.test_governance import ALICE


@pytest.fixture
def stack_config() -> LedgerLinkConfig:
    """The example configuration without the us01/stripe refunds account."""
    return config_with(account_mappings__0__accounts__refunds=DELETE)


def test_a_proposed_configuration_would_fix_the_open_mapping_case_and_writes_nothing(stack: Stack) -> None:
    # Given a refund in a mapping_missing case, waiting (version 1 lacks the refunds account)
    stack.send_event("04-charge.refunded.json")
    stack.drain()
    (case,) = stack.exceptions.list("open")
    (document,) = stack.documents("exception")
    assert case["reason"] == "mapping_missing"
    store = DynamoConfigStore(stack.resources.tables["config"], cache_seconds=0)
    version, current = store.active()
    # When a mapping admin pastes the example configuration (which maps refunds) as the proposal
    proposed = served_like(parse_proposed(EXAMPLE_CONFIG.read_text()), stack)
    assert [c.path for c in proposed_diff(store, proposed, current_version=version).changes] == [
        "account_mappings[entity=us01 source=stripe].accounts.refunds"]
    fixed = cases_fixed_by(proposed, cases=stack.exceptions, ledger=stack.ledger, current_version=version)
    still = cases_fixed_by(current, cases=stack.exceptions, ledger=stack.ledger, current_version=version)
    # Then the case would be fixed by the proposal, and still fails as things are
    assert [(c.exception_id, c.outcome) for c in fixed.cases] == [(case["exception_id"], "would_fix")]
    assert [(c.outcome, c.new_reason) for c in still.cases] == [("still_fails", "mapping_missing")]
    # and nothing moved: the case is open, the document in exception, the book empty, the version unchanged
    assert stack.exceptions.get(case["exception_id"])["status"] == "open"
    assert stack.ledger.get(document["document_id"])["status"] == "exception"
    assert stack.postings() == [] and store.active()[0] == version
    # And once applied, the version diff says what changed and who applied it
    applied = config_apply(Target("local", stack.resources.environment()), proposed, applied_by=ALICE)
    changed = version_diff(store, version, applied["version"])
    assert [c.path for c in changed.changes] == ["account_mappings[entity=us01 source=stripe].accounts.refunds"]
    assert changed.applied_by == ALICE and changed.applied_at
