"""Ingest: ``POST /webhooks/{source}`` on an API Gateway REST API, proxied to the ingest Lambda.

The route is public by design: each provider authenticates its webhooks with a signature the Lambda
verifies against the source's signing secret. Stage and method throttling cap what a flood can cost;
JSON access logs go to a KMS-encrypted log group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.compliance import acknowledge, logical_id
from infra.constructs.function import KeyUse, LedgerLinkFunction
from infra.constructs.tables import StateTables
from infra.options import DeploymentOptions
from ledgerlink.store.archive import ARCHIVE_PREFIXES

API_STAGE = "v1"                       # part of the URL each provider stores: keep it stable
STAGE_THROTTLE = (50, 100)             # (steady requests/s, burst) for the whole stage
WEBHOOK_THROTTLE = (25, 50)            # the webhook method alone
WEBHOOK_METHOD_PATH = "/webhooks/{source}/POST"


class Ingest(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions,
                 layer: lambda_.ILayerVersion, key: kms.IKey, tables: StateTables, archive: s3.IBucket,
                 queue: sqs.IQueue, secrets: Sequence[secretsmanager.ISecret], values: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.function = LedgerLinkFunction(
            self, "Ingest", name="ingest", options=options, layer=layer, key=key, values=values,
            description="verify the webhook signature, archive, dedupe, enqueue; answer 202 fast")
        self._grant(tables, archive, queue, secrets)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs",
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR if options.is_prod else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY,
        )
        self.api = self._build_api(options)

    @property
    def webhook_base_url(self) -> str:
        return self.api.url_for_path("/webhooks/")

    def _grant(self, tables: StateTables, archive: s3.IBucket, queue: sqs.IQueue,
               secrets: Sequence[secretsmanager.ISecret]) -> None:
        function = self.function
        function.allow(["dynamodb:GetItem"], [tables["config"].table_arn])
        function.allow(["dynamodb:PutItem"], [tables["inbox"].table_arn])       # claim (in a transaction) and take-over
        function.allow(["dynamodb:DeleteItem"], [tables["inbox"].table_arn])    # release of a claim not enqueued (D69)
        function.allow(["dynamodb:UpdateItem"], [tables["totals"].table_arn])   # event counter, same transaction
        function.allow(["s3:PutObject"], [archive.arn_for_objects(f"{prefix}*") for prefix in ARCHIVE_PREFIXES])
        function.allow(["sqs:SendMessage"], [queue.queue_arn])
        function.allow(["secretsmanager:GetSecretValue"], [secret.secret_arn for secret in secrets])
        function.allow_key("dynamodb", KeyUse.DYNAMODB)
        function.allow_key("s3", KeyUse.S3_WRITE)
        function.allow_key("sqs", KeyUse.SQS_SEND)
        function.allow_key("secretsmanager", KeyUse.SECRET_READ)
        for prefix in ARCHIVE_PREFIXES:
            acknowledge(function.role, "IAM5", "Ingest archives each accepted webhook body (and oversized batch "
                                               "items) as new objects named by source, date and event id; writes "
                                               f"are limited to the {prefix} prefix.",
                        finding=f"Resource::<{logical_id(archive)}.Arn>/{prefix}*")

    def _build_api(self, options: DeploymentOptions) -> apigateway.RestApi:
        api = apigateway.RestApi(
            self, "Api",
            rest_api_name=f"ledgerlink-{options.stage}-webhooks",
            description="LedgerLink webhooks: POST /webhooks/{source}, authenticated by provider signatures",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            cloud_watch_role=False,  # the account-wide API Gateway logging role is not this stack's to own
            deploy_options=apigateway.StageOptions(
                stage_name=API_STAGE,
                throttling_rate_limit=STAGE_THROTTLE[0],
                throttling_burst_limit=STAGE_THROTTLE[1],
                method_options={WEBHOOK_METHOD_PATH: apigateway.MethodDeploymentOptions(
                    throttling_rate_limit=WEBHOOK_THROTTLE[0], throttling_burst_limit=WEBHOOK_THROTTLE[1])},
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=False),
                tracing_enabled=True,
            ),
        )
        validator = api.add_request_validator("PathValidator", validate_request_parameters=True,
                                              validate_request_body=False)
        webhook = api.root.add_resource("webhooks").add_resource("{source}")
        # The body must reach the Lambda byte for byte (the signature covers it): proxy, no body model.
        webhook.add_method(
            "POST", apigateway.LambdaIntegration(self.function.function, proxy=True),
            request_parameters={"method.request.path.source": True},
            request_validator=validator,
            authorization_type=apigateway.AuthorizationType.NONE,
        )
        reason = ("Webhooks are called by SaaS providers that cannot sign AWS requests or hold Cognito tokens; "
                  "each request is authenticated by the provider's signature, verified in the ingest Lambda "
                  "against the source's signing secret before anything is stored.")
        acknowledge(api, "APIG4", reason)
        acknowledge(api, "COG4", reason)
        if not options.protection.waf:
            acknowledge(api, "APIG3", "The WAF web ACL (on by default in prod, context waf) is off in this "
                                      "deployment; stage and method throttling bound abuse and unsigned requests "
                                      "are rejected by ingest before anything is stored.")
        acknowledge(api, "APIG2", "Path parameters are validated; the body is deliberately not: it must reach the "
                                  "Lambda byte for byte for signature verification, and each provider's payload "
                                  "is validated by its connector after the signature check.")
        acknowledge(api, "APIG6", "JSON access logs are enabled for every request; execution logging would need "
                                  "the account-wide API Gateway CloudWatch role, which this stack must not own.")
        return api
