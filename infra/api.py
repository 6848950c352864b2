"""The REST API in front of the function: one stage per environment, CORS, logs, X-Ray, WAF."""

from __future__ import annotations

import json
from http import HTTPStatus

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.nag import acknowledge
from infra.retention import log_group, physical_name, removal_policy, retention

RESOURCE_PATH = "/v1/telephone-status"
JWKS_PATH = "/v1/jwks.json"
ROUTED_METHODS = ("GET", "POST")
# Browsers send a preflight without the x-api-key header, so OPTIONS never requires the key.
PREFLIGHT_METHOD = "OPTIONS"

# One JSON object per request. Only values API Gateway renders without quotes or backslashes
# (ids, numbers, enums, the route template): a user agent or raw path could break the JSON, and
# the query string may carry a PIN, so neither is logged.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "sourceIp": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "errorType": "$context.error.responseType",
    "apiKeyId": "$context.identity.apiKeyId",
    "wafStatus": "$context.waf.status",
    "xrayTraceId": "$context.xrayTraceId",
}

# Errors API Gateway produces itself (before the function runs) get the function's RFC 9457
# shape with a literal status (SPEC §5): (status, code, title, detail) per response type. Every
# type API Gateway documents is listed with its own status, so "as sent" holds literally;
# DEFAULT_4XX/5XX only catch types AWS may add later.
_GATEWAY_RESPONSES: dict[str, tuple[int, str, str, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (
        404,
        "NOT_FOUND",
        "Not found",
        "No such resource. The API serves /v1/telephone-status.",
    ),
    "THROTTLED": (
        429,
        "RATE_LIMITED",
        "Too many requests",
        "Too many requests; retry after the seconds given in Retry-After.",
    ),
    "QUOTA_EXCEEDED": (
        429,
        "QUOTA_EXCEEDED",
        "Quota exceeded",
        "This API key has used up its request quota.",
    ),
    "INVALID_API_KEY": (
        403,
        "INVALID_API_KEY",
        "Invalid API key",
        "The x-api-key header is missing or holds no valid key for this API.",
    ),
    "WAF_FILTERED": (403, "FORBIDDEN", "Forbidden", "The request was blocked by the firewall."),
    "REQUEST_TOO_LARGE": (
        413,
        "PAYLOAD_TOO_LARGE",
        "Payload too large",
        "The request is larger than the API accepts.",
    ),
    "INTEGRATION_TIMEOUT": (
        504,
        "GATEWAY_TIMEOUT",
        "Gateway timeout",
        "The API did not answer in time; try again.",
    ),
}
_OTHER_GATEWAY_RESPONSE_STATUS = {
    "ACCESS_DENIED": 403,
    "API_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "AUTHORIZER_FAILURE": 500,
    "BAD_REQUEST_PARAMETERS": 400,
    "BAD_REQUEST_BODY": 400,
    "EXPIRED_TOKEN": 403,
    "INTEGRATION_FAILURE": 504,
    "INVALID_SIGNATURE": 403,
    "RESOURCE_NOT_FOUND": 404,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 500,
}
for _type, _status in _OTHER_GATEWAY_RESPONSE_STATUS.items():
    _GATEWAY_RESPONSES[_type] = (
        _status,
        "GATEWAY_ERROR",
        HTTPStatus(_status).phrase,
        "API Gateway refused the request before it reached the service.",
    )
# Stage throttling refills every second; the usage-plan quota has no useful hint.
_RETRY_AFTER_SECONDS = {"THROTTLED": "1"}


def gateway_response_body(status: int, code: str, title: str, detail: str) -> str:
    # Every part is a literal written above, except the request id API Gateway substitutes.
    return json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "code": code,
            "detail": detail,
            "requestId": "$context.requestId",
        }
    )


# The same list as the function's own responses (telephone_status.web.EXPOSED_HEADERS; a test
# keeps the two equal).
EXPOSED_HEADERS = "Retry-After, Allow"


def gateway_cors_headers(config: EnvironmentConfig, response_type: str) -> dict[str, str]:
    """What an allowed browser origin needs to read API Gateway's own error responses.

    A gateway response header is a literal or a request value, never a choice. One allowed
    origin: that literal. Several: the request's Origin is reflected, which grants nothing
    beyond the allow-list because the WAF blocks every request whose Origin is outside it
    (config requires the WAF then). The WAF's own 403 gets no grant: its Origin may be one the
    WAF just refused.
    """
    origins = config.cors_allow_origins
    # Retry-After (THROTTLED) is no CORS-safelisted header: a browser reads it only when told.
    exposed = {"Vary": "'Origin'", "Access-Control-Expose-Headers": f"'{EXPOSED_HEADERS}'"}
    if len(origins) == 1:
        return {"Access-Control-Allow-Origin": f"'{origins[0]}'", **exposed}
    if response_type == "WAF_FILTERED":
        return {}
    return {"Access-Control-Allow-Origin": "method.request.header.Origin", **exposed}


class TelephoneStatusApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        function: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage_name = config.name

        self.access_log_group = log_group(self, "AccessLogs", config)

        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"telephone-status-{config.name}",
            description=f"Telephone Status API ({config.name})",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # API Gateway needs an account-level role to write access and execution logs. It is
            # account-wide: only the environment with manageApiGatewayAccount creates it, kept
            # when its stack is deleted (other APIs log through it) but not after a failed
            # create; `make preflight` checks the others find it set.
            cloud_watch_role=config.manage_api_gateway_account,
            cloud_watch_role_removal_policy=(
                cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
                if config.manage_api_gateway_account
                else None
            ),
            deploy_options=apigateway.StageOptions(
                stage_name=config.name,
                throttling_rate_limit=config.throttling_rate_limit,
                throttling_burst_limit=config.throttling_burst_limit,
                tracing_enabled=True,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_log_group),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                # Execution logs for errors only; data tracing would log bodies (PINs, codes).
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=False,
            ),
        )
        # With LoggingLevel ERROR, API Gateway writes execution logs to a group of this exact
        # name and creates it itself (kept forever, outside the stack) unless it exists first.
        self.execution_log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{config.name}",
            retention=retention(config.log_retention_days),
            removal_policy=removal_policy(config),
        )
        self.rest_api.deployment_stage.node.add_dependency(self.execution_log_group)
        # RestApi adds an "Endpoint" output with a generated name; the stack has ApiUrl instead.
        self.rest_api.node.try_remove_child("Endpoint")
        self.stage = self.rest_api.deployment_stage

        # The function validates requests itself (so a 400 has the documented problem+json
        # shape); this validator checks the parameters and bodies the methods declare.
        validator = self.rest_api.add_request_validator(
            "RequestValidator",
            request_validator_name="validate-declared-parameters-and-body",
            validate_request_parameters=True,
            validate_request_body=True,
        )
        resource = self.rest_api.root.resource_for_path(RESOURCE_PATH.strip("/"))
        integration = apigateway.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
        # GET and POST are the API; ANY catches the other methods so that the function answers
        # them with 405 METHOD_NOT_ALLOWED (API Gateway alone would say 403 for an unmatched
        # method). OPTIONS goes to the function as well (no add_cors_preflight): its
        # web.preflight answers the same headers deployed as locally (SPEC §5).
        for method in (*ROUTED_METHODS, "ANY"):
            resource.add_method(
                method,
                integration,
                request_validator=validator,
                api_key_required=config.api_key.enabled,
            )
        resource.add_method(
            PREFLIGHT_METHOD,
            integration,
            api_key_required=False,
            authorization_type=apigateway.AuthorizationType.NONE,
        )

        for response_type, (status, code, title, detail) in _GATEWAY_RESPONSES.items():
            headers = {
                "Content-Type": "'application/problem+json'",
                "Cache-Control": "'no-store'",
                **gateway_cors_headers(config, response_type),
            }
            if response_type in _RETRY_AFTER_SECONDS:
                headers["Retry-After"] = f"'{_RETRY_AFTER_SECONDS[response_type]}'"
            self.rest_api.add_gateway_response(
                "Gateway" + response_type.title().replace("_", ""),
                type=apigateway.ResponseType.of(response_type),
                status_code=str(status),
                response_headers=headers,
                templates={"application/json": gateway_response_body(status, code, title, detail)},
            )

        # The key set is public (backends fetch it without the API key); ANY so that other
        # methods reach the function's 405, as on the main resource.
        jwks = self.rest_api.root.resource_for_path(JWKS_PATH.strip("/"))
        for method in ("GET", "ANY"):
            jwks.add_method(method, integration, api_key_required=False)

        self.api_key: apigateway.IApiKey | None = None
        if config.api_key.enabled:
            self._add_api_key_and_usage_plan(config)

        self.web_acl: wafv2.CfnWebACL | None = None
        if config.waf.enabled:
            self.web_acl = self._add_web_acl(config)

        self._acknowledge_findings(config)

    @property
    def url(self) -> str:
        """The endpoint clients call."""
        return str(self.rest_api.url_for_path(RESOURCE_PATH))

    @property
    def base_url(self) -> str:
        """https://<api id>.execute-api.<region>.<suffix>/<stage>, from the RestApi id.

        Not the stage's own URL: that depends on the deployment, which depends on the
        methods, which depend on the function, so the function could not name it.
        """
        return (
            f"https://{self.rest_api.rest_api_id}.execute-api.{cdk.Aws.REGION}."
            f"{cdk.Aws.URL_SUFFIX}/{self.stage_name}"
        )

    @property
    def jwks_url(self) -> str:
        return str(self.rest_api.url_for_path(JWKS_PATH))

    def _add_api_key_and_usage_plan(self, config: EnvironmentConfig) -> None:
        self.api_key = self.rest_api.add_api_key(
            "ApiKey", api_key_name=f"telephone-status-{config.name}"
        )
        quota = (
            apigateway.QuotaSettings(
                limit=config.api_key.quota_per_day, period=apigateway.Period.DAY
            )
            if config.api_key.quota_per_day is not None
            else None
        )
        usage_plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"telephone-status-{config.name}",
            throttle=apigateway.ThrottleSettings(
                rate_limit=config.throttling_rate_limit,
                burst_limit=config.throttling_burst_limit,
            ),
            quota=quota,
        )
        usage_plan.add_api_stage(stage=self.stage)
        usage_plan.add_api_key(self.api_key)

    def _add_web_acl(self, config: EnvironmentConfig) -> wafv2.CfnWebACL:
        metric_prefix = f"telephone-status-{config.name}"

        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=f"{metric_prefix}-{name}" if name else metric_prefix,
                sampled_requests_enabled=True,
            )

        rules: list[wafv2.CfnWebACL.RuleProperty] = []
        if len(config.cors_allow_origins) > 1:
            rules.append(self._origin_allow_list_rule(config, visibility("origin-allow-list")))
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
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="per-ip-rate-limit",
                priority=len(rules),
                # Blocks a client IP for as long as it stays over the limit; API Gateway then
                # answers 403 FORBIDDEN. Many users behind one carrier NAT share an IP: the
                # limit is per environment in cdk.json (README, Security, trade-off).
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
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(""),
            rules=rules,
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.stage.stage_arn,
            web_acl_arn=web_acl.attr_arn,
        )
        self._add_web_acl_logging(config, web_acl)
        return web_acl

    @staticmethod
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
                                    or_statement=wafv2.CfnWebACL.OrStatementProperty(
                                        statements=allowed
                                    )
                                )
                            )
                        ),
                    ]
                )
            ),
            visibility_config=visibility,
        )

    def _add_web_acl_logging(self, config: EnvironmentConfig, web_acl: wafv2.CfnWebACL) -> None:
        # WAF only delivers to log groups whose name starts with "aws-waf-logs-".
        name = physical_name(
            self, f"aws-waf-logs-telephone-status-{config.name}", retained=config.is_retained
        )
        waf_logs = logs.LogGroup(
            self,
            "WafLogs",
            log_group_name=name,
            retention=retention(config.log_retention_days),
            removal_policy=removal_policy(config),
        )
        logging_configuration = wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=web_acl.attr_arn,
            # WAF wants the log group ARN without the ":*" suffix CDK's log_group_arn has.
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # A GET carries the PIN in its query string and clients send the API key in a
            # header: neither may reach a log (SPEC §5).
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(query_string={}),
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "x-api-key"}
                ),
            ],
        )
        logging_configuration.node.add_dependency(waf_logs)

    def _acknowledge_findings(self, config: EnvironmentConfig) -> None:
        public_api = (
            "public API for mobile and web clients, which have no AWS or Cognito identity; "
            "callers prove nothing but knowledge of the reference id, and PIN guessing is "
            "capped per reference id by the attempts table"
            + ("; an API key and usage plan are required as well" if config.api_key.enabled else "")
        )
        acknowledge(
            self.rest_api,
            ("AwsSolutions-APIG4", public_api),
            ("AwsSolutions-COG4", public_api),
        )
        if not config.waf.enabled:
            acknowledge(
                self.stage,
                (
                    "AwsSolutions-APIG3",
                    f"WAF is switched off for {config.name!r} in cdk.json (cost); stage "
                    "throttling still caps the request rate",
                ),
            )
        cloud_watch_role = self.rest_api.node.try_find_child("CloudWatchRole")
        if cloud_watch_role is not None:
            acknowledge(
                cloud_watch_role,
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
                    "the AWS-managed policy API Gateway documents for its account-level "
                    "logging role; it only allows writing to CloudWatch Logs",
                ),
            )
