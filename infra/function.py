"""The Lambda function: arm64, current Python runtime, JSON logs, X-Ray, its own log group."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.code_asset import function_code
from infra.config import EnvironmentConfig
from infra.nag import acknowledge
from infra.retention import log_group
from infra.secret import ApiKeySecret
from infra.signing_key import TokenSigningKey
from infra.table import AttemptsTable

# The newest Python runtime in this aws-cdk-lib; cdk-nag's AwsSolutions-L1 insists on it.
RUNTIME = lambda_.Runtime.PYTHON_3_14
HANDLER = "telephone_status.handler.lambda_handler"
# Fixed so that `sam local invoke -t cdk.out/TelephoneStatus-<env>.template.json
# TelephoneStatusFunction` keeps working whatever the construct tree looks like.
FUNCTION_LOGICAL_ID = "TelephoneStatusFunction"
POWERTOOLS_SERVICE_NAME = "telephone-status"
POWERTOOLS_METRICS_NAMESPACE = "TelephoneStatus"


class TelephoneStatusFunction(Construct):
    """The API's only function, with exactly the permissions it needs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        secret: ApiKeySecret,
        table: AttemptsTable,
        signing_key: TokenSigningKey,
    ) -> None:
        super().__init__(scope, construct_id)

        self.log_group = log_group(self, "LogGroup", config)

        # A hand-made role instead of AWSLambdaBasicExecutionRole: that managed policy lets the
        # function write to every log group in the account; this one, only to its own.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"telephone-status function ({config.name})",
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=function_code(RUNTIME),
            role=self.role,
            memory_size=config.memory_size,
            timeout=cdk.Duration.seconds(config.timeout_seconds),
            reserved_concurrent_executions=config.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # Same level for Lambda's own filter and Powertools, so neither drops the other's lines.
            application_log_level_v2=lambda_.ApplicationLogLevel(config.log_level.value),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            description=f"Telephone Status API ({config.name})",
            environment={
                "PROXSTOP_SECRET_ID": secret.secret_id_for_function,
                "PROXSTOP_API_URL": config.proxstop_api_url,
                "PROXSTOP_FORMAT": config.proxstop_format,
                "ATTEMPTS_TABLE_NAME": table.table.table_name,
                "MAX_CODE_ATTEMPTS": str(config.max_code_attempts),
                "SECRET_MAX_AGE_SECONDS": str(config.secret_max_age_seconds),
                "CORS_ALLOW_ORIGINS": ",".join(config.cors_allow_origins),
                "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": config.log_level.value,
                "TOKEN_SIGNING_KEY_ID": signing_key.key.key_arn,
                "TOKEN_TTL_SECONDS": str(config.token.ttl_seconds),
                # TOKEN_ISSUER defaults to the API's URL, known only once the API exists:
                # see set_token_issuer.
                **({"TOKEN_AUDIENCE": config.token.audience} if config.token.audience else {}),
            },
        )
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.override_logical_id(FUNCTION_LOGICAL_ID)

        secret.grant_read(self.role)
        table.grant_update_item(self.role)
        signing_key.grant_sign(self.role)

        self._depend_on_policy_only(cfn_function)

        acknowledge(
            self.role,
            # Tracing.ACTIVE adds xray:PutTraceSegments/PutTelemetryRecords; X-Ray has no
            # resource-level permissions for them, so "*" is the only possible resource.
            (
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray trace upload actions support no resource ARN",
            ),
        )

    def set_token_issuer(self, issuer: str) -> None:
        self.function.add_environment("TOKEN_ISSUER", issuer)

    def _depend_on_policy_only(self, cfn_function: lambda_.CfnFunction) -> None:
        # With an explicit role, CDK makes the function depend on the role and its policy; the
        # role dependency is already implied by the Role GetAtt (cfn-lint W3005).
        policy = self.role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, iam.CfnPolicy)
        cfn_function.add_override("DependsOn", [cdk.Stack.of(self).get_logical_id(policy)])
