"""Least privilege: the function may read one secret and get and update items in one table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.infra_synth import FUNCTION_LOGICAL_ID, SynthesizedEnvironment, get_att, ref

pytestmark = pytest.mark.xdist_group("infra")

# X-Ray's trace upload actions accept no resource ARN; nothing else may use "*".
ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def function_statements(env: SynthesizedEnvironment) -> list[dict[str, Any]]:
    role_id = env.resources[FUNCTION_LOGICAL_ID]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in env.resources_of_type("AWS::IAM::Policy").values():
        if ref(role_id) in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    assert statements, "the function role has no policy"
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_every_statement_allows_and_names_one_resource(env: SynthesizedEnvironment) -> None:
    for statement in function_statements(env):
        assert statement["Effect"] == "Allow"
        # One resource per statement (a string or one intrinsic), never a list of several.
        assert not isinstance(statement["Resource"], list), statement
        if statement["Resource"] == "*":
            assert set(actions_of(statement)) <= ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS


def test_secret_is_readable_only_at_its_own_arn(env: SynthesizedEnvironment) -> None:
    secret_id, _ = env.only("AWS::SecretsManager::Secret")
    secret_statements = [
        statement
        for statement in function_statements(env)
        if any(action.startswith("secretsmanager:") for action in actions_of(statement))
    ]
    assert len(secret_statements) == 1
    [statement] = secret_statements
    assert "secretsmanager:GetSecretValue" in actions_of(statement)
    assert set(actions_of(statement)) <= {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert statement["Resource"] == ref(secret_id)  # the secret's full ARN


def test_table_allows_get_and_update_item_only_on_its_own_arn(
    env: SynthesizedEnvironment,
) -> None:
    table_id, _ = env.only("AWS::DynamoDB::Table")
    table_statements = [
        statement
        for statement in function_statements(env)
        if any(action.startswith("dynamodb:") for action in actions_of(statement))
    ]
    assert table_statements  # guard: the table's statements were found
    for statement in table_statements:
        assert statement["Resource"] == get_att(table_id, "Arn")  # no index, no other table
        assert "Condition" not in statement
    # One item by its key: no Scan, Query, batch, PutItem or DeleteItem.
    granted = {action for statement in table_statements for action in actions_of(statement)}
    assert granted == {"dynamodb:UpdateItem", "dynamodb:GetItem"}


def test_function_writes_logs_only_to_its_own_log_group(env: SynthesizedEnvironment) -> None:
    log_group_id = env.resources[FUNCTION_LOGICAL_ID]["Properties"]["LoggingConfig"]["LogGroup"][
        "Ref"
    ]
    log_statements = [
        statement
        for statement in function_statements(env)
        if any(action.startswith("logs:") for action in actions_of(statement))
    ]
    assert log_statements == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": get_att(log_group_id, "Arn"),
        }
    ]


def test_function_has_no_other_permissions(env: SynthesizedEnvironment) -> None:
    services = {
        action.split(":")[0]
        for statement in function_statements(env)
        for action in actions_of(statement)
    }
    assert services == {"logs", "xray", "secretsmanager", "dynamodb", "kms"}
