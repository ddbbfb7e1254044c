"""The audit export handler on moto: real stream records of the audit table → objects in an Object Lock bucket.

Given audit items written by the real store (conditional puts) and read back from moto's DynamoDB stream,
when the handler runs, then each change is one locked object; a retried batch writes nothing twice; an
overwrite of an audit item (what IAM cannot forbid a PutItem holder) is exported with its old image and
reported as tampering; a locked copy cannot be deleted.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ledgerlink.local.functions import LambdaContext
from ledgerlink.service.audit_export import export
from ledgerlink.store import clients
from ledgerlink.store.audit import DynamoAudit
from ledgerlink.store.audit_copies import S3AuditCopies

from tests.conftest import REPO

REGION = "us-east-1"
TABLE, BUCKET = "audit", "audit-copies"


def _handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_export_handler",
                                                  REPO / "functions" / "audit_export" / "handler.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("LEDGERLINK_AUDIT_BUCKET", BUCKET)
    # botocore addresses DynamoDB Streams at <account>.streams-ddb.<region>, which moto does not answer
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "LedgerLink")
    with mock_aws():
        clients.reset()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        table = dynamodb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
        yield {"dynamodb": dynamodb, "s3": s3, "stream": table["TableDescription"]["LatestStreamArn"]}
        clients.reset()


def _stream_records(aws: dict[str, Any]) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    records = []
    for shard in streams.describe_stream(StreamArn=aws["stream"])["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=aws["stream"], ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records.extend(streams.get_records(ShardIterator=iterator)["Records"])
    # what Lambda hands the function: the stream record plus the event source ARN, JSON-shaped
    return [json.loads(json.dumps({**r, "eventSourceARN": aws["stream"]}, default=str)) for r in records]


def _objects(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return aws["s3"].list_object_versions(Bucket=BUCKET).get("Versions", [])


def test_each_audit_item_becomes_one_locked_object_and_a_retry_writes_nothing_twice(aws):
    audit = DynamoAudit(TABLE)
    audit.record("dlq_redrive", actor="arn:aws:iam::123456789012:role/ReplayOperator", subject="dlq",
                 detail={"moved": 3})
    audit.record("config_apply", actor="arn:aws:iam::123456789012:role/MappingAdmin", subject="config v2")
    handler = _handler()
    event = {"Records": _stream_records(aws)}

    answer = handler.handler(event, LambdaContext("audit-export"))

    assert answer == {"batchItemFailures": []}
    versions = _objects(aws)
    assert len(versions) == 2 and all(key["Key"].startswith("audit/audit#") for key in versions)
    body = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=versions[0]["Key"])["Body"].read())
    assert body["event"] == "INSERT" and body["new_image"]["action"]["S"] in ("dlq_redrive", "config_apply")
    head = aws["s3"].head_object(Bucket=BUCKET, Key=versions[0]["Key"])  # (moto's GetObjectRetention errors)
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"]

    assert handler.handler(event, LambdaContext("audit-export")) == {"batchItemFailures": []}  # the stream retries
    assert len(_objects(aws)) == 2  # If-None-Match: the first copy stands, no second version


def test_an_overwritten_audit_item_is_exported_with_its_old_image_as_tampering(aws, caplog):
    item = DynamoAudit(TABLE).record("replay", actor="arn:aws:iam::123456789012:role/ReplayOperator",
                                     subject="doc-1")
    # a principal holding PutItem writes without the condition the store always sends
    aws["dynamodb"].put_item(TableName=TABLE, Item={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]},
                                                    "action": {"S": "nothing happened"}})
    handler = _handler()

    handler.handler({"Records": _stream_records(aws)}, LambdaContext("audit-export"))

    modify = [v["Key"] for v in _objects(aws) if v["Key"].endswith("-modify.json")]
    assert len(modify) == 1
    body = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=modify[0])["Body"].read())
    assert body["old_image"]["action"]["S"] == "replay" and body["new_image"]["action"]["S"] == "nothing happened"
    assert "audit items were changed or deleted" in caplog.text


def test_a_locked_copy_cannot_be_deleted(aws):
    DynamoAudit(TABLE).record("reconcile", actor="local:ops", subject="2026-01-01/all")
    _handler().handler({"Records": _stream_records(aws)}, LambdaContext("audit-export"))
    (version,) = _objects(aws)
    with pytest.raises(ClientError) as refused:
        aws["s3"].delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_failed_write_resumes_the_stream_at_that_record(aws):
    audit = DynamoAudit(TABLE)
    for n in range(3):
        audit.record("replay", actor="local:ops", subject=f"doc-{n}")
    records = _stream_records(aws)

    class FailsOnSecond(S3AuditCopies):  # moto has no fault injection: the second write is refused here
        calls = 0

        def put_once(self, key: str, body: bytes) -> bool:
            FailsOnSecond.calls += 1
            if FailsOnSecond.calls == 2:
                raise ClientError({"Error": {"Code": "SlowDown", "Message": "try later"}}, "PutObject")
            return super().put_once(key, body)

    result = export(records, FailsOnSecond(BUCKET))

    assert result.written == 1
    assert result.response() == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
