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

from infra.abuse_sentinel import AbuseSentinel
from infra.config import EnvironmentConfig
from infra.fraud_guard import FraudGuardMonitoring
from infra.function import POWERTOOLS_SERVICE_NAME
from infra.retention import removal_policy

PERIOD = cdk.Duration.minutes(5)


def custom_metric(
    name: str, *, namespace: str, statistic: str = "Sum", label: str | None = None
) -> cloudwatch.Metric:
    """A metric the function emits through Powertools (EMF) with its default dimension.

    ``namespace`` is the environment's (EnvironmentConfig.metrics_namespace), so two
    environments in one account never share a metric.
    """
    return cloudwatch.Metric(
        namespace=namespace,
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
    # False: the alarm only feeds a composite alarm, which notifies instead.
    notifies: bool = True


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
        self.namespace = config.metrics_namespace
        stack = cdk.Stack.of(self)
        # Only this stack's alarms (metric and composite alarms share the ARN form) may use
        # the topic and its key; the same conditions in both policies. CloudWatch passes
        # aws:SourceArn/aws:SourceAccount on both calls (SNS developer guide, "compatibility
        # between event sources from AWS services and encrypted topics"), unlike EventBridge.
        alarm_arn_pattern = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{prefix}-*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        from_this_stacks_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {"aws:SourceArn": alarm_arn_pattern},
        }

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
                conditions=from_this_stacks_alarms,
            )
        )
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{prefix} alarms",
            master_key=self.topic_key,
            enforce_ssl=True,
        )
        # enforce_ssl gives the topic a policy, and a topic policy replaces SNS's default one:
        # without this statement nothing would allow CloudWatch to publish, and alarms would
        # fail silently ("no resource-based policy allows the SNS:Publish action").
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=from_this_stacks_alarms,
            )
        )
        if config.alarm_email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))

        timeout_ms = config.timeout_seconds * 1000
        thresholds = config.alarms
        minimum = thresholds.minimum_requests_for_rate
        specs = [
            _AlarmSpec(
                "FunctionErrors",
                "function-errors",
                "Why: the function crashed (every handled error is a response, so this is a bug "
                f"or a broken deployment). Fires at {thresholds.function_errors_per_5_minutes} "
                "unhandled errors in 5 minutes. Do: read the function's ERROR log lines.",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=thresholds.function_errors_per_5_minutes,
            ),
            _AlarmSpec(
                "FunctionThrottles",
                "function-throttles",
                "Why: Lambda refused invocations (reserved or account concurrency exhausted), "
                "clients get 500s. Fires at "
                f"{thresholds.function_throttles_per_5_minutes} throttles in 5 minutes. Do: "
                "raise reservedConcurrency or find the traffic source.",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=thresholds.function_throttles_per_5_minutes,
            ),
            _AlarmSpec(
                "FunctionDurationNearTimeout",
                "function-duration-near-timeout",
                f"Why: p99 duration reached {thresholds.duration_percent_of_timeout}% of the "
                f"{config.timeout_seconds}s timeout, so timeouts (504) are next. Do: check "
                "UpstreamLatency on the dashboard.",
                function.metric_duration(period=PERIOD, statistic="p99"),
                threshold=timeout_ms * thresholds.duration_percent_of_timeout / 100,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            ),
            _AlarmSpec(
                "Api5xxRate",
                "api-5xx-rate",
                f"At least {thresholds.api_server_error_rate_percent}% of at least {minimum} "
                "requests in 5 minutes answered 5xx. Feeds the api-5xx composite, which stays "
                "quiet while upstream-down or not-configured explain the 5xx.",
                self._rate(
                    stage.metric_server_error(period=PERIOD, statistic="Sum"),
                    stage.metric_count(period=PERIOD, statistic="Sum"),
                    minimum,
                    "5xx (% of requests)",
                ),
                threshold=thresholds.api_server_error_rate_percent,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                notifies=False,
            ),
            _AlarmSpec(
                "Api4xxRate",
                "api-4xx-rate",
                f"Why: at least {thresholds.api_client_error_rate_percent}% of at least "
                f"{minimum} requests in 5 minutes answered 4xx: a client release sending bad "
                "requests or a wrong API key, throttling, the WAF blocking, or someone probing "
                "reference ids. Do: group the access log by status and errorType.",
                self._rate(
                    stage.metric_client_error(period=PERIOD, statistic="Sum"),
                    stage.metric_count(period=PERIOD, statistic="Sum"),
                    minimum,
                    "4xx (% of requests)",
                ),
                threshold=thresholds.api_client_error_rate_percent,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            ),
            _AlarmSpec(
                "ApiLatencyP99",
                "api-latency-p99",
                f"Why: API p99 latency at or above {thresholds.api_p99_latency_ms} ms, users "
                "wait. Do: compare with UpstreamLatency and function duration on the dashboard.",
                stage.metric_latency(period=PERIOD, statistic="p99"),
                threshold=thresholds.api_p99_latency_ms,
                evaluation_periods=3,
                datapoints_to_alarm=2,
            ),
            _AlarmSpec(
                "UpstreamFailures",
                "upstream-failures",
                "Failed exchanges with ProxStop (timeouts, 5xx, bad responses, rejections). "
                "Feeds the upstream-down composite.",
                self._custom("UpstreamFailures"),
                threshold=thresholds.upstream_failures_per_5_minutes,
                notifies=False,
            ),
            _AlarmSpec(
                "UpstreamRejected",
                "upstream-rejected",
                "ProxStop refused our API key even after re-reading the secret. Feeds the "
                "upstream-down composite.",
                self._custom("UpstreamRejected"),
                threshold=thresholds.upstream_rejected_per_5_minutes,
                notifies=False,
            ),
            _AlarmSpec(
                "NotConfigured",
                "not-configured",
                "Why: the secret still holds the placeholder a fresh stack starts with, so "
                "every request answers 503 NOT_CONFIGURED. Do: put the ProxStop key into the "
                "secret of the SecretArn output: make put-key ENV=<name> (docs/deploy.md).",
                self._custom("NotConfigured"),
                threshold=1,
            ),
            _AlarmSpec(
                "TokenSigningFailures",
                "token-signing-failures",
                "Why: correct PINs got 503 because KMS could not sign their verification token "
                "(or the JWKS could not be read); users retry for free, but a few in 5 minutes "
                "mean KMS or the key is failing. Do: check the signing key (enabled, not pending "
                "deletion), the function's kms:Sign grant and KMS health.",
                self._custom("TokenSigningFailures"),
                threshold=3,
            ),
        ]
        alarm_action = cloudwatch_actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.IAlarm] = []
        by_id: dict[str, cloudwatch.Alarm] = {}
        self.abuse_sentinel = AbuseSentinel(
            self, "AbuseSentinel", config=config, custom_metric=self._custom
        )
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
            # ALARM only: an OK mail per flap doubles the noise and asks for no action.
            if spec.notifies:
                alarm.add_alarm_action(alarm_action)
            by_id[spec.construct_id] = alarm
            self.alarms.append(alarm)
        self.abuse_sentinel.alarm.add_alarm_action(alarm_action)
        self.alarms.append(self.abuse_sentinel.alarm)
        self.fraud_guard = FraudGuardMonitoring(
            self, "FraudGuard", config=config, custom_metric=self._custom
        )
        for alarm in self.fraud_guard.alarms:
            alarm.add_alarm_action(alarm_action)
            self.alarms.append(alarm)

        upstream_down = cloudwatch.CompositeAlarm(
            self,
            "UpstreamDown",
            composite_alarm_name=f"{prefix}-upstream-down",
            alarm_description=(
                "Why: ProxStop is failing (timeouts, 5xx, bad answers) or refusing our API key; "
                "one alarm for one outage (api-5xx stays quiet meanwhile). Do: check ProxStop's "
                "status and, for upstream-rejected, the key in Secrets Manager and the account."
            ),
            alarm_rule=cloudwatch.AlarmRule.any_of(
                cloudwatch.AlarmRule.from_alarm(
                    by_id["UpstreamFailures"], cloudwatch.AlarmState.ALARM
                ),
                cloudwatch.AlarmRule.from_alarm(
                    by_id["UpstreamRejected"], cloudwatch.AlarmState.ALARM
                ),
            ),
        )
        upstream_down.add_alarm_action(alarm_action)
        api_5xx = cloudwatch.CompositeAlarm(
            self,
            "Api5xx",
            composite_alarm_name=f"{prefix}-api-5xx",
            alarm_description=(
                "Why: many requests answer 5xx for a reason other than the upstream, a missing "
                "key or token signing (those have their own alarms). Do: read the function's "
                "ERROR lines and the API execution log."
            ),
            alarm_rule=cloudwatch.AlarmRule.all_of(
                cloudwatch.AlarmRule.from_alarm(by_id["Api5xxRate"], cloudwatch.AlarmState.ALARM),
                cloudwatch.AlarmRule.not_(
                    cloudwatch.AlarmRule.any_of(
                        cloudwatch.AlarmRule.from_alarm(upstream_down, cloudwatch.AlarmState.ALARM),
                        cloudwatch.AlarmRule.from_alarm(
                            by_id["NotConfigured"], cloudwatch.AlarmState.ALARM
                        ),
                        cloudwatch.AlarmRule.from_alarm(
                            by_id["TokenSigningFailures"], cloudwatch.AlarmState.ALARM
                        ),
                    )
                ),
            ),
        )
        api_5xx.add_alarm_action(alarm_action)
        self.alarms.extend([upstream_down, api_5xx])

        self.dashboard = self._dashboard(f"TelephoneStatus-{config.name}", function, stage)

    def _custom(
        self, name: str, *, statistic: str = "Sum", label: str | None = None
    ) -> cloudwatch.Metric:
        return custom_metric(name, namespace=self.namespace, statistic=statistic, label=label)

    @staticmethod
    def _rate(
        errors: cloudwatch.IMetric, requests: cloudwatch.IMetric, minimum: int, label: str
    ) -> cloudwatch.MathExpression:
        # 0 below the minimum traffic: one failure among three requests is no outage.
        return cloudwatch.MathExpression(
            expression=f"IF(requests >= {minimum}, 100 * errors / requests, 0)",
            using_metrics={"errors": errors, "requests": requests},
            label=label,
            period=PERIOD,
        )

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
                    self._custom("UpstreamLatency", statistic=p, label=p)
                    for p in ("p50", "p90", "p99")
                ),
            ),
        )
        dashboard.add_widgets(
            graph(
                "Upstream failures",
                self._custom("UpstreamFailures", label="failures"),
                self._custom("UpstreamRejected", label="key rejected"),
                self._custom("NotConfigured", label="not configured (503)"),
                width=12,
            ),
            graph(
                "PIN checks",
                self._custom("CodeValid", label="valid"),
                self._custom("CodeInvalid", label="invalid"),
                self._custom("AttemptLockouts", label="lockouts (429)"),
                width=12,
            ),
        )
        dashboard.add_widgets(*self.abuse_sentinel.widgets)
        for row in self.fraud_guard.widget_rows:
            dashboard.add_widgets(*row)
        return dashboard

    @property
    def dashboard_url(self) -> str:
        region = cdk.Aws.REGION
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards:name={self.dashboard.dashboard_name}"
        )
