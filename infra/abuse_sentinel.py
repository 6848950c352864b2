"""Abuse sentinel: the PIN success ratio, lockouts per hour, and an alarm on a ratio collapse.

A brute-force run or an SMS-pumping scheme shows up as many PIN checks that never
succeed. Built with CloudWatch metric math on the function's own EMF metrics
(CodeValid, CodeInvalid, AttemptLockouts): nothing new is emitted for it.
"""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.config import EnvironmentConfig

# Long enough to gather a meaningful number of checks, short enough to page during an attack.
SENTINEL_PERIOD = cdk.Duration.minutes(15)
LOCKOUT_PERIOD = cdk.Duration.hours(1)

MetricFactory = Callable[..., cloudwatch.Metric]

# Every check ends as one of these: right PIN, wrong PIN, or refused (429, attempt limit).
_CHECKS = "(FILL(valid, 0) + FILL(invalid, 0) + FILL(lockouts, 0))"


class AbuseSentinel(Construct):
    """The alarm (not yet wired to actions: Monitoring does that) and two dashboard widgets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        custom_metric: MetricFactory,
    ) -> None:
        super().__init__(scope, construct_id)
        floor = config.alarms.pin_success_floor_percent
        minimum = config.alarms.pin_checks_minimum

        def outcomes(period: cdk.Duration) -> dict[str, cloudwatch.IMetric]:
            return {
                id_: custom_metric(name).with_(period=period)
                for id_, name in (
                    ("valid", "CodeValid"),
                    ("invalid", "CodeInvalid"),
                    ("lockouts", "AttemptLockouts"),
                )
            }

        # 1 when a period had enough checks and too few of them succeeded, else 0. Written
        # without a division, so that a period without checks is simply "not breaching".
        breach = cloudwatch.MathExpression(
            expression=(
                f"IF({_CHECKS} >= {minimum} AND 100 * FILL(valid, 0) < {floor} * {_CHECKS}, 1, 0)"
            ),
            using_metrics=outcomes(SENTINEL_PERIOD),
            label="PIN success ratio below the floor (1 = yes)",
            period=SENTINEL_PERIOD,
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "PinSuccessRatioLow",
            alarm_name=f"telephone-status-{config.name}-pin-success-ratio-low",
            alarm_description=(
                f"Fewer than {floor:g}% of at least {minimum} PIN checks in 15 minutes found "
                "the right PIN: a brute-force run or SMS pumping (many checks that never "
                "succeed). See the dashboard's PIN success ratio and lockouts."
            ),
            metric=breach,
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        ratio = cloudwatch.MathExpression(
            expression=f"100 * FILL(valid, 0) / {_CHECKS}",
            using_metrics=outcomes(SENTINEL_PERIOD),
            label="right PIN (% of checks)",
            period=SENTINEL_PERIOD,
        )
        self.widgets: list[cloudwatch.IWidget] = [
            percent_graph("PIN success ratio (%, 15 min)", ratio, floor, width=12),
            cloudwatch.GraphWidget(
                title="PIN lockouts per hour",
                left=[
                    custom_metric("AttemptLockouts", label="lockouts (429)").with_(
                        period=LOCKOUT_PERIOD
                    )
                ],
                width=12,
                height=6,
            ),
        ]


def percent_graph(
    title: str, ratio: cloudwatch.IMetric, floor: float, *, width: int
) -> cloudwatch.GraphWidget:
    """A ratio in percent (0-100) with its alarm floor drawn in."""
    return cloudwatch.GraphWidget(
        title=title,
        left=[ratio],
        left_y_axis=cloudwatch.YAxisProps(min=0, max=100),
        left_annotations=[
            cloudwatch.HorizontalAnnotation(value=floor, label=f"alarm floor {floor:g}%")
        ],
        width=width,
        height=6,
    )
