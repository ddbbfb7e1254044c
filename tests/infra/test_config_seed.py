"""Config seeding: version 1 written on create only, exactly as ``DynamoConfigStore.apply`` writes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledgerlink.config import config_hash, load_config_file
from ledgerlink.store.config_store import DynamoConfigStore

from tests.conftest import EXAMPLE_CONFIG
from tests.infra.conftest import APPLIED_AT
from tests.infra.template_queries import of_type, ref, table_ids


class RecordingDynamoClient:
    """The two calls ``apply`` makes on an empty table: get_item (nothing there) and put_item (recorded)."""

    def __init__(self) -> None:
        self.puts: list[dict[str, Any]] = []

    def get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {}

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self.puts.append(kwargs)
        return {}


def _sdk_call(seed: dict[str, Any], phase: str) -> dict[str, Any] | None:
    """The custom resource's ``Create``/``Update``/``Delete`` JSON with the table reference rendered as its id."""
    value = seed["Properties"].get(phase)
    if value is None:
        return None
    if isinstance(value, dict):  # Fn::Join around the table name
        separator, parts = value["Fn::Join"]
        value = separator.join(part if isinstance(part, str) else ref(part) for part in parts)
    return json.loads(value)


@pytest.fixture(scope="module")
def seeds(template) -> list[dict[str, Any]]:
    found = list(of_type(template, "Custom::LedgerLinkConfigSeed").values())
    assert len(found) == 2
    return found


def test_seed_items_are_what_the_config_store_writes_for_version_one(template, seeds):
    # Given the example config applied by the library to an empty table (recorded, no AWS) ...
    config = load_config_file(EXAMPLE_CONFIG)
    client = RecordingDynamoClient()
    DynamoConfigStore("config-table", client=client).apply(
        config, applied_by="cdk-deploy", content_hash=config_hash(config))
    library = {put["Item"]["sk"]["S"]: put for put in client.puts}
    # ... When the stack's two seed calls are read back ...
    calls = {call["parameters"]["Item"]["sk"]["S"]: call for call in (_sdk_call(seed, "Create") for seed in seeds)}
    # Then they write the same items (applied_at is the deploy's, pinned in tests), on the config table.
    assert set(calls) == set(library) == {"v#000001", "active"}
    for sort_key, call in calls.items():
        expected = {**library[sort_key]["Item"], "applied_at": {"S": APPLIED_AT}}
        assert call["parameters"]["Item"] == expected
        assert call["parameters"]["TableName"] == table_ids(template)["config"]
        assert call["action"].lower() == "putitem" and call["service"].lower() == "dynamodb"


def test_seed_never_clobbers_an_applied_configuration(seeds):
    for seed in seeds:
        create = _sdk_call(seed, "Create")
        assert create["parameters"]["ConditionExpression"] == "attribute_not_exists(sk)"
        assert create["ignoreErrorCodesMatching"] == "ConditionalCheckFailedException"
        # on create only: a redeploy or a later stack update rewrites nothing, and a delete removes nothing
        assert _sdk_call(seed, "Update") is None
        assert _sdk_call(seed, "Delete") is None


def test_seed_body_is_the_validated_config_as_stored_json(seeds):
    config = load_config_file(EXAMPLE_CONFIG)
    item = _sdk_call(seeds[0], "Create")["parameters"]["Item"]
    assert json.loads(item["body"]["S"]) == config.model_dump(mode="json")
    assert item["content_hash"]["S"] == config_hash(config)
    assert item["version"] == {"N": "1"}
    assert item["applied_by"] == {"S": "cdk-deploy"}
