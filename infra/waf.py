"""The WAF web ACL on the API stage, and its redacted logs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.retention import physical_name, removal_policy, retention
from infra.verifications import start_rate_rule


def add_web_acl(
    scope: Construct, config: EnvironmentConfig, stage: apigateway.Stage
) -> wafv2.CfnWebACL:
    """The web ACL in front of `stage`: origin allow-list, AWS managed groups, per-IP rate."""
    metric_prefix = f"telephone-status-{config.name}"

    def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(
            cloud_watch_metrics_enabled=True,
            metric_name=f"{metric_prefix}-{name}" if name else metric_prefix,
            sampled_requests_enabled=True,
        )

    rules: list[wafv2.CfnWebACL.RuleProperty] = []
    if len(config.cors_allow_origins) > 1:
        rules.append(_origin_allow_list_rule(config, visibility("origin-allow-list")))
    # AWS managed groups that fit a JSON API with no browser pages: IP reputation (botnets,
    # scanners), known bad inputs (Log4j, Java deserialisation, ...), the common rule set.
    managed = [
        ("AWSManagedRulesAmazonIpReputationList", []),
        ("AWSManagedRulesKnownBadInputsRuleSet", []),
        # Native mobile HTTP stacks may send no User-Agent; counted, not blocked.
        ("AWSManagedRulesCommonRuleSet", ["NoUserAgent_HEADER"]),
    ]
    for name, counted in managed:
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name=name,
                priority=len(rules),
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS",
                        name=name,
                        rule_action_overrides=[
                            wafv2.CfnWebACL.RuleActionOverrideProperty(
                                name=rule,
                                action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                            )
                            for rule in counted
                        ]
                        or None,
                    )
                ),
                visibility_config=visibility(name),
            )
        )
    # Stricter, for the route that sends SMS and calls (infra/verifications.py).
    rules.append(
        start_rate_rule(config, priority=len(rules), visibility=visibility("start-rate-limit"))
    )
    rules.append(
        wafv2.CfnWebACL.RuleProperty(
            name="per-ip-rate-limit",
            priority=len(rules),
            # Blocks a client IP for as long as it stays over the limit; API Gateway then
            # answers 403 FORBIDDEN. Many users behind one carrier NAT share an IP: the
            # limit is per environment in cdk.json (docs/security.md#waf).
            action=wafv2.CfnWebACL.RuleActionProperty(block={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP",
                    limit=config.waf.rate_limit_per_5_minutes,
                    evaluation_window_sec=300,
                )
            ),
            visibility_config=visibility("per-ip-rate-limit"),
        )
    )
    web_acl = wafv2.CfnWebACL(
        scope,
        "WebAcl",
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=visibility(""),
        rules=rules,
    )
    wafv2.CfnWebACLAssociation(
        scope,
        "WebAclAssociation",
        resource_arn=stage.stage_arn,
        web_acl_arn=web_acl.attr_arn,
    )
    _add_web_acl_logging(scope, config, web_acl)
    return web_acl


def _origin_allow_list_rule(
    config: EnvironmentConfig, visibility: wafv2.CfnWebACL.VisibilityConfigProperty
) -> wafv2.CfnWebACL.RuleProperty:
    """Blocks a request whose Origin header is present and not exactly an allowed one."""
    origin_header = wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": "origin"})
    no_transformation = [wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")]
    allowed = [
        wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=origin_header,
                positional_constraint="EXACTLY",
                search_string=origin,
                text_transformations=no_transformation,
            )
        )
        for origin in config.cors_allow_origins
    ]
    return wafv2.CfnWebACL.RuleProperty(
        name="origin-allow-list",
        priority=0,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            and_statement=wafv2.CfnWebACL.AndStatementProperty(
                statements=[
                    wafv2.CfnWebACL.StatementProperty(
                        size_constraint_statement=wafv2.CfnWebACL.SizeConstraintStatementProperty(
                            field_to_match=origin_header,
                            comparison_operator="GT",
                            size=0,
                            text_transformations=no_transformation,
                        )
                    ),
                    wafv2.CfnWebACL.StatementProperty(
                        not_statement=wafv2.CfnWebACL.NotStatementProperty(
                            statement=wafv2.CfnWebACL.StatementProperty(
                                or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=allowed)
                            )
                        )
                    ),
                ]
            )
        ),
        visibility_config=visibility,
    )


def _add_web_acl_logging(
    scope: Construct, config: EnvironmentConfig, web_acl: wafv2.CfnWebACL
) -> None:
    # WAF only delivers to log groups whose name starts with "aws-waf-logs-".
    name = physical_name(
        scope, f"aws-waf-logs-telephone-status-{config.name}", retained=config.is_retained
    )
    waf_logs = logs.LogGroup(
        scope,
        "WafLogs",
        log_group_name=name,
        retention=retention(config.log_retention_days),
        removal_policy=removal_policy(config),
    )
    logging_configuration = wafv2.CfnLoggingConfiguration(
        scope,
        "WafLogging",
        resource_arn=web_acl.attr_arn,
        # WAF wants the log group ARN without the ":*" suffix CDK's log_group_arn has.
        log_destination_configs=[
            cdk.Stack.of(scope).format_arn(
                service="logs",
                resource="log-group",
                resource_name=name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
        # A GET carries the PIN in its query string and clients send the API key in a
        # header: neither may reach a log (docs/security.md).
        redacted_fields=[
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(query_string={}),
            wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "x-api-key"}),
        ],
    )
    logging_configuration.node.add_dependency(waf_logs)
