"""The audit trail is append-only for everyone, and every change of it lands in a write-once bucket.

IAM cannot require a ConditionExpression on PutItem, so "only conditional puts" is enforced in three layers,
each asserted here: no role of the stack holds an item-changing action on the audit table; the table's own
resource policy denies those actions to every principal (operators and account administrators included); and
the table's stream feeds the audit export, which copies each change — an overwrite too — to the Object Lock
bucket, alarming on anything but an insert.
"""

from __future__ import annotations

import pytest

from infra.constructs.tables import ITEM_CHANGING_ACTIONS

from tests.infra.template_queries import (
    function_names,
    function_role,
    grants,
    of_type,
    output_target,
    ref,
    role_statements,
    table_ids,
)

# What could change or remove an existing audit item, spelled as IAM would match it.
CHANGING = {*ITEM_CHANGING_ACTIONS, "dynamodb:*", "*"}


@pytest.fixture(scope="module")
def audit_table(template) -> str:
    return table_ids(template)["audit"]


def _covers(resource: str, table: str) -> bool:
    """Does a rendered resource of a grant apply to the table (itself, a wildcard, or an ARN pattern)?"""
    return resource in ("*", table) or (table in resource and not resource.startswith(f"{table}/"))


def test_no_role_may_update_or_delete_audit_items(template, audit_table):
    for lid in of_type(template, "AWS::IAM::Role"):
        for action, resource, _ in grants(template, lid):
            assert not (action in CHANGING and _covers(resource, audit_table)), (lid, action, resource)


def test_only_the_ops_api_the_console_the_replay_operator_and_the_mapping_admin_may_append(assembly, template,
                                                                                          audit_table):
    names = function_names(template, assembly.assets, assembly.outdir)
    writers = {lid for lid in of_type(template, "AWS::IAM::Role")
               if any(action == "dynamodb:PutItem" and resource == audit_table
                      for action, resource, _ in grants(template, lid))}
    assert writers == {function_role(template, names["ops"]), function_role(template, names["console"]),
                       output_target(template, "ReplayOperatorRoleArn"), output_target(template, "MappingAdminRoleArn")}


def test_the_table_policy_denies_every_item_change_to_everyone(template, audit_table):
    policy = template["Resources"][audit_table]["Properties"]["ResourcePolicy"]["PolicyDocument"]
    (statement,) = policy["Statement"]  # one statement, and it is a deny: the policy grants nothing
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Resource"] == "*"  # in a table's resource policy: this table
    assert set(statement["Action"]) == {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
                                        "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete", "dynamodb:PartiQLInsert"}
    assert "Condition" not in statement
    assert "dynamodb:PutItem" not in statement["Action"]  # appends stay possible


def test_no_other_table_carries_the_append_only_policy(template, audit_table):
    for name, lid in table_ids(template).items():
        if lid != audit_table:
            assert "ResourcePolicy" not in template["Resources"][lid]["Properties"], name


def test_every_change_is_streamed_to_the_audit_export(assembly, template, audit_table):
    props = template["Resources"][audit_table]["Properties"]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}  # an overwrite keeps its past
    names = function_names(template, assembly.assets, assembly.outdir)
    (mapping,) = [m["Properties"] for m in of_type(template, "AWS::Lambda::EventSourceMapping").values()
                  if ref(m["Properties"]["FunctionName"]) == names["audit_export"]]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [audit_table, "StreamArn"]}
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    failures = ref(mapping["DestinationConfig"]["OnFailure"]["Destination"])
    assert template["Resources"][failures]["Type"] == "AWS::SQS::Queue"
    # the stream grants are on the stream, not the table
    role = function_role(template, names["audit_export"])
    stream_grants = [s for s in role_statements(template, role)
                     if "dynamodb:GetRecords" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert [s["Resource"] for s in stream_grants] == [{"Fn::GetAtt": [audit_table, "StreamArn"]}]


def test_the_export_writes_to_the_locked_audit_bucket(assembly, template):
    names = function_names(template, assembly.assets, assembly.outdir)
    environment = template["Resources"][names["audit_export"]]["Properties"]["Environment"]["Variables"]
    bucket = output_target(template, "AuditBucketName")
    assert ref(environment["LEDGERLINK_AUDIT_BUCKET"]) == bucket
    lock = template["Resources"][bucket]["Properties"]["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"]["Mode"] == "GOVERNANCE"


def _alarms(template):
    return [a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()]


def _metric(alarm):
    """The alarm's metric whether CDK rendered it flat or as a one-query Metrics array ({} for math)."""
    if "MetricName" in alarm:
        return {k: alarm.get(k) for k in ("Namespace", "MetricName", "Dimensions")}
    (query,) = [q for q in alarm.get("Metrics", []) if q.get("ReturnData", True)]
    return query.get("MetricStat", {}).get("Metric", {"MetricName": None})


def test_tampering_and_failed_exports_alarm(template):
    tampering = [a for a in _alarms(template) if _metric(a)["MetricName"] == "AuditTampering"]
    assert [(_metric(a)["Namespace"], a["Threshold"], a["ComparisonOperator"]) for a in tampering] == [
        ("LedgerLink", 1, "GreaterThanOrEqualToThreshold")]
    assert _metric(tampering[0])["Dimensions"] == [{"Name": "service", "Value": "audit_export"}]
    (failures,) = [lid for lid in of_type(template, "AWS::SQS::Queue") if lid.startswith("AuditTrailExportFailures")]
    parked = [a for a in _alarms(template) if _metric(a)["MetricName"] == "ApproximateNumberOfMessagesVisible"
              and ref(_metric(a)["Dimensions"][0]["Value"]) == failures]
    assert len(parked) == 1 and parked[0]["Threshold"] == 1
