"""The finance-ops web console: a Cognito user pool (the users and their roles), the console Lambda and its own REST API.

Users are created by an administrator only (no self sign-up) and sign in with their username (or their verified
email address) and a password, then a TOTP code: MFA is required for every user. Each user's Cognito groups, named
exactly like the console's roles (``ledgerlink.console.roles.Role``), are the ``cognito:groups`` claim of the ID
token. The console's own sign-in form calls ``InitiateAuth`` (``USER_PASSWORD_AUTH``) with the app client, which has
no secret, and answers the challenges that follow (``NEW_PASSWORD_REQUIRED`` for an invited user, ``MFA_SETUP``
then ``SOFTWARE_TOKEN_MFA``); these Cognito calls need no AWS credentials, so the function's role holds no Cognito
permission at all.

API Gateway authorizes nothing (``AuthorizationType.NONE``): a browser sends its session as a cookie, which no API
Gateway Cognito authorizer reads, and the sign-in page must be reachable before there is a session. The handler
authenticates every request from that cookie (the ID token's RS256 signature against the pool's keys, issuer,
audience, ``token_use`` and expiry) and authorizes every action by role on the server.

The function's role is the ops API's (``ops_api.grant_ops`` and ``grant_close_check``: it runs the same services)
plus what only the console does: configuration history, the audit trail, reconciliation reports, the revenue
waterfall, queue depths and the DLQ redrive, replays of a date range, and both state machines' executions.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.function import LedgerLinkFunction
from infra.constructs.ops_api import grant_close_check, grant_ops
from infra.constructs.reconcile import REPORTS_PREFIX
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink import settings
from ledgerlink.console.roles import Role
from ledgerlink.store.archive import RAW_PREFIX
from ledgerlink.store.tables import LEDGER_LOOKUPS

CONSOLE_STAGE = "web"                 # https://<api>.execute-api.<region>.amazonaws.com/web/console/
CONSOLE_PATH = "console"              # /console and /console/{proxy+}: every page, form and static file
CONSOLE_THROTTLE = (20, 40)           # (steady requests/s, burst) for the whole stage: a few people and their pages
COMPRESS_ABOVE_BYTES = 1024           # pages, CSS, JS and SVG are text: gzip when the browser accepts it
ID_TOKEN_HOURS = 1                    # the session cookie's lifetime: the ID token's
REFRESH_TOKEN_HOURS = 8               # a working day, if the console renews sessions
SIGN_IN_SESSION_MINUTES = 10          # time to answer a sign-in challenge (scan the TOTP QR code, type a code)
PASSWORD_MIN_LENGTH = 14
PASSWORD_HISTORY = 5                  # the last five passwords cannot be reused
TEMPORARY_PASSWORD_DAYS = 3           # an invitation's temporary password

GROUP_DESCRIPTIONS: dict[Role, str] = {
    Role.VIEWER: "Sees every console page, changes nothing",
    Role.FINANCE_OPS: "Works exception cases: retry, resolve, ignore, assign, note, export",
    Role.APPROVER: "Approves or rejects documents held for approval",
    Role.OPS_ADMIN: "Redrives the inbound DLQ and replays events from the archive",
    Role.MAPPING_ADMIN: "Checks a proposed configuration change against the open cases",
}

# SQS calls of ``ops/dlq.py`` on the DLQ: the peek of ``list`` (receive, then visibility 0 in batches), its depth,
# ``StartMessageMoveTask`` (which itself needs receive, delete and attributes on the source queue) and the
# receive → send → delete fallback. The inbound queue gets SendMessage (the fallback, replays) from grant_ops.
DLQ_ACTIONS = ("sqs:StartMessageMoveTask", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
               "sqs:GetQueueAttributes")


class FinanceConsole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, archive: s3.IBucket,
                 books: s3.IBucket, reports: s3.IBucket, queue: sqs.IQueue, dlq: sqs.IQueue,
                 state_machine: sfn.IStateMachine, happy_path: sfn.IStateMachine, values: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = self._build_user_pool(options)
        self.groups = {role: self.user_pool.add_group(
            f"{role.value.title().replace('_', '')}Group", group_name=role.value,
            description=GROUP_DESCRIPTIONS[role]) for role in Role}
        self.client = self._build_client()
        self.function = LedgerLinkFunction(
            self, "Console", name="console", options=options, layer=layer, key=key,
            values={**values, settings.CONSOLE_USER_POOL_ID: self.user_pool.user_pool_id,
                    settings.CONSOLE_CLIENT_ID: self.client.user_pool_client_id},
            description="finance-ops web console: pages and actions for signed-in users, by role")
        grant_ops(self.function, tables=tables, archive=archive, queue=queue, state_machine=state_machine)
        grant_close_check(self.function, tables=tables, archive=archive, books=books)
        self._grant_console(tables, archive, reports, queue, dlq, state_machine, happy_path)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR if options.is_prod else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY)
        self.api = self._build_api(options)

    @property
    def url(self) -> str:
        """The console's address: the stage URL (it ends with a slash) and ``console/``."""
        return f"{self.api.url}{CONSOLE_PATH}/"

    # ---- who may sign in -------------------------------------------------------------------------------------

    def _build_user_pool(self, options: DeploymentOptions) -> cognito.UserPool:
        pool = cognito.UserPool(
            self, "Users",
            user_pool_name=f"ledgerlink-{options.stage}-console",
            self_sign_up_enabled=False,                  # an administrator creates every user (AdminCreateUser)
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)),   # where the invitation goes
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),   # a changed address signs in once verified
            # Essentials (what Cognito gives a new pool; free up to 10,000 monthly users) has password history
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH, require_lowercase=True, require_uppercase=True, require_digits=True,
                require_symbols=True, password_history_size=PASSWORD_HISTORY,
                temp_password_validity=Duration.days(TEMPORARY_PASSWORD_DAYS)),
            # TOTP only: free, no SMS spend or SNS sandbox, no email MFA that a mailbox compromise would defeat
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False, email=False),
            account_recovery=cognito.AccountRecovery.NONE,   # admin only: AdminSetUserPassword, then a new password
            user_invitation=cognito.UserInvitationConfig(
                email_subject="Your LedgerLink finance console account",
                email_body=("Your LedgerLink finance console user name is {username} and your temporary password is "
                            f"{{####}}. Sign in within {TEMPORARY_PASSWORD_DAYS} days: you will choose a new password "
                            "and set up an authenticator app (TOTP).")),
            deletion_protection=options.is_prod,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY,
        )
        acknowledge(pool, "COG8", "The Plus feature plan's threat protection is billed per monthly user; this pool "
                                  "holds only administrator-created finance staff, requires TOTP MFA at every "
                                  "sign-in, locks out repeated failures, and sits behind the API's throttling (and "
                                  "the WAF's per-IP rate limit where it is on).")
        return pool

    def _build_client(self) -> cognito.UserPoolClient:
        return self.user_pool.add_client(
            "Client",
            user_pool_client_name="console",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            disable_o_auth=True,                          # the console's own form signs in; no hosted UI, no redirects
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(ID_TOKEN_HOURS),
            access_token_validity=Duration.hours(ID_TOKEN_HOURS),
            refresh_token_validity=Duration.hours(REFRESH_TOKEN_HOURS),
            auth_session_validity=Duration.minutes(SIGN_IN_SESSION_MINUTES),
            enable_token_revocation=True,
        )

    # ---- what the console's code calls, beyond the ops API's ------------------------------------------------

    def _grant_console(self, tables: StateTables, archive: s3.IBucket, reports: s3.IBucket, queue: sqs.IQueue,
                       dlq: sqs.IQueue, state_machine: sfn.IStateMachine, happy_path: sfn.IStateMachine) -> None:
        function = self.function
        revenue = tables["revenue"].table_arn
        function.allow(["dynamodb:Query"], [tables["config"].table_arn])        # config_store.history (versions)
        function.allow(["dynamodb:Query"], [tables["audit"].table_arn])         # audit.on(day): the audit trail
        function.allow(["dynamodb:Query"], [revenue])         # waterfall: each line's invoice and subscription facts
        ledger, exceptions = tables["ledger"].table_arn, tables["exceptions"].table_arn
        # find: the ledger's keys-only lookup indexes (event, correlation, external, ERP ids), then a case scan
        function.allow(["dynamodb:Query"], [f"{ledger}/index/by_{attribute}" for attribute in
                                            sorted(LEDGER_LOOKUPS.values())])
        function.allow(["dynamodb:Scan"], [exceptions])
        # a document's timeline reads its Standard execution's history (named by the document id at run time)
        executions = Stack.of(self).format_arn(service="states", resource="execution",
                                               resource_name=f"{state_machine.state_machine_name}:*",
                                               arn_format=ArnFormat.COLON_RESOURCE_NAME)
        function.allow(["states:GetExecutionHistory"], [executions])
        # (the entity's schedule lines, index entity_lines, are the close check's grant)
        reports_prefix = f"{REPORTS_PREFIX}/"
        function.allow(["s3:GetObject"], [reports.arn_for_objects(f"{reports_prefix}*")])   # a report, JSON or CSV
        function.allow(["s3:ListBucket"], [reports.bucket_arn],                              # ... and their list
                       {"StringLike": {"s3:prefix": [f"{reports_prefix}*"]}})
        # a replay of a date range lists the archived bodies of each source and day (Replayer.plan_range)
        function.allow(["s3:ListBucket"], [archive.bucket_arn], {"StringLike": {"s3:prefix": [f"{RAW_PREFIX}*"]}})
        function.allow(["sqs:GetQueueAttributes"], [queue.queue_arn])          # the inbound queue's depth
        function.allow(DLQ_ACTIONS, [dlq.queue_arn])                           # DLQ depth, peek, redrive
        # running executions of both machines (AWS answers an Express machine with StateMachineTypeNotSupported,
        # and the status then reads its CloudWatch execution counts instead, below)
        function.allow(["states:ListExecutions"], [state_machine.state_machine_arn, happy_path.state_machine_arn])
        acknowledge(function.role, "IAM5", "The console shows the reconciliation reports under reports/"
                                           "reconciliation/ (JSON and CSV, named by date and entity at run time); "
                                           "reads are limited to that prefix.",
                    finding=f"Resource::<{logical_id(reports)}.Arn>/{reports_prefix}*")
        # In a policy of its own, so that its Resource '*' is acknowledged with its own reason (the role's default
        # policy carries X-Ray's).
        metrics = iam.Policy(self, "HappyPathMetrics", roles=[function.role], statements=[iam.PolicyStatement(
            actions=["cloudwatch:GetMetricData"], resources=["*"])])
        acknowledge(metrics, "IAM5", "The status page counts the Express happy path's executions from its AWS/States "
                                     "metrics (AWS lists no Express executions); GetMetricData supports no "
                                     "resource-level permissions and only reads metrics.", finding="Resource::*")

    # ---- the REST API ----------------------------------------------------------------------------------------

    def _build_api(self, options: DeploymentOptions) -> apigateway.RestApi:
        api = apigateway.RestApi(
            self, "Api",
            rest_api_name=f"ledgerlink-{options.stage}-console",
            description="LedgerLink finance-ops web console (sessions: Cognito ID tokens, verified by the handler)",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            min_compression_size=Size.bytes(COMPRESS_ABOVE_BYTES),
            default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.NONE),
            deploy_options=apigateway.StageOptions(
                stage_name=CONSOLE_STAGE, throttling_rate_limit=CONSOLE_THROTTLE[0],
                throttling_burst_limit=CONSOLE_THROTTLE[1],
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                # who asked for what and the answer; never a body, a header or a cookie (the session)
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True),
                tracing_enabled=True),
        )
        integration = apigateway.LambdaIntegration(self.function.function, proxy=True, allow_test_invoke=False)
        console = api.root.add_resource(CONSOLE_PATH)
        console.add_method("ANY", integration, authorization_type=apigateway.AuthorizationType.NONE)
        console.add_resource("{proxy+}").add_method("ANY", integration,
                                                    authorization_type=apigateway.AuthorizationType.NONE)
        reason = ("The console handler authenticates every request from its session cookie (a Cognito ID token whose "
                  "RS256 signature, issuer, audience, token_use and expiry it verifies) and authorizes every action "
                  "by Cognito group; API Gateway's Cognito authorizer reads no cookie, and the sign-in page must be "
                  "reachable without a session.")
        acknowledge(api, "APIG4", reason)
        acknowledge(api, "COG4", reason)
        acknowledge(api, "APIG2", "The console's form fields and query parameters are parsed and validated by its "
                                  "handler; one proxy resource serves every page, form and static file, so no API "
                                  "Gateway request model could describe them.")
        if not options.protection.waf:
            acknowledge(api, "APIG3", "The WAF web ACL (on by default in prod, context waf) is off in this "
                                      "deployment; every console request needs a verified Cognito session (TOTP MFA "
                                      "at sign-in) and the stage is throttled.")
        acknowledge(api, "APIG6", "JSON access logs record every request without bodies or cookies; execution "
                                  "logging needs the account-wide API Gateway CloudWatch role, which this stack must "
                                  "not own.")
        return api
