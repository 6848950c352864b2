"""SPEC §2: the function's configuration from environment variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from telephone_status.settings import Settings

SECRET = {"PROXSTOP_SECRET_ID": "proxstop/api-key"}


def test_defaults() -> None:
    settings = Settings.from_environment(SECRET)
    assert settings.secret_id == "proxstop/api-key"
    assert settings.api_url == "https://api.proxstop.com"
    assert settings.upstream_format == "json"
    assert settings.attempts_table_name is None
    assert settings.max_code_attempts == 5
    assert settings.max_code_checks == 20
    assert settings.secret_max_age_seconds == 300
    assert settings.cors_allow_origins == ("*",)


def test_every_variable_is_read() -> None:
    settings = Settings.from_environment(
        {
            "PROXSTOP_SECRET_ID": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
            "PROXSTOP_API_URL": "http://127.0.0.1:8080/proxstop/",
            "PROXSTOP_FORMAT": "xml",
            "ATTEMPTS_TABLE_NAME": "attempts-dev",
            "MAX_CODE_ATTEMPTS": "3",
            "MAX_CODE_CHECKS": "12",
            "SECRET_MAX_AGE_SECONDS": "60",
            "CORS_ALLOW_ORIGINS": "https://app.example.com",
            "TOKEN_SIGNING_KEY_ID": "alias/telephone-status-dev-tokens",
            "TOKEN_ISSUER": "https://api.example.com/dev",
            "TOKEN_AUDIENCE": "https://backend.example.com",
            "TOKEN_TTL_SECONDS": "900",
            "START_COUNTRIES": "US, CA,GB",
            "CODE_LENGTH": "4",
            "VERIFICATION_TTL_SECONDS": "300",
            "MAX_SENDS_PER_PHONE": "3",
            "MIN_SEND_INTERVAL_SECONDS": "45",
            "MAX_SENDS_PER_PREFIX": "10",
            "MAX_SENDS_PER_HOUR": "250",
            "TEST_NUMBERS": '{"+12025550123": "24680"}',
            "ACCEPT_EXTERNAL_REFERENCES": "false",
            "UNRELATED": "ignored",
        }
    )
    assert settings.model_dump() == {
        "secret_id": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
        "api_url": "http://127.0.0.1:8080/proxstop",  # trailing slash dropped: paths are appended
        "upstream_format": "xml",
        "attempts_table_name": "attempts-dev",
        "max_code_attempts": 3,
        "max_code_checks": 12,
        "secret_max_age_seconds": 60,
        "cors_allow_origins": ("https://app.example.com",),
        "token_signing_key_id": "alias/telephone-status-dev-tokens",
        "token_issuer": "https://api.example.com/dev",
        "token_audience": "https://backend.example.com",
        "token_ttl_seconds": 900,
        "start_countries": frozenset({"US", "CA", "GB"}),
        "code_length": 4,
        "verification_ttl_seconds": 300,
        "max_sends_per_phone": 3,
        "min_send_interval_seconds": 45,
        "max_sends_per_prefix": 10,
        "max_sends_per_hour": 250,
        "test_numbers": {"+12025550123": "24680"},
        "accept_external_references": False,
    }


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXSTOP_SECRET_ID", "from-env")
    monkeypatch.setenv("PROXSTOP_FORMAT", "xml")
    settings = Settings.from_environment()
    assert (settings.secret_id, settings.upstream_format) == ("from-env", "xml")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("json", "json"), ("JSON", "json"), ("Xml", "xml"), (" xml ", "xml"), ("XML", "xml")],
)
def test_format_is_case_insensitive(given: str, expected: str) -> None:
    assert Settings.from_environment({**SECRET, "PROXSTOP_FORMAT": given}).upstream_format == (
        expected
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROXSTOP_FORMAT", "yaml"),
        ("PROXSTOP_FORMAT", ""),
        ("PROXSTOP_FORMAT", "json,xml"),
        ("MAX_CODE_ATTEMPTS", "0"),
        ("MAX_CODE_ATTEMPTS", "-1"),
        ("MAX_CODE_ATTEMPTS", "abc"),
        ("MAX_CODE_ATTEMPTS", "2.5"),
        ("MAX_CODE_ATTEMPTS", ""),
        ("SECRET_MAX_AGE_SECONDS", "-1"),
        ("SECRET_MAX_AGE_SECONDS", "soon"),
        ("PROXSTOP_API_URL", "api.proxstop.com"),
        ("PROXSTOP_API_URL", "//api.proxstop.com"),
        ("PROXSTOP_API_URL", "ftp://api.proxstop.com"),
        ("PROXSTOP_API_URL", "https://api.proxstop.com?key=x"),
        ("PROXSTOP_API_URL", "https://api.proxstop.com/?key=x"),
        ("PROXSTOP_API_URL", ""),
        ("PROXSTOP_SECRET_ID", ""),
    ],
)
def test_invalid_values_are_rejected(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings.from_environment({**SECRET, name: value})
    assert [error["loc"] for error in info.value.errors()] == [(name,)]


def test_secret_id_is_required() -> None:
    with pytest.raises(ValidationError) as info:
        Settings.from_environment({"PROXSTOP_FORMAT": "json"})
    assert [error["loc"] for error in info.value.errors()] == [("PROXSTOP_SECRET_ID",)]


@pytest.mark.parametrize("value", ["1", "5", "1000"])
def test_max_code_attempts_within_range(value: str) -> None:
    settings = Settings.from_environment({**SECRET, "MAX_CODE_ATTEMPTS": value})
    assert settings.max_code_attempts == int(value)


def test_secret_max_age_zero_is_allowed() -> None:
    assert (
        Settings.from_environment({**SECRET, "SECRET_MAX_AGE_SECONDS": "0"}).secret_max_age_seconds
        == 0
    )


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_blank_attempts_table_name_turns_the_limit_off(value: str) -> None:
    assert (
        Settings.from_environment({**SECRET, "ATTEMPTS_TABLE_NAME": value}).attempts_table_name
        is None
    )


def test_attempts_table_name_is_trimmed() -> None:
    settings = Settings.from_environment({**SECRET, "ATTEMPTS_TABLE_NAME": " attempts "})
    assert settings.attempts_table_name == "attempts"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("*", ("*",)),
        ("https://a.example.com", ("https://a.example.com",)),
        (
            "https://a.example.com, https://b.example.com ,http://localhost:3000",
            ("https://a.example.com", "https://b.example.com", "http://localhost:3000"),
        ),
        ("https://a.example.com,,", ("https://a.example.com",)),
        ("", ()),
    ],
)
def test_cors_allow_origins_is_a_comma_separated_list(
    value: str, expected: tuple[str, ...]
) -> None:
    settings = Settings.from_environment({**SECRET, "CORS_ALLOW_ORIGINS": value})
    assert settings.cors_allow_origins == expected


def test_settings_are_frozen() -> None:
    settings = Settings.from_environment(SECRET)
    with pytest.raises(ValidationError):
        settings.max_code_attempts = 1000  # type: ignore[misc]


# --- PROXSTOP_API_URL: https, or http to a loopback host only (issue 11, item 11) ----------

ACCEPTED_URLS = [
    ("https://api.proxstop.com", "https://api.proxstop.com"),
    ("HTTPS://api.proxstop.com/", "https://api.proxstop.com"),
    ("https://10.0.0.5:8443/base", "https://10.0.0.5:8443/base"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://127.255.0.9", "http://127.255.0.9"),
    ("HTTP://127.0.0.1:9/", "http://127.0.0.1:9"),
    ("http://localhost:3001", "http://localhost:3001"),
    ("http://LocalHost", "http://localhost"),
    ("http://[::1]:8080/x", "http://[::1]:8080/x"),
]
REFUSED_URLS = [
    "http://api.proxstop.com",
    "http://10.0.0.5",
    "http://0.0.0.0:8080",
    "http://127.0.0.1.evil.example",
    "http://localhost.evil.example",
    "http://evil.example/127.0.0.1",
    "http://127.0.0.1@evil.example",
    "http://user:pw@127.0.0.1",
    "http://[::ffff:127.0.0.1]",
    "http://[::]",
    "http://2130706433",
    "http://127.1",
    "http://0x7f000001",
    "http://\uff11\uff12\uff17.0.0.1",
    "http://localhost\u3002",
    "http://",
    "https://",
    "https://api.proxstop.com#x",
    "https://api.proxstop.com/ x",
    "httpx://127.0.0.1",
    "ws://127.0.0.1",
]


@pytest.mark.parametrize(("given", "expected"), ACCEPTED_URLS)
def test_https_or_loopback_http_urls_are_accepted(given: str, expected: str) -> None:
    assert Settings.from_environment({**SECRET, "PROXSTOP_API_URL": given}).api_url == expected


@pytest.mark.parametrize("url", REFUSED_URLS, ids=repr)
def test_urls_that_could_send_the_key_in_clear_or_elsewhere_are_refused(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings.from_environment({**SECRET, "PROXSTOP_API_URL": url})
    assert [error["loc"] for error in info.value.errors()] == [("PROXSTOP_API_URL",)]


def test_tokens_are_off_by_default() -> None:
    settings = Settings.from_environment(SECRET)
    assert settings.token_signing_key_id is None
    assert (settings.token_issuer, settings.token_audience) == (None, None)
    assert settings.token_ttl_seconds == 600


@pytest.mark.parametrize("issuer", [None, "", "   "])
def test_a_signing_key_needs_an_issuer(issuer: str | None) -> None:
    environ = {**SECRET, "TOKEN_SIGNING_KEY_ID": "alias/tokens"}
    if issuer is not None:
        environ["TOKEN_ISSUER"] = issuer
    with pytest.raises(ValidationError, match="TOKEN_ISSUER"):
        Settings.from_environment(environ)


def test_blank_token_settings_are_unset() -> None:
    settings = Settings.from_environment(
        {**SECRET, "TOKEN_SIGNING_KEY_ID": " ", "TOKEN_AUDIENCE": "", "TOKEN_ISSUER": " x "}
    )
    assert (settings.token_signing_key_id, settings.token_audience) == (None, None)
    assert settings.token_issuer == "x"


@pytest.mark.parametrize("ttl", ["0", "29", "-600", "86401", "1e3", "six hundred", "600.5"])
def test_token_ttl_is_bounded(ttl: str) -> None:
    with pytest.raises(ValidationError):
        Settings.from_environment({**SECRET, "TOKEN_TTL_SECONDS": ttl})


@pytest.mark.parametrize("ttl", ["30", "600", "86400"])
def test_token_ttl_in_bounds(ttl: str) -> None:
    assert Settings.from_environment({**SECRET, "TOKEN_TTL_SECONDS": ttl}).token_ttl_seconds == int(
        ttl
    )


def test_the_sam_env_vars_file_is_a_valid_configuration_without_limit_or_tokens() -> None:
    path = Path(__file__).parents[2] / "events" / "sam" / "env-vars.json"
    environ = json.loads(path.read_text())["TelephoneStatusFunction"]
    settings = Settings.from_environment(environ)
    assert settings.attempts_table_name is None
    assert settings.token_signing_key_id is None
    assert settings.token_issuer is None
    # Without the table there is no fraud guard: the start route must be off too.
    assert not settings.starts_enabled
    assert settings.accept_external_references is True


def test_start_defaults() -> None:
    settings = Settings.from_environment(SECRET)
    assert not settings.starts_enabled
    assert settings.start_countries == frozenset()
    assert (settings.code_length, settings.verification_ttl_seconds) == (5, 600)
    assert (settings.max_sends_per_phone, settings.min_send_interval_seconds) == (5, 30)
    assert (settings.max_sends_per_prefix, settings.max_sends_per_hour) == (20, 1000)
    assert settings.test_numbers == {}
    assert settings.accept_external_references is True


@pytest.mark.parametrize("blank", ["", " ", ",", " , "])
def test_blank_countries_turn_the_route_off(blank: str) -> None:
    settings = Settings.from_environment(
        {**SECRET, "START_COUNTRIES": blank, "ATTEMPTS_TABLE_NAME": "t"}
    )
    assert not settings.starts_enabled


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("START_COUNTRIES", "us"),
        ("START_COUNTRIES", "USA"),
        ("START_COUNTRIES", "U1"),
        ("CODE_LENGTH", "3"),
        ("CODE_LENGTH", "6"),
        ("CODE_LENGTH", "5.0"),
        ("CODE_LENGTH", "\u0665"),
        ("VERIFICATION_TTL_SECONDS", "0"),
        ("VERIFICATION_TTL_SECONDS", "1_000"),
        ("MAX_SENDS_PER_PHONE", "0"),
        ("MIN_SEND_INTERVAL_SECONDS", "-1"),
        ("MAX_SENDS_PER_PREFIX", "0"),
        ("MAX_SENDS_PER_HOUR", "0"),
        ("MAX_SENDS_PER_HOUR", "+5"),
        ("TEST_NUMBERS", '{"+12025551234": "24680"}'),
        ("TEST_NUMBERS", '{"+12025550123": "02468"}'),
        ("TEST_NUMBERS", "not json"),
        ("ACCEPT_EXTERNAL_REFERENCES", "no"),
        ("ACCEPT_EXTERNAL_REFERENCES", "0"),
        ("ACCEPT_EXTERNAL_REFERENCES", "TRUE"),
    ],
)
def test_bad_start_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings.from_environment({**SECRET, "ATTEMPTS_TABLE_NAME": "t", name: value})


@pytest.mark.parametrize(
    "environment",
    [{"START_COUNTRIES": "US"}, {"ACCEPT_EXTERNAL_REFERENCES": "false"}],
)
def test_starts_and_started_only_checks_need_the_table(environment: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="ATTEMPTS_TABLE_NAME"):
        Settings.from_environment({**SECRET, **environment})
