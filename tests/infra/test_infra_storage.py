"""The attempts table (SPEC §6) and the API key secret, created or imported by name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import SecretConfig
from tests.infra.infra_synth import SynthesizedEnvironment

pytestmark = pytest.mark.xdist_group("infra")


def test_attempts_table_layout_is_the_documented_one(env: SynthesizedEnvironment) -> None:
    _, table = env.only("AWS::DynamoDB::Table")
    properties = table["Properties"]
    assert properties["KeySchema"] == [{"AttributeName": "referenceId", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [
        {"AttributeName": "referenceId", "AttributeType": "S"}
    ]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert "GlobalSecondaryIndexes" not in properties


def test_stateful_resources_follow_the_removal_policy(env: SynthesizedEnvironment) -> None:
    # Retained environments keep them, except after a create that failed (nothing in them yet).
    deletion = "RetainExceptOnCreate" if env.config.is_retained else "Delete"
    replacement = "Retain" if env.config.is_retained else "Delete"
    for resource_type in ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"):
        _, resource = env.only(resource_type)
        assert resource["DeletionPolicy"] == deletion, resource_type
        assert resource["UpdateReplacePolicy"] == replacement, resource_type
    _, table = env.only("AWS::DynamoDB::Table")
    assert table["Properties"]["DeletionProtectionEnabled"] is env.config.is_retained
    assert env.stack.termination_protection is env.config.is_retained


def test_created_secret_has_the_configured_name_and_a_placeholder(
    env: SynthesizedEnvironment,
) -> None:
    assert env.config.secret.create
    _, secret = env.only("AWS::SecretsManager::Secret")
    properties = secret["Properties"]
    if env.config.is_retained:
        # The retained secret outlives the stack: the name gets the stack id's first group.
        separator, [prefix, *_] = properties["Name"]["Fn::Join"]
        assert (separator, prefix) == ("", f"{env.config.secret.name}-")
    else:
        assert properties["Name"] == env.config.secret.name
    assert json.loads(properties["SecretString"]) == {"apiKey": "REPLACE_WITH_PROXSTOP_API_KEY"}
    assert "GenerateSecretString" not in properties


def _imported_secret_policy() -> list[dict[str, Any]]:
    # A small stack of its own: importing is a construct-level behaviour, no synthesis of the
    # whole app (or bundling) needed. Imported here so that collection does not start jsii.
    import aws_cdk as cdk  # noqa: PLC0415
    from aws_cdk import assertions  # noqa: PLC0415
    from aws_cdk import aws_iam as iam  # noqa: PLC0415

    from infra.secret import ApiKeySecret  # noqa: PLC0415

    stack = cdk.Stack(cdk.App(), "ImportedSecret")
    secret = ApiKeySecret(
        stack,
        "ApiKeySecret",
        config=SecretConfig(name="telephone-status/shared/proxstop-api-key", create=False),
        removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    secret.grant_read(role)
    assert secret.secret_id_for_function == "telephone-status/shared/proxstop-api-key"
    template = assertions.Template.from_stack(stack)
    template.resource_count_is("AWS::SecretsManager::Secret", 0)
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_imported_secret_is_read_by_name_with_the_random_suffix_wildcard() -> None:
    [statement] = _imported_secret_policy()
    assert "secretsmanager:GetSecretValue" in statement["Action"]
    resource = json.dumps(statement["Resource"])
    # Secrets Manager appends "-" and six random characters to every secret's ARN.
    assert ":secret:telephone-status/shared/proxstop-api-key-??????" in resource
