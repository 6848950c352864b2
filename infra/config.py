"""Per-environment settings, read from the ``environments`` object in ``cdk.json`` context.

The model is pure pydantic (no aws_cdk import) so that a bad ``-c env=`` or a typo in
``cdk.json`` fails in milliseconds, before the jsii runtime starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from telephone_status.test_numbers import parse_test_numbers

from infra.regions import snap_start_offered, snap_start_refusal

CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"
ENVIRONMENTS_CONTEXT_KEY = "environments"
ENV_NAME_CONTEXT_KEY = "env"
# `-c firstCreate=true`: this deploy creates the stack (tools/deploy sets it when the stack does
# not exist yet). A failed first create must stay deletable and retryable, so termination
# protection and the table's deletion protection wait for the next deploy (docs/deploy.md).
FIRST_CREATE_CONTEXT_KEY = "firstCreate"

# API Gateway gives up on a Lambda integration after 29 s; the function must answer first.
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 29

# The values CloudWatch Logs accepts for RetentionInDays.
LOG_RETENTION_DAYS_ALLOWED = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192}
    | {2557, 2922, 3288, 3653}
)

_ENV_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_ORIGIN_PATTERN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_HTTPS_BASE_URL_PATTERN = re.compile(
    r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-])?$"
)
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# ISO 3166-1 alpha-2 region codes, exactly as libphonenumber names regions.
_REGION_PATTERN = re.compile(r"^[A-Z]{2}$")
# Lengths of a generated PIN; the upstream takes 100-99999 (docs/configuration.md).
CODE_LENGTHS = frozenset({4, 5})
# Secrets Manager secret names: letters, digits and /_+=.@- (ARNs are refused separately).
_SECRET_NAME_PATTERN = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


class ConfigurationError(ValueError):
    """The chosen environment is unknown or its settings are invalid."""


class RemovalPolicyName(StrEnum):
    """What happens to stateful resources (table, secret, logs, key) on stack deletion."""

    DESTROY = "destroy"
    RETAIN = "retain"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class _Model(BaseModel):
    # cdk.json uses camelCase like the rest of the CDK context; Python code uses snake_case.
    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class ApiKeyConfig(_Model):
    """API key + usage plan in front of the API (clients then send ``x-api-key``)."""

    enabled: bool = False
    # Requests per day per key; None (the default) means no quota, only the throttle. The one
    # key ships inside every client, so a quota on it lets anyone lock every user out for a
    # day: set one only with per-client keys (docs/security.md#api-keys-and-quotas).
    quota_per_day: Annotated[int, Field(gt=0)] | None = None


class WafConfig(_Model):
    """Regional WAFv2 web ACL: AWS managed rule groups, a per-client-IP rate rule, logging."""

    enabled: bool = False
    # WAF counts requests per IP over a sliding 5-minute window (minimum limit is 10).
    rate_limit_per_5_minutes: Annotated[int, Field(ge=10, le=2_000_000_000)] = 500
    # The same, counting only POST /v1/verifications (each one may cost an SMS or a call):
    # stricter than the API-wide limit (docs/security.md#fraud-guard).
    start_rate_limit_per_5_minutes: Annotated[int, Field(ge=10, le=2_000_000_000)] = 50

    @model_validator(mode="after")
    def _start_limit_is_stricter(self) -> WafConfig:
        # A start limit at or above the API-wide one would never be the one that blocks.
        if self.start_rate_limit_per_5_minutes >= self.rate_limit_per_5_minutes:
            raise ValueError("startRateLimitPer5Minutes must be below rateLimitPer5Minutes")
        return self


class SecretConfig(_Model):
    """Where the ProxStop API key lives."""

    name: str
    # True: the stack creates the secret with a placeholder value (the operator then puts
    # the real key in). False: the secret already exists and is imported by name.
    create: bool = True

    @field_validator("name")
    @classmethod
    def _valid_secret_name(cls, value: str) -> str:
        if not _SECRET_NAME_PATTERN.fullmatch(value) or value.startswith("arn:"):
            raise ValueError("must be a Secrets Manager secret name (not an ARN)")
        return value


class TokenConfig(_Model):
    """Verification tokens (docs/api.md#verification-token); the KMS key is made per environment."""

    # None: the API's own base URL (https://<id>.execute-api.<region>.<suffix>/<stage>).
    issuer: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    # None: tokens carry no `aud`.
    audience: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    ttl_seconds: Annotated[int, Field(ge=30, le=86_400)] = 600

    @field_validator("issuer", "audience")
    @classmethod
    def _no_blank_or_padded(cls, value: str | None) -> str | None:
        if value is not None and (value != value.strip() or not value.isprintable()):
            raise ValueError("must be printable text without surrounding whitespace")
        return value


class AlarmThresholds(_Model):
    api_p99_latency_ms: Annotated[int, Field(gt=0)] = 5000
    # Share of requests answered with a 5xx over 5 minutes, in percent.
    api_server_error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 5.0
    upstream_failures_per_5_minutes: Annotated[int, Field(ge=1)] = 5
    # Alarm when the slowest invocations get this close to the configured timeout.
    duration_percent_of_timeout: Annotated[int, Field(ge=10, le=100)] = 80
    # Share of requests answered with a 4xx (bad API key, throttling, WAF, unknown ids, ...).
    api_client_error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 50.0
    # Rate alarms stay quiet below this many requests in 5 minutes: one failure in a quiet
    # window would otherwise be 100 %.
    minimum_requests_for_rate: Annotated[int, Field(ge=1)] = 20
    # Count alarms fire on a few events, never on a single one.
    function_errors_per_5_minutes: Annotated[int, Field(ge=2)] = 3
    function_throttles_per_5_minutes: Annotated[int, Field(ge=2)] = 5
    upstream_rejected_per_5_minutes: Annotated[int, Field(ge=2)] = 3
    # Abuse sentinel (infra/abuse_sentinel.py): alarm when, in one 15-minute period with at
    # least pin_checks_minimum PIN checks, fewer than this share of them found the right PIN
    # (brute forcing, SMS pumping: many checks that never succeed).
    pin_success_floor_percent: Annotated[float, Field(gt=0, lt=100)] = 20.0
    pin_checks_minimum: Annotated[int, Field(ge=1)] = 30
    # Fraud guard (infra/fraud_guard.py): alarm when, in one hour with at least
    # sends_minimum_for_ratio sends, fewer than this share of them were verified (pumped
    # numbers never type the code).
    verified_per_sent_floor_percent: Annotated[float, Field(gt=0, lt=100)] = 30.0
    sends_minimum_for_ratio: Annotated[int, Field(ge=1)] = 30


class EnvironmentConfig(_Model):
    """Everything that differs between deployments of the same stack."""

    # Errors name the setting and the rule, never the value: testNumbers holds PINs.
    model_config = ConfigDict(hide_input_in_errors=True)  # merged with _Model's

    name: str
    throttling_rate_limit: Annotated[float, Field(gt=0)]
    throttling_burst_limit: Annotated[int, Field(gt=0)]
    cors_allow_origins: Annotated[list[str], Field(min_length=1)]
    memory_size: Annotated[int, Field(ge=128, le=10240)]
    timeout_seconds: Annotated[int, Field(ge=3, lt=API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS)]
    # None: no reserved concurrency (the function shares the account's unreserved pool). Lambda
    # keeps 100 of the account's concurrency unreserved, and a new account's quota may be 10:
    # set it only once `make preflight` confirms the quota leaves room (docs/deploy.md).
    reserved_concurrency: Annotated[int, Field(ge=1)] | None = None
    log_retention_days: int
    log_level: LogLevel = LogLevel.INFO
    alarm_email: str | None = None
    api_key: ApiKeyConfig = ApiKeyConfig()
    waf: WafConfig = WafConfig()
    secret: SecretConfig
    removal_policy: RemovalPolicyName = RemovalPolicyName.RETAIN
    proxstop_api_url: str = "https://api.proxstop.com"
    proxstop_format: Literal["json", "xml"] = "json"
    max_code_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    # All PIN checks (repeats included) per reference id and window (docs/api.md#pin-attempt-limit).
    max_code_checks: Annotated[int, Field(ge=1, le=1000)] = 20
    secret_max_age_seconds: Annotated[int, Field(ge=0, le=86_400)] = 300
    alarms: AlarmThresholds = AlarmThresholds()
    # Lambda SnapStart on a published version behind a `live` alias. Off unless chosen: it adds
    # snapshot cache and restore charges (docs/operations.md#snapstart).
    snap_start: Annotated[bool, Field(strict=True)] = False
    token: TokenConfig = TokenConfig()
    # Starting verifications (docs/api.md#starting-a-verification) and the fraud guard
    # (docs/security.md#fraud-guard); each becomes one function variable
    # (docs/configuration.md). Regions the route may send to; empty: the route is off.
    start_countries: list[str] = []
    code_length: Annotated[int, Field(strict=True)] = 5
    # At most the 24-hour attempt window: a verification never outlives its attempt counter.
    verification_ttl_seconds: Annotated[int, Field(strict=True, ge=60, le=86_400)] = 600
    max_sends_per_phone: Annotated[int, Field(strict=True, ge=1, le=100)] = 5
    min_send_interval_seconds: Annotated[int, Field(strict=True, ge=1, le=3600)] = 30
    max_sends_per_prefix: Annotated[int, Field(strict=True, ge=1, le=1000)] = 20
    # The cost circuit breaker: sends per clock hour for the whole environment.
    max_sends_per_hour: Annotated[int, Field(strict=True, ge=1, le=1_000_000)] = 1000
    # Fictional numbers and their fixed PINs (app-store review, automated tests).
    test_numbers: dict[str, str] = {}
    accept_external_references: Annotated[bool, Field(strict=True)] = True
    # The account-wide API Gateway CloudWatch Logs role (AWS::ApiGateway::Account): one stack per
    # account and region may own it, so exactly one environment in cdk.json says true; the
    # others need the role set already (`make preflight` checks; docs/deploy.md).
    manage_api_gateway_account: Annotated[bool, Field(strict=True)] = False

    @field_validator("name")
    @classmethod
    def _valid_env_name(cls, value: str) -> str:
        # The name ends up in the stack name, the stage name and resource names.
        if not _ENV_NAME_PATTERN.fullmatch(value):
            raise ValueError("must be lower-case letters, digits and '-', starting with a letter")
        return value

    @field_validator("cors_allow_origins")
    @classmethod
    def _valid_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            # "*" would let any site read responses; an allow-list is the point.
            if not _ORIGIN_PATTERN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return value

    @field_validator("proxstop_api_url")
    @classmethod
    def _valid_upstream_url(cls, value: str) -> str:
        # The key travels in the request body: never send it over plain HTTP.
        if not _HTTPS_BASE_URL_PATTERN.fullmatch(value):
            raise ValueError("must be an https:// base URL without query or trailing slash")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _valid_retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS_ALLOWED:
            allowed = ", ".join(str(days) for days in sorted(LOG_RETENTION_DAYS_ALLOWED))
            raise ValueError(f"must be one of {allowed}")
        return value

    @field_validator("alarm_email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("start_countries")
    @classmethod
    def _valid_regions(cls, value: list[str]) -> list[str]:
        for region in value:
            if not _REGION_PATTERN.fullmatch(region):
                raise ValueError(f"{region!r} is not a two-letter upper-case region like 'US'")
        if len(set(value)) != len(value):
            raise ValueError("lists a region more than once")
        return value

    @field_validator("code_length")
    @classmethod
    def _valid_code_length(cls, value: int) -> int:
        if value not in CODE_LENGTHS:
            raise ValueError("must be 4 or 5")
        return value

    @field_validator("test_numbers", mode="before")
    @classmethod
    def _only_fictional_test_numbers(cls, value: object) -> dict[str, str]:
        # The function's own parser, on exactly the text the function will receive: a list
        # that synthesises is a list the function accepts, and the other way round.
        if not isinstance(value, Mapping):
            raise ValueError("must be an object of phone numbers and PINs")
        return parse_test_numbers(_test_numbers_json(value))

    @model_validator(mode="after")
    def _send_limits_leave_one_number_its_sends(self) -> EnvironmentConfig:
        # A range or environment limit below the per-number one would make the latter a
        # dead letter, and one user could exhaust a range.
        if self.max_sends_per_prefix < self.max_sends_per_phone:
            raise ValueError("maxSendsPerPrefix must be at least maxSendsPerPhone")
        if self.max_sends_per_hour < self.max_sends_per_phone:
            raise ValueError("maxSendsPerHour must be at least maxSendsPerPhone")
        return self

    @model_validator(mode="after")
    def _some_reference_can_be_checked(self) -> EnvironmentConfig:
        # With the start route off, refusing external references would refuse every check.
        if not self.accept_external_references and not self.start_countries:
            raise ValueError(
                "acceptExternalReferences false needs startCountries: with the start route "
                "off, no PIN check could succeed"
            )
        return self

    @model_validator(mode="after")
    def _checks_cover_attempts(self) -> EnvironmentConfig:
        # Fewer checks than distinct PINs would make maxCodeAttempts a dead letter.
        if self.max_code_checks < self.max_code_attempts:
            raise ValueError("maxCodeChecks must be at least maxCodeAttempts")
        return self

    @model_validator(mode="after")
    def _burst_covers_rate(self) -> EnvironmentConfig:
        if self.throttling_burst_limit < self.throttling_rate_limit:
            raise ValueError("throttlingBurstLimit must be at least throttlingRateLimit")
        return self

    @model_validator(mode="after")
    def _several_origins_need_the_waf(self) -> EnvironmentConfig:
        # API Gateway's own error responses can only carry a literal or a request header; with
        # several origins they reflect the Origin header, which is sound only while the WAF
        # blocks every request whose Origin is outside the allow-list (docs/security.md#cors).
        if len(self.cors_allow_origins) > 1 and not self.waf.enabled:
            raise ValueError(
                "several corsAllowOrigins need waf.enabled (the WAF enforces the allow-list "
                "for API Gateway's own error responses); or list a single origin"
            )
        return self

    @property
    def start_countries_variable(self) -> str:
        """START_COUNTRIES: comma-separated regions; empty turns the start route off."""
        return ",".join(self.start_countries)

    @property
    def test_numbers_variable(self) -> str:
        """TEST_NUMBERS: the JSON object the function parses (``{}`` for none)."""
        return _test_numbers_json(self.test_numbers)

    @property
    def stack_name(self) -> str:
        return f"TelephoneStatus-{self.name}"

    @property
    def is_retained(self) -> bool:
        return self.removal_policy is RemovalPolicyName.RETAIN

    @property
    def metrics_namespace(self) -> str:
        """Custom metrics per environment: dev traffic can never move a prod alarm."""
        return f"TelephoneStatus/{self.name}"

    @property
    def lambda_application_log_level(self) -> str:
        """Lambda's own filter on application lines: never above INFO.

        Lambda gives every JSON line without a "level" (the EMF metric documents Powertools
        prints) the level INFO; a WARN or ERROR filter would drop them and the custom metrics
        with them. Powertools (POWERTOOLS_LOG_LEVEL) applies ``log_level`` to the log lines.
        """
        return LogLevel.DEBUG.value if self.log_level is LogLevel.DEBUG else LogLevel.INFO.value

    @property
    def lambda_system_log_level(self) -> str:
        """INFO keeps START and REPORT (Init Duration, Max Memory Used); WARN drops them."""
        return LogLevel.INFO.value


def _test_numbers_json(numbers: Mapping[str, object]) -> str:
    return json.dumps(dict(numbers), separators=(",", ":"), sort_keys=True)


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The ``context`` object of cdk.json (what the CDK CLI would pass to the app)."""
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    if not isinstance(context, dict):
        raise ConfigurationError(f"{path}: 'context' must be an object")
    return context


def known_environment_names(context: Mapping[str, Any]) -> list[str]:
    environments = context.get(ENVIRONMENTS_CONTEXT_KEY)
    return sorted(environments) if isinstance(environments, Mapping) else []


def _check_one_api_gateway_account_owner(environments: Mapping[str, Any]) -> None:
    owners = sorted(
        name
        for name, raw in environments.items()
        if isinstance(raw, Mapping) and raw.get("manageApiGatewayAccount") is True
    )
    if len(owners) != 1:
        raise ConfigurationError(
            'exactly one environment in cdk.json must set "manageApiGatewayAccount": true '
            "(it owns the account-wide API Gateway CloudWatch Logs role); found "
            + (", ".join(owners) if owners else "none")
        )


def first_create(context_value: object) -> bool:
    """The ``firstCreate`` context value: exactly true/false (bool or the CLI's string)."""
    if context_value is None or context_value is False or context_value == "false":
        return False
    if context_value is True or context_value == "true":
        return True
    raise ConfigurationError(
        f"-c {FIRST_CREATE_CONTEXT_KEY}= takes true or false, not {context_value!r}"
    )


def check_region(config: EnvironmentConfig, region: str | None) -> None:
    """Refuses settings the target region cannot honour (None: region unknown at synth)."""
    if region is not None and config.snap_start and not snap_start_offered(region):
        raise ConfigurationError(f"environment {config.name!r}: {snap_start_refusal(region)}")


def load_environment(context: Mapping[str, Any], env_name: object) -> EnvironmentConfig:
    """Validate and return the settings of ``env_name`` from the CDK context.

    Raises ConfigurationError naming the known environments when ``env_name`` is missing
    or unknown, or listing every invalid setting.
    """
    known = known_environment_names(context)
    choices = ", ".join(known) if known else f"(none: cdk.json has no '{ENVIRONMENTS_CONTEXT_KEY}')"
    if not isinstance(env_name, str) or not env_name:
        raise ConfigurationError(
            f"No environment chosen: pass -c {ENV_NAME_CONTEXT_KEY}=<name> (every CDK CLI "
            "command runs the app, `cdk bootstrap` too: make bootstrap ENV=<name>). "
            f"Known environments: {choices}"
        )
    if env_name not in known:
        raise ConfigurationError(f"Unknown environment {env_name!r}. Known environments: {choices}")
    _check_one_api_gateway_account_owner(context[ENVIRONMENTS_CONTEXT_KEY])
    raw = context[ENVIRONMENTS_CONTEXT_KEY][env_name]
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"Environment {env_name!r} in cdk.json must be an object")
    try:
        return EnvironmentConfig.model_validate({**raw, "name": env_name})
    except ValidationError as error:
        raise ConfigurationError(
            f"Invalid settings for environment {env_name!r}:\n{error}"
        ) from error
