"""The Lambda function: runtime, architecture, configuration, logging and its code asset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.infra.infra_synth import (
    FUNCTION_LOGICAL_ID,
    HANDLER,
    START_VARIABLES,
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


def test_function_runs_arm64_on_the_chosen_python(env: SynthesizedEnvironment) -> None:
    properties = function_properties(env)
    assert properties["Architectures"] == ["arm64"]
    # Chosen by cold-start figures (README "Runtime choice"); SnapStart needs 3.12 or later.
    assert properties["Runtime"] == "python3.12"
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
        "MAX_CODE_CHECKS": str(config.max_code_checks),
        "SECRET_MAX_AGE_SECONDS": str(config.secret_max_age_seconds),
        "CORS_ALLOW_ORIGINS": ",".join(config.cors_allow_origins),
        # Starting verifications: checked value by value in test_infra_verifications.
        **{name: variables[name] for name in START_VARIABLES},
        "POWERTOOLS_SERVICE_NAME": "telephone-status",
        "POWERTOOLS_METRICS_NAMESPACE": f"TelephoneStatus/{config.name}",
        "POWERTOOLS_LOG_LEVEL": config.log_level.value,
    }


def test_function_traces_and_logs_json_to_its_own_log_group(env: SynthesizedEnvironment) -> None:
    properties = function_properties(env)
    assert properties["TracingConfig"] == {"Mode": "Active"}
    logging = properties["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == env.config.lambda_application_log_level
    log_group = env.resources[logging["LogGroup"]["Ref"]]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == env.config.log_retention_days
    expected_policy = "RetainExceptOnCreate" if env.config.is_retained else "Delete"
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
    # pydantic-core is compiled: it must be the build for Lambda's CPython 3.12 on arm64.
    assert (asset / "pydantic_core" / "_pydantic_core.cpython-312-aarch64-linux-gnu.so").is_file()
    assert not list(asset.glob("pydantic_core/*x86_64*"))
    for package in ("aws_lambda_powertools", "pydantic", "urllib3", "defusedxml"):
        assert (asset / package / "__init__.py").is_file(), package


def test_asset_leaves_out_what_the_runtime_provides_and_build_leftovers(
    synthesized: SynthesizedApp, env: SynthesizedEnvironment
) -> None:
    asset = asset_dir(synthesized, env)
    for provided_by_runtime in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil"):
        assert not (asset / provided_by_runtime).exists(), provided_by_runtime
    assert not (asset / "telephone_status" / "requirements.txt").exists()


# The first 4 bytes of a .pyc: importlib.util.MAGIC_NUMBER of the CPython that wrote it.
BYTECODE_MAGIC = {"python3.12": "cb0d0d0a", "python3.13": "f30d0d0a"}


def test_asset_carries_bytecode_of_the_templates_runtime_for_every_module(
    synthesized: SynthesizedApp, env: SynthesizedEnvironment
) -> None:
    asset = asset_dir(synthesized, env)
    runtime = function_properties(env)["Runtime"]
    tag = "cpython-" + runtime.removeprefix("python").replace(".", "")
    sources = sorted(asset.rglob("*.py"))
    assert len(sources) > 100  # guard: the walk found the bundled packages, not an empty tree
    missing = [
        source.relative_to(asset).as_posix()
        for source in sources
        if not (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").is_file()
    ]
    assert missing == []
    pycs = sorted(asset.rglob("*.pyc"))
    assert len(pycs) == len(sources)  # no bytecode of another version, no orphan
    magics = {pyc.read_bytes()[:4].hex() for pyc in pycs}
    assert magics == {BYTECODE_MAGIC[runtime]}
    # unchecked-hash (flags 0b01): valid whatever the file times become once deployed.
    assert {int.from_bytes(pyc.read_bytes()[4:8], "little") for pyc in pycs} == {1}


def test_snap_start_follows_the_environment_setting(env: SynthesizedEnvironment) -> None:
    properties = function_properties(env)
    versions = env.resources_of_type("AWS::Lambda::Version")
    aliases = env.resources_of_type("AWS::Lambda::Alias")
    permissions = env.resources_of_type("AWS::Lambda::Permission")
    methods = env.resources_of_type("AWS::ApiGateway::Method")
    integration_uris = [
        json.dumps(method["Properties"]["Integration"]["Uri"])
        for method in methods.values()
        if method["Properties"].get("Integration", {}).get("Type") == "AWS_PROXY"
    ]
    assert integration_uris  # guard: the API's Lambda integrations were found
    assert permissions  # guard: the invoke permissions were found
    if not env.config.snap_start:
        assert "SnapStart" not in properties
        assert versions == {}
        assert aliases == {}
        for uri in integration_uris:
            assert FUNCTION_LOGICAL_ID in uri
        return
    assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    [(version_id, version)] = versions.items()
    assert version["Properties"]["FunctionName"] == ref(FUNCTION_LOGICAL_ID)
    # Replaced versions are deleted, so their snapshots stop being cached and charged.
    assert version["DeletionPolicy"] == "Delete"
    [(alias_id, alias)] = aliases.items()
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionVersion"] == get_att(version_id, "Version")
    # The API invokes the alias (a SnapStart version), never $LATEST.
    for uri in integration_uris:
        assert alias_id in uri
    for permission in permissions.values():
        assert permission["Properties"]["FunctionName"] == ref(alias_id)


def test_alarms_watch_what_the_api_invokes(env: SynthesizedEnvironment) -> None:
    alarms = {
        logical_id: alarm
        for logical_id, alarm in env.resources_of_type("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == "AWS/Lambda"
    }
    assert alarms  # guard: the function's alarms were found
    for alarm in alarms.values():
        dimensions = {d["Name"]: d["Value"] for d in alarm["Properties"]["Dimensions"]}
        if env.config.snap_start:
            assert dimensions == {
                "FunctionName": ref(FUNCTION_LOGICAL_ID),
                "Resource": {"Fn::Join": ["", [ref(FUNCTION_LOGICAL_ID), ":live"]]},
            }
        else:
            assert dimensions == {"FunctionName": ref(FUNCTION_LOGICAL_ID)}
