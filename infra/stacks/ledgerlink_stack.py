"""The LedgerLink stack: composes the parts of docs/architecture.md, wires their names into each function's settings."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from infra.constructs.audit_trail import AuditTrail
from infra.constructs.bank_files import BankFiles
from infra.constructs.buckets import Buckets
from infra.constructs.config_seed import ConfigSeed
from infra.constructs.console import FinanceConsole
from infra.constructs.core_layer import CoreLayer
from infra.constructs.encryption import EncryptionKey
from infra.constructs.erp_secrets import ErpSecrets
from infra.constructs.ingest import Ingest
from infra.constructs.normalize import Normalize
from infra.constructs.observability import Observability, app_metric
from infra.constructs.operator_roles import OperatorRoles
from infra.constructs.ops_api import OpsApi
from infra.constructs.polling import SourcePolling
from infra.constructs.post_document import PostDocument
from infra.constructs.posting_engine import PostingEngine
from infra.constructs.reconcile import Reconcile
from infra.constructs.revenue import RevenueOperations
from infra.constructs.secrets import SourceSecrets, pascal
from infra.constructs.tables import StateTables
from infra.constructs.waf import ApiFirewall
from infra.options import DeploymentOptions
from ledgerlink import settings
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.store.tables import TABLE_ENV


class LedgerLinkStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 config: LedgerLinkConfig, **kwargs) -> None:  # noqa: ANN003 - StackProps
        super().__init__(scope, construct_id, **kwargs)
        prod = options.is_prod
        self.key = EncryptionKey(self, "Encryption", prod=prod).key
        self.tables = StateTables(self, "Tables", key=self.key, prod=prod)
        protection = options.protection
        self.buckets = Buckets(self, "Buckets", key=self.key, prod=prod,
                               archive_retention_days=protection.archive_retention_days,
                               audit_retention_days=protection.audit_retention_days)
        self.secrets = SourceSecrets(self, "SigningSecrets", config=config, key=self.key, prod=prod)
        self.erp_secrets = ErpSecrets(self, "ErpSecrets", config=config, key=self.key, prod=prod)
        self.layer = CoreLayer(self, "CoreLayer", arch=options.arch)

        # Settings values grow as resources exist; each function takes only the names its settings class reads.
        values = {env_name: self.tables[table].table_name for table, env_name in TABLE_ENV.items()}
        values[settings.ARCHIVE_BUCKET] = self.buckets.archive.bucket_name
        values[settings.BOOKS_URI] = self.buckets.books_uri
        values[settings.REPORTS_BUCKET] = self.buckets.reports.bucket_name
        values[settings.LEGACY_FILES_URI] = self.buckets.legacy_files_uri
        values[settings.AUDIT_BUCKET] = self.buckets.audit.bucket_name
        common = {"options": options, "layer": self.layer.layer, "key": self.key}

        self.post_document = PostDocument(self, "PostDocument", tables=self.tables, books=self.buckets.books,
                                          values=values, legacy=self.buckets.legacy,
                                          erp_secrets=self.erp_secrets.secrets, **common)
        self.posting_engine = PostingEngine(self, "PostingEngine", tables=self.tables, books=self.buckets.books,
                                            legacy=self.buckets.legacy, erp_secrets=self.erp_secrets.secrets,
                                            values=values, **common)
        values[settings.STATE_MACHINE_ARN] = self.post_document.state_machine.state_machine_arn
        values[settings.HAPPY_PATH_STATE_MACHINE_ARN] = self.post_document.happy_path.state_machine_arn
        self.normalize = Normalize(self, "Normalize", tables=self.tables, archive=self.buckets.archive,
                                   state_machine=self.post_document.state_machine,
                                   happy_path=self.post_document.happy_path, values=values,
                                   api_secrets=self.secrets.fetch_credentials, **common)
        values[settings.INBOUND_QUEUE_URL] = self.normalize.queue.queue_url
        values[settings.INBOUND_DLQ_URL] = self.normalize.dlq.queue_url
        self.ingest = Ingest(self, "Ingest", tables=self.tables, archive=self.buckets.archive,
                             queue=self.normalize.queue, secrets=self.secrets.secrets, values=values, **common)
        self.reconcile = Reconcile(self, "Reconcile", tables=self.tables, reports=self.buckets.reports,
                                   books=self.buckets.books, archive=self.buckets.archive, queue=self.normalize.queue,
                                   api_keys=list(self.secrets.api_keys.values()), config=config, values=values,
                                   legacy=self.buckets.legacy, erp_secrets=self.erp_secrets.secrets, **common)
        self.bank_files = BankFiles(self, "BankFiles", tables=self.tables, archive=self.buckets.archive,
                                    queue=self.normalize.queue, values=values, **common)
        self.polling = SourcePolling(self, "Polling", tables=self.tables, archive=self.buckets.archive,
                                     queue=self.normalize.queue, secrets=self.secrets.poll_credentials, config=config,
                                     values=values, **common)
        self.revenue = RevenueOperations(self, "Revenue", tables=self.tables, books=self.buckets.books,
                                         legacy=self.buckets.legacy, erp_secrets=self.erp_secrets.secrets,
                                         config=config, values=values, post=self.post_document.tasks["post"],
                                         normalize=self.normalize.function, **common)
        self.ops_api = OpsApi(self, "OpsApi", tables=self.tables, archive=self.buckets.archive,
                              queue=self.normalize.queue, state_machine=self.post_document.state_machine,
                              values=values, books=self.buckets.books, **common)
        self.console = FinanceConsole(self, "Console", tables=self.tables, archive=self.buckets.archive,
                                      books=self.buckets.books, reports=self.buckets.reports,
                                      queue=self.normalize.queue, dlq=self.normalize.dlq,
                                      state_machine=self.post_document.state_machine,
                                      happy_path=self.post_document.happy_path, values=values, **common)
        self.audit_trail = AuditTrail(self, "AuditTrail", table=self.tables["audit"], bucket=self.buckets.audit,
                                      values=values, **common)
        self.operator_roles = OperatorRoles(self, "OperatorRoles", options=options, key=self.key,
                                            ops_api=self.ops_api.api, tables=self.tables, archive=self.buckets.archive,
                                            queue=self.normalize.queue, dlq=self.normalize.dlq)
        self.firewall = (ApiFirewall(self, "Firewall", options=options, key=self.key,
                                     apis=[self.ingest.api, self.ops_api.api, self.console.api])
                         if protection.waf else None)
        self.observability = Observability(self, "Observability", options=options, key=self.key,
                                           inbound=self.normalize.queue, dlq=self.normalize.dlq,
                                           state_machine=self.post_document.state_machine,
                                           happy_path=self.post_document.happy_path)
        self.observability.alarm_on_parked_messages(
            "BankFileDropsFailed", self.bank_files.dlq,
            "A dropped bank statement could not be received (its event is in the bank-file DLQ); fix the cause, "
            "then re-drop the file: it is claimed by content hash, so nothing posts twice.")
        self.observability.alarm_on_parked_messages(
            "AuditExportFailed", self.audit_trail.failures,
            "A batch of audit-table changes could not be copied to the write-once audit bucket after retries; the "
            "items are still in the table: copy them by hand (the failure message names the stream range).")
        self.observability.alarm_on_app_metric(
            "AuditTampering", app_metric("AuditTampering", "audit_export", period=Duration.minutes(5)),
            "An audit item was changed or deleted (the trail is append-only): the locked copy in the audit bucket "
            "holds the old image; find out who (CloudTrail) before anything else.")
        self.observability.alarm_on_app_metric(
            "BacklogForecastLate", app_metric("BacklogForecastLate", "flush", statistic="Maximum"),
            "An ERP connection's backlog will not be posted by its deadline (backlog_deadline) at its current API "
            "budget: `ledgerlink status` names it and when it will be done; raise the budget, summarize, or move "
            "the deadline.")
        if self.polling.schedules:
            self.observability.alarm_on_function_errors(
                "PollFailing", self.polling.function.function,
                "A scheduled poll of a source without webhooks failed (vendor API or credentials); its high-water "
                "mark did not move, so the next successful run reads everything since.")
        self.config_seed = ConfigSeed(self, "ConfigSeed", options=options, config=config,
                                      table=self.tables["config"], key=self.key)
        self._build_outputs()

    def _build_outputs(self) -> None:
        outputs = {
            "WebhookUrl": (self.ingest.webhook_base_url, "POST <WebhookUrl><source id> (the provider's webhook URL)"),
            "ConfigTableName": (self.tables["config"].table_name, "versioned configuration"),
            "InboxTableName": (self.tables["inbox"].table_name, "webhook inbox (dedupe)"),
            "LedgerTableName": (self.tables["ledger"].table_name, "document / posting ledger"),
            "ExceptionsTableName": (self.tables["exceptions"].table_name, "exception cases"),
            "TotalsTableName": (self.tables["totals"].table_name, "control totals and reconciliation summaries"),
            "LimiterTableName": (self.tables["limiter"].table_name, "per-connection ERP API budgets (the CLI's "
                                                                    "--stack reconcile reads back API ERPs through it)"),
            "AuditTableName": (self.tables["audit"].table_name, "append-only audit trail"),
            "ArchiveBucketName": (self.buckets.archive.bucket_name, "raw webhook archive"),
            "BooksBucketName": (self.buckets.books.bucket_name, "Beancount books (prefix books/)"),
            "BooksUri": (self.buckets.books_uri, "the book store URI the post step uses"),
            "ReportsBucketName": (self.buckets.reports.bucket_name, "reconciliation reports (JSON and CSV)"),
            "ReconcileFunctionName": (self.reconcile.function.function.function_name, "on-demand reconciliation"),
            "AlarmTopicArn": (self.observability.topic.topic_arn, "subscribe to SLO alarms"),
            "OpsApiUrl": (self.ops_api.url, "ops API (IAM auth): /exceptions, /documents/{id}, /validate/{type}, /close-check"),
            "LegacyFilesBucketName": (self.buckets.legacy.bucket_name, "legacy GL import files (prefix legacy/)"),
            "LegacyFilesUri": (self.buckets.legacy_files_uri, "the legacy GL file store URI the flush and the close "
                                                             "check use (the CLI's --stack reads it)"),
            "FlushFunctionName": (self.posting_engine.flush.function.function_name,
                                  "invoke with {\"through\": \"YYYY-MM-DD\"} to flush summaries by hand"),
            "InboundQueueUrl": (self.normalize.queue.queue_url, "SQS inbound queue"),
            "RevenueTableName": (self.tables["revenue"].table_name, "revenue schedules, release runs, usage"),
            "RevenueReleaseFunctionName": (self.revenue.release.function.function_name,
                                           "invoke with {\"entity\": \"us01\", \"period\": \"YYYY-MM\"} to release "
                                           "an ended period by hand"),
            "BankInbox": (f"s3://{self.buckets.archive.bucket_name}/bank-inbox/",
                          "drop bank statements under bank-inbox/<source id>/"),
            "BankFileDlqUrl": (self.bank_files.dlq.queue_url, "bank-file drops that failed (alarmed)"),
            "CursorsTableName": (self.tables["cursors"].table_name, "high-water marks of polled sources"),
            "InboundDlqUrl": (self.normalize.dlq.queue_url, "inbound DLQ (console: Start DLQ redrive)"),
            "StateMachineArn": (self.post_document.state_machine.state_machine_arn,
                                "post-document Standard workflow (exception cases, long waits, replays)"),
            "HappyPathStateMachineArn": (self.post_document.happy_path.state_machine_arn,
                                         "Express happy path every new document runs first"),
            "AuditBucketName": (self.buckets.audit.bucket_name,
                                "write-once copy of every audit item (Object Lock, governance mode)"),
            "OpsReaderRoleArn": (self.operator_roles.ops_reader.role_arn, "assume to read the ops API"),
            "ExceptionResolverRoleArn": (self.operator_roles.exception_resolver.role_arn,
                                         "assume to retry, resolve or ignore exception cases via the ops API"),
            "ReplayOperatorRoleArn": (self.operator_roles.replay_operator.role_arn,
                                      "assume to redrive the inbound DLQ and replay from the archive"),
            "MappingAdminRoleArn": (self.operator_roles.mapping_admin.role_arn,
                                    "assume to apply a reviewed configuration (ledgerlink config apply)"),
            "ConsoleUrl": (self.console.url, "finance-ops web console: sign in with a user of ConsoleUserPoolId"),
            "ConsoleUserPoolId": (self.console.user_pool.user_pool_id,
                                  "console users (admin-created, TOTP MFA); their groups are their roles"),
            "ConsoleUserPoolClientId": (self.console.client.user_pool_client_id,
                                        "the console's app client (no secret): its sign-in form and token audience"),
        }
        for connection_id, secret in self.erp_secrets.by_connection.items():
            outputs[f"{pascal(connection_id)}ErpCredentialsSecretArn"] = (
                secret.secret_arn, f"credentials of ERP connection '{connection_id}': put its JSON here")
        for source_id, name in self.secrets.names.items():
            outputs[f"{pascal(source_id)}SigningSecretName"] = (
                name, f"signing secret of source '{source_id}': put the provider's value here")
        for source_id, name in self.secrets.api_names.items():
            outputs[f"{pascal(source_id)}ApiCredentialsName"] = (
                name, f"API credentials of source '{source_id}' (JSON): put the vendor's values here")
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
