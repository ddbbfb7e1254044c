"""The ledger's lookup indexes (`ledgerlink trace` by any id) reach an existing stack one deployment at a time:
CloudFormation creates at most one global secondary index per table in one stack update, so the context
``ledger_lookup_indexes`` stages them (default: all of them, as on a new stack)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_kms as kms

from infra.constructs.tables import LOOKUP_INDEX_NAMES, StateTables


def ledger_indexes(context: dict) -> list[tuple[str, dict]]:
    app = cdk.App(context=context)
    stack = cdk.Stack(app, "Tables")
    StateTables(stack, "State", key=kms.Key(stack, "Key"), prod=False)
    tables = assertions.Template.from_stack(stack).find_resources("AWS::DynamoDB::Table")
    (ledger,) = [t for t in tables.values() if t["Properties"]["KeySchema"][0]["AttributeName"] == "document_id"]
    return [(i["IndexName"], i["Projection"]) for i in ledger["Properties"]["GlobalSecondaryIndexes"]]


def test_a_new_stack_gets_every_lookup_index_keys_only():
    indexes = ledger_indexes({})
    assert [name for name, _ in indexes] == ["by_day_ids", *LOOKUP_INDEX_NAMES]
    assert all(projection == {"ProjectionType": "KEYS_ONLY"} for _, projection in indexes)


@pytest.mark.parametrize("count", [0, 1, 3])
def test_an_existing_stack_gets_them_one_deployment_at_a_time(count):
    assert [name for name, _ in ledger_indexes({"ledger_lookup_indexes": count})] == [
        "by_day_ids", *LOOKUP_INDEX_NAMES[:count]]


def test_a_stack_from_before_the_keys_only_day_index_keeps_the_old_one_for_one_deployment():
    """The day index became keys only under a new name: a stack that has ``by_day`` (all attributes) first gets
    ``by_day_ids`` beside it (one index created), and loses ``by_day`` on the next deployment (one deleted)."""
    indexes = dict(ledger_indexes({"ledger_retired_day_index": "keep"}))
    assert list(indexes) == ["by_day_ids", "by_day", *LOOKUP_INDEX_NAMES]
    assert indexes["by_day"] == {"ProjectionType": "ALL"}
    assert indexes["by_day_ids"] == {"ProjectionType": "KEYS_ONLY"}
    with pytest.raises(ValueError, match="ledger_retired_day_index must be 'keep'"):
        ledger_indexes({"ledger_retired_day_index": "yes"})


def test_a_count_out_of_range_is_refused():
    with pytest.raises(ValueError, match="ledger_lookup_indexes must be 0..4"):
        ledger_indexes({"ledger_lookup_indexes": 5})
