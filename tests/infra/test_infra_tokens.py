"""Verification tokens on the synthesized templates (docs/api.md#verification-token).

The KMS key, exactly the function's rights on it, the JWKS route, the settings and the alarm.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.infra_synth import (
    FUNCTION_LOGICAL_ID,
    SynthesizedEnvironment,
    actions_of,
    function_statements,
    get_att,
    invoked_function_arn,
    methods_by_verb,
    ref,
    resource_id,
)

pytestmark = pytest.mark.xdist_group("infra")


def signing_key(env: SynthesizedEnvironment) -> tuple[str, dict[str, Any]]:
    keys = {
        logical_id: key
        for logical_id, key in env.resources_of_type("AWS::KMS::Key").items()
        if key["Properties"].get("KeyUsage") == "SIGN_VERIFY"
    }
    assert len(keys) == 1, sorted(keys)
    return next(iter(keys.items()))


def variables(env: SynthesizedEnvironment) -> dict[str, Any]:
    found: dict[str, Any] = env.resources[FUNCTION_LOGICAL_ID]["Properties"]["Environment"][
        "Variables"
    ]
    return found


def test_one_p256_signing_key_kept_like_the_other_data(env: SynthesizedEnvironment) -> None:
    _, key = signing_key(env)
    assert key["Properties"]["KeySpec"] == "ECC_NIST_P256"
    assert key["Properties"]["KeyUsage"] == "SIGN_VERIFY"
    assert "EnableKeyRotation" not in key["Properties"]  # KMS rotates no asymmetric key
    _, table = env.only("AWS::DynamoDB::Table")
    assert key["DeletionPolicy"] == table["DeletionPolicy"]
    assert key["UpdateReplacePolicy"] == table["UpdateReplacePolicy"]


def test_function_may_only_sign_and_read_the_public_key_of_that_key(
    env: SynthesizedEnvironment,
) -> None:
    key_id, _ = signing_key(env)
    kms_statements = [
        statement
        for statement in function_statements(env)
        if any(action.startswith("kms:") for action in actions_of(statement))
    ]
    assert len(kms_statements) == 1, kms_statements
    (statement,) = kms_statements
    assert sorted(actions_of(statement)) == ["kms:GetPublicKey", "kms:Sign"]
    assert statement["Resource"] == get_att(key_id, "Arn")
    assert "Condition" not in statement


def test_function_is_configured_for_tokens(env: SynthesizedEnvironment) -> None:
    key_id, _ = signing_key(env)
    found = variables(env)
    assert found["TOKEN_SIGNING_KEY_ID"] == get_att(key_id, "Arn")
    assert found["TOKEN_TTL_SECONDS"] == str(env.config.token.ttl_seconds)
    if env.config.token.audience is None:
        assert "TOKEN_AUDIENCE" not in found
    else:
        assert found["TOKEN_AUDIENCE"] == env.config.token.audience


def _resolve(value: Any, substitutions: dict[str, str]) -> str:
    """A Ref/Fn::Join of pseudo parameters and resources, rendered with `substitutions`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return substitutions[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return str(separator).join(_resolve(part, substitutions) for part in parts)


def test_issuer_defaults_to_the_api_base_url(env: SynthesizedEnvironment) -> None:
    api_id, _ = env.only("AWS::ApiGateway::RestApi")
    _, stage = env.only("AWS::ApiGateway::Stage")
    issuer = _resolve(
        variables(env)["TOKEN_ISSUER"],
        {api_id: "abc123", "AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com"},
    )
    if env.config.token.issuer is None:
        stage_name = stage["Properties"]["StageName"]
        assert issuer == f"https://abc123.execute-api.eu-west-1.amazonaws.com/{stage_name}"
    else:
        assert issuer == env.config.token.issuer


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = set()
        if "Ref" in value:
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            found.add(value["Fn::GetAtt"][0])
        for inner in value.values():
            found |= _references(inner)
        return found
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value)) if value else set()
    return set()


def test_no_dependency_cycle(env: SynthesizedEnvironment) -> None:
    resources = env.resources
    edges = {
        logical_id: {target for target in _references(resource) if target in resources}
        | set(
            [resource["DependsOn"]]
            if isinstance(resource.get("DependsOn"), str)
            else resource.get("DependsOn", [])
        )
        for logical_id, resource in resources.items()
    }
    assert edges[FUNCTION_LOGICAL_ID], "guard: the function depends on something"
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        assert node not in visiting, f"cycle: {' -> '.join([*path, node])}"
        if node in done:
            return
        visiting.add(node)
        for target in edges[node]:
            visit(target, [*path, node])
        visiting.discard(node)
        done.add(node)

    for node in edges:
        visit(node, [])


def test_jwks_route_reaches_the_function_without_an_api_key(env: SynthesizedEnvironment) -> None:
    jwks = resource_id(env, "jwks.json")
    assert env.resources[jwks]["Properties"]["ParentId"] == ref(resource_id(env, "v1"))
    methods = methods_by_verb(env, "jwks.json")
    assert set(methods) == {"GET", "ANY"}
    for verb, method in methods.items():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY", verb
        assert invoked_function_arn(env) in integration["Uri"]["Fn::Join"][1], verb
        assert method["ApiKeyRequired"] is False, verb  # backends fetch it like any JWKS


def test_signing_failures_raise_an_alarm(env: SynthesizedEnvironment) -> None:
    alarms = [
        alarm["Properties"]
        for alarm in env.resources_of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "TokenSigningFailures"
    ]
    assert len(alarms) == 1
    (alarm,) = alarms
    assert alarm["Namespace"] == env.config.metrics_namespace
    assert alarm["Threshold"] == 3  # a few failures, never a single one (one is noise)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["AlarmActions"]
    assert "OKActions" not in alarm
