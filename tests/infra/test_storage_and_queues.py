"""Tables, key, buckets, secrets and the inbound queue: shapes and protections, as the design asks."""

from __future__ import annotations

import pytest

from ledgerlink.config import load_config_file
from ledgerlink.config.sources import api_credentials
from ledgerlink.store.tables import TABLES

from tests.conftest import EXAMPLE_CONFIG
from tests.infra.template_queries import function_names, of_type, output_target, ref, table_ids


def _key_schema(partition: str, sort: str | None) -> list[dict[str, str]]:
    return [{"AttributeName": partition, "KeyType": "HASH"},
            *([{"AttributeName": sort, "KeyType": "RANGE"}] if sort else [])]


def test_tables_are_exactly_the_library_table_specs(template):
    tables = table_ids(template)
    assert set(tables) == set(TABLES)
    assert len(of_type(template, "AWS::DynamoDB::Table")) == len(TABLES)
    for name, spec in TABLES.items():
        props = template["Resources"][tables[name]]["Properties"]
        assert props["KeySchema"] == _key_schema(spec.partition_key, spec.sort_key), name
        assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
            attribute: "S" for attribute in spec.key_attributes()}, name
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {index.name for index in spec.indexes}, name
        for index in spec.indexes:
            assert indexes[index.name]["KeySchema"] == _key_schema(index.partition_key, index.sort_key)
            assert indexes[index.name]["Projection"] == {"ProjectionType": index.projection}
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props, name


@pytest.mark.parametrize("name", sorted(TABLES))
def test_tables_are_on_demand_recoverable_and_encrypted_with_the_data_key(template, name):
    lid = table_ids(template)[name]
    table = template["Resources"][lid]
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"
    assert ref(props["SSESpecification"]["KMSMasterKeyId"]) in of_type(template, "AWS::KMS::Key")
    # dev stage (cdk.json): destroyed with the stack; prod is covered in test_stage_policies.py
    assert table["DeletionPolicy"] == "Delete"
    assert not props.get("DeletionProtectionEnabled")


def test_one_customer_managed_key_with_rotation(template):
    (key,) = of_type(template, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if "logs." in ref(s["Principal"].get("Service", ""))]
    assert ref(logs["Principal"]["Service"]) == "logs.AWS::Region.amazonaws.com"
    # CloudWatch Logs may use the key only for log groups of this account and region: the encryption context it
    # always sends names the log group, and the source account must be this one whenever it is sent
    condition = {op: {key: ref(value) for key, value in keys.items()} for op, keys in logs["Condition"].items()}
    assert condition == {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:AWS::Partition:logs:AWS::Region:AWS::AccountId:"
                                                          "log-group:*"},
        "StringEqualsIfExists": {"aws:SourceAccount": "AWS::AccountId"}}


@pytest.fixture(scope="module")
def buckets(template):
    return of_type(template, "AWS::S3::Bucket")


def _bucket_policy(template, bucket_id):
    for policy in of_type(template, "AWS::S3::BucketPolicy").values():
        if ref(policy["Properties"]["Bucket"]) == bucket_id:
            return policy["Properties"]["PolicyDocument"]["Statement"]
    return []


DATA_BUCKET_OUTPUTS = ("ArchiveBucketName", "BooksBucketName", "ReportsBucketName", "LegacyFilesBucketName",
                       "AuditBucketName")


def test_every_bucket_blocks_public_access_and_denies_plain_http(template, buckets):
    named = {output_target(template, output) for output in DATA_BUCKET_OUTPUTS}
    access_logs = {ref(b["Properties"]["LoggingConfiguration"]["DestinationBucketName"])
                   for lid, b in buckets.items() if lid in named}
    assert set(buckets) == named | access_logs  # every bucket is one the stack names (and their log bucket)
    for lid, bucket in buckets.items():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, lid
        denies = [s for s in _bucket_policy(template, lid) if s["Effect"] == "Deny"]
        assert any(s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false" for s in denies), lid
        assert bucket["DeletionPolicy"] == "Retain", lid


@pytest.mark.parametrize("output", DATA_BUCKET_OUTPUTS)
def test_data_buckets_are_kms_encrypted_versioned_and_access_logged(template, buckets, output):
    props = buckets[output_target(template, output)]["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert ref(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) in of_type(template, "AWS::KMS::Key")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert ref(props["LoggingConfiguration"]["DestinationBucketName"]) in buckets


def test_post_and_flush_get_the_legacy_files_uri_of_the_legacy_bucket(assembly, template):
    names = function_names(template, assembly.assets, assembly.outdir)
    legacy = output_target(template, "LegacyFilesBucketName")
    for name in ("post", "flush"):
        environment = template["Resources"][names[name]]["Properties"]["Environment"]["Variables"]
        assert ref(environment["LEDGERLINK_LEGACY_FILES_URI"]) == f"s3://{legacy}/legacy"


def test_functions_get_the_books_uri_of_the_books_bucket(assembly, template):
    names = function_names(template, assembly.assets, assembly.outdir)
    environment = template["Resources"][names["post"]]["Properties"]["Environment"]["Variables"]
    assert ref(environment["LEDGERLINK_BOOKS_URI"]) == f"s3://{output_target(template, 'BooksBucketName')}/books"


def test_kms_encrypted_secrets_per_configured_source_with_a_generated_placeholder(template):
    config = load_config_file(EXAMPLE_CONFIG)
    secrets = of_type(template, "AWS::SecretsManager::Secret")
    signing = [source.signing_secret.secret_id for source in config.sources if source.signing_secret]  # bank: none
    api = [api_credentials(source).secret_id for source in config.sources if api_credentials(source)]
    assert sorted(s["Properties"]["Name"] for s in secrets.values()) == sorted(signing + api)
    for lid, secret in secrets.items():
        assert ref(secret["Properties"]["KmsKeyId"]) in of_type(template, "AWS::KMS::Key"), lid
        assert "GenerateSecretString" in secret["Properties"] and "SecretString" not in secret["Properties"]


@pytest.fixture(scope="module")
def queues(template):
    inbound = output_target(template, "InboundQueueUrl")
    dlq = output_target(template, "InboundDlqUrl")
    return template["Resources"][inbound], template["Resources"][dlq], dlq


def test_inbound_queue_redrives_to_its_dlq_after_five_receives(queues):
    inbound, _, dlq_id = queues
    policy = inbound["Properties"]["RedrivePolicy"]
    assert ref(policy["deadLetterTargetArn"]) == dlq_id
    assert policy["maxReceiveCount"] == 5


def test_dlq_allows_redrive_from_exactly_the_inbound_queue(queues):
    # The console's "Start DLQ redrive" needs the DLQ to name its source queue.
    inbound, dlq, _ = queues
    allow = dlq["Properties"]["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    (source,) = allow["sourceQueueArns"]
    assert ref(source).endswith(":" + inbound["Properties"]["QueueName"])


def test_visibility_timeout_is_six_times_the_normalize_timeout(assembly, template, queues):
    inbound, _, _ = queues
    names = function_names(template, assembly.assets, assembly.outdir)
    timeout = template["Resources"][names["normalize"]]["Properties"]["Timeout"]
    assert inbound["Properties"]["VisibilityTimeout"] == 6 * timeout


def test_queues_are_kms_encrypted_and_deny_plain_http(template, queues):
    inbound, dlq, _ = queues
    for queue in (inbound, dlq):
        assert ref(queue["Properties"]["KmsMasterKeyId"]) in of_type(template, "AWS::KMS::Key")
    for lid in (output_target(template, "InboundQueueUrl"), output_target(template, "InboundDlqUrl")):
        policies = [p for p in of_type(template, "AWS::SQS::QueuePolicy").values()
                    if lid in [ref(q) for q in p["Properties"]["Queues"]]]
        statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
        assert any(s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
                   for s in statements), lid


def test_normalize_drains_the_inbound_queue_in_batches_with_partial_failures(assembly, template):
    names = function_names(template, assembly.assets, assembly.outdir)
    (mapping,) = [m for m in of_type(template, "AWS::Lambda::EventSourceMapping").values()
                  if ref(m["Properties"]["FunctionName"]) == names["normalize"]]
    props = mapping["Properties"]
    assert ref(props["EventSourceArn"]) == output_target(template, "InboundQueueUrl")
    assert props["BatchSize"] == 10
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 < props["MaximumBatchingWindowInSeconds"] <= 20
