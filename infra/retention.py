"""How long things are kept: removal policy of stateful resources, log retention."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvironmentConfig

# jsii enums are keyed by name; cdk.json speaks days.
_RETENTION_BY_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def removal_policy(config: EnvironmentConfig) -> cdk.RemovalPolicy:
    """Retained environments keep table, secret, logs and keys when the stack is deleted.

    RetainExceptOnCreate, not Retain: a create that fails and rolls back deletes what it made
    (nothing in it holds data yet), instead of leaving orphans that cost money and whose
    names the retry would collide with.
    """
    if config.is_retained:
        return cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    return cdk.RemovalPolicy.DESTROY


def retention(days: int) -> logs.RetentionDays:
    return _RETENTION_BY_DAYS[days]


def log_group(scope: Construct, construct_id: str, config: EnvironmentConfig) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=retention(config.log_retention_days),
        removal_policy=removal_policy(config),
    )


def physical_name(scope: Construct, name: str, *, retained: bool) -> str:
    """A name for a resource that may outlive its stack.

    A retained resource keeps its name after `cdk destroy`; a fixed name would make the next
    deploy of the same environment fail ("already exists"). Retained environments therefore
    append the stack's id (new for every stack created), dropped ones keep ``name``.
    """
    if not retained:
        return name
    stack_uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Stack.of(scope).stack_id))
    return f"{name}-{cdk.Fn.select(0, cdk.Fn.split('-', stack_uuid))}"
