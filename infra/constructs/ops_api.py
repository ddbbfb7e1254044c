"""The ops API: exceptions queue, document traces and synchronous validation, behind IAM auth.

A separate REST API from the webhooks (different callers, different authorization, its own throttling):
every method requires SigV4-signed requests (``AuthorizationType.IAM``); who may call which route is
decided by the callers' IAM policies (``execute-api:Invoke`` on the route ARNs).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.buckets import BOOKS_PREFIX
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.store.archive import FETCHED_PREFIX, RAW_PREFIX

OPS_STAGE = "ops"
OPS_THROTTLE = (20, 40)
# route → methods; the handler (functions/ops) serves exactly these
ROUTES: dict[str, tuple[str, ...]] = {
    "/exceptions": ("GET",),
    "/exceptions/{exception_id}": ("GET",),
    "/exceptions/{exception_id}/{action}": ("POST",),
    "/documents/{document_id}": ("GET",),
    "/validate/{document_type}": ("POST",),
    "/close-check": ("GET",),
    "/backlog": ("GET",),
}


class OpsApi(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, archive: s3.IBucket,
                 queue: sqs.IQueue, state_machine: sfn.IStateMachine, values: dict[str, str],
                 books: s3.IBucket | None = None) -> None:
        super().__init__(scope, construct_id)
        self.function = LedgerLinkFunction(
            self, "Ops", name="ops", options=options, layer=layer, key=key, values=values,
            description="ops API: exceptions (list, retry, resolve, ignore), document traces, validation")
        grant_ops(self.function, tables=tables, archive=archive, queue=queue, state_machine=state_machine)
        if books is not None:
            grant_close_check(self.function, tables=tables, archive=archive, books=books)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR if options.is_prod else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY)
        self.api = self._build_api(options)

    @property
    def url(self) -> str:
        return self.api.url

    def _build_api(self, options: DeploymentOptions) -> apigateway.RestApi:
        api = apigateway.RestApi(
            self, "Api",
            rest_api_name=f"ledgerlink-{options.stage}-ops",
            description="LedgerLink ops API (IAM auth): exceptions, document traces, validation",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,
            default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM),
            deploy_options=apigateway.StageOptions(
                stage_name=OPS_STAGE, throttling_rate_limit=OPS_THROTTLE[0], throttling_burst_limit=OPS_THROTTLE[1],
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True, resource_path=True,
                    response_length=True, status=True, user=True),
                tracing_enabled=True),
        )
        validator = api.add_request_validator("Validator", validate_request_parameters=True,
                                              validate_request_body=True)
        models = {
            "/exceptions/{exception_id}/{action}": api.add_model(
                "ExceptionAction", content_type="application/json", model_name="ExceptionAction",
                schema=apigateway.JsonSchema(
                    schema=apigateway.JsonSchemaVersion.DRAFT4, type=apigateway.JsonSchemaType.OBJECT,
                    additional_properties=False,
                    properties={"reason": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, max_length=2000),
                                "note": apigateway.JsonSchema(type=apigateway.JsonSchemaType.STRING, max_length=2000)})),
            "/validate/{document_type}": api.add_model(
                "CanonicalDocument", content_type="application/json", model_name="CanonicalDocument",
                schema=apigateway.JsonSchema(schema=apigateway.JsonSchemaVersion.DRAFT4,
                                             type=apigateway.JsonSchemaType.OBJECT)),
        }
        integration = apigateway.LambdaIntegration(self.function.function, proxy=True)
        for path, methods in ROUTES.items():
            resource = api.root
            for part in path.strip("/").split("/"):
                resource = resource.get_resource(part) or resource.add_resource(part)
            parameters = {f"method.request.path.{part[1:-1]}": True for part in path.split("/") if part.startswith("{")}
            for method in methods:
                model = models.get(path)
                resource.add_method(method, integration, request_parameters=parameters or None,
                                    request_validator=validator, authorization_type=apigateway.AuthorizationType.IAM,
                                    request_models={"application/json": model} if model else None)
        acknowledge(api, "COG4", "The ops API authorizes with IAM (SigV4) rather than Cognito: operators and "
                                 "automation use their AWS identities, and route access is granted by IAM policy.")
        if not options.protection.waf:
            acknowledge(api, "APIG3", "The WAF web ACL (on by default in prod, context waf) is off in this "
                                      "deployment; the ops API requires IAM-signed requests on every route and is "
                                      "throttled per stage.")
        acknowledge(api, "APIG6", "JSON access logs record every request with the caller; execution logging "
                                  "needs the account-wide API Gateway CloudWatch role, which this stack must not own.")
        return api


def grant_ops(function: LedgerLinkFunction, *, tables: StateTables, archive: s3.IBucket, queue: sqs.IQueue,
              state_machine: sfn.IStateMachine) -> None:
    """What the ops service does (``service/ops.py``): exception cases, traces, replays, the backlog forecast; the
    finance console (``infra/constructs/console.py``) does the same through the same service."""
    exceptions = tables["exceptions"].table_arn
    function.allow(["dynamodb:GetItem"], [tables["config"].table_arn])                    # active configuration
    function.allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [exceptions])              # get, retrying, resolve
    function.allow(["dynamodb:Query"], [f"{exceptions}/index/by_status", f"{exceptions}/index/by_document"])
    function.allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], [tables["ledger"].table_arn])  # trace, transition
    function.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])                 # counters (transition)
    function.allow(["dynamodb:Query"], [tables["totals"].table_arn])                      # backlog: documents waiting
    function.allow(["dynamodb:GetItem"], [tables["limiter"].table_arn])                   # backlog: each ERP budget
    function.allow(["dynamodb:GetItem"], [tables["inbox"].table_arn])                     # trace, replay
    function.allow(["dynamodb:PutItem"], [tables["audit"].table_arn])                     # every action audited
    function.allow(["states:SendTaskSuccess"], [state_machine.state_machine_arn])         # resume / end executions
    executions = Stack.of(function).format_arn(service="states", resource="execution",
                                               resource_name=f"{state_machine.state_machine_name}:*",
                                               arn_format=ArnFormat.COLON_RESOURCE_NAME)
    function.allow(["states:DescribeExecution"], [executions])
    function.allow(["s3:GetObject"], [archive.arn_for_objects(f"{RAW_PREFIX}*")])
    function.allow(["sqs:SendMessage"], [queue.queue_arn])                                # replay of an event
    function.allow_key("dynamodb", KeyUse.DYNAMODB)
    function.allow_key("s3", KeyUse.S3_READ)
    function.allow_key("sqs", KeyUse.SQS_SEND)
    acknowledge(function.role, "IAM5", "A retry of a case without a document replays its event: the archived "
                                       "request is read from the raw/ prefix (names known at run time).",
                finding=f"Resource::<{logical_id(archive)}.Arn>/{RAW_PREFIX}*")
    machine_name = f"<{logical_id(state_machine)}.Name>"
    acknowledge(function.role, "IAM5", "A trace describes the document's execution, named by its document "
                                       "id at run time: only executions of the post-document state machine.",
                finding=f"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
                        f"{machine_name}:*")


def grant_close_check(function: LedgerLinkFunction, *, tables: StateTables, archive: s3.IBucket,
                      books: s3.IBucket) -> None:
    """The month-end close check reads every posted document (a scan of the ledger), the entity's schedule lines, the
    book's postings and the archived payout contents (fetched/)."""
    function.allow(["dynamodb:Scan"], [tables["ledger"].table_arn])
    function.allow(["dynamodb:Query"], [f"{tables['revenue'].table_arn}/index/entity_lines"])
    function.allow(["s3:GetObject"], [books.arn_for_objects(f"{BOOKS_PREFIX}/*")])
    function.allow(["s3:ListBucket"], [books.bucket_arn])
    function.allow(["s3:GetObject"], [archive.arn_for_objects(f"{FETCHED_PREFIX}*")])
    acknowledge(function.role, "IAM5", "The close check reads the book's posting files under books/ (names known "
                                       "at run time); reads are limited to that prefix.",
                finding=f"Resource::<{logical_id(books)}.Arn>/{BOOKS_PREFIX}/*")
    acknowledge(function.role, "IAM5", "The close check reads a payout's archived balance transactions under "
                                       "fetched/ (names known at run time); reads are limited to that prefix.",
                finding=f"Resource::<{logical_id(archive)}.Arn>/{FETCHED_PREFIX}*")
