"""The REST API in front of the function: one stage per environment, CORS, logs, X-Ray, WAF."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.gateway_responses import add_gateway_responses
from infra.nag import acknowledge
from infra.retention import log_group, removal_policy, retention
from infra.verifications import add_verifications_route
from infra.waf import add_web_acl

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
        # responses.preflight answers the same headers deployed as locally (docs/api.md).
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

        add_gateway_responses(self.rest_api, config)

        add_verifications_route(self.rest_api, integration, validator, config)

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
            self.web_acl = add_web_acl(self, config, self.stage)

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
