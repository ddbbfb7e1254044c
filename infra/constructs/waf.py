"""WAF in front of the webhook, ops and console APIs: on by default in prod, off in dev (context ``waf=true|false``).

A regional web ACL with three AWS managed rule groups and a per-IP rate-based rule, associated with every API
stage, logging to a KMS-encrypted log group without credentials (SigV4 headers, the console's session cookie).
The webhook body is the provider's signed payload and is authenticated by the ingest Lambda; the managed rules
that inspect *bodies* only count (never block), so a legitimate financial event is never dropped because its JSON
happens to look like an attack pattern or is larger than the Core rule set's 8 KB body limit. Header, URI, query
and IP-reputation rules block.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.options import DeploymentOptions

# (managed rule group, rules of it that inspect the request body: counted, not blocking)
MANAGED_RULE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY", "GenericLFI_BODY", "GenericRFI_BODY",
                                      "CrossSiteScripting_BODY", "EC2MetaDataSSRF_BODY")),
    ("AWSManagedRulesKnownBadInputsRuleSet", ("Log4JRCE_BODY", "JavaDeserializationRCE_BODY")),
)
RATE_RULE = "RatePerSourceIp"
REDACTED_HEADERS = ("authorization", "x-amz-security-token", "cookie")


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True)


class ApiFirewall(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, options: DeploymentOptions, key: kms.IKey,
                 apis: Sequence[apigateway.RestApi]) -> None:
        super().__init__(scope, construct_id)
        rate_limit = options.protection.waf_rate_limit
        rules = [self._managed_rule(priority, group, counted)
                 for priority, (group, counted) in enumerate(MANAGED_RULE_GROUPS)]
        rules.append(wafv2.CfnWebACL.RuleProperty(
            name=RATE_RULE, priority=len(rules),
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300)),
            visibility_config=_visibility(RATE_RULE)))
        self.web_acl = wafv2.CfnWebACL(
            self, "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            description=f"LedgerLink {options.stage}: managed rules and {rate_limit} requests per IP per 5 minutes",
            rules=rules,
            visibility_config=_visibility(f"ledgerlink-{options.stage}-apis"),
        )
        # WAF only delivers to log groups whose name starts with aws-waf-logs-.
        self.log_group = logs.LogGroup(
            self, "Logs", log_group_name=f"aws-waf-logs-{Stack.of(self).stack_name.lower()}",
            encryption_key=key,
            retention=logs.RetentionDays.ONE_YEAR if options.is_prod else logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.RETAIN if options.is_prod else RemovalPolicy.DESTROY)
        wafv2.CfnLoggingConfiguration(
            self, "Logging", resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[Stack.of(self).format_arn(
                service="logs", resource="log-group", resource_name=self.log_group.log_group_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME)],
            # SigV4 credentials of ops callers and the console's session (an ID token in a cookie) never reach the log
            redacted_fields=[wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
                             for name in REDACTED_HEADERS])
        self.associations = [
            wafv2.CfnWebACLAssociation(self, f"{api.node.scope.node.id}Association",  # Ingest / OpsApi / Console
                                       web_acl_arn=self.web_acl.attr_arn, resource_arn=api.deployment_stage.stage_arn)
            for api in apis]

    @staticmethod
    def _managed_rule(priority: int, group: str, counted: tuple[str, ...]) -> wafv2.CfnWebACL.RuleProperty:
        return wafv2.CfnWebACL.RuleProperty(
            name=group, priority=priority,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(managed_rule_group_statement=(
                wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name=group,
                    rule_action_overrides=[wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}))
                        for rule in counted] or None))),
            visibility_config=_visibility(group))
