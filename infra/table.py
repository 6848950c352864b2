"""The DynamoDB table counting PIN checks per reference id (docs/api.md#pin-attempt-limit)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.nag import acknowledge

# Fixed (docs/api.md#table-layout) so that tools outside the code can read the table.
PARTITION_KEY = "referenceId"
TTL_ATTRIBUTE = "expiresAt"


class AttemptsTable(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: cdk.RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            # On-demand: traffic is spiky and small; no capacity to plan or alarm on.
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        acknowledge(
            self.table,
            (
                "AwsSolutions-DDB3",
                "the table only holds PIN-attempt counters that expire after 24 hours; "
                "restoring old counters has no value (and could lock users out)",
            ),
        )

    def grant_update_item(self, grantee: iam.IGrantable) -> None:
        # The counter is one atomic UpdateItem (ADD attempts, set expiresAt); nothing else.
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:UpdateItem"], resource_arns=[self.table.table_arn]
        )

    def grant_get_item(self, grantee: iam.IGrantable) -> None:
        # A status lookup reads whether the API started a reference (a test number's is
        # answered locally); one item by its key, never a scan or query.
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["dynamodb:GetItem"], resource_arns=[self.table.table_arn]
        )
