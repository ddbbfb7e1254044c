"""IAM, audit style: every role's grants are exactly what its code calls, on the specific resources.

The expected sets below are written from the store adapters (``ledgerlink/store/*.py``) — which API each
function's code calls — not from the infra code. A new permission therefore needs a reviewed change here.
"""

from __future__ import annotations

import pytest

from ledgerlink.config.loader import load_config_file
from ledgerlink.config.sources import api_credentials
from ledgerlink.connectors.sources import POLLED_KINDS
from ledgerlink.workflow import HAPPY_PATH_FUNCTIONS, TASK_FUNCTIONS

from tests.conftest import EXAMPLE_CONFIG
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

LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")
XRAY = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
DYNAMODB_KEY = ("kms:Decrypt", "kms:DescribeKey")


class Resources:
    def __init__(self, assembly) -> None:
        template = assembly.template
        self.tables = table_ids(template)
        self.archive = output_target(template, "ArchiveBucketName")
        self.books = output_target(template, "BooksBucketName")
        self.reports = output_target(template, "ReportsBucketName")
        self.legacy = output_target(template, "LegacyFilesBucketName")
        self.queue = output_target(template, "InboundQueueUrl")
        self.dlq = output_target(template, "InboundDlqUrl")
        self.state_machine = output_target(template, "StateMachineArn")
        self.happy_path = output_target(template, "HappyPathStateMachineArn")
        self.state_machine_name = self.state_machine  # ref() of Fn::GetAtt Name resolves to the logical id
        self.bank_dlq = output_target(template, "BankFileDlqUrl")
        self.audit_bucket = output_target(template, "AuditBucketName")
        (self.audit_failures,) = [lid for lid in of_type(template, "AWS::SQS::Queue") if lid.startswith("AuditTrail")]
        (self.key,) = of_type(template, "AWS::KMS::Key")
        config = load_config_file(EXAMPLE_CONFIG)
        by_name = {secret["Properties"]["Name"]: lid
                   for lid, secret in of_type(template, "AWS::SecretsManager::Secret").items()}
        # signing secrets (ingest) vs vendor API credentials (normalize fetches, the poller polls)
        self.secrets = {by_name[s.signing_secret.secret_id] for s in config.sources if s.signing_secret}
        self.fetch_secrets = {by_name[api_credentials(s).secret_id] for s in config.sources
                              if api_credentials(s) and s.kind not in POLLED_KINDS}
        self.poll_secrets = {by_name[api_credentials(s).secret_id] for s in config.sources
                             if api_credentials(s) and s.kind in POLLED_KINDS}
        self.functions = function_names(template, assembly.assets, assembly.outdir)
        self.log_groups = {name: ref(assembly.resources[lid]["Properties"]["LoggingConfig"]["LogGroup"])
                           for name, lid in self.functions.items()}

    def baseline(self, name: str) -> set[tuple[str, str, str | None]]:
        """What every function has: write to its own log group, send traces."""
        return ({(action, self.log_groups[name], None) for action in LOGS}
                | {(action, "*", None) for action in XRAY})

    def key_use(self, service: str, actions: tuple[str, ...]) -> set[tuple[str, str, str | None]]:
        return {(action, self.key, service) for action in actions}

    def expected(self, name: str) -> set[tuple[str, str, str | None]]:
        t = self.tables
        specific: dict[str, set[tuple[str, str, str | None]]] = {
            "ingest": {
                ("dynamodb:GetItem", t["config"], None),               # config_store.active_raw
                ("dynamodb:PutItem", t["inbox"], None),                # inbox.claim (transaction put; take-over)
                ("dynamodb:DeleteItem", t["inbox"], None),             # inbox.release of a claim not enqueued
                ("dynamodb:UpdateItem", t["totals"], None),            # event counter in the claim transaction
                ("s3:PutObject", f"{self.archive}/raw/*", None),       # archive.put of the request body
                ("s3:PutObject", f"{self.archive}/items/*", None),     # ... and of oversized batch items
                ("sqs:SendMessage", self.queue, None),                 # queue.send
                *{("secretsmanager:GetSecretValue", secret, None) for secret in self.secrets},
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:GenerateDataKey",)),
                *self.key_use("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
                *self.key_use("secretsmanager", ("kms:Decrypt",)),
            },
            "normalize": {
                ("dynamodb:GetItem", t["config"], None),
                ("dynamodb:UpdateItem", t["inbox"], None),             # inbox.record_outcome
                ("dynamodb:PutItem", t["ledger"], None),               # ledger.register
                ("dynamodb:GetItem", t["ledger"], None),               # ledger.get (cash application candidates)
                ("dynamodb:UpdateItem", t["ledger"], None),            # ledger.claim_receivable (subledger, D92)
                ("dynamodb:PutItem", t["exceptions"], None),           # exceptions.open
                ("dynamodb:GetItem", t["exceptions"], None),           # a replay: the case its execution waits on
                ("dynamodb:UpdateItem", t["exceptions"], None),        # ... marked retrying
                ("states:SendTaskSuccess", self.state_machine, None),  # ... and resumed with the replayed document
                ("dynamodb:PutItem", t["parties"], None),              # parties.announce (CRM customer events)
                ("dynamodb:UpdateItem", t["totals"], None),            # counters in the same transactions
                ("s3:GetObject", f"{self.archive}/raw/*", None),       # archive.get(archive_key)
                ("s3:GetObject", f"{self.archive}/items/*", None),     # archive.get(payload_key)
                ("s3:PutObject", f"{self.archive}/fetched/*", None),   # fetch: archive what the vendor API returned
                ("s3:GetObject", f"{self.archive}/fetched/*", None),   # ... and read it back on replay
                ("states:StartExecution", self.state_machine, None),   # workflow.start (a replay)
                ("states:StartExecution", self.happy_path, None),      # workflow.start_document (D76)
                ("dynamodb:PutItem", t["revenue"], None),              # revenue: a cancellation fact, usage claims
                ("dynamodb:UpdateItem", t["revenue"], None),           # ... and the hourly usage ADD (one transaction)
                *{("secretsmanager:GetSecretValue", secret, None) for secret in self.fetch_secrets},  # get_json
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt", "kms:GenerateDataKey")),
                *self.key_use("secretsmanager", ("kms:Decrypt",)),
                # the SQS event source mapping polls with the function's role
                *{(action, self.queue, None) for action in (
                    "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes")},
                ("kms:Decrypt", self.key, None),
            },
            "master_data": {
                ("dynamodb:GetItem", t["config"], None),
                ("dynamodb:GetItem", t["parties"], None),              # parties.announced / erp_id
                ("dynamodb:PutItem", t["parties"], None),              # parties.record_erp_id (conditional)
                ("s3:GetObject", f"{self.books}/books/*", None),       # BeancountBook.ensure_party: the party file
                ("s3:PutObject", f"{self.books}/books/*", None),
                ("s3:ListBucket", self.books, None),
                ("dynamodb:GetItem", t["limiter"], None),              # API ERPs: the shared rate limiter
                ("dynamodb:PutItem", t["limiter"], None),
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt", "kms:GenerateDataKey")),
            },
            "enrich": {("dynamodb:GetItem", t["config"], None), *self.key_use("dynamodb", DYNAMODB_KEY),
                       ("dynamodb:GetItem", t["ledger"], None)},          # a reversal's original journal
            "validate": {("dynamodb:GetItem", t["config"], None), *self.key_use("dynamodb", DYNAMODB_KEY)},
            "post": {
                ("dynamodb:GetItem", t["config"], None),
                ("dynamodb:UpdateItem", t["ledger"], None),            # ledger lease / release; the posted
                ("dynamodb:UpdateItem", t["totals"], None),            # ... transition and its counter (one tx)
                ("dynamodb:UpdateItem", t["exceptions"], None),        # exceptions.resolve after a replay
                ("dynamodb:PutItem", t["revenue"], None),              # revenue: schedule lines, facts, tie-outs
                ("dynamodb:Query", t["revenue"], None),                # ... an invoice's lines, usage hours
                ("dynamodb:UpdateItem", t["revenue"], None),           # ... a finished line reopened by a late fact
                ("s3:GetObject", f"{self.books}/books/*", None),       # books.S3BookStore.read (objects.S3ObjectStore)
                ("s3:PutObject", f"{self.books}/books/*", None),       # create / write
                ("s3:ListBucket", self.books, None),                   # names (and 404 instead of 403)
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt", "kms:GenerateDataKey")),
                *{(action, t["buckets"], None) for action in (         # buckets.add: head, TransactWriteItems
                    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem")},
                ("dynamodb:GetItem", t["limiter"], None),              # limiter: read state
                ("dynamodb:PutItem", t["limiter"], None),              # ... conditional write
                ("s3:GetObject", f"{self.legacy}/legacy/*", None),     # legacy_file: find (index, part)
                ("s3:PutObject", f"{self.legacy}/legacy/*", None),     # ... part, index, pending marker
                ("s3:ListBucket", self.legacy, None),
            },
            "flush": {
                ("dynamodb:GetItem", t["config"], None),
                *{(action, t["buckets"], None) for action in (         # buckets: bucket, lines, seal/mark
                    "dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem")},
                ("dynamodb:Query", f"{t['buckets']}/index/by_status", None),
                ("dynamodb:Query", f"{t['buckets']}/index/by_bucket", None),
                ("dynamodb:GetItem", t["limiter"], None),
                ("dynamodb:PutItem", t["limiter"], None),
                ("dynamodb:GetItem", t["ledger"], None),               # a member's counter key
                ("dynamodb:UpdateItem", t["ledger"], None),            # members traced to their summary ...
                ("dynamodb:UpdateItem", t["totals"], None),            # ... with their control totals
                ("dynamodb:Query", t["totals"], None),                 # the backlog forecast: documents waiting
                ("dynamodb:PutItem", t["exceptions"], None),           # a refused summary's case
                ("s3:GetObject", f"{self.books}/books/*", None),       # the summary journal in the book
                ("s3:PutObject", f"{self.books}/books/*", None),
                ("s3:ListBucket", self.books, None),
                ("s3:GetObject", f"{self.legacy}/legacy/*", None),     # sealing legacy days
                ("s3:PutObject", f"{self.legacy}/legacy/*", None),
                ("s3:DeleteObject", f"{self.legacy}/legacy/*", None),  # ... the pending marker
                ("s3:ListBucket", self.legacy, None),
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt", "kms:GenerateDataKey")),
            },
            "revenue_release": {
                ("dynamodb:GetItem", t["config"], None),               # config_store.active
                *{(action, t["revenue"], None) for action in (         # store.revenue: runs, plans, lines, tie-outs
                    "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem")},
                ("dynamodb:Query", f"{t['revenue']}/index/open_lines", None),     # lines with work left
                ("dynamodb:Query", f"{t['revenue']}/index/untied_usage", None),   # usage tie-outs to check again
                ("dynamodb:GetItem", t["ledger"], None),               # release journals: ledger.get ...
                ("dynamodb:PutItem", t["ledger"], None),               # ... register ...
                ("dynamodb:UpdateItem", t["ledger"], None),            # ... transition
                ("dynamodb:Scan", t["ledger"], None),                  # FX revaluation: posted journals (D90)
                ("dynamodb:UpdateItem", t["totals"], None),            # ... with their control totals
                ("dynamodb:PutItem", t["exceptions"], None),           # a refused release, an untied usage line
                ("dynamodb:UpdateItem", t["exceptions"], None),        # ... reopened, or resolved by a later run
                ("dynamodb:GetItem", t["limiter"], None),
                ("dynamodb:PutItem", t["limiter"], None),
                ("s3:GetObject", f"{self.books}/books/*", None),       # release journals in the book
                ("s3:PutObject", f"{self.books}/books/*", None),
                ("s3:ListBucket", self.books, None),
                ("s3:GetObject", f"{self.legacy}/legacy/*", None),     # ... or a legacy GL part
                ("s3:PutObject", f"{self.legacy}/legacy/*", None),
                ("s3:ListBucket", self.legacy, None),
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt", "kms:GenerateDataKey")),
            },
            "ops": {
                ("dynamodb:GetItem", t["config"], None),               # config_store.active
                ("dynamodb:GetItem", t["exceptions"], None),           # cases.get
                ("dynamodb:UpdateItem", t["exceptions"], None),        # mark_retrying, resolve
                ("dynamodb:Query", f"{t['exceptions']}/index/by_status", None),     # cases.list
                ("dynamodb:Query", f"{t['exceptions']}/index/by_document", None),   # cases.for_document (trace)
                ("dynamodb:GetItem", t["ledger"], None),               # trace, close
                ("dynamodb:UpdateItem", t["ledger"], None),            # ledger.transition (exception → ignored)
                ("dynamodb:UpdateItem", t["totals"], None),            # ... and its counter
                ("dynamodb:Query", t["totals"], None),                 # GET /backlog: documents waiting ...
                ("dynamodb:GetItem", t["limiter"], None),              # ... and each ERP connection's budget
                ("dynamodb:GetItem", t["inbox"], None),                # trace, replay
                ("dynamodb:PutItem", t["audit"], None),                # every action audited
                ("states:SendTaskSuccess", self.state_machine, None),  # resume or end the waiting execution
                ("states:DescribeExecution", "arn:AWS::Partition:states:AWS::Region:AWS::AccountId:execution:"
                 + self.state_machine_name + ":*", None),              # trace
                ("s3:GetObject", f"{self.archive}/raw/*", None),       # replay of an event without a document
                ("sqs:SendMessage", self.queue, None),
                # GET /close-check: every posted document, the entity's schedule lines, the book, payout contents
                ("dynamodb:Scan", t["ledger"], None),
                ("dynamodb:Query", f"{t['revenue']}/index/entity_lines", None),
                ("s3:GetObject", f"{self.books}/books/*", None),
                ("s3:ListBucket", self.books, None),
                ("s3:GetObject", f"{self.archive}/fetched/*", None),
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt",)),
                *self.key_use("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
            },
            # the finance console runs the ops API's services (the same grants) and reads more (test_console_infra.py)
            "console": {
                ("dynamodb:GetItem", t["config"], None),               # config_store.active
                ("dynamodb:Query", t["config"], None),                 # config_store.history: the applied versions
                ("dynamodb:GetItem", t["exceptions"], None),           # cases.get
                ("dynamodb:UpdateItem", t["exceptions"], None),        # mark_retrying, resolve, assign, note
                ("dynamodb:Query", f"{t['exceptions']}/index/by_status", None),     # cases.list (and export)
                ("dynamodb:Query", f"{t['exceptions']}/index/by_document", None),   # a document's cases (trace)
                ("dynamodb:GetItem", t["ledger"], None),               # trace, replay of a document
                ("dynamodb:UpdateItem", t["ledger"], None),            # ledger.transition (exception → ignored)
                ("dynamodb:Scan", t["ledger"], None),                  # the close check; find by customer / amount
                *{("dynamodb:Query", f"{t['ledger']}/index/by_{attribute}", None)   # find: the keys-only lookups
                  for attribute in ("event_id", "correlation_id", "external_id", "erp_ref")},
                ("dynamodb:Scan", t["exceptions"], None),              # find: cases naming an event or correlation id
                ("dynamodb:UpdateItem", t["totals"], None),            # ... the transition's counter
                ("dynamodb:Query", t["totals"], None),                 # backlog, latest reconciliation summaries
                ("dynamodb:GetItem", t["limiter"], None),              # backlog: each ERP connection's budget
                ("dynamodb:GetItem", t["inbox"], None),                # trace, replay, a parked message's last error
                ("dynamodb:PutItem", t["audit"], None),                # every action audited under the user
                ("dynamodb:Query", t["audit"], None),                  # audit.on(day): the audit trail page
                ("dynamodb:Query", t["revenue"], None),                # waterfall: invoice and subscription facts
                ("dynamodb:Query", f"{t['revenue']}/index/entity_lines", None),     # ... the entity's schedule lines
                ("states:SendTaskSuccess", self.state_machine, None),  # resume or end the waiting execution
                ("states:DescribeExecution", "arn:AWS::Partition:states:AWS::Region:AWS::AccountId:execution:"
                 + self.state_machine_name + ":*", None),              # trace
                ("states:GetExecutionHistory", "arn:AWS::Partition:states:AWS::Region:AWS::AccountId:execution:"
                 + self.state_machine_name + ":*", None),              # the timeline's steps
                ("states:ListExecutions", self.state_machine, None),   # status: running executions
                ("states:ListExecutions", self.happy_path, None),      # ... (AWS: StateMachineTypeNotSupported)
                ("cloudwatch:GetMetricData", "*", None),               # ... then the happy path's execution counts
                ("s3:GetObject", f"{self.archive}/raw/*", None),       # replay: the archived request bodies
                ("s3:ListBucket", self.archive, None),                 # ... of a date range (prefix raw/ only)
                ("s3:GetObject", f"{self.archive}/fetched/*", None),   # close check: a payout's contents
                ("s3:GetObject", f"{self.books}/books/*", None),       # close check: the book
                ("s3:ListBucket", self.books, None),
                ("s3:GetObject", f"{self.reports}/reports/reconciliation/*", None),   # reconciliation reports
                ("s3:ListBucket", self.reports, None),                 # ... and their list (that prefix only)
                ("sqs:SendMessage", self.queue, None),                 # replay, the redrive's receive/send fallback
                ("sqs:GetQueueAttributes", self.queue, None),          # queue depth
                *{(action, self.dlq, None) for action in (             # dlq.DlqTool: depth, peek, redrive
                    "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage", "sqs:StartMessageMoveTask")},
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt",)),
                *self.key_use("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
            },
            "reconcile": {
                ("dynamodb:GetItem", t["config"], None),               # config_store.active
                ("dynamodb:Query", t["totals"], None),                 # control_totals.events / documents
                ("dynamodb:PutItem", t["totals"], None),               # control_totals.put_summary
                ("dynamodb:Query", f"{t['inbox']}/index/pending_by_day", None),   # inbox.pending_on
                ("dynamodb:Query", f"{t['ledger']}/index/by_day_ids", None),      # ledger.on_day: the ids ...
                ("dynamodb:BatchGetItem", t["ledger"], None),                    # ... then the items
                ("s3:PutObject", f"{self.reports}/reports/reconciliation/*", None),  # reports.put
                ("s3:GetObject", f"{self.books}/books/*", None),       # BeancountBook.posted_on reads the book
                ("s3:ListBucket", self.books, None),
                ("s3:GetObject", f"{self.legacy}/legacy/*", None),     # LegacyFile.posted_on lists its parts
                ("s3:ListBucket", self.legacy, None),
                ("events:PutEvents", "arn:AWS::Partition:events:AWS::Region:AWS::AccountId:event-bus/default",
                 None),                                                # EventBridgePublisher.publish (default bus)
                ("dynamodb:GetItem", t["limiter"], None),              # API ERP read-back: the connection's limiter
                ("dynamodb:PutItem", t["limiter"], None),
                ("dynamodb:PutItem", t["exceptions"], None),           # missing_in_erp: the case is opened ...
                ("dynamodb:UpdateItem", t["exceptions"], None),
                ("dynamodb:UpdateItem", t["ledger"], None),            # ... and the document moves posted → exception
                ("dynamodb:UpdateItem", t["totals"], None),            # with its counters, in one transaction
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt", "kms:GenerateDataKey")),
            },
            "open_exception": {
                ("dynamodb:PutItem", t["exceptions"], None),           # exceptions.open
                ("dynamodb:UpdateItem", t["exceptions"], None),        # supersede the case a retry replaces
                ("events:PutEvents", "arn:AWS::Partition:events:AWS::Region:AWS::AccountId:event-bus/default",
                 None),                                                # "LedgerLink Exception Opened"
                ("dynamodb:UpdateItem", t["ledger"], None),
                ("dynamodb:UpdateItem", t["totals"], None),
                *self.key_use("dynamodb", DYNAMODB_KEY),
            },
            "bank_file": {
                ("dynamodb:GetItem", t["config"], None),               # config_store.active_raw
                ("dynamodb:PutItem", t["inbox"], None),                # inbox.claim
                ("dynamodb:DeleteItem", t["inbox"], None),             # inbox.release after a failure
                ("dynamodb:UpdateItem", t["totals"], None),            # event counter in the claim transaction
                ("s3:GetObject", f"{self.archive}/bank-inbox/*", None),  # the dropped statement
                ("s3:PutObject", f"{self.archive}/raw/*", None),       # archive.put of the file
                ("s3:PutObject", f"{self.archive}/items/*", None),     # ... and of a payload too large to inline
                ("sqs:SendMessage", self.queue, None),                 # queue.send
                ("sqs:SendMessage", self.bank_dlq, None),              # Lambda's on-failure destination
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:Decrypt", "kms:GenerateDataKey")),
                *self.key_use("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
            },
            "poll": {
                ("dynamodb:GetItem", t["config"], None),               # config_store.active
                ("dynamodb:PutItem", t["inbox"], None),                # inbox.claim
                ("dynamodb:UpdateItem", t["totals"], None),            # event counter in the claim transaction
                ("dynamodb:GetItem", t["cursors"], None),              # cursors.get
                ("dynamodb:PutItem", t["cursors"], None),              # cursors.advance (conditional put)
                ("s3:PutObject", f"{self.archive}/raw/*", None),       # archive.put of each polled item
                ("sqs:SendMessage", self.queue, None),                 # queue.send
                *{("secretsmanager:GetSecretValue", secret, None) for secret in self.poll_secrets},
                *self.key_use("dynamodb", DYNAMODB_KEY),
                *self.key_use("s3", ("kms:GenerateDataKey",)),
                *self.key_use("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
                *self.key_use("secretsmanager", ("kms:Decrypt",)),
            },
            "audit_export": {
                # the stream event source's poller; ref() renders GetAtt StreamArn as the table (test_audit_trail.py)
                *{(action, t["audit"], None) for action in (
                    "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")},
                ("dynamodb:ListStreams", f"{t['audit']}/stream/*", None),
                ("kms:Decrypt", self.key, None),                        # stream records: the table's key
                ("s3:PutObject", f"{self.audit_bucket}/audit/*", None),  # S3AuditCopies.put_once
                ("sqs:SendMessage", self.audit_failures, None),         # the mapping's on-failure destination
                *self.key_use("s3", ("kms:GenerateDataKey",)),
                *self.key_use("sqs", ("kms:GenerateDataKey", "kms:Decrypt")),
            },
        }
        return self.baseline(name) | specific[name]


@pytest.fixture(scope="module")
def resources(assembly) -> Resources:
    return Resources(assembly)


@pytest.mark.parametrize("name", ["ingest", "normalize", "master_data", "enrich", "validate", "post", "open_exception",
                                  "reconcile", "bank_file", "poll", "ops", "flush", "audit_export",
                                  "revenue_release", "console"])
def test_function_role_grants_exactly_what_its_code_calls(template, resources, name):
    role = function_role(template, resources.functions[name])
    assert grants(template, role) == resources.expected(name)


def test_every_function_has_its_own_role(template, resources):
    roles = [function_role(template, lid) for lid in resources.functions.values()]
    assert len(set(roles)) == len(roles)


def test_no_wildcard_actions_anywhere(template):
    for lid in of_type(template, "AWS::IAM::Role"):
        for statement in role_statements(template, lid):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any("*" in action for action in actions), (lid, actions)
            assert "NotAction" not in statement and "NotResource" not in statement, lid


def test_no_managed_policies_at_all(template):
    # Log permissions are written per log group; no AWSLambdaBasicExecutionRole, no *FullAccess.
    for lid, role in of_type(template, "AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), lid
    assert not of_type(template, "AWS::IAM::ManagedPolicy")


def test_resource_star_only_for_actions_without_resource_level_permissions(assembly, template):
    allowed_on_star = {*XRAY, "xray:GetSamplingRules", "xray:GetSamplingTargets",
                       # Step Functions vended log delivery (CDK adds these for state machine logging)
                       "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
                       "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
                       "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"}
    replay_operator = output_target(template, "ReplayOperatorRoleArn")
    console = function_role(template, function_names(template, assembly.assets, assembly.outdir)["console"])
    for lid in of_type(template, "AWS::IAM::Role"):
        for action, resource, _ in grants(template, lid):
            if resource == "*":
                # the SQS console's queue list, before its DLQ redrive page (queue URLs only, no messages); the finance
                # console's count of Express happy-path executions (AWS/States metrics)
                allowed = (allowed_on_star | ({"sqs:ListQueues"} if lid == replay_operator else set())
                           | ({"cloudwatch:GetMetricData"} if lid == console else set()))
                assert action in allowed, (lid, action)


def _machines(template) -> dict[str, str]:
    """State machine type → logical id."""
    return {machine["Properties"].get("StateMachineType", "STANDARD"): lid
            for lid, machine in of_type(template, "AWS::StepFunctions::StateMachine").items()}


def test_state_machine_roles_invoke_only_their_task_functions_and_start_only_the_standard_workflow(
        template, resources):
    machines = _machines(template)
    assert set(machines) == {"STANDARD", "EXPRESS"}
    expected = {"STANDARD": set(TASK_FUNCTIONS.values()), "EXPRESS": set(HAPPY_PATH_FUNCTIONS.values())}
    for kind, lid in machines.items():
        role = ref(template["Resources"][lid]["Properties"]["RoleArn"])
        role_grants = grants(template, role)
        assert {action for action, _, _ in role_grants if action.startswith("lambda:")} == {"lambda:InvokeFunction"}
        invokes = {resource for action, resource, _ in role_grants if action.startswith("lambda:")}
        assert invokes == {resources.functions[name] for name in expected[kind]}, kind
        starts = {resource for action, resource, _ in role_grants if action.startswith("states:")}
        # the happy path escalates to the Standard workflow; the Standard workflow starts nothing
        assert starts == ({machines["STANDARD"]} if kind == "EXPRESS" else set()), kind


def test_normalize_starts_the_happy_path_and_the_standard_workflow_and_resumes_only_standard_executions(
        template, resources):
    machines = _machines(template)
    role = function_role(template, resources.functions["normalize"])
    states = {(action, resource) for action, resource, _ in grants(template, role) if action.startswith("states:")}
    assert states == {("states:StartExecution", machines["EXPRESS"]), ("states:StartExecution", machines["STANDARD"]),
                      ("states:SendTaskSuccess", machines["STANDARD"])}


def test_config_seed_role_can_only_put_into_the_config_table(template, resources):
    seeds = of_type(template, "Custom::LedgerLinkConfigSeed")
    (provider,) = {ref(seed["Properties"]["ServiceToken"]) for seed in seeds.values()}
    role = function_role(template, provider)
    log_group = ref(template["Resources"][provider]["Properties"]["LoggingConfig"]["LogGroup"])
    assert grants(template, role) == {
        ("dynamodb:PutItem", resources.tables["config"], None),
        *resources.key_use("dynamodb", DYNAMODB_KEY),
        *{(action, log_group, None) for action in LOGS},
    }


OPERATOR_ROLE_OUTPUTS = ("OpsReaderRoleArn", "ExceptionResolverRoleArn", "ReplayOperatorRoleArn",
                         "MappingAdminRoleArn")


def test_roles_are_assumable_only_by_their_service(template):
    people = {output_target(template, output) for output in OPERATOR_ROLE_OUTPUTS}  # tests/infra/test_rbac.py
    for lid, role in of_type(template, "AWS::IAM::Role").items():
        if lid in people:
            continue
        principals = [s["Principal"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
        services = {ref(p.get("Service")) for p in principals}
        assert all("AWS" not in p for p in principals), lid
        assert services <= {"lambda.amazonaws.com", "states.amazonaws.com", "scheduler.amazonaws.com"}, (lid, services)


def test_the_flush_schedule_may_only_invoke_the_flush_function(template, resources):
    (schedule,) = [s for s in of_type(template, "AWS::Scheduler::Schedule").values()
                   if ref(s["Properties"]["Target"]["Arn"]) == resources.functions["flush"]]
    props = schedule["Properties"]
    assert props["ScheduleExpression"] == "rate(1 hour)" and props.get("State", "ENABLED") == "ENABLED"
    assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert ref(props["Target"]["Arn"]) == resources.functions["flush"]
    role = ref(props["Target"]["RoleArn"])
    assert grants(template, role) == {("lambda:InvokeFunction", resources.functions["flush"], None)}


def test_each_scheduler_role_may_only_invoke_its_one_function(template, resources):
    roles = [lid for lid, role in of_type(template, "AWS::IAM::Role").items()
             if {ref(s["Principal"].get("Service")) for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]}
             == {"scheduler.amazonaws.com"}]
    assert sorted(sorted(grants(template, role)) for role in roles) == sorted([
        [("lambda:InvokeFunction", resources.functions["poll"], None)],
        [("lambda:InvokeFunction", resources.functions["reconcile"], None)],
        [("lambda:InvokeFunction", resources.functions["flush"], None)],
        [("lambda:InvokeFunction", resources.functions["revenue_release"], None)]])
    for schedule in of_type(template, "AWS::Scheduler::Schedule").values():  # and each schedule uses its own role
        target = schedule["Properties"]["Target"]
        assert grants(template, ref(target["RoleArn"])) == {("lambda:InvokeFunction", ref(target["Arn"]), None)}


def test_ingest_cannot_read_vendor_api_credentials_and_pollers_cannot_read_signing_secrets(template, resources):
    readable = {name: {resource for action, resource, _ in grants(template, function_role(template, lid))
                       if action == "secretsmanager:GetSecretValue"} for name, lid in resources.functions.items()}
    assert readable["ingest"] == resources.secrets
    assert readable["normalize"] == resources.fetch_secrets and not readable["normalize"] & resources.secrets
    assert readable["poll"] == resources.poll_secrets
