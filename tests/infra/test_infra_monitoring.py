"""Alarms on the right metrics, all to one encrypted SNS topic, and the dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.infra_synth import (
    SynthesizedEnvironment,
    function_metric_dimensions,
    ref,
)

pytestmark = pytest.mark.xdist_group("infra")

SERVICE_DIMENSION = [{"Name": "service", "Value": "telephone-status"}]


def alarms_by_suffix(env: SynthesizedEnvironment) -> dict[str, dict[str, Any]]:
    prefix = f"telephone-status-{env.config.name}-"
    alarms = {}
    for alarm in env.resources_of_type("AWS::CloudWatch::Alarm").values():
        name = alarm["Properties"]["AlarmName"]
        assert name.startswith(prefix), name
        alarms[name.removeprefix(prefix)] = alarm["Properties"]
    return alarms


def flatten_join(value: Any) -> str:
    """Render an Fn::Join of strings and intrinsics as text, for searching."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten_join(part) for part in parts)
    return json.dumps(value)


def test_at_least_six_alarms_all_wired_to_the_one_topic(env: SynthesizedEnvironment) -> None:
    topic_id, _ = env.only("AWS::SNS::Topic")
    alarms = alarms_by_suffix(env)
    assert len(alarms) >= 6
    for name, alarm in alarms.items():
        # Component alarms of a composite notify through it (test_infra_deployed).
        assert alarm.get("AlarmActions", [ref(topic_id)]) == [ref(topic_id)], name
        assert "OKActions" not in alarm, name
        assert alarm["TreatMissingData"] == "notBreaching", name
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name


def test_function_alarms_watch_the_function(env: SynthesizedEnvironment) -> None:
    alarms = alarms_by_suffix(env)
    # With SnapStart, the alias the API invokes (infra/function.py).
    function_dimension = function_metric_dimensions(env)
    thresholds = env.config.alarms
    for suffix, metric, threshold in (
        ("function-errors", "Errors", thresholds.function_errors_per_5_minutes),
        ("function-throttles", "Throttles", thresholds.function_throttles_per_5_minutes),
    ):
        alarm = alarms[suffix]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric)
        assert alarm["Dimensions"] == function_dimension
        assert alarm["Statistic"] == "Sum"
        assert alarm["Threshold"] == threshold
    duration = alarms["function-duration-near-timeout"]
    assert (duration["Namespace"], duration["MetricName"]) == ("AWS/Lambda", "Duration")
    assert duration["Dimensions"] == function_dimension
    timeout_ms = env.config.timeout_seconds * 1000
    assert 0.5 * timeout_ms <= duration["Threshold"] < timeout_ms


def test_api_alarms_watch_this_stage(env: SynthesizedEnvironment) -> None:
    stage_id, _ = env.only("AWS::ApiGateway::Stage")
    stage_dimensions = [
        {"Name": "ApiName", "Value": f"telephone-status-{env.config.name}"},
        {"Name": "Stage", "Value": ref(stage_id)},
    ]
    alarms = alarms_by_suffix(env)
    latency = alarms["api-latency-p99"]
    assert (latency["Namespace"], latency["MetricName"]) == ("AWS/ApiGateway", "Latency")
    assert latency["ExtendedStatistic"] == "p99"
    assert latency["Dimensions"] == stage_dimensions
    assert latency["Threshold"] == env.config.alarms.api_p99_latency_ms

    minimum = env.config.alarms.minimum_requests_for_rate
    for suffix, metric_name, threshold in (
        ("api-5xx-rate", "5XXError", env.config.alarms.api_server_error_rate_percent),
        ("api-4xx-rate", "4XXError", env.config.alarms.api_client_error_rate_percent),
    ):
        rate = alarms[suffix]
        [expression] = [m for m in rate["Metrics"] if "Expression" in m]
        assert expression["Expression"] == (
            f"IF(requests >= {minimum}, 100 * errors / requests, 0)"
        )
        stats = {m["Id"]: m["MetricStat"] for m in rate["Metrics"] if "MetricStat" in m}
        assert stats["errors"]["Metric"]["MetricName"] == metric_name
        assert stats["requests"]["Metric"]["MetricName"] == "Count"
        for stat in stats.values():
            assert stat["Metric"]["Namespace"] == "AWS/ApiGateway"
            assert stat["Metric"]["Dimensions"] == stage_dimensions
            assert stat["Stat"] == "Sum"
        assert rate["Threshold"] == threshold


def test_upstream_alarms_watch_the_functions_custom_metrics(env: SynthesizedEnvironment) -> None:
    alarms = alarms_by_suffix(env)
    namespace = env.config.metrics_namespace
    failures = alarms["upstream-failures"]
    assert (failures["Namespace"], failures["MetricName"]) == (namespace, "UpstreamFailures")
    assert failures["Dimensions"] == SERVICE_DIMENSION
    assert failures["Statistic"] == "Sum"
    assert failures["Threshold"] == env.config.alarms.upstream_failures_per_5_minutes
    rejected = alarms["upstream-rejected"]
    assert (rejected["Namespace"], rejected["MetricName"]) == (namespace, "UpstreamRejected")
    assert rejected["Dimensions"] == SERVICE_DIMENSION
    assert rejected["Threshold"] == env.config.alarms.upstream_rejected_per_5_minutes


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(
    env: SynthesizedEnvironment,
) -> None:
    _, topic = env.only("AWS::SNS::Topic")
    key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = env.resources[key_id]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        statement.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        and set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
        for statement in statements
    )
    # Publishing only over TLS.
    _, topic_policy = env.only("AWS::SNS::TopicPolicy")
    [deny_insecure] = [
        statement
        for statement in topic_policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]
    assert deny_insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_email_subscription_only_when_configured(env: SynthesizedEnvironment) -> None:
    subscriptions = env.resources_of_type("AWS::SNS::Subscription")
    if env.config.alarm_email is None:
        assert subscriptions == {}
    else:
        [subscription] = subscriptions.values()
        assert subscription["Properties"]["Protocol"] == "email"
        assert subscription["Properties"]["Endpoint"] == env.config.alarm_email


def test_dashboard_shows_api_function_and_upstream_metrics(env: SynthesizedEnvironment) -> None:
    _, dashboard = env.only("AWS::CloudWatch::Dashboard")
    assert dashboard["Properties"]["DashboardName"] == f"TelephoneStatus-{env.config.name}"
    body = flatten_join(dashboard["Properties"]["DashboardBody"])
    for metric in ("Count", "Latency", "4XXError", "5XXError"):
        assert f'"AWS/ApiGateway","{metric}"' in body, metric
    for metric in ("Errors", "Throttles", "Duration"):
        assert f'"AWS/Lambda","{metric}"' in body, metric
    for metric in (
        "UpstreamLatency",
        "UpstreamFailures",
        "UpstreamRejected",
        "CodeValid",
        "CodeInvalid",
        "AttemptLockouts",
        "NotConfigured",
    ):
        namespace = env.config.metrics_namespace
        assert f'"{namespace}","{metric}","service","telephone-status"' in body, metric
    for percentile in ("p50", "p90", "p99"):
        assert f'"stat":"{percentile}"' in body, percentile
    assert '"type":"alarm"' in body
