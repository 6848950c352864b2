"""The REST API in front of the function: one stage per environment, CORS, logs, X-Ray, WAF."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.nag import acknowledge
from infra.retention import log_group

RESOURCE_PATH = "/v1/telephone-status"
JWKS_PATH = "/v1/jwks.json"
ROUTED_METHODS = ("GET", "POST")

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

# Errors API Gateway produces itself get the same RFC 9457 shape as the function's.
_PROBLEM_HEADERS = {
    "Content-Type": "'application/problem+json'",
    "Cache-Control": "'no-store'",
}
_NOT_FOUND_BODY = json.dumps(
    {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "code": "NOT_FOUND",
        "detail": "There is no resource at this path.",
        "requestId": "$context.requestId",
    }
)
# The status code is not available to the template; $context.error.messageString is already a
# quoted JSON string and the response type is an upper-case enum (THROTTLED, WAF_FILTERED, ...).
_GATEWAY_ERROR_BODY = (
    '{"type": "about:blank", "title": $context.error.messageString, '
    '"code": "$context.error.responseType", "requestId": "$context.requestId"}'
)


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
            # API Gateway needs an account-level role to write access and execution logs; CDK
            # manages it (and keeps it when a stack is deleted: other APIs may rely on it).
            cloud_watch_role=True,
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
        resource.add_cors_preflight(
            allow_origins=config.cors_allow_origins,
            allow_methods=[*ROUTED_METHODS, "OPTIONS"],
            allow_headers=["Content-Type", "X-Api-Key"]
            if config.api_key.enabled
            else ["Content-Type"],
            max_age=cdk.Duration.hours(1),
        )
        integration = apigateway.LambdaIntegration(function, proxy=True, allow_test_invoke=False)
        # GET and POST are the API; ANY catches the other methods so that the function answers
        # them with 405 METHOD_NOT_ALLOWED (API Gateway alone would say 403 for an unmatched
        # method). OPTIONS stays with the CORS preflight above.
        for method in (*ROUTED_METHODS, "ANY"):
            resource.add_method(
                method,
                integration,
                request_validator=validator,
                api_key_required=config.api_key.enabled,
            )

        self.rest_api.add_gateway_response(
            "NotFound",
            type=apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
            status_code="404",
            response_headers=_PROBLEM_HEADERS,
            templates={"application/json": _NOT_FOUND_BODY},
        )
        for response_id, response_type in (
            ("Default4xx", apigateway.ResponseType.DEFAULT_4_XX),
            ("Default5xx", apigateway.ResponseType.DEFAULT_5_XX),
        ):
            self.rest_api.add_gateway_response(
                response_id,
                type=response_type,
                response_headers=_PROBLEM_HEADERS,
                templates={"application/json": _GATEWAY_ERROR_BODY},
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
        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=metric_prefix,
                sampled_requests_enabled=True,
            ),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="per-ip-rate-limit",
                    priority=0,
                    # Blocks a client IP for as long as it stays over the limit; API Gateway
                    # then answers 403 WAF_FILTERED in the problem+json shape.
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP",
                            limit=config.waf.rate_limit_per_5_minutes,
                            evaluation_window_sec=300,
                        )
                    ),
                    visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                        cloud_watch_metrics_enabled=True,
                        metric_name=f"{metric_prefix}-per-ip-rate-limit",
                        sampled_requests_enabled=True,
                    ),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.stage.stage_arn,
            web_acl_arn=web_acl.attr_arn,
        )
        return web_acl

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
