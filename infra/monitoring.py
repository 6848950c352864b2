"""Alarms (to one SNS topic) and a dashboard for the API, the function and the upstream."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.function import POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME
from infra.retention import removal_policy

PERIOD = cdk.Duration.minutes(5)


def custom_metric(
    name: str, *, statistic: str = "Sum", label: str | None = None
) -> cloudwatch.Metric:
    """A metric the function emits through Powertools (EMF) with its default dimension."""
    return cloudwatch.Metric(
        namespace=POWERTOOLS_METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": POWERTOOLS_SERVICE_NAME},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


@dataclass(frozen=True)
class _AlarmSpec:
    construct_id: str
    name_suffix: str
    description: str
    metric: cloudwatch.IMetric
    threshold: float
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        function: lambda_.Function,
        stage: apigateway.Stage,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = f"telephone-status-{config.name}"

        # The topic is encrypted; CloudWatch can only publish to it through a customer-managed
        # key whose policy lets the CloudWatch service use it (the AWS-managed SNS key can't).
        self.topic_key = kms.Key(
            self,
            "AlarmTopicKey",
            description=f"Encrypts the {prefix} alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy(config),
            pending_window=cdk.Duration.days(7),
        )
        self.topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{prefix} alarms",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        if config.alarm_email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))

        timeout_ms = config.timeout_seconds * 1000
        thresholds = config.alarms
        specs = [
            _AlarmSpec(
                "FunctionErrors",
                "function-errors",
                "The function raised unhandled errors (every handled error is a response).",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
            ),
            _AlarmSpec(
                "FunctionThrottles",
                "function-throttles",
                "Lambda throttled invocations (reserved or account concurrency exhausted).",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
            ),
            _AlarmSpec(
                "FunctionDurationNearTimeout",
                "function-duration-near-timeout",
                f"p99 duration reached {thresholds.duration_percent_of_timeout}% of the "
                f"{config.timeout_seconds}s timeout.",
                function.metric_duration(period=PERIOD, statistic="p99"),
                threshold=timeout_ms * thresholds.duration_percent_of_timeout / 100,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            ),
            _AlarmSpec(
                "Api5xxRate",
                "api-5xx-rate",
                f"At least {thresholds.api_server_error_rate_percent}% of requests answered 5xx.",
                # The Average of 5XXError is the share of requests that failed (0..1).
                cloudwatch.MathExpression(
                    expression="100 * serverErrorRate",
                    using_metrics={
                        "serverErrorRate": stage.metric_server_error(
                            period=PERIOD, statistic="Average"
                        )
                    },
                    label="5xx (% of requests)",
                    period=PERIOD,
                ),
                threshold=thresholds.api_server_error_rate_percent,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            ),
            _AlarmSpec(
                "ApiLatencyP99",
                "api-latency-p99",
                f"API p99 latency at or above {thresholds.api_p99_latency_ms} ms.",
                stage.metric_latency(period=PERIOD, statistic="p99"),
                threshold=thresholds.api_p99_latency_ms,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            ),
            _AlarmSpec(
                "UpstreamFailures",
                "upstream-failures",
                "Failed exchanges with ProxStop (timeouts, 5xx, bad responses, rejections).",
                custom_metric("UpstreamFailures"),
                threshold=thresholds.upstream_failures_per_5_minutes,
            ),
            _AlarmSpec(
                "UpstreamRejected",
                "upstream-rejected",
                "ProxStop refused our API key even after re-reading the secret: check the "
                "key in Secrets Manager and the ProxStop account.",
                custom_metric("UpstreamRejected"),
                threshold=1,
            ),
            _AlarmSpec(
                "TokenSigningFailures",
                "token-signing-failures",
                "A correct PIN got 503 because KMS could not sign its verification token "
                "(or the JWKS could not be read): check the signing key and KMS.",
                custom_metric("TokenSigningFailures"),
                threshold=1,
            ),
        ]
        alarm_action = cloudwatch_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        for spec in specs:
            alarm = cloudwatch.Alarm(
                self,
                spec.construct_id,
                alarm_name=f"{prefix}-{spec.name_suffix}",
                alarm_description=spec.description,
                metric=spec.metric,
                threshold=spec.threshold,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.datapoints_to_alarm,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                # No traffic is not a fault.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(alarm_action)
            alarm.add_ok_action(alarm_action)
            self.alarms.append(alarm)

        self.dashboard = self._dashboard(f"TelephoneStatus-{config.name}", function, stage)

    def _dashboard(
        self, name: str, function: lambda_.Function, stage: apigateway.Stage
    ) -> cloudwatch.Dashboard:
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=name, default_interval=cdk.Duration.hours(3)
        )

        def graph(
            title: str, *metrics: cloudwatch.IMetric, width: int = 8
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(metrics), width=width, height=6)

        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=3)
        )
        dashboard.add_widgets(
            graph(
                "API requests", stage.metric_count(period=PERIOD, statistic="Sum", label="requests")
            ),
            graph(
                "API latency (ms)",
                *(
                    stage.metric_latency(period=PERIOD, statistic=p, label=p)
                    for p in ("p50", "p90", "p99")
                ),
            ),
            graph(
                "API errors",
                stage.metric_client_error(period=PERIOD, statistic="Sum", label="4xx"),
                stage.metric_server_error(period=PERIOD, statistic="Sum", label="5xx"),
            ),
        )
        dashboard.add_widgets(
            graph(
                "Function errors and throttles",
                function.metric_errors(period=PERIOD, statistic="Sum", label="errors"),
                function.metric_throttles(period=PERIOD, statistic="Sum", label="throttles"),
            ),
            graph(
                "Function duration (ms)",
                *(
                    function.metric_duration(period=PERIOD, statistic=s, label=s)
                    for s in ("p50", "p99", "Maximum")
                ),
            ),
            graph(
                "Upstream latency (ms)",
                *(
                    custom_metric("UpstreamLatency", statistic=p, label=p)
                    for p in ("p50", "p90", "p99")
                ),
            ),
        )
        dashboard.add_widgets(
            graph(
                "Upstream failures",
                custom_metric("UpstreamFailures", label="failures"),
                custom_metric("UpstreamRejected", label="key rejected"),
                width=12,
            ),
            graph(
                "PIN checks",
                custom_metric("CodeValid", label="valid"),
                custom_metric("CodeInvalid", label="invalid"),
                custom_metric("AttemptLockouts", label="lockouts (429)"),
                width=12,
            ),
        )
        return dashboard

    @property
    def dashboard_url(self) -> str:
        region = cdk.Aws.REGION
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )
