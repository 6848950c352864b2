"""The abuse sentinel on the synthesized templates, and its settings (docs/operations.md)."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from infra.config import ConfigurationError, cdk_json_context, load_environment
from tests.infra.infra_synth import FUNCTION_LOGICAL_ID, SynthesizedEnvironment, ref

pytestmark = pytest.mark.xdist_group("infra")

OUTCOME_METRICS = {"CodeValid", "CodeInvalid", "AttemptLockouts"}


def _flatten(value: Any) -> str:
    """An Fn::Join of strings and intrinsics as text; an intrinsic (region, ids) becomes `X`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flatten(part) for part in parts)
    return "X"


def _namespace(env: SynthesizedEnvironment) -> str:
    """The metrics namespace the function emits into (its Powertools setting)."""
    variables = env.resources[FUNCTION_LOGICAL_ID]["Properties"]["Environment"]["Variables"]
    namespace = variables["POWERTOOLS_METRICS_NAMESPACE"]
    assert isinstance(namespace, str)
    return namespace


def _sentinel_alarm(env: SynthesizedEnvironment) -> dict[str, Any]:
    name = f"telephone-status-{env.config.name}-pin-success-ratio-low"
    found = [
        alarm["Properties"]
        for alarm in env.resources_of_type("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("AlarmName") == name
    ]
    assert len(found) == 1, f"guard: exactly one {name} alarm"
    alarm: dict[str, Any] = found[0]
    return alarm


def _expression(alarm: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    """The alarm's returned expression and its input metrics by id."""
    queries = alarm["Metrics"]
    (returned,) = [q for q in queries if q.get("ReturnData", True)]
    inputs = {q["Id"]: q["MetricStat"] for q in queries if not q.get("ReturnData", True)}
    return returned["Expression"], inputs


def _evaluate(expression: str, valid: float, invalid: float, lockouts: float) -> float:
    """CloudWatch metric math of this one shape (IF, AND, FILL, + - * <  >=) in Python."""
    python = re.sub(r"FILL\((\w+), 0\)", r"\1", expression).replace(" AND ", " and ")
    match = re.fullmatch(r"IF\((.*), (\S+), (\S+)\)", python)
    assert match, f"guard: unexpected expression shape {expression!r}"
    condition, if_true, if_false = match.groups()
    values = {"valid": valid, "invalid": invalid, "lockouts": lockouts}
    # Our own template's text, reduced to arithmetic on three names; no builtins reachable.
    chosen = eval(condition, {"__builtins__": {}}, values)
    return float(if_true if chosen else if_false)


def test_alarm_reads_the_function_pin_outcomes_and_reaches_the_topic(
    env: SynthesizedEnvironment,
) -> None:
    alarm = _sentinel_alarm(env)
    topic_id, _ = env.only("AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [ref(topic_id)]
    assert "OKActions" not in alarm  # ALARM only, like every alarm (no OK mails)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1
    _, inputs = _expression(alarm)
    assert {stat["Metric"]["MetricName"] for stat in inputs.values()} == OUTCOME_METRICS
    for stat in inputs.values():
        assert stat["Metric"]["Namespace"] == _namespace(env)
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": "telephone-status"}]
        assert stat["Stat"] == "Sum"
        assert stat["Period"] == 900


def test_alarm_fires_only_with_enough_checks_below_the_floor(env: SynthesizedEnvironment) -> None:
    """The expression, evaluated on traffic shapes, against this environment's cdk.json."""
    expression, _ = _expression(_sentinel_alarm(env))
    floor = env.config.alarms.pin_success_floor_percent
    minimum = env.config.alarms.pin_checks_minimum
    assert str(minimum) in expression
    # Brute force: a few lucky guesses at most, the rest wrong or locked out.
    assert _evaluate(expression, valid=0, invalid=5 * minimum, lockouts=10 * minimum) == 1
    # Honest traffic: most checks succeed.
    assert _evaluate(expression, valid=8 * minimum, invalid=2 * minimum, lockouts=0) == 0
    # Too few checks to judge, however bad.
    assert _evaluate(expression, valid=0, invalid=minimum - 1, lockouts=0) == 0
    assert _evaluate(expression, valid=0, invalid=0, lockouts=0) == 0
    # At the minimum, just below and exactly at the floor.
    checks = 100 * minimum
    at_floor = floor * minimum
    assert _evaluate(expression, valid=at_floor, invalid=checks - at_floor, lockouts=0) == 0
    below = at_floor - 1
    assert _evaluate(expression, valid=below, invalid=checks - below, lockouts=0) == 1
    # Lockouts are failed checks too.
    assert _evaluate(expression, valid=at_floor, invalid=0, lockouts=checks - at_floor) == 0
    assert _evaluate(expression, valid=below, invalid=0, lockouts=checks - below) == 1


def test_dashboard_shows_the_success_ratio_and_lockouts_per_hour(
    env: SynthesizedEnvironment,
) -> None:
    _, dashboard = env.only("AWS::CloudWatch::Dashboard")
    body = json.loads(_flatten(dashboard["Properties"]["DashboardBody"]))
    widgets = {w["properties"].get("title"): w["properties"] for w in body["widgets"]}
    ratio = widgets["PIN success ratio (%, 15 min)"]
    expressions = [m[0]["expression"] for m in ratio["metrics"] if "expression" in m[0]]
    assert expressions, "guard: the ratio widget plots an expression"
    assert all("valid" in e and "lockouts" in e for e in expressions)
    floor = env.config.alarms.pin_success_floor_percent
    assert [a["value"] for a in ratio["annotations"]["horizontal"]] == [floor]
    lockouts = widgets["PIN lockouts per hour"]
    (metric,) = lockouts["metrics"]
    assert metric[:2] == [_namespace(env), "AttemptLockouts"]
    assert metric[-1]["period"] == 3600
    assert metric[-1]["stat"] == "Sum"


def test_function_gets_max_code_checks(env: SynthesizedEnvironment) -> None:
    function = env.resources[FUNCTION_LOGICAL_ID]["Properties"]
    variables = function["Environment"]["Variables"]
    assert variables["MAX_CODE_CHECKS"] == str(env.config.max_code_checks)
    assert int(variables["MAX_CODE_CHECKS"]) >= int(variables["MAX_CODE_ATTEMPTS"])


# --------------------------------------------------------------------------- settings


def _dev_with(path: tuple[str, ...], value: object) -> dict[str, Any]:
    context = copy.deepcopy(cdk_json_context())
    target = context["environments"]["dev"]
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
    return context


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("maxCodeChecks",), 4, "at least maxCodeAttempts"),
        (("maxCodeChecks",), 0, "maxCodeChecks"),
        (("alarms", "pinSuccessFloorPercent"), 0, "pinSuccessFloorPercent"),
        (("alarms", "pinSuccessFloorPercent"), 100, "pinSuccessFloorPercent"),
        (("alarms", "pinChecksMinimum"), 0, "pinChecksMinimum"),
    ],
)
def test_sentinel_and_check_cap_settings_are_validated(
    path: tuple[str, ...], value: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_environment(_dev_with(path, value), "dev")


def test_sentinel_settings_come_from_cdk_json() -> None:
    config = load_environment(_dev_with(("alarms", "pinChecksMinimum"), 77), "dev")
    assert config.alarms.pin_checks_minimum == 77
    config = load_environment(_dev_with(("maxCodeChecks",), 9), "dev")
    assert config.max_code_checks == 9
