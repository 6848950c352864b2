"""The Lambda function: arm64, Python 3.12, JSON logs, X-Ray, its own log group; SnapStart as an
option (a published version and a ``live`` alias, which the API and the alarms then target)."""

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

# Chosen by cold start, not by default (bench/README.md measures it): the lowest published init of
# the SnapStart-capable runtimes (python3.12 71 ms, 3.13 96 ms, 3.14 113 ms; hello world, arm64,
# 128 MB, Dec 2025), within noise of 3.13 for our function here, and compilable on this machine
# kind (pyenv 3.12; no 3.14). cdk-nag's AwsSolutions-L1 is acknowledged below with that reason.
RUNTIME = lambda_.Runtime.PYTHON_3_12
RUNTIME_CHOICE_REASON = (
    "python3.12 by measured cold start: lowest published init (71 ms vs 96 ms for 3.13 and "
    "113 ms for 3.14) and within noise of 3.13 for this function as shipped (make bench); "
    "supported by Lambda until 2028; the asset's bytecode is compiled for it"
)
ALIAS_NAME = "live"
HANDLER = "telephone_status.handler.lambda_handler"
# Fixed so that `sam local invoke -t cdk.out/TelephoneStatus-<env>.template.json
# TelephoneStatusFunction` keeps working whatever the construct tree looks like.
FUNCTION_LOGICAL_ID = "TelephoneStatusFunction"
POWERTOOLS_SERVICE_NAME = "telephone-status"


def start_variables(config: EnvironmentConfig) -> dict[str, str]:
    """The start route's settings, one variable each; an empty START_COUNTRIES turns it off."""
    return {
        "START_COUNTRIES": config.start_countries_variable,
        "CODE_LENGTH": str(config.code_length),
        "VERIFICATION_TTL_SECONDS": str(config.verification_ttl_seconds),
        "MAX_SENDS_PER_PHONE": str(config.max_sends_per_phone),
        "MIN_SEND_INTERVAL_SECONDS": str(config.min_send_interval_seconds),
        "MAX_SENDS_PER_PREFIX": str(config.max_sends_per_prefix),
        "MAX_SENDS_PER_HOUR": str(config.max_sends_per_hour),
        "TEST_NUMBERS": config.test_numbers_variable,
        "ACCEPT_EXTERNAL_REFERENCES": "true" if config.accept_external_references else "false",
    }


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
            # Only published versions are snapshotted; $LATEST keeps the usual INIT.
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.snap_start else None,
            # A replaced version is deleted, so its snapshot stops being cached (and charged).
            current_version_options=(
                lambda_.VersionOptions(removal_policy=cdk.RemovalPolicy.DESTROY)
                if config.snap_start
                else None
            ),
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
            # Lambda's filter stays at INFO or below so that EMF metric lines (no "level", so
            # INFO to Lambda) and START/REPORT survive; Powertools applies config.log_level.
            application_log_level_v2=lambda_.ApplicationLogLevel(
                config.lambda_application_log_level
            ),
            system_log_level_v2=lambda_.SystemLogLevel(config.lambda_system_log_level),
            description=f"Telephone Status API ({config.name})",
            environment={
                "PROXSTOP_SECRET_ID": secret.secret_id_for_function,
                "PROXSTOP_API_URL": config.proxstop_api_url,
                "PROXSTOP_FORMAT": config.proxstop_format,
                "ATTEMPTS_TABLE_NAME": table.table.table_name,
                "MAX_CODE_ATTEMPTS": str(config.max_code_attempts),
                "MAX_CODE_CHECKS": str(config.max_code_checks),
                "SECRET_MAX_AGE_SECONDS": str(config.secret_max_age_seconds),
                "CORS_ALLOW_ORIGINS": ",".join(config.cors_allow_origins),
                # Starting verifications and the fraud guard (docs/configuration.md).
                **start_variables(config),
                "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": config.metrics_namespace,
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
        table.grant_get_item(self.role)
        signing_key.grant_sign(self.role)

        self._depend_on_policy_only(cfn_function)

        # What the API invokes and the alarms watch: the function itself, or with SnapStart the
        # alias of its current published version (SnapStart never applies to $LATEST).
        self.invocable: lambda_.IFunction = self.function
        self.alias: lambda_.Alias | None = None
        if config.snap_start:
            self.alias = lambda_.Alias(
                self,
                "LiveAlias",
                alias_name=ALIAS_NAME,
                version=self.function.current_version,
                description="The published version the API invokes (SnapStart snapshots it)",
            )
            self.invocable = self.alias
            # CDK warns that SnapStart needs a published version: the alias above is one.
            cdk.Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "published as current_version, invoked through the live alias",
            )

        acknowledge(self.function, ("AwsSolutions-L1", RUNTIME_CHOICE_REASON))

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
