"""Starting verifications on the synthesized templates: settings, route, WAF rule, alarms.

Also the synth-time validation of the start settings in cdk.json (no synthesis needed).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import unquote

import pytest
from telephone_status.test_numbers import is_fictional, parse_test_numbers

from infra.config import ConfigurationError, cdk_json_context, load_environment
from tests.infra.infra_synth import (
    FUNCTION_LOGICAL_ID,
    START_VARIABLES,
    SynthesizedApp,
    SynthesizedEnvironment,
    get_att,
    invoked_function_arn,
    ref,
)
from tests.infra.test_infra_api import methods_by_verb, resource_id

pytestmark = pytest.mark.xdist_group("infra")

ROUTE = "/v1/verifications"
REFUSAL_LAYERS = {"country", "number", "phone", "prefix", "budget"}


def _variables(env: SynthesizedEnvironment) -> dict[str, Any]:
    variables: dict[str, Any] = env.resources[FUNCTION_LOGICAL_ID]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def _render(value: Any) -> str:
    """An Fn::Join as text; Ref and GetAtt become ${id} and ${id.attribute}."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "${" + str(value["Ref"]) + "}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    return json.dumps(value, sort_keys=True)


# --------------------------------------------------------------------------- function settings


def test_function_gets_every_start_setting(env: SynthesizedEnvironment) -> None:
    variables = _variables(env)
    config = env.config
    assert set(START_VARIABLES) <= set(variables)  # guard: every variable is there
    countries = variables["START_COUNTRIES"]
    assert (countries.split(",") if countries else []) == config.start_countries
    assert variables["CODE_LENGTH"] == str(config.code_length)
    assert variables["VERIFICATION_TTL_SECONDS"] == str(config.verification_ttl_seconds)
    assert variables["MAX_SENDS_PER_PHONE"] == str(config.max_sends_per_phone)
    assert variables["MIN_SEND_INTERVAL_SECONDS"] == str(config.min_send_interval_seconds)
    assert variables["MAX_SENDS_PER_PREFIX"] == str(config.max_sends_per_prefix)
    assert variables["MAX_SENDS_PER_HOUR"] == str(config.max_sends_per_hour)
    # The function's own parser accepts exactly what synth wrote.
    assert json.loads(variables["TEST_NUMBERS"]) == config.test_numbers
    assert parse_test_numbers(variables["TEST_NUMBERS"]) == config.test_numbers
    expected_accept = "true" if config.accept_external_references else "false"
    assert variables["ACCEPT_EXTERNAL_REFERENCES"] == expected_accept


# What a deployment fills in for the variables the template leaves to CloudFormation.
_DEPLOYED_VALUES = {
    "PROXSTOP_SECRET_ID": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
    "ATTEMPTS_TABLE_NAME": "TelephoneStatus-dev-AttemptsTable-ABC",
    "TOKEN_SIGNING_KEY_ID": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd",
    "TOKEN_ISSUER": "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
}


def test_the_function_accepts_every_variable_synth_writes(env: SynthesizedEnvironment) -> None:
    """Synth and run time agree: the function's own settings parse what synth wrote."""
    from telephone_status.settings import Settings  # noqa: PLC0415 (the function's module)

    variables = _variables(env)
    unresolved = {name for name, value in variables.items() if not isinstance(value, str)}
    assert unresolved <= set(_DEPLOYED_VALUES)  # guard: every intrinsic is stood in for
    environ = {**variables, **{name: _DEPLOYED_VALUES[name] for name in unresolved}}
    settings = Settings.from_environment(environ)
    assert settings.max_code_checks == env.config.max_code_checks  # guard: it read them


def test_dev_starts_in_the_us_with_test_numbers_and_prod_keeps_the_route_off(
    synthesized: SynthesizedApp,
) -> None:
    dev = _variables(synthesized.environments["dev"])
    prod = _variables(synthesized.environments["prod"])
    assert dev["START_COUNTRIES"] == "US"
    dev_numbers = json.loads(dev["TEST_NUMBERS"])
    assert dev_numbers
    assert all(is_fictional(number) for number in dev_numbers)
    # Off until the operator chooses countries; PIN checks of references started elsewhere
    # keep working meanwhile.
    assert prod["START_COUNTRIES"] == ""
    assert json.loads(prod["TEST_NUMBERS"]) == {}
    assert prod["ACCEPT_EXTERNAL_REFERENCES"] == "true"


# --------------------------------------------------------------------------- the route


def test_start_route_is_a_child_of_v1(env: SynthesizedEnvironment) -> None:
    route_id = resource_id(env, "verifications")
    parent = env.resources[route_id]["Properties"]["ParentId"]
    assert parent == ref(resource_id(env, "v1"))
    assert env.resources[resource_id(env, "v1")]["Properties"]["PathPart"] == "v1"


def test_start_route_integrates_with_what_the_api_invokes(env: SynthesizedEnvironment) -> None:
    methods = methods_by_verb(env, "verifications")
    assert set(methods) == {"POST", "ANY", "OPTIONS"}
    for verb, method in methods.items():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY", verb
        assert integration["IntegrationHttpMethod"] == "POST", verb
        # The function, or with SnapStart its live alias: as on the status route.
        assert invoked_function_arn(env) in integration["Uri"]["Fn::Join"][1], verb
    for verb in ("POST", "ANY"):
        assert methods[verb]["ApiKeyRequired"] is env.config.api_key.enabled, verb
        assert "RequestValidatorId" in methods[verb], verb
    status_post = methods_by_verb(env)["POST"]
    assert methods["POST"]["ApiKeyRequired"] is status_post["ApiKeyRequired"]
    # A browser's preflight carries no x-api-key.
    assert methods["OPTIONS"]["ApiKeyRequired"] is False
    assert methods["OPTIONS"]["AuthorizationType"] == "NONE"


def test_api_gateway_may_invoke_for_the_start_route_only_on_its_path(
    env: SynthesizedEnvironment,
) -> None:
    permissions = [
        permission["Properties"]
        for permission in env.resources_of_type("AWS::Lambda::Permission").values()
        if _render(permission["Properties"]["SourceArn"]).endswith(ROUTE)
    ]
    source_arns = sorted(_render(p["SourceArn"]).rsplit("/", 3)[-3] for p in permissions)
    assert source_arns == ["*", "OPTIONS", "POST"]  # ANY, OPTIONS, POST
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["FunctionName"] == invoked_function_arn(env)


# --------------------------------------------------------------------------- the WAF rule


def _transform(value: str, transformations: list[dict[str, Any]]) -> str:
    for step in sorted(transformations, key=lambda t: t["Priority"]):
        kind = step["Type"]
        if kind == "URL_DECODE":
            value = unquote(value)
        elif kind == "NORMALIZE_PATH":
            value = re.sub(r"/+", "/", value)
            value = re.sub(r"/(\./)+", "/", value)
        elif kind == "LOWERCASE":
            value = value.lower()
        else:
            assert kind == "NONE", f"guard: transformation {kind} not modelled here"
    return value


def _matches(statement: dict[str, Any], method: str, path: str) -> bool:
    """WAF's reading of the statement shapes the rule uses (And, Or, Not, ByteMatch)."""
    if "AndStatement" in statement:
        return all(_matches(s, method, path) for s in statement["AndStatement"]["Statements"])
    if "OrStatement" in statement:
        return any(_matches(s, method, path) for s in statement["OrStatement"]["Statements"])
    if "NotStatement" in statement:
        return not _matches(statement["NotStatement"]["Statement"], method, path)
    byte_match = statement["ByteMatchStatement"]
    field = byte_match["FieldToMatch"]
    assert set(field) <= {"Method", "UriPath"}, f"guard: field {field} not modelled here"
    value = _transform(method if "Method" in field else path, byte_match["TextTransformations"])
    wanted: str = byte_match["SearchString"]
    constraint: str = byte_match["PositionalConstraint"]
    return {
        "EXACTLY": value == wanted,
        "CONTAINS": wanted in value,
        "STARTS_WITH": value.startswith(wanted),
        "ENDS_WITH": value.endswith(wanted),
    }[constraint]


def _rules(env: SynthesizedEnvironment) -> dict[str, dict[str, Any]]:
    _, acl = env.only("AWS::WAFv2::WebACL")
    return {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}


def test_start_rate_rule_is_stricter_than_the_api_wide_one(env: SynthesizedEnvironment) -> None:
    if not env.config.waf.enabled:
        env.template.resource_count_is("AWS::WAFv2::WebACL", 0)
        return
    rules = _rules(env)
    start = rules["start-rate-limit"]
    api_wide = rules["per-ip-rate-limit"]["Statement"]["RateBasedStatement"]
    assert start["Action"] == {"Block": {}}  # API Gateway answers 403 WAF_FILTERED
    statement = start["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP"
    assert statement["EvaluationWindowSec"] == api_wide["EvaluationWindowSec"] == 300
    assert statement["Limit"] == env.config.waf.start_rate_limit_per_5_minutes
    assert statement["Limit"] < api_wide["Limit"]
    assert "ScopeDownStatement" not in api_wide
    assert len({rule["Priority"] for rule in rules.values()}) == len(rules)
    assert start["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_start_rate_rule_counts_only_posts_to_the_start_route(
    env: SynthesizedEnvironment,
) -> None:
    if not env.config.waf.enabled:
        return
    scope_down = _rules(env)["start-rate-limit"]["Statement"]["RateBasedStatement"][
        "ScopeDownStatement"
    ]
    # The path as WAF sees it on the execute-api endpoint: the stage, then the resource path
    # built from this template's own resource tree.
    route = "/" + "/".join(
        env.resources[resource_id(env, part)]["Properties"]["PathPart"]
        for part in ("v1", "verifications")
    )
    assert route == ROUTE
    stage = env.config.name
    counted = [
        ("POST", f"/{stage}{route}"),
        ("POST", f"/{stage}{route}/"),
        ("POST", f"/{stage}//v1//verifications"),
        ("POST", f"/{stage}/v1/%76erifications"),
        ("POST", route),  # a custom domain without a base path
    ]
    not_counted = [
        ("GET", f"/{stage}{route}"),
        ("OPTIONS", f"/{stage}{route}"),
        ("POST", f"/{stage}/v1/telephone-status"),
        ("GET", f"/{stage}/v1/telephone-status"),
        ("POST", f"/{stage}/v1/jwks.json"),
    ]
    for method, path in counted:
        assert _matches(scope_down, method, path), (method, path)
    for method, path in not_counted:
        assert not _matches(scope_down, method, path), (method, path)


def test_waf_block_is_the_documented_403(env: SynthesizedEnvironment) -> None:
    responses = [
        response["Properties"]
        for response in env.resources_of_type("AWS::ApiGateway::GatewayResponse").values()
        if response["Properties"]["ResponseType"] == "WAF_FILTERED"
    ]
    assert len(responses) == 1
    (response,) = responses
    assert response["StatusCode"] == "403"
    body = json.loads(response["ResponseTemplates"]["application/json"])
    assert body["code"] == "FORBIDDEN"


# --------------------------------------------------------------------------- alarms


def _alarm(env: SynthesizedEnvironment, suffix: str) -> tuple[str, dict[str, Any]]:
    name = f"telephone-status-{env.config.name}-{suffix}"
    found = [
        (logical_id, alarm["Properties"])
        for logical_id, alarm in env.resources_of_type("AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("AlarmName") == name
    ]
    assert len(found) == 1, f"guard: exactly one {name} alarm"
    return found[0]


def _notifies_the_topic_on_alarm_only(env: SynthesizedEnvironment, alarm: dict[str, Any]) -> None:
    topic_id, _ = env.only("AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [ref(topic_id)]
    assert "OKActions" not in alarm
    assert "InsufficientDataActions" not in alarm
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert "Why:" in alarm["AlarmDescription"]
    assert "Do:" in alarm["AlarmDescription"]


def test_budget_alarm_fires_on_the_first_refused_start(env: SynthesizedEnvironment) -> None:
    _, alarm = _alarm(env, "send-budget-exhausted")
    _notifies_the_topic_on_alarm_only(env, alarm)
    assert alarm["Namespace"] == _variables(env)["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["MetricName"] == "SendBudgetExhausted"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "telephone-status"}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 1
    assert str(env.config.max_sends_per_hour) in alarm["AlarmDescription"]


def _ratio_expression(alarm: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    queries = alarm["Metrics"]
    (returned,) = [q for q in queries if q.get("ReturnData", True)]
    inputs = {q["Id"]: q["MetricStat"] for q in queries if not q.get("ReturnData", True)}
    return returned["Expression"], inputs


def _evaluate(expression: str, **values: float) -> float:
    """CloudWatch metric math of this one shape (IF, AND, FILL, * <  >=) in Python."""
    assert "/" not in expression  # no division: a quiet hour is simply not breaching
    python = re.sub(r"FILL\((\w+), 0\)", r"\1", expression).replace(" AND ", " and ")
    match = re.fullmatch(r"IF\((.*), (\S+), (\S+)\)", python)
    assert match, f"guard: unexpected expression shape {expression!r}"
    condition, if_true, if_false = match.groups()
    assert re.fullmatch(r"[\w\s.*<>=]+", condition), condition
    # Our own template's text, reduced to arithmetic on two names; no builtins reachable.
    chosen = eval(condition, {"__builtins__": {}}, values)
    return float(if_true if chosen else if_false)


def test_verified_ratio_alarm_reads_sends_and_verified_starts(env: SynthesizedEnvironment) -> None:
    _, alarm = _alarm(env, "verified-ratio-low")
    _notifies_the_topic_on_alarm_only(env, alarm)
    assert alarm["Threshold"] == 1
    _, inputs = _ratio_expression(alarm)
    assert {stat["Metric"]["MetricName"] for stat in inputs.values()} == {
        "VerificationSends",
        "VerifiedStarts",
    }
    for stat in inputs.values():
        assert stat["Metric"]["Namespace"] == _variables(env)["POWERTOOLS_METRICS_NAMESPACE"]
        assert stat["Metric"]["Dimensions"] == [{"Name": "service", "Value": "telephone-status"}]
        assert stat["Stat"] == "Sum"
        # Longer than a verification lives, so a send and its check share the period.
        assert stat["Period"] >= env.config.verification_ttl_seconds


def test_verified_ratio_alarm_fires_only_with_enough_sends_below_the_floor(
    env: SynthesizedEnvironment,
) -> None:
    expression, inputs = _ratio_expression(_alarm(env, "verified-ratio-low")[1])
    ids = {stat["Metric"]["MetricName"]: query_id for query_id, stat in inputs.items()}
    sends_id, verified_id = ids["VerificationSends"], ids["VerifiedStarts"]
    floor = env.config.alarms.verified_per_sent_floor_percent
    minimum = env.config.alarms.sends_minimum_for_ratio

    def fires(sends: float, verified: float) -> bool:
        return _evaluate(expression, **{sends_id: sends, verified_id: verified}) == 1

    # Pumping: many sends, nobody types a code.
    assert fires(sends=10 * minimum, verified=0)
    # Honest traffic: most sends are verified.
    assert not fires(sends=10 * minimum, verified=8 * minimum)
    # Too few sends to judge, however bad; and a quiet hour.
    assert not fires(sends=minimum - 1, verified=0)
    assert not fires(sends=0, verified=0)
    # At the minimum: exactly at the floor is fine, just below it fires.
    sends = 100 * minimum
    at_floor = floor * minimum
    assert not fires(sends=sends, verified=at_floor)
    assert fires(sends=sends, verified=at_floor - 1)


# --------------------------------------------------------------------------- dashboard


def _dashboard_widgets(env: SynthesizedEnvironment) -> dict[str, dict[str, Any]]:
    _, dashboard = env.only("AWS::CloudWatch::Dashboard")
    body = json.loads(_render(dashboard["Properties"]["DashboardBody"]))
    return {w["properties"].get("title"): w for w in body["widgets"]}


def test_dashboard_shows_both_alarms_sends_per_channel_and_refusals_per_layer(
    env: SynthesizedEnvironment,
) -> None:
    widgets = _dashboard_widgets(env)
    namespace = env.config.metrics_namespace
    # Both alarms on the alarm status row.
    status = widgets["Alarms"]["properties"]["alarms"]
    for suffix in ("send-budget-exhausted", "verified-ratio-low"):
        alarm_id, _ = _alarm(env, suffix)
        assert _render(get_att(alarm_id, "Arn")) in status, suffix
    budget_id, _ = _alarm(env, "send-budget-exhausted")
    budget = widgets["Send budget exhausted (starts refused, 503)"]["properties"]
    assert budget["annotations"]["alarms"] == [_render(get_att(budget_id, "Arn"))]
    # Sends per channel, summed over whichever countries were sent to.
    per_channel = widgets["Verification sends per channel"]["properties"]["metrics"]
    channels = {}
    for (query,) in per_channel:
        expression = query["expression"]
        assert f'"{namespace}"' in expression
        assert 'MetricName="VerificationSends"' in expression
        assert "Country" in expression
        found = re.search(r'Channel="(\w+)"', expression)
        assert found, expression
        channels[found.group(1)] = query["label"]
    assert channels == {"sms": "sms", "call": "call"}
    # Refusals per layer.
    refusals = widgets["Start refusals per layer"]["properties"]["metrics"]
    layers = set()
    for metric in refusals:
        assert metric[:2] == [namespace, "StartRefused"]
        dimensions = dict(zip(metric[2:-1:2], metric[3:-1:2], strict=True))
        assert dimensions["service"] == "telephone-status"
        layers.add(dimensions["Layer"])
    assert layers == REFUSAL_LAYERS
    # The ratio, with the alarm's floor drawn in.
    ratio = widgets["Verified per sent (%, 1 h)"]["properties"]
    floor = env.config.alarms.verified_per_sent_floor_percent
    assert [a["value"] for a in ratio["annotations"]["horizontal"]] == [floor]
    names = {m[1] for m in ratio["metrics"] if isinstance(m[0], str)}
    assert names == {"VerificationSends", "VerifiedStarts"}


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
        (("startCountries",), ["us"], "two-letter upper-case region"),
        (("startCountries",), ["USA"], "two-letter upper-case region"),
        (("startCountries",), ["U1"], "two-letter upper-case region"),
        (("startCountries",), [" US"], "two-letter upper-case region"),
        (("startCountries",), ["US", "US"], "more than once"),
        (("startCountries",), "US", "startCountries"),
        (("codeLength",), 3, "must be 4 or 5"),
        (("codeLength",), 6, "must be 4 or 5"),
        (("codeLength",), "5", "codeLength"),
        (("codeLength",), 5.0, "codeLength"),
        (("codeLength",), True, "codeLength"),
        (("verificationTtlSeconds",), 59, "verificationTtlSeconds"),
        (("verificationTtlSeconds",), 86_401, "verificationTtlSeconds"),
        (("maxSendsPerPhone",), 0, "maxSendsPerPhone"),
        (("minSendIntervalSeconds",), 0, "minSendIntervalSeconds"),
        (("maxSendsPerPrefix",), 4, "maxSendsPerPrefix must be at least maxSendsPerPhone"),
        (("maxSendsPerHour",), 4, "maxSendsPerHour must be at least maxSendsPerPhone"),
        (("maxSendsPerHour",), "1000", "maxSendsPerHour"),
        (("acceptExternalReferences",), "false", "acceptExternalReferences"),
        (("waf", "startRateLimitPer5Minutes"), 300, "must be below rateLimitPer5Minutes"),
        (("waf", "startRateLimitPer5Minutes"), 9, "startRateLimitPer5Minutes"),
        (("alarms", "verifiedPerSentFloorPercent"), 0, "verifiedPerSentFloorPercent"),
        (("alarms", "verifiedPerSentFloorPercent"), 100, "verifiedPerSentFloorPercent"),
        (("alarms", "sendsMinimumForRatio"), 0, "sendsMinimumForRatio"),
    ],
)
def test_start_settings_are_validated(path: tuple[str, ...], value: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_environment(_dev_with(path, value), "dev")


@pytest.mark.parametrize(
    ("numbers", "message"),
    [
        # Real, reachable numbers: a listed number skips the upstream and has a known PIN.
        ({"+14155552671": "24680"}, "not a fictional number"),
        ({"+12025550200": "24680"}, "not a fictional number"),  # 555-0200: outside 0100-0199
        ({"+12025550099": "24680"}, "not a fictional number"),
        ({"+11025550123": "24680"}, "not a fictional number"),  # NXX may not start with 1
        ({"+447700901000": "24680"}, "not a fictional number"),  # past 900999
        ({"+447911123456": "24680"}, "not a fictional number"),
        ({"12025550123": "24680"}, "not a fictional number"),  # not E.164
        ({"+1 202 555 0123": "24680"}, "not a fictional number"),  # not the exact spelling
        ({"+12025550123": "0789"}, "3 to 5 digits"),
        ({"+12025550123": "98"}, "3 to 5 digits"),
        ({"+12025550123": "987654"}, "3 to 5 digits"),
        ({"+12025550123": 24680}, "3 to 5 digits"),
        (["+12025550123"], "testNumbers"),
    ],
)
def test_non_fictional_test_numbers_are_refused_at_synth(numbers: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        load_environment(_dev_with(("testNumbers",), numbers), "dev")
    # The settings' PINs never reach the error text (it ends up in terminals and CI logs).
    for pin in ("24680", "0789", "987654"):
        assert pin not in str(raised.value)


def test_the_route_cannot_be_closed_while_refusing_external_references() -> None:
    context = _dev_with(("startCountries",), [])
    context["environments"]["dev"]["acceptExternalReferences"] = False
    with pytest.raises(ConfigurationError, match="acceptExternalReferences false needs"):
        load_environment(context, "dev")
    context["environments"]["dev"]["startCountries"] = ["US"]
    assert load_environment(context, "dev").accept_external_references is False


def test_valid_start_settings_come_through() -> None:
    context = _dev_with(("startCountries",), ["US", "CA", "GB"])
    dev = context["environments"]["dev"]
    dev["codeLength"] = 4
    dev["testNumbers"] = {"+447700900999": "100", "+19995550100": "99999"}
    dev["waf"]["startRateLimitPer5Minutes"] = 10
    config = load_environment(context, "dev")
    assert config.start_countries == ["US", "CA", "GB"]
    assert config.start_countries_variable == "US,CA,GB"
    assert config.code_length == 4
    assert parse_test_numbers(config.test_numbers_variable) == dev["testNumbers"]
    assert config.waf.start_rate_limit_per_5_minutes == 10


def test_cdk_json_ships_dev_open_for_the_us_and_prod_closed() -> None:
    context = cdk_json_context()
    dev = load_environment(context, "dev")
    prod = load_environment(context, "prod")
    assert dev.start_countries == ["US"]
    assert dev.test_numbers
    assert all(is_fictional(number) for number in dev.test_numbers)
    assert prod.start_countries == []
    assert prod.test_numbers == {}
    for config in (dev, prod):
        assert config.waf.start_rate_limit_per_5_minutes < config.waf.rate_limit_per_5_minutes
        assert config.code_length in {4, 5}
