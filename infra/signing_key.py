"""The KMS key that signs verification tokens: ECC_NIST_P256, SIGN_VERIFY.

The token: docs/api.md#verification-token.

The private key never leaves KMS; the function may only sign with it and read
its public key (for `GET /v1/jwks.json`).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig

# Exactly what the function does with the key; nothing else (no Verify: backends verify offline).
FUNCTION_ACTIONS = ("kms:Sign", "kms:GetPublicKey")


class TokenSigningKey(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Signs telephone-status-{config.name} verification tokens (ES256)",
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            removal_policy=removal_policy,
            pending_window=cdk.Duration.days(
                7 if removal_policy == cdk.RemovalPolicy.DESTROY else 30
            ),
        )
        # No rotation: KMS rotates no asymmetric key (cdk-nag's KMS5 knows); a new key is a
        # new kid in the JWKS, which backends pick up on their next fetch.

    def grant_sign(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=list(FUNCTION_ACTIONS), resource_arns=[self.key.key_arn]
        )
