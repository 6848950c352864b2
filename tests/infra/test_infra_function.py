"""The Lambda function: runtime, architecture, configuration, logging and its code asset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.infra.infra_synth import (
    FUNCTION_LOGICAL_ID,
    HANDLER,
    SynthesizedApp,
    SynthesizedEnvironment,
    get_att,
    ref,
)

pytestmark = pytest.mark.xdist_group("infra")


def function_properties(env: SynthesizedEnvironment) -> dict[str, Any]:
    properties: dict[str, Any] = env.resources[FUNCTION_LOGICAL_ID]["Properties"]
    return properties


def asset_dir(synthesized: SynthesizedApp, env: SynthesizedEnvironment) -> Path:
    asset_path: str = env.resources[FUNCTION_LOGICAL_ID]["Metadata"]["aws:asset:path"]
    return synthesized.outdir / asset_path


def test_function_has_a_stable_logical_id_and_is_the_only_one(env: SynthesizedEnvironment) -> None:
    # `sam local invoke ... TelephoneStatusFunction` depends on this id.
    assert list(env.resources_of_type("AWS::Lambda::Function")) == [FUNCTION_LOGICAL_ID]


def test_function_runs_arm64_on_the_newest_python(env: SynthesizedEnvironment) -> None:
    properties = function_properties(env)
    assert properties["Architectures"] == ["arm64"]
    assert properties["Runtime"] == "python3.14"
    assert properties["Handler"] == HANDLER == "telephone_status.handler.lambda_handler"


def test_function_sizing_comes_from_the_environment(env: SynthesizedEnvironment) -> None:
    properties = function_properties(env)
    assert properties["MemorySize"] == env.config.memory_size
    assert properties["Timeout"] == env.config.timeout_seconds
    assert properties["Timeout"] < 29  # API Gateway's integration limit
    if env.config.reserved_concurrency is None:
        assert "ReservedConcurrentExecutions" not in properties
    else:
        assert properties["ReservedConcurrentExecutions"] == env.config.reserved_concurrency


def test_function_environment_variables(env: SynthesizedEnvironment) -> None:
    table_id, _ = env.only("AWS::DynamoDB::Table")
    secret_id, _ = env.only("AWS::SecretsManager::Secret")
    variables = dict(function_properties(env)["Environment"]["Variables"])
    config = env.config
    # TOKEN_* (verification tokens) are checked in test_infra_tokens.
    for name in ("TOKEN_SIGNING_KEY_ID", "TOKEN_ISSUER", "TOKEN_TTL_SECONDS"):
        assert variables.pop(name), name
    variables.pop("TOKEN_AUDIENCE", None)
    assert variables == {
        "PROXSTOP_SECRET_ID": ref(secret_id),  # the created secret's ARN
        "PROXSTOP_API_URL": config.proxstop_api_url,
        "PROXSTOP_FORMAT": config.proxstop_format,
        "ATTEMPTS_TABLE_NAME": ref(table_id),
        "MAX_CODE_ATTEMPTS": str(config.max_code_attempts),
        "SECRET_MAX_AGE_SECONDS": str(config.secret_max_age_seconds),
        "CORS_ALLOW_ORIGINS": ",".join(config.cors_allow_origins),
        "POWERTOOLS_SERVICE_NAME": "telephone-status",
        "POWERTOOLS_METRICS_NAMESPACE": "TelephoneStatus",
        "POWERTOOLS_LOG_LEVEL": config.log_level.value,
    }


def test_function_traces_and_logs_json_to_its_own_log_group(env: SynthesizedEnvironment) -> None:
    properties = function_properties(env)
    assert properties["TracingConfig"] == {"Mode": "Active"}
    logging = properties["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == env.config.log_level.value
    log_group = env.resources[logging["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == env.config.log_retention_days
    expected_policy = "Retain" if env.config.is_retained else "Delete"
    assert log_group["DeletionPolicy"] == expected_policy


def test_function_role_is_assumed_by_lambda_only(env: SynthesizedEnvironment) -> None:
    role_arn = function_properties(env)["Role"]
    role = env.resources[role_arn["Fn::GetAtt"][0]]
    statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statements == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]
    # No AWS-managed policy (AWSLambdaBasicExecutionRole would allow every log group).
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role_arn == get_att(role_arn["Fn::GetAtt"][0], "Arn")


def test_template_carries_the_asset_metadata_sam_uses(
    synthesized: SynthesizedApp, env: SynthesizedEnvironment
) -> None:
    metadata = env.resources[FUNCTION_LOGICAL_ID]["Metadata"]
    assert metadata["aws:cdk:path"] == f"{env.stack.stack_name}/TelephoneStatus/Function/Resource"
    assert metadata["aws:asset:property"] == "Code"
    assert metadata["aws:asset:path"].startswith("asset.")
    assert asset_dir(synthesized, env).is_dir()


def test_asset_holds_the_handler_and_aarch64_dependencies(
    synthesized: SynthesizedApp, env: SynthesizedEnvironment
) -> None:
    asset = asset_dir(synthesized, env)
    assert (asset / "telephone_status" / "handler.py").is_file()
    # pydantic-core is compiled: it must be the build for Lambda's CPython 3.14 on arm64.
    assert (asset / "pydantic_core" / "_pydantic_core.cpython-314-aarch64-linux-gnu.so").is_file()
    assert not list(asset.glob("pydantic_core/*x86_64*"))
    for package in ("aws_lambda_powertools", "pydantic", "urllib3", "defusedxml"):
        assert (asset / package / "__init__.py").is_file(), package


def test_asset_leaves_out_what_the_runtime_provides_and_build_leftovers(
    synthesized: SynthesizedApp, env: SynthesizedEnvironment
) -> None:
    asset = asset_dir(synthesized, env)
    for provided_by_runtime in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil"):
        assert not (asset / provided_by_runtime).exists(), provided_by_runtime
    # Bytecode only for the runtime's own CPython (when the synth machine has it).
    runtime = env.template_json["Resources"]["TelephoneStatusFunction"]["Properties"]["Runtime"]
    tag = "cpython-" + runtime.removeprefix("python").replace(".", "")
    assert all(tag in pyc.name for pyc in asset.rglob("*.pyc")), tag
    assert not (asset / "telephone_status" / "requirements.txt").exists()
