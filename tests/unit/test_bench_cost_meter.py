"""The cost bench's DynamoDB meter bills writes the way DynamoDB documents it: each item at the larger of its size
before and after the write (1 KB units), twice in a transaction, a refused condition at the item as it was, and the
global secondary indexes' own writes — an index projecting every attribute is written again whenever a projected
attribute changes, a keys-only index only when its keys appear, change or go. The expected units below are worked out
by hand from the item sizes (attribute name bytes + string value bytes), not by the meter."""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from bench.cost import DynamoMeter, latency_ms, load_prices, table_shapes

TABLE = "meter-test"


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("id", "day", "ref")],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {"IndexName": "all", "KeySchema": [{"AttributeName": "day", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "ALL"}},
                {"IndexName": "keys", "KeySchema": [{"AttributeName": "ref", "KeyType": "HASH"}],
                 "Projection": {"ProjectionType": "KEYS_ONLY"}}])
        yield client


def metered(client, operation: str, meter: DynamoMeter, **params):
    """One request through the meter as the bench's botocore hooks drive it (before, the call, after)."""
    meter.before(operation, params)
    try:
        return getattr(client, {"PutItem": "put_item", "UpdateItem": "update_item",
                                "TransactWriteItems": "transact_write_items"}[operation])(**params)
    except client.exceptions.ClientError:
        return None
    finally:
        meter.after()


def test_writes_are_billed_at_the_larger_size_and_indexes_by_their_projection(dynamodb):
    meter = DynamoMeter(dynamodb, table_shapes(dynamodb, [TABLE]))
    body = "x" * 1500   # "body" (4 bytes) + 1,500: with id/day the item is 1.5 KB → 2 units
    metered(dynamodb, "PutItem", meter, TableName=TABLE,
            Item={"id": {"S": "d1"}, "day": {"S": "2026-12-01"}, "body": {"S": body}})
    # base 2; index "all": the item enters (2 units, it projects everything); "keys": no ref yet → nothing
    assert meter.wru == 4 and meter.index_wru == 2

    metered(dynamodb, "UpdateItem", meter, TableName=TABLE, Key={"id": {"S": "d1"}},
            UpdateExpression="SET grown = :g, #r = :r", ExpressionAttributeNames={"#r": "ref"},
            ExpressionAttributeValues={":g": {"S": "y" * 1000}, ":r": {"S": "erp-1"}})
    # after ≈ 2.5 KB → base 3; "all" rewritten (a projected attribute changed) at 3; "keys" entered: id+ref, 1
    assert meter.wru == 4 + 3 + 3 + 1 and meter.index_wru == 2 + 3 + 1

    metered(dynamodb, "TransactWriteItems", meter, TransactItems=[{"Update": {
        "TableName": TABLE, "Key": {"id": {"S": "d1"}}, "UpdateExpression": "REMOVE grown"}}])
    # before 2.5 KB, after 1.5 KB: billed at the larger (3) × 2 for the transaction; "all" rewritten at the new
    # size (2); "keys" untouched (its keys did not change)
    assert meter.wru == 11 + 6 + 2 and meter.index_wru == 6 + 2

    metered(dynamodb, "UpdateItem", meter, TableName=TABLE, Key={"id": {"S": "d1"}},
            UpdateExpression="SET body = :b", ConditionExpression="attribute_not_exists(id)",
            ExpressionAttributeValues={":b": {"S": "z"}})
    # refused by its condition: billed at the item as it is (2), no index changes
    assert meter.wru == 19 + 2 and meter.index_wru == 8
    assert meter.wru_by_table[TABLE] == 21
    assert meter.index_wru_by_index == {f"{TABLE}/all": 7, f"{TABLE}/keys": 1}


def test_reads_are_billed_from_the_request(dynamodb):
    meter = DynamoMeter(dynamodb, table_shapes(dynamodb, [TABLE]))
    meter.before("GetItem", {"TableName": TABLE, "Key": {"id": {"S": "a"}}})
    meter.before("GetItem", {"TableName": TABLE, "Key": {"id": {"S": "a"}}, "ConsistentRead": True})
    meter.before("Query", {"TableName": TABLE})
    assert meter.rru == Decimal("2.5") and meter.wru == 0


def test_call_latency_falls_back_from_operation_to_service_to_default():
    latencies = {k: v for k, v in load_prices()["latency_ms"].items() if not k.startswith("_")}
    assert latency_ms(latencies, "dynamodb:TransactWriteItems") == latencies["dynamodb:TransactWriteItems"]
    assert latency_ms(latencies, "dynamodb:GetItem") == latencies["dynamodb"]
    assert latency_ms(latencies, "cognito-idp:InitiateAuth") == latencies["default"]
