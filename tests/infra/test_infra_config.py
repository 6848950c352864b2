"""cdk.json environments and their validation (no synthesis needed)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import (
    API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS,
    ConfigurationError,
    cdk_json_context,
    check_region,
    known_environment_names,
    load_environment,
)

pytestmark = pytest.mark.xdist_group("infra")


@pytest.fixture
def context() -> dict[str, Any]:
    return copy.deepcopy(cdk_json_context())


def with_dev_setting(context: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    context["environments"]["dev"][key] = value
    return context


def test_cdk_json_defines_dev_and_prod(context: dict[str, Any]) -> None:
    assert {"dev", "prod"} <= set(known_environment_names(context))


def test_every_environment_in_cdk_json_is_valid(context: dict[str, Any]) -> None:
    for name in known_environment_names(context):
        config = load_environment(context, name)
        assert config.name == name
        assert config.stack_name == f"TelephoneStatus-{name}"
        assert config.timeout_seconds < API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS


def test_environments_differ_where_they_should(context: dict[str, Any]) -> None:
    dev = load_environment(context, "dev")
    prod = load_environment(context, "prod")
    assert prod.manage_api_gateway_account
    assert not dev.manage_api_gateway_account
    assert prod.is_retained
    assert not dev.is_retained
    assert prod.waf.enabled
    assert prod.api_key.enabled
    assert "*" not in prod.cors_allow_origins
    assert all(origin.startswith("https://") for origin in prod.cors_allow_origins)


def test_unknown_environment_lists_the_known_ones(context: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"Unknown environment 'qa'") as raised:
        load_environment(context, "qa")
    known = ", ".join(known_environment_names(context))
    assert f"Known environments: {known}" in str(raised.value)
    assert "dev" in known
    assert "prod" in known


@pytest.mark.parametrize("missing", [None, ""])
def test_missing_environment_tells_how_to_choose(context: dict[str, Any], missing: object) -> None:
    with pytest.raises(
        ConfigurationError, match=r"-c env=<name>.*Known environments: dev, "
    ) as raised:
        load_environment(context, missing)
    # Bootstrapping runs the app as well: the message names the way that passes it.
    assert "make bootstrap ENV=<name>" in str(raised.value)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timeoutSeconds", API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS, "timeoutSeconds"),
        ("corsAllowOrigins", ["*"], "is not an origin"),
        ("corsAllowOrigins", [], "corsAllowOrigins"),
        ("logRetentionDays", 10, "must be one of"),
        ("alarmEmail", "ops-at-example.com", "is not an e-mail address"),
        ("proxstopApiUrl", "http://api.proxstop.com", "https://"),
        ("proxstopFormat", "yaml", "proxstopFormat"),
        ("throttlingBurstLimit", 1, "at least throttlingRateLimit"),
        ("memmorySize", 512, "Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_are_rejected_with_the_field_named(
    context: dict[str, Any], key: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as raised:
        load_environment(with_dev_setting(context, key, value), "dev")
    assert "'dev'" in str(raised.value)


def test_secret_must_be_a_name_not_an_arn(context: dict[str, Any]) -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:proxstop-AbCdEf"
    context["environments"]["dev"]["secret"] = {"name": arn, "create": False}
    with pytest.raises(ConfigurationError, match="not an ARN"):
        load_environment(context, "dev")


def test_create_app_rejects_an_unknown_environment_before_building_anything() -> None:
    from infra.app import create_app  # noqa: PLC0415 (starts jsii; keep the other tests light)

    with pytest.raises(ConfigurationError, match=r"Unknown environment 'staging'.*dev, "):
        create_app(extra_context={"env": "staging"})
    with pytest.raises(ConfigurationError, match="No environment chosen"):
        create_app()


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARN", "ERROR"])
def test_every_log_level_keeps_metrics_and_report_lines(
    context: dict[str, Any], level: str
) -> None:
    # Lambda gives EMF lines (no "level") INFO; START/REPORT are INFO system lines.
    config = load_environment(with_dev_setting(context, "logLevel", level), "dev")
    assert config.lambda_application_log_level in {"TRACE", "DEBUG", "INFO"}
    assert config.lambda_system_log_level in {"DEBUG", "INFO"}
    # Powertools still applies the configured level to the log lines.
    assert config.log_level.value == level
    if level == "DEBUG":
        assert config.lambda_application_log_level == "DEBUG"


@pytest.mark.parametrize("origins", [["https://a.example.com", "https://b.example.com"]])
def test_several_origins_without_the_waf_are_refused(
    context: dict[str, Any], origins: list[str]
) -> None:
    context = with_dev_setting(context, "corsAllowOrigins", origins)
    context["environments"]["dev"]["waf"] = {"enabled": False}
    with pytest.raises(ConfigurationError, match=r"waf\.enabled"):
        load_environment(context, "dev")
    context["environments"]["dev"]["corsAllowOrigins"] = origins[:1]
    assert load_environment(context, "dev").cors_allow_origins == origins[:1]


def test_metrics_namespace_names_the_environment(context: dict[str, Any]) -> None:
    names = known_environment_names(context)
    namespaces = {load_environment(context, name).metrics_namespace for name in names}
    assert len(namespaces) == len(names)


def test_snap_start_is_off_unless_an_environment_chooses_it(context: dict[str, Any]) -> None:
    del context["environments"]["dev"]["snapStart"]
    assert load_environment(context, "dev").snap_start is False  # it costs money: opt-in
    assert load_environment(with_dev_setting(context, "snapStart", True), "dev").snap_start


@pytest.mark.parametrize("value", ["yes", 2, None])
def test_snap_start_must_be_a_boolean(context: dict[str, Any], value: object) -> None:
    with pytest.raises(ConfigurationError, match="snapStart"):
        load_environment(with_dev_setting(context, "snapStart", value), "dev")


@pytest.mark.parametrize(
    "token",
    [
        {"ttlSeconds": 0},
        {"ttlSeconds": 86_401},
        {"ttlSeconds": "600s"},
        {"issuer": ""},
        {"issuer": " https://api.example.com"},
        {"audience": "line\nbreak"},
        {"audiences": ["x"]},
    ],
)
def test_invalid_token_settings_are_rejected(context: dict[str, Any], token: object) -> None:
    with pytest.raises(ConfigurationError, match="token"):
        load_environment(with_dev_setting(context, "token", token), "dev")


def test_token_settings_default_to_the_api_url_and_ten_minutes(context: dict[str, Any]) -> None:
    del context["environments"]["dev"]["token"]
    token = load_environment(context, "dev").token
    assert (token.issuer, token.audience, token.ttl_seconds) == (None, None, 600)
    custom = {"issuer": "https://id.example.com", "audience": "backend", "ttlSeconds": 300}
    token = load_environment(with_dev_setting(context, "token", custom), "dev").token
    assert (token.issuer, token.audience, token.ttl_seconds) == (
        "https://id.example.com",
        "backend",
        300,
    )


@pytest.mark.parametrize(("dev_owns", "prod_owns"), [(True, True), (False, False)])
def test_exactly_one_environment_manages_the_api_gateway_account(
    context: dict[str, Any], dev_owns: bool, prod_owns: bool
) -> None:
    context["environments"]["dev"]["manageApiGatewayAccount"] = dev_owns
    context["environments"]["prod"]["manageApiGatewayAccount"] = prod_owns
    with pytest.raises(ConfigurationError, match="exactly one environment") as raised:
        load_environment(context, "dev")
    assert ("dev, prod" if dev_owns else "none") in str(raised.value)


@pytest.mark.parametrize("value", ["true", 1])
def test_manage_api_gateway_account_must_be_a_boolean(
    context: dict[str, Any], value: object
) -> None:
    context["environments"]["prod"]["manageApiGatewayAccount"] = False
    context["environments"]["dev"]["manageApiGatewayAccount"] = value
    # Not counted as the owner (exact spelling only), so no environment owns it.
    with pytest.raises(ConfigurationError, match="exactly one environment"):
        load_environment(context, "dev")
    context["environments"]["prod"]["manageApiGatewayAccount"] = True
    with pytest.raises(ConfigurationError, match="manageApiGatewayAccount"):
        load_environment(context, "dev")


@pytest.mark.parametrize(
    ("region", "offered"),
    [("eu-west-1", True), ("us-east-1", True), ("ap-east-2", False), ("us-gov-west-1", False)],
)
def test_snap_start_is_checked_against_the_target_region(
    context: dict[str, Any], region: str, offered: bool
) -> None:
    prod = load_environment(context, "prod")
    assert prod.snap_start
    if offered:
        check_region(prod, region)
    else:
        with pytest.raises(ConfigurationError, match="snapStart"):
            check_region(prod, region)
    check_region(load_environment(context, "dev"), region)  # no SnapStart: any region
    check_region(prod, None)  # region unknown at synth: preflight checks it
