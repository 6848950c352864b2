"""What only a deployment would show, checked on the synthesized templates (issue 8).

Each test walks the template JSON (never the construct code) and asserts it found what it
walks, so that an empty template cannot pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from telephone_status.responses import EXPOSED_HEADERS

from tests.infra.infra_synth import (
    SynthesizedApp,
    SynthesizedEnvironment,
    invoked_function_arn,
)

pytestmark = pytest.mark.xdist_group("infra")

# SPEC §5: API Gateway response type -> (HTTP status, code).
SPEC_GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (404, "NOT_FOUND"),
    "THROTTLED": (429, "RATE_LIMITED"),
    "QUOTA_EXCEEDED": (429, "QUOTA_EXCEEDED"),
    "INVALID_API_KEY": (403, "INVALID_API_KEY"),
    "WAF_FILTERED": (403, "FORBIDDEN"),
    "REQUEST_TOO_LARGE": (413, "PAYLOAD_TOO_LARGE"),
    "INTEGRATION_TIMEOUT": (504, "GATEWAY_TIMEOUT"),
}
# What v1 stacks were created with; CloudFormation rewrites the secret when it changes.
V1_INITIAL_SECRET_STRING = '{"apiKey": "REPLACE_WITH_PROXSTOP_API_KEY"}'
CLOUDWATCH = "cloudwatch.amazonaws.com"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _ref_target(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _alarms(env: SynthesizedEnvironment) -> dict[str, dict[str, Any]]:
    return {
        **env.resources_of_type("AWS::CloudWatch::Alarm"),
        **env.resources_of_type("AWS::CloudWatch::CompositeAlarm"),
    }


def _alarm_name(alarm: dict[str, Any]) -> str:
    props = alarm["Properties"]
    return str(props.get("AlarmName") or props.get("CompositeAlarmName"))


def _allows(statement: dict[str, Any], principal: str, action: str) -> bool:
    principal_field = statement.get("Principal", {})
    if not isinstance(principal_field, dict):
        return False  # "*": only the SSL-only Deny uses it here
    principals = _as_list(principal_field.get("Service", []))
    actions = _as_list(statement.get("Action", []))
    return (
        statement.get("Effect") == "Allow"
        and principal in principals
        and any(re.fullmatch(a.replace("*", ".*"), action) for a in actions)
    )


def _render(value: Any) -> str:
    """An Fn::Join / Fn::Sub / Ref rendered as text, for pattern checks."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    return json.dumps(value, sort_keys=True)


def _source_scoped_to_this_stack(statement: dict[str, Any], env: SynthesizedEnvironment) -> None:
    condition = statement.get("Condition", {})
    assert condition.get("StringEquals", {}).get("aws:SourceAccount") == {"Ref": "AWS::AccountId"}
    source_arn = _render(condition.get("ArnLike", {}).get("aws:SourceArn", ""))
    assert source_arn.endswith(f":alarm:telephone-status-{env.config.name}-*"), source_arn
    assert ":cloudwatch:" in source_arn


# 1 -------------------------------------------------------------------------------------------
def test_every_alarm_action_reaches_a_topic_cloudwatch_may_publish_to(
    env: SynthesizedEnvironment,
) -> None:
    policies = env.resources_of_type("AWS::SNS::TopicPolicy")
    actions_seen = 0
    for alarm in _alarms(env).values():
        for action in alarm["Properties"].get("AlarmActions", []):
            actions_seen += 1
            topic_id = _ref_target(action)
            assert topic_id is not None
            assert env.resources[topic_id]["Type"] == "AWS::SNS::Topic"
            statements = [
                statement
                for policy in policies.values()
                if {"Ref": topic_id} in policy["Properties"]["Topics"]
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            ]
            publish = [s for s in statements if _allows(s, CLOUDWATCH, "sns:Publish")]
            assert publish, f"no topic policy lets CloudWatch publish to {topic_id}"
            for statement in publish:
                _source_scoped_to_this_stack(statement, env)
            key_id = _ref_target(env.resources[topic_id]["Properties"].get("KmsMasterKeyId"))
            assert key_id is not None, "the alarm topic is encrypted with a key of this stack"
            key_statements = env.resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
            for needed in ("kms:Decrypt", "kms:GenerateDataKey"):
                grants = [s for s in key_statements if _allows(s, CLOUDWATCH, needed)]
                assert grants, f"key {key_id} does not let CloudWatch {needed}"
                for statement in grants:
                    _source_scoped_to_this_stack(statement, env)
    assert actions_seen >= 1


# 2 -------------------------------------------------------------------------------------------
def test_every_gateway_response_has_the_spec_shape_and_cors(env: SynthesizedEnvironment) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in env.resources_of_type("AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(SPEC_GATEWAY_RESPONSES) | {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    origins = env.config.cors_allow_origins
    for response_type, props in responses.items():
        status = int(props["StatusCode"])  # a literal status on every response
        body = json.loads(props["ResponseTemplates"]["application/json"])
        expected_status, expected_code = SPEC_GATEWAY_RESPONSES.get(
            response_type, (status, "GATEWAY_ERROR")
        )
        assert (status, body["status"], body["code"]) == (
            expected_status,
            expected_status,
            expected_code,
        ), response_type
        assert body["type"] == "about:blank"
        assert body["title"], response_type
        assert body["detail"], response_type
        assert body["requestId"] == "$context.requestId"
        headers = {
            key.removeprefix("gatewayresponse.header."): value
            for key, value in props["ResponseParameters"].items()
        }
        assert headers["Content-Type"] == "'application/problem+json'"
        assert headers["Cache-Control"] == "'no-store'"
        if response_type == "THROTTLED":
            assert re.fullmatch(r"'[1-9][0-9]*'", headers["Retry-After"])
        allow_origin = headers.get("Access-Control-Allow-Origin")
        if len(origins) == 1:
            assert allow_origin == f"'{origins[0]}'", response_type
        elif allow_origin is not None:
            # Reflected only where the WAF refuses every other origin (test below).
            assert allow_origin == "method.request.header.Origin"
            assert response_type != "WAF_FILTERED"
        else:
            assert response_type == "WAF_FILTERED"
        assert "*" not in str(allow_origin)
        if allow_origin is not None:
            # A browser reads Retry-After (THROTTLED) only when it is exposed, as the function's
            # own responses do.
            exposed = headers["Access-Control-Expose-Headers"].strip("'")
            assert exposed == EXPOSED_HEADERS, response_type


def test_several_origins_are_enforced_by_the_waf(synthesized: SynthesizedApp) -> None:
    checked = 0
    for env in synthesized.environments.values():
        if len(env.config.cors_allow_origins) < 2:
            continue
        checked += 1
        _, acl = env.only("AWS::WAFv2::WebACL")
        [rule] = [r for r in acl["Properties"]["Rules"] if r["Name"] == "origin-allow-list"]
        assert "Block" in rule["Action"]
        assert rule["Priority"] == 0
        text = json.dumps(rule["Statement"])
        for origin in env.config.cors_allow_origins:
            assert json.dumps(origin) in text
        assert "NotStatement" in text
        assert '"origin"' in text
    assert checked >= 1


# 3 -------------------------------------------------------------------------------------------
def test_preflight_is_answered_by_the_function(env: SynthesizedEnvironment) -> None:
    methods = env.resources_of_type("AWS::ApiGateway::Method")
    options = [
        m["Properties"] for m in methods.values() if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert options, "an OPTIONS method on the resource"
    for props in options:
        integration = props["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        # The function itself, or with SnapStart the alias the other methods invoke too.
        assert json.dumps(invoked_function_arn(env)) in json.dumps(integration["Uri"])
        # A browser's preflight carries no x-api-key.
        assert props.get("ApiKeyRequired", False) is False
    # No MOCK integration answering OPTIONS with headers of its own.
    assert all(m["Properties"]["Integration"]["Type"] != "MOCK" for m in methods.values())


# 4 -------------------------------------------------------------------------------------------
def test_metrics_and_report_lines_survive_the_log_level(env: SynthesizedEnvironment) -> None:
    _, function = env.only("AWS::Lambda::Function")
    logging = function["Properties"]["LoggingConfig"]
    # Lambda gives EMF documents (no "level") the level INFO; START/REPORT are INFO system logs.
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] in {"TRACE", "DEBUG", "INFO"}
    assert logging["SystemLogLevel"] in {"DEBUG", "INFO"}
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOG_LEVEL"] == env.config.log_level.value


# 5 -------------------------------------------------------------------------------------------
def _function_namespace(env: SynthesizedEnvironment) -> str:
    _, function = env.only("AWS::Lambda::Function")
    return str(function["Properties"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"])


def _metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    props = alarm["Properties"]
    if "MetricName" in props:
        return [props]
    return [
        query["MetricStat"]["Metric"] for query in props.get("Metrics", []) if "MetricStat" in query
    ]


def test_environments_never_share_custom_metrics(synthesized: SynthesizedApp) -> None:
    namespaces = {name: _function_namespace(env) for name, env in synthesized.environments.items()}
    assert len(namespaces) >= 2
    assert len(set(namespaces.values())) == len(namespaces), namespaces
    custom_alarms = 0
    for name, env in synthesized.environments.items():
        for alarm in _alarms(env).values():
            for metric in _metric_stats(alarm):
                if not str(metric["Namespace"]).startswith("AWS/"):
                    custom_alarms += 1
                    assert metric["Namespace"] == namespaces[name], _alarm_name(alarm)
    assert custom_alarms >= 2


# 6 -------------------------------------------------------------------------------------------
def test_fresh_secret_holds_the_placeholder_the_function_refuses(
    env: SynthesizedEnvironment,
) -> None:
    from telephone_status.credentials import (  # noqa: PLC0415
        PLACEHOLDER_API_KEY,
        extract_api_key,
    )

    secrets = env.resources_of_type("AWS::SecretsManager::Secret")
    assert secrets
    for secret in secrets.values():
        initial = secret["Properties"]["SecretString"]
        # Frozen: a changed initial value would overwrite a key put in by hand on deploy.
        assert initial == V1_INITIAL_SECRET_STRING
        assert extract_api_key(initial) == PLACEHOLDER_API_KEY
        assert "GenerateSecretString" not in secret["Properties"]
    [alarm] = [
        a
        for a in env.resources_of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "NotConfigured"
    ]
    assert alarm["Properties"]["Namespace"] == _function_namespace(env)
    assert alarm["Properties"]["Threshold"] == 1
    assert alarm["Properties"]["AlarmActions"]


# 7 -------------------------------------------------------------------------------------------
def test_no_log_group_the_stack_causes_is_left_without_retention(
    env: SynthesizedEnvironment,
) -> None:
    groups = env.resources_of_type("AWS::Logs::LogGroup")
    assert groups
    for group_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == env.config.log_retention_days, group_id
    names = {_render(g["Properties"].get("LogGroupName", "")) for g in groups.values()}
    # Lambda writes to the group in its LoggingConfig, which must be one of these.
    for function_id, function in env.resources_of_type("AWS::Lambda::Function").items():
        target = _ref_target(function["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        assert target in groups, function_id
    # API Gateway creates its execution log group itself unless the stack owns it.
    [(api_id, _)] = env.resources_of_type("AWS::ApiGateway::RestApi").items()
    for stage in env.resources_of_type("AWS::ApiGateway::Stage").values():
        levels = {
            s.get("LoggingLevel", "OFF") for s in stage["Properties"].get("MethodSettings", [])
        }
        if levels - {"OFF"}:
            expected = (
                f"API-Gateway-Execution-Logs_${{{api_id}}}/{stage['Properties']['StageName']}"
            )
            assert expected in names, sorted(names)
    # WAF logs go to a group of this stack.
    for logging in env.resources_of_type("AWS::WAFv2::LoggingConfiguration").values():
        for destination in logging["Properties"]["LogDestinationConfigs"]:
            rendered = _render(destination)
            assert any(name and rendered.endswith(":log-group:" + name) for name in names), rendered


# 8 -------------------------------------------------------------------------------------------
def test_no_quota_kill_switch_and_4xx_spikes_alarm(env: SynthesizedEnvironment) -> None:
    for plan in env.resources_of_type("AWS::ApiGateway::UsagePlan").values():
        assert "Quota" not in plan["Properties"]
        assert plan["Properties"]["Throttle"]["RateLimit"] > 0
    client_error_alarms = [
        alarm
        for alarm in env.resources_of_type("AWS::CloudWatch::Alarm").values()
        if any(m["MetricName"] == "4XXError" for m in _metric_stats(alarm))
    ]
    assert client_error_alarms
    assert all(a["Properties"].get("AlarmActions") for a in client_error_alarms)


# 9 -------------------------------------------------------------------------------------------
def test_alarms_are_quiet_until_they_mean_something(env: SynthesizedEnvironment) -> None:
    alarms = _alarms(env)
    notifying = 0
    for alarm in alarms.values():
        props = alarm["Properties"]
        name = _alarm_name(alarm)
        assert not props.get("OKActions"), f"{name} mails on OK too"
        assert len(props.get("AlarmDescription", "")) >= 60, name
        notifying += bool(props.get("AlarmActions"))
        # A placeholder secret and a spent send budget are each a fault at their first event.
        if props.get("Statistic") == "Sum" and props["MetricName"] not in {
            "NotConfigured",
            "SendBudgetExhausted",
        }:
            assert props["Threshold"] * props.get("DatapointsToAlarm", 1) > 1, name
        expressions = [m["Expression"] for m in props.get("Metrics", []) if "Expression" in m]
        for expression in expressions:
            if "/" in expression:  # a rate: guarded by a minimum request count
                assert expression.startswith("IF("), name
    assert notifying >= 5
    descriptions = [_alarm_name(a) for a in alarms.values()]
    assert len(set(descriptions)) == len(descriptions)
    # An upstream outage notifies once: its metric alarms feed one composite alarm, and the
    # 5xx composite stays quiet while the upstream explains the 5xx.
    upstream_metric_alarms = {
        alarm_id
        for alarm_id, alarm in alarms.items()
        if any(
            m.get("MetricName") in {"UpstreamFailures", "UpstreamRejected"}
            for m in _metric_stats(alarm)
        )
    }
    server_error_alarms = {
        alarm_id
        for alarm_id, alarm in alarms.items()
        if any(m.get("MetricName") == "5XXError" for m in _metric_stats(alarm))
    }
    assert upstream_metric_alarms
    assert server_error_alarms
    for alarm_id in upstream_metric_alarms | server_error_alarms:
        assert not alarms[alarm_id]["Properties"].get("AlarmActions"), alarm_id
    composites = env.resources_of_type("AWS::CloudWatch::CompositeAlarm")
    rules = {cid: json.dumps(c["Properties"]["AlarmRule"]) for cid, c in composites.items()}
    upstream_down = [
        cid for cid, rule in rules.items() if all(a in rule for a in upstream_metric_alarms)
    ]
    assert len(upstream_down) == 1
    [five_xx] = [cid for cid, rule in rules.items() if any(a in rule for a in server_error_alarms)]
    assert "NOT" in rules[five_xx]
    assert upstream_down[0] in rules[five_xx]
    # Causes with their own alarm hold the 5xx composite back too (one mail per cause).
    explained = {
        alarm_id
        for alarm_id, alarm in alarms.items()
        if any(
            m.get("MetricName") in {"NotConfigured", "TokenSigningFailures"}
            for m in _metric_stats(alarm)
        )
    }
    assert len(explained) == 2
    assert all(alarm_id in rules[five_xx] for alarm_id in explained)
    assert composites[upstream_down[0]]["Properties"]["AlarmActions"]
    assert composites[five_xx]["Properties"]["AlarmActions"]


# 10 ------------------------------------------------------------------------------------------
def test_waf_has_managed_rules_and_logging(synthesized: SynthesizedApp) -> None:
    checked = 0
    for env in synthesized.environments.values():
        acls = env.resources_of_type("AWS::WAFv2::WebACL")
        if not env.config.waf.enabled:
            assert not acls
            continue
        checked += 1
        [(acl_id, acl)] = acls.items()
        managed = {
            rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
            for rule in acl["Properties"]["Rules"]
            if "ManagedRuleGroupStatement" in rule["Statement"]
        }
        assert {
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesAmazonIpReputationList",
        } <= managed
        [logging] = env.resources_of_type("AWS::WAFv2::LoggingConfiguration").values()
        assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
        redacted = json.dumps(logging["Properties"].get("RedactedFields", []))
        assert "QueryString" in redacted
        assert "x-api-key" in redacted
    assert checked >= 1


# 11 ------------------------------------------------------------------------------------------
def test_nothing_retained_keeps_a_fixed_name(env: SynthesizedEnvironment) -> None:
    """A retained resource with a fixed name makes the next deploy after `cdk destroy` fail."""
    retained = {
        rid: r
        for rid, r in env.resources.items()
        if r.get("DeletionPolicy") in {"Retain", "RetainExceptOnCreate"}
    }
    if env.config.is_retained:
        assert any(r["Type"] == "AWS::SecretsManager::Secret" for r in retained.values())
    for resource_id, resource in retained.items():
        for prop, value in resource.get("Properties", {}).items():
            if prop in {"Name", "LogGroupName", "TableName", "AliasName"}:
                assert not isinstance(value, str), f"{resource_id}.{prop} is fixed: {value}"
                assert "AWS::StackId" in json.dumps(value) or "Ref" in json.dumps(value)
