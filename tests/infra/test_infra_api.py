"""The REST API: routes, stage settings, CORS, access logs, API key and WAF per environment."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.infra_synth import (
    SynthesizedEnvironment,
    get_att,
    invoked_function_arn,
    ref,
)

pytestmark = pytest.mark.xdist_group("infra")


def stage(env: SynthesizedEnvironment) -> tuple[str, dict[str, Any]]:
    return env.only("AWS::ApiGateway::Stage")


def resource_id(env: SynthesizedEnvironment, path_part: str) -> str:
    (found,) = [
        logical_id
        for logical_id, resource in env.resources_of_type("AWS::ApiGateway::Resource").items()
        if resource["Properties"]["PathPart"] == path_part
    ]
    return found


def methods_by_verb(
    env: SynthesizedEnvironment, path_part: str = "telephone-status"
) -> dict[str, dict[str, Any]]:
    on_resource = ref(resource_id(env, path_part))
    methods = env.resources_of_type("AWS::ApiGateway::Method").values()
    return {
        method["Properties"]["HttpMethod"]: method["Properties"]
        for method in methods
        if method["Properties"]["ResourceId"] == on_resource
    }


def test_one_regional_rest_api(env: SynthesizedEnvironment) -> None:
    env.template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    env.template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {
            "Name": f"telephone-status-{env.config.name}",
            "EndpointConfiguration": {"Types": ["REGIONAL"]},
        },
    )


def test_route_is_v1_telephone_status(env: SynthesizedEnvironment) -> None:
    path_parts = sorted(
        resource["Properties"]["PathPart"]
        for resource in env.resources_of_type("AWS::ApiGateway::Resource").values()
    )
    assert path_parts == ["jwks.json", "telephone-status", "v1", "verifications"]


def test_get_and_post_are_lambda_proxy_integrations(env: SynthesizedEnvironment) -> None:
    methods = methods_by_verb(env)
    assert set(methods) == {"GET", "POST", "ANY", "OPTIONS"}
    for verb in ("GET", "POST", "ANY"):
        integration = methods[verb]["Integration"]
        assert integration["Type"] == "AWS_PROXY", verb
        assert integration["IntegrationHttpMethod"] == "POST", verb
        assert invoked_function_arn(env) in integration["Uri"]["Fn::Join"][1], verb
        assert "RequestValidatorId" in methods[verb], verb
        assert methods[verb]["ApiKeyRequired"] is env.config.api_key.enabled, verb


def test_api_gateway_may_invoke_the_function_for_each_route(env: SynthesizedEnvironment) -> None:
    permissions = env.resources_of_type("AWS::Lambda::Permission").values()
    # GET, POST, ANY, OPTIONS on the status route, POST, ANY, OPTIONS on the start route, GET
    # and ANY on the key set; no test-invoke
    assert len(permissions) == 9
    for permission in permissions:
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        assert permission["Properties"]["FunctionName"] == invoked_function_arn(env)


def test_stage_is_named_after_the_environment_and_throttled(env: SynthesizedEnvironment) -> None:
    _, stage_resource = stage(env)
    properties = stage_resource["Properties"]
    assert properties["StageName"] == env.config.name
    assert properties["TracingEnabled"] is True
    [method_settings] = properties["MethodSettings"]
    assert method_settings == {
        "HttpMethod": "*",
        "ResourcePath": "/*",
        "ThrottlingRateLimit": env.config.throttling_rate_limit,
        "ThrottlingBurstLimit": env.config.throttling_burst_limit,
        "LoggingLevel": "ERROR",
        "DataTraceEnabled": False,  # would log request bodies, i.e. PINs
        "MetricsEnabled": False,
    }


def test_access_logs_are_json_in_their_own_log_group(env: SynthesizedEnvironment) -> None:
    _, stage_resource = stage(env)
    settings = stage_resource["Properties"]["AccessLogSetting"]
    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    for field in ("status", "httpMethod", "resourcePath", "responseLatency", "xrayTraceId"):
        assert field in fields
    # The raw path and query string could carry a PIN: never logged.
    assert not any("$context.path" in value for value in fields.values())
    destination = json.dumps(settings["DestinationArn"])
    [access_log_group_id] = [
        logical_id
        for logical_id in env.resources_of_type("AWS::Logs::LogGroup")
        if json.dumps(ref(logical_id)) in destination
    ]
    log_group = env.resources[access_log_group_id]["Properties"]
    assert log_group["RetentionInDays"] == env.config.log_retention_days


def test_request_validator_checks_parameters_and_body(env: SynthesizedEnvironment) -> None:
    env.template.has_resource_properties(
        "AWS::ApiGateway::RequestValidator",
        {"ValidateRequestParameters": True, "ValidateRequestBody": True},
    )


def test_api_key_and_usage_plan_follow_the_environment(env: SynthesizedEnvironment) -> None:
    if not env.config.api_key.enabled:
        env.template.resource_count_is("AWS::ApiGateway::ApiKey", 0)
        env.template.resource_count_is("AWS::ApiGateway::UsagePlan", 0)
        return
    from aws_cdk import assertions  # noqa: PLC0415 (see infra_synth: no jsii at collection)

    stage_id, _ = stage(env)
    env.template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    expected_plan: dict[str, Any] = {
        "Throttle": {
            "RateLimit": env.config.throttling_rate_limit,
            "BurstLimit": env.config.throttling_burst_limit,
        },
        "ApiStages": [assertions.Match.object_like({"Stage": ref(stage_id)})],
    }
    if env.config.api_key.quota_per_day is not None:
        expected_plan["Quota"] = {"Limit": env.config.api_key.quota_per_day, "Period": "DAY"}
    env.template.has_resource_properties("AWS::ApiGateway::UsagePlan", expected_plan)
    env.template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)


def test_waf_rate_limit_follows_the_environment(env: SynthesizedEnvironment) -> None:
    if not env.config.waf.enabled:
        env.template.resource_count_is("AWS::WAFv2::WebACL", 0)
        return
    acl_id, acl = env.only("AWS::WAFv2::WebACL")
    properties = acl["Properties"]
    assert properties["Scope"] == "REGIONAL"
    assert properties["DefaultAction"] == {"Allow": {}}
    [rule] = [rule for rule in properties["Rules"] if rule["Name"] == "per-ip-rate-limit"]
    assert rule["Priority"] == len(properties["Rules"]) - 1
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "Limit": env.config.waf.rate_limit_per_5_minutes,
        "EvaluationWindowSec": 300,
    }
    _, association = env.only("AWS::WAFv2::WebACLAssociation")
    stage_id, _ = stage(env)
    assert association["Properties"]["WebACLArn"] == get_att(acl_id, "Arn")
    assert ref(stage_id) in association["Properties"]["ResourceArn"]["Fn::Join"][1]
