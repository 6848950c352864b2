"""The Secrets Manager secret holding the ProxStop API key: created, or imported by name."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import SecretConfig
from infra.nag import acknowledge
from infra.retention import physical_name

# What a freshly created secret holds until the operator puts the real key in; the function
# recognises the key in it (telephone_status.credentials.PLACEHOLDER_API_KEY) and answers 503
# NOT_CONFIGURED. This literal is frozen on purpose: CloudFormation writes SecretString again
# whenever it changes in the template, which would overwrite a key put in by hand on the next
# deploy. tests/infra pins it byte for byte and checks the function still recognises it.
PLACEHOLDER_SECRET_STRING = '{"apiKey": "REPLACE_WITH_PROXSTOP_API_KEY"}'  # noqa: S105


class ApiKeySecret(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: SecretConfig,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        retained = removal_policy is not cdk.RemovalPolicy.DESTROY
        super().__init__(scope, construct_id)
        self.created = config.create
        if config.create:
            created = secretsmanager.Secret(
                self,
                "Secret",
                # A retained secret outlives `cdk destroy`, holding the key; its name then
                # gets the stack's id so that the next deploy can create a new one
                # (docs/deploy.md#carrying-the-key-over-after-cdk-destroy has the steps).
                secret_name=physical_name(self, config.name, retained=retained),
                description="ProxStop API key for the telephone-status function "
                '(bare key or {"apiKey": "..."})',
                secret_string_value=cdk.SecretValue.unsafe_plain_text(PLACEHOLDER_SECRET_STRING),
                removal_policy=removal_policy,
            )
            acknowledge(
                created,
                (
                    "AwsSolutions-SMG4",
                    "a vendor-issued ProxStop API key: it is rotated by hand in the ProxStop "
                    "account and then put here; Secrets Manager cannot rotate it",
                ),
            )
            self.secret: secretsmanager.ISecret = created
            # The full ARN: no lookup by name at run time, and no ambiguity.
            self.secret_id_for_function = created.secret_arn
        else:
            # Partial ARN: grant_read then allows "<name>-??????", the random suffix AWS adds.
            self.secret = secretsmanager.Secret.from_secret_name_v2(self, "Secret", config.name)
            self.secret_id_for_function = config.name

    @property
    def secret_arn(self) -> str:
        return str(self.secret.secret_arn)

    def grant_read(self, grantee: iam.IGrantable) -> None:
        # GetSecretValue (and DescribeSecret) on this secret only.
        self.secret.grant_read(grantee)
