"""One stack per environment: secret, attempts table, function, API, monitoring."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.api import TelephoneStatusApi
from infra.config import EnvironmentConfig
from infra.function import TelephoneStatusFunction
from infra.monitoring import Monitoring
from infra.retention import removal_policy
from infra.secret import ApiKeySecret
from infra.signing_key import TokenSigningKey
from infra.table import AttemptsTable


class TelephoneStatusStack(cdk.Stack):  # type: ignore[misc]  # aws_cdk is not followed by mypy
    def __init__(
        self,
        scope: Construct,
        *,
        config: EnvironmentConfig,
        env: cdk.Environment | None = None,
        first_create: bool = False,
    ) -> None:
        super().__init__(
            scope,
            config.stack_name,
            env=env,
            description=f"Telephone Status API wrapping ProxStop telephonestatus ({config.name})",
            # Retained environments hold data and a key someone put in by hand. Not on the first
            # create: the CLI switches protection on before the create runs, and a create that
            # fails then sits in ROLLBACK_COMPLETE where nothing may delete it (docs/deploy.md).
            # The CLI makes every later deploy match this value, so it stays on from then on.
            termination_protection=config.is_retained and not first_create,
        )
        self.config = config
        cdk.Tags.of(self).add("project", "telephone-status")
        cdk.Tags.of(self).add("environment", config.name)

        self.secret = ApiKeySecret(
            self, "ApiKeySecret", config=config.secret, removal_policy=removal_policy(config)
        )
        self.attempts = AttemptsTable(
            self,
            "Attempts",
            removal_policy=removal_policy(config),
            # Same reason as termination protection: a rollback must be able to delete it.
            deletion_protection=config.is_retained and not first_create,
        )
        self.signing_key = TokenSigningKey(
            self, "TokenSigningKey", config=config, removal_policy=removal_policy(config)
        )
        self.function = TelephoneStatusFunction(
            self,
            "TelephoneStatus",
            config=config,
            secret=self.secret,
            table=self.attempts,
            signing_key=self.signing_key,
        )
        # With SnapStart, the alias of the published version (see TelephoneStatusFunction).
        invocable = self.function.invocable
        self.api = TelephoneStatusApi(self, "Api", config=config, function=invocable)
        self.function.set_token_issuer(config.token.issuer or self.api.base_url)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            function=invocable,
            stage=self.api.stage,
        )

        outputs = {
            "ApiUrl": (self.api.url, "The endpoint clients call (GET or POST)"),
            "JwksUrl": (self.api.jwks_url, "Public keys that verify verification tokens"),
            "FunctionName": (self.function.function.function_name, "The Lambda function"),
            "SecretArn": (self.secret.secret_arn, "Put the ProxStop API key in this secret"),
            "TableName": (self.attempts.table.table_name, "PIN attempt counters"),
            "DashboardUrl": (self.monitoring.dashboard_url, "CloudWatch dashboard"),
            "AlarmTopicArn": (self.monitoring.topic.topic_arn, "Subscribe to receive alarms"),
        }
        if self.api.api_key is not None:
            outputs["ApiKeyId"] = (
                self.api.api_key.key_id,
                "aws apigateway get-api-key --include-value --api-key <id> shows the key",
            )
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)
