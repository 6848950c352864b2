"""Fraud guard monitoring: the send budget alarm, the verified-per-sent alarm, their widgets.

SMS pumping shows up as sends that are never verified (the numbers' operators are paid per
message; nobody types a code), and, at worst, as the environment's hourly send budget being
used up (docs/security.md#fraud-guard). Built on the function's own EMF metrics:
VerificationSends (also per Channel and Country), VerifiedStarts, SendBudgetExhausted and
StartRefused per Layer.
"""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.abuse_sentinel import percent_graph
from infra.config import EnvironmentConfig
from infra.function import POWERTOOLS_SERVICE_NAME

# Several verification lifetimes long: a send and its verification land in the same period
# but for the few at its edge, and pumping has room to show.
RATIO_PERIOD = cdk.Duration.hours(1)
SHORT_PERIOD = cdk.Duration.minutes(5)

SENDS = "VerificationSends"
VERIFIED = "VerifiedStarts"
BUDGET_EXHAUSTED = "SendBudgetExhausted"
REFUSED = "StartRefused"
# The dimensions the function adds to some of them.
CHANNEL_DIMENSION = "Channel"
COUNTRY_DIMENSION = "Country"
LAYER_DIMENSION = "Layer"
CHANNELS = ("sms", "call")
# Each layer of the guard that can refuse a start, as the function names it.
REFUSAL_LAYERS = ("country", "number", "phone", "prefix", "budget")

MetricFactory = Callable[..., cloudwatch.Metric]


class FraudGuardMonitoring(Construct):
    """Two alarms (Monitoring wires their actions) and two rows of dashboard widgets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        custom_metric: MetricFactory,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = f"telephone-status-{config.name}"
        namespace = config.metrics_namespace
        floor = config.alarms.verified_per_sent_floor_percent
        minimum = config.alarms.sends_minimum_for_ratio

        def hourly() -> dict[str, cloudwatch.IMetric]:
            return {
                "sends": custom_metric(SENDS).with_(period=RATIO_PERIOD),
                "verified": custom_metric(VERIFIED).with_(period=RATIO_PERIOD),
            }

        # 1 when an hour had enough sends and too few of them were verified, else 0. No
        # division, so an hour without sends is simply "not breaching".
        breach = cloudwatch.MathExpression(
            expression=(
                f"IF(FILL(sends, 0) >= {minimum} AND "
                f"100 * FILL(verified, 0) < {floor} * FILL(sends, 0), 1, 0)"
            ),
            using_metrics=hourly(),
            label="verified per sent below the floor (1 = yes)",
            period=RATIO_PERIOD,
        )
        self.verified_ratio_alarm = cloudwatch.Alarm(
            self,
            "VerifiedRatioLow",
            alarm_name=f"{prefix}-verified-ratio-low",
            alarm_description=(
                f"Why: fewer than {floor:g}% of at least {minimum} verifications sent in one "
                "hour were verified. Pumped numbers never type the code, so this is the mark "
                "of SMS pumping (or of a broken delivery). Do: look at sends per country and "
                "refusals per layer on the dashboard; take a pumped country out of "
                "startCountries, lower maxSendsPerPrefix or waf.startRateLimitPer5Minutes, "
                "and check ProxStop's delivery status if every country dropped."
            ),
            metric=breach,
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        # One refusal already means the budget is spent: every start answers 503 until the
        # next clock hour.
        self.budget_alarm = cloudwatch.Alarm(
            self,
            "SendBudgetExhausted",
            alarm_name=f"{prefix}-send-budget-exhausted",
            alarm_description=(
                f"Why: the environment sent its {config.max_sends_per_hour} verifications "
                "allowed this clock hour (maxSendsPerHour); every start now answers 503 "
                "SEND_BUDGET_EXHAUSTED until the hour turns. Do: on the dashboard, see whether "
                "one country or range drove the sends (pumping: take the country out of "
                "startCountries) or whether real traffic grew (raise maxSendsPerHour)."
            ),
            metric=custom_metric(BUDGET_EXHAUSTED).with_(period=SHORT_PERIOD),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarms: list[cloudwatch.Alarm] = [self.budget_alarm, self.verified_ratio_alarm]

        def sends_search(extra: str) -> str:
            # The countries come and go with startCountries: a search finds every one sent to.
            schema = (
                f'{{"{namespace}",{CHANNEL_DIMENSION},{COUNTRY_DIMENSION},service}} '
                f'MetricName="{SENDS}" service="{POWERTOOLS_SERVICE_NAME}"{extra}'
            )
            return f"SEARCH('{schema}', 'Sum', {int(SHORT_PERIOD.to_seconds())})"

        per_channel: list[cloudwatch.IMetric] = []
        for channel in CHANNELS:
            channel_filter = f' {CHANNEL_DIMENSION}="{channel}"'
            per_channel.append(
                cloudwatch.MathExpression(
                    expression=f"SUM({sends_search(channel_filter)})",
                    label=channel,
                    period=SHORT_PERIOD,
                )
            )
        refusals = [
            custom_metric(REFUSED, label=layer).with_(
                dimensions_map={"service": POWERTOOLS_SERVICE_NAME, LAYER_DIMENSION: layer}
            )
            for layer in REFUSAL_LAYERS
        ]
        ratio = cloudwatch.MathExpression(
            expression="100 * FILL(verified, 0) / sends",
            using_metrics=hourly(),
            label="verified (% of sends)",
            period=RATIO_PERIOD,
        )
        # Two dashboard rows: what is sent and refused; then the ratio and the budget.
        sent_and_refused: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Verification sends per channel",
                left=per_channel,
                width=8,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Verification sends per country and channel",
                left=[
                    cloudwatch.MathExpression(
                        expression=sends_search(""), label="", period=SHORT_PERIOD
                    )
                ],
                width=8,
                height=6,
            ),
            cloudwatch.GraphWidget(
                title="Start refusals per layer",
                left=refusals,
                width=8,
                height=6,
            ),
        ]
        ratio_and_budget: list[cloudwatch.IWidget] = [
            percent_graph("Verified per sent (%, 1 h)", ratio, floor, width=8),
            cloudwatch.GraphWidget(
                title="Sends and verified starts per hour",
                left=[
                    custom_metric(SENDS, label="sent").with_(period=RATIO_PERIOD),
                    custom_metric(VERIFIED, label="verified").with_(period=RATIO_PERIOD),
                ],
                width=8,
                height=6,
            ),
            cloudwatch.AlarmWidget(
                title="Send budget exhausted (starts refused, 503)",
                alarm=self.budget_alarm,
                width=8,
                height=6,
            ),
        ]
        self.widget_rows = [sent_and_refused, ratio_and_budget]
