"""The API key store on top of Secrets Manager (Powertools SecretsProvider).

Its settings: docs/configuration.md; caching, back-off and refresh: docs/upstream.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from telephone_status.aws_clients import CallDoesNotFit
from telephone_status.credentials import (
    FORCED_REFRESH_INTERVAL_SECONDS,
    PLACEHOLDER_API_KEY,
    RETRY_AFTER_FAILURE_SECONDS,
    ApiKeyStore,
    extract_api_key,
)
from telephone_status.deadline import Deadline
from telephone_status.errors import ApiError, InternalError, NotConfigured, ServiceUnavailable
from telephone_status.observability import metrics

SECRET_ID = "proxstop/api-key"
MAX_AGE = 300
DEADLINE = Deadline(3600)


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeSecrets:
    """Stands in for SecretsProvider: returns `value`, or raises it when it is an exception."""

    value: object = "key-1"
    calls: list[tuple[str, int | None, bool]] = field(default_factory=list)

    def get(
        self,
        name: str,
        max_age: int | None = None,
        force_fetch: bool = False,
        deadline: Deadline | None = None,
    ) -> object:
        assert deadline is not None, "every secret read carries the invocation's deadline"
        self.calls.append((name, max_age, force_fetch))
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


class GetParameterError(Exception):
    """What Powertools raises for any SDK failure (the name is all that matters here)."""


def make_store(secrets: FakeSecrets, clock: Clock) -> ApiKeyStore:
    return ApiKeyStore(SECRET_ID, MAX_AGE, cast(SecretsProvider, secrets), clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _no_metrics_left_behind() -> Iterator[None]:
    # The store counts NotConfigured; outside a handler nothing flushes it, and a later
    # test's invocation would print it.
    yield
    metrics.clear_metrics()


@pytest.fixture
def secrets() -> FakeSecrets:
    return FakeSecrets()


# --- the secret string -------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "098f6bcd4621d373cade4e832627b4f6",
        " 098f6bcd4621d373cade4e832627b4f6\n",
        '{"apiKey": "098f6bcd4621d373cade4e832627b4f6"}',
        '  {"apiKey": " 098f6bcd4621d373cade4e832627b4f6 ", "note": "rotated"}\n',
        b"098f6bcd4621d373cade4e832627b4f6",
        b'{"apiKey": "098f6bcd4621d373cade4e832627b4f6"}',
    ],
    ids=["bare", "bare-padded", "json", "json-padded-extra", "bytes", "bytes-json"],
)
def test_key_is_extracted_from_bare_json_or_bytes_secret(raw: str | bytes) -> None:
    assert extract_api_key(raw) == "098f6bcd4621d373cade4e832627b4f6"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   \n",
        b"",
        "{}",
        '{"key": "s3cr3t-value"}',
        '{"apikey": "s3cr3t-value"}',
        '{"apiKey": ""}',
        '{"apiKey": "   "}',
        '{"apiKey": null}',
        '{"apiKey": 12345}',
        '{"apiKey": ["s3cr3t-value"]}',
        '{"apiKey": "s3cr3t-value"',
        None,
        {"apiKey": "s3cr3t-value"},
    ],
    ids=repr,
)
def test_secret_without_a_usable_key_is_an_internal_error(raw: object) -> None:
    with pytest.raises(InternalError) as info:
        extract_api_key(raw)
    # Whatever the secret held never reaches the error (it is logged as the reason).
    assert "s3cr3t" not in f"{info.value} {info.value.reason} {info.value.detail}"


# --- ApiKeyStore.current -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        PLACEHOLDER_API_KEY,
        f" {PLACEHOLDER_API_KEY}\n",
        f'{{"apiKey": "{PLACEHOLDER_API_KEY}"}}',
        f'{{"apiKey": " {PLACEHOLDER_API_KEY} "}}'.encode(),
    ],
    ids=["bare", "bare-padded", "json", "bytes-json-padded"],
)
def test_placeholder_is_not_configured_and_rechecked_at_most_once_a_minute(
    raw: str | bytes, secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = raw
    store = make_store(secrets, clock)
    with pytest.raises(NotConfigured) as info:
        store.current(DEADLINE)
    assert (info.value.status, info.value.code) == (503, "NOT_CONFIGURED")
    forced = [call for call in secrets.calls if call[2]]
    assert len(forced) == 1  # once past the cache, so that a new key shows up quickly
    clock.advance(FORCED_REFRESH_INTERVAL_SECONDS / 2)
    with pytest.raises(NotConfigured):
        store.current(DEADLINE)
    assert len([call for call in secrets.calls if call[2]]) == 1
    # The operator puts the key in: within a minute it is used, cache or not.
    secrets.value = '{"apiKey": "real-key"}'
    clock.advance(FORCED_REFRESH_INTERVAL_SECONDS)
    assert store.current(DEADLINE) == "real-key"


@pytest.mark.parametrize(
    "raw",
    [
        PLACEHOLDER_API_KEY.lower(),
        f"{PLACEHOLDER_API_KEY}X",
        f"X{PLACEHOLDER_API_KEY}",
        PLACEHOLDER_API_KEY.replace("_", "-"),
    ],
)
def test_only_the_exact_placeholder_is_not_configured(
    raw: str, secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = raw
    assert make_store(secrets, clock).current(DEADLINE) == raw


def test_current_reads_the_secret_through_the_provider_cache(
    secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = '{"apiKey": "key-1"}'
    assert make_store(secrets, clock).current(DEADLINE) == "key-1"
    assert secrets.calls == [(SECRET_ID, MAX_AGE, False)]


def test_each_current_call_defers_to_the_provider_cache_when_healthy(
    secrets: FakeSecrets, clock: Clock
) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    secrets.value = "key-2"  # the provider's own max_age cache decides when this shows
    assert store.current(DEADLINE) == "key-2"
    assert [force for _, _, force in secrets.calls] == [False, False]


def test_fetch_failure_with_a_cached_key_keeps_the_key_and_backs_off_for_30_s(
    secrets: FakeSecrets, clock: Clock
) -> None:
    store = make_store(secrets, clock)
    assert store.current(DEADLINE) == "key-1"
    secrets.value = GetParameterError("AccessDenied for arn:aws:secretsmanager:...")
    assert store.current(DEADLINE) == "key-1"
    assert len(secrets.calls) == 2
    for _ in range(5):
        clock.advance(5.9)  # 29.5 s in all
        assert store.current(DEADLINE) == "key-1"
    assert len(secrets.calls) == 2, "Secrets Manager asked again inside the 30 s back-off"
    secrets.value = "key-2"
    clock.advance(0.6)
    assert store.current(DEADLINE) == "key-2"
    assert len(secrets.calls) == 3


def test_fetch_failure_with_no_key_is_an_internal_error(secrets: FakeSecrets, clock: Clock) -> None:
    secrets.value = GetParameterError("ResourceNotFoundException: s3cr3t-name")
    store = make_store(secrets, clock)
    with pytest.raises(InternalError) as info:
        store.current(DEADLINE)
    assert info.value.status == 500
    assert "s3cr3t" not in f"{info.value} {info.value.reason} {info.value.detail}"
    secrets.value = "key-1"  # once Secrets Manager is back, the key is served after the back-off
    clock.advance(RETRY_AFTER_FAILURE_SECONDS)
    assert store.current(DEADLINE) == "key-1"


def test_unusable_secret_with_no_key_is_an_internal_error(
    secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = '{"apiKey": ""}'
    with pytest.raises(InternalError):
        make_store(secrets, clock).current(DEADLINE)


# --- ApiKeyStore.refresh_after_rejection -------------------------------------------------


def test_refresh_bypasses_the_cache_and_reports_a_changed_key(
    secrets: FakeSecrets, clock: Clock
) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    secrets.value = "key-2"
    assert store.refresh_after_rejection(DEADLINE) is True
    assert secrets.calls[-1] == (SECRET_ID, MAX_AGE, True)
    assert store.current(DEADLINE) == "key-2"


def test_refresh_reports_an_unchanged_key(secrets: FakeSecrets, clock: Clock) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    assert store.refresh_after_rejection(DEADLINE) is False
    assert secrets.calls[-1] == (SECRET_ID, MAX_AGE, True)


def test_forced_refresh_happens_at_most_once_a_minute(secrets: FakeSecrets, clock: Clock) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    assert store.refresh_after_rejection(DEADLINE) is False
    forced_before = sum(force for _, _, force in secrets.calls)
    secrets.value = "key-2"
    for _ in range(10):
        clock.advance(5.9)  # 59 s in all
        assert store.refresh_after_rejection(DEADLINE) is False
    assert sum(force for _, _, force in secrets.calls) == forced_before
    clock.advance(1.0)
    assert store.refresh_after_rejection(DEADLINE) is True
    assert sum(force for _, _, force in secrets.calls) == forced_before + 1


def test_failed_forced_refresh_is_not_a_change_and_still_counts_against_the_minute(
    secrets: FakeSecrets, clock: Clock
) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    secrets.value = GetParameterError("throttled")
    assert store.refresh_after_rejection(DEADLINE) is False
    assert store.current(DEADLINE) == "key-1"
    secrets.value = "key-2"
    clock.advance(30.0)
    assert store.refresh_after_rejection(DEADLINE) is False  # inside the minute: not forced again
    assert [force for _, _, force in secrets.calls].count(True) == 1


def test_refresh_with_an_unusable_new_secret_is_not_a_change(
    secrets: FakeSecrets, clock: Clock
) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    secrets.value = "{}"
    assert store.refresh_after_rejection(DEADLINE) is False
    assert secrets.calls[-1] == (SECRET_ID, MAX_AGE, True)


# --- secrets that decode to no usable key ----------------------------------------------------

UNUSABLE_SECRETS = [
    b"\xff\xfe\x00k\x00e\x00y",  # UTF-16
    b"098f6bcd4621d373\xe9ade4e832627b4f6",  # latin-1 byte in a key
    b"\x80\x81\x82",
    b"\xc3\x28",
    b'{"apiKey": "098f\xff"}',
    "098f6bcd\x004621d373cade4e832627b4f6",  # NUL
    b"098f6bcd\x004621d373cade4e832627b4f6",
    "098f6bcd4621d373\ncade4e832627b4f6",
    "098f6bcd4621d373 cade4e832627b4f6",
    "098f6bcd4621d373\x7fcade4e832627b4f6",
    "098f6bcd4621d373\x1bcade4e832627b4f6",
    "\u00a0098f6bcd4621d373cade4e832627b4f6",
    "098f6bcd4621d373\u200bcade4e832627b4f6",
    "098f6bcd4621d373\ufffdcade4e832627b4f6",
    "\uff10\uff19\uff18f6bcd",
    '{"apiKey": "098f6bcd\\u0000"}',
    '{"apiKey": "098f\\ufffd"}',
]


@pytest.mark.parametrize("raw", UNUSABLE_SECRETS, ids=repr)
def test_a_secret_that_holds_no_usable_key_says_so_without_showing_it(raw: str | bytes) -> None:
    with pytest.raises(InternalError) as info:
        extract_api_key(raw)
    said = f"{info.value} {info.value.reason} {info.value.detail}"
    assert "no usable key" in said
    for fragment in ("098f", "6bcd", "cade", "key\x00"):
        assert fragment not in said


@pytest.mark.parametrize(
    "raw",
    [b"\xef\xbb\xbf098f6bcd4621d373cade4e832627b4f6", "\ufeff098f6bcd4621d373cade4e832627b4f6"],
)
def test_a_byte_order_mark_before_the_key_is_not_part_of_it(raw: str | bytes) -> None:
    assert extract_api_key(raw) == "098f6bcd4621d373cade4e832627b4f6"


@given(key=st.text(min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_only_printable_ascii_keys_are_usable(key: str) -> None:
    usable = all("!" <= ch <= "~" for ch in key.strip(" \t\r\n"))
    try:
        found = extract_api_key(json.dumps({"apiKey": key}))
    except InternalError:
        assert not usable or not key.strip(" \t\r\n")
        return
    assert usable
    assert found == key.strip(" \t\r\n")


# --- unreachable vs. refused (docs/api.md#errors, docs/upstream.md) ------------------------------


def _wrapped(cause: BaseException) -> GetParameterError:
    """What Powertools raises: its own error, raised while handling the SDK's."""
    error = GetParameterError("wrapped")
    error.__context__ = cause
    return error


TRANSIENT = [
    ReadTimeoutError(endpoint_url="https://secretsmanager"),
    ConnectTimeoutError(endpoint_url="https://secretsmanager"),
    EndpointConnectionError(endpoint_url="https://secretsmanager"),
    CallDoesNotFit("0.1 s left"),
    ClientError({"Error": {"Code": "ThrottlingException"}}, "GetSecretValue"),
    ClientError({"Error": {"Code": "InternalServiceError"}}, "GetSecretValue"),
]
REFUSED = [
    ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue"),
    ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetSecretValue"),
    ClientError({"Error": {"Code": "DecryptionFailure"}}, "GetSecretValue"),
]


@pytest.mark.parametrize("cause", TRANSIENT, ids=lambda e: type(e).__name__)
def test_secrets_manager_unreachable_with_no_key_is_503(
    secrets: FakeSecrets, clock: Clock, cause: BaseException
) -> None:
    secrets.value = _wrapped(cause)
    with pytest.raises(ServiceUnavailable) as info:
        make_store(secrets, clock).current(DEADLINE)
    assert info.value.status == 503


@pytest.mark.parametrize("cause", REFUSED, ids=lambda e: str(e)[:40])
def test_secrets_manager_refusing_with_no_key_is_500(
    secrets: FakeSecrets, clock: Clock, cause: BaseException
) -> None:
    secrets.value = _wrapped(cause)
    with pytest.raises(InternalError):
        make_store(secrets, clock).current(DEADLINE)


@pytest.mark.parametrize("cause", TRANSIENT, ids=lambda e: type(e).__name__)
def test_forced_re_read_that_cannot_reach_secrets_manager_is_503_not_a_rejection(
    secrets: FakeSecrets, clock: Clock, cause: BaseException
) -> None:
    """A key rejection we could not check against Secrets Manager: "try again shortly"."""
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    secrets.value = _wrapped(cause)
    with pytest.raises(ServiceUnavailable):
        store.refresh_after_rejection(DEADLINE)
    assert store.current(DEADLINE) == "key-1"  # the cached key still serves meanwhile


# --- a failed read is remembered, with or without a cached key ------------------------------

FAILURES = [
    *[
        pytest.param(_wrapped(c), ServiceUnavailable, id=f"unreachable-{type(c).__name__}")
        for c in TRANSIENT
        if not isinstance(c, CallDoesNotFit)  # Secrets Manager never asked: nothing to remember
    ],
    *[pytest.param(_wrapped(c), InternalError, id=f"refused-{str(c)[:30]}") for c in REFUSED],
    pytest.param('{"apiKey": ""}', InternalError, id="no-usable-key"),
    pytest.param(b"\xff\xfe", InternalError, id="binary-not-utf8"),
]


@pytest.mark.parametrize(("failure", "expected"), FAILURES)
def test_a_failed_read_with_no_cached_key_is_not_repeated_during_the_back_off(
    secrets: FakeSecrets, clock: Clock, failure: object, expected: type[Exception]
) -> None:
    secrets.value = failure
    store = make_store(secrets, clock)
    for _ in range(40):
        with pytest.raises(expected):
            store.current(DEADLINE)
        clock.advance((RETRY_AFTER_FAILURE_SECONDS - 1) / 40)
    assert len(secrets.calls) == 1, "Secrets Manager asked again inside the back-off"
    # A forced re-read (after an upstream refusal) does not ask either.
    if expected is ServiceUnavailable:
        with pytest.raises(ServiceUnavailable):
            store.refresh_after_rejection(DEADLINE)
    else:
        assert store.refresh_after_rejection(DEADLINE) is False
    assert len(secrets.calls) == 1
    clock.advance(1.0)  # the back-off is over: asked once more, and served when repaired
    secrets.value = "key-1"
    assert store.current(DEADLINE) == "key-1"
    assert len(secrets.calls) == 2


@pytest.mark.parametrize(("failure", "expected"), FAILURES)
def test_a_failure_after_the_back_off_is_remembered_again(
    secrets: FakeSecrets, clock: Clock, failure: object, expected: type[Exception]
) -> None:
    secrets.value = failure
    store = make_store(secrets, clock)
    for _ in range(3):
        for _ in range(10):
            with pytest.raises(expected):
                store.current(DEADLINE)
        clock.advance(RETRY_AFTER_FAILURE_SECONDS)
    assert len(secrets.calls) == 3


def test_too_little_time_to_ask_is_not_remembered_as_a_failure(
    secrets: FakeSecrets, clock: Clock
) -> None:
    """Secrets Manager was never asked: the next request, with time to spare, asks."""
    secrets.value = _wrapped(CallDoesNotFit("0.1 s left"))
    store = make_store(secrets, clock)
    with pytest.raises(ServiceUnavailable):
        store.current(DEADLINE)
    secrets.value = "key-1"
    assert store.current(DEADLINE) == "key-1"


@pytest.mark.parametrize(("failure", "expected"), FAILURES)
def test_an_answer_during_the_back_off_is_the_first_answer_again(
    secrets: FakeSecrets, clock: Clock, failure: object, expected: type[Exception]
) -> None:
    """Same type and client-facing detail; the log reason says why nothing was asked."""
    secrets.value = failure
    store = make_store(secrets, clock)
    with pytest.raises(expected) as first:
        store.current(DEADLINE)
    with pytest.raises(expected) as again:
        store.current(DEADLINE)
    answered, repeated = first.value, again.value
    assert isinstance(answered, ApiError)
    assert isinstance(repeated, ApiError)
    assert type(repeated) is type(answered)
    assert repeated.detail == answered.detail
    assert repeated.reason == f"{answered.reason} (not asked again during the back-off)"
    assert answered.reason  # the first answer's reason names the failure


def test_an_aws_error_without_a_code_is_a_refusal_not_a_pause(
    secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = _wrapped(ClientError({"Error": {}}, "GetSecretValue"))
    with pytest.raises(InternalError):
        make_store(secrets, clock).current(DEADLINE)


def test_a_secret_without_a_usable_key_says_why_in_the_log_only(
    secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = '{"apiKey": ""}'
    with pytest.raises(InternalError) as info:
        make_store(secrets, clock).current(DEADLINE)
    assert info.value.detail == "The API key secret holds no usable key."
    assert info.value.reason is not None
    assert info.value.reason.startswith("API key secret holds no usable key: ")


# --- what the mutation run showed nobody checked ----------------------------------------


@dataclass
class CachingSecrets(FakeSecrets):
    """Like Powertools: a read within max_age answers from its cache; force_fetch asks."""

    cached: object = None

    def get(
        self,
        name: str,
        max_age: int | None = None,
        force_fetch: bool = False,
        deadline: Deadline | None = None,
    ) -> object:
        fetched = super().get(name, max_age, force_fetch, deadline)
        if force_fetch or self.cached is None:
            self.cached = fetched
        return self.cached


def test_the_key_put_in_while_the_cache_still_holds_the_placeholder_is_used_at_once(
    clock: Clock,
) -> None:
    secrets = CachingSecrets(value=PLACEHOLDER_API_KEY)
    store = ApiKeyStore(SECRET_ID, MAX_AGE, cast(SecretsProvider, secrets), clock=clock)
    with pytest.raises(NotConfigured):
        store.current(DEADLINE)
    secrets.value = "real-key"
    clock.advance(FORCED_REFRESH_INTERVAL_SECONDS)  # the cache (MAX_AGE) still holds the old one
    assert store.current(DEADLINE) == "real-key"


def test_a_forced_refresh_is_allowed_again_exactly_a_minute_after_the_last(
    secrets: FakeSecrets, clock: Clock
) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    assert store.refresh_after_rejection(DEADLINE) is False
    secrets.value = "key-2"
    clock.advance(FORCED_REFRESH_INTERVAL_SECONDS)
    assert store.refresh_after_rejection(DEADLINE) is True


def test_no_forced_refresh_during_the_back_off_after_an_unusable_secret(
    secrets: FakeSecrets, clock: Clock
) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    secrets.value = '{"apiKey": ""}'
    assert store.current(DEADLINE) == "key-1"  # kept, and backing off
    forced = [call for call in secrets.calls if call[2]]
    secrets.value = "key-2"
    assert store.refresh_after_rejection(DEADLINE) is False
    assert [call for call in secrets.calls if call[2]] == forced


def test_an_aws_error_without_an_error_member_is_not_transient() -> None:
    from telephone_status.credentials import _is_transient  # noqa: PLC0415

    assert _is_transient(ClientError({}, "GetSecretValue")) is False


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u3000", "\x85"], ids=repr)
def test_a_key_padded_with_non_ascii_space_is_refused_not_trimmed(space: str) -> None:
    with pytest.raises(InternalError):
        extract_api_key(f'{{"apiKey": "{space}098f6bcd4621d373cade4e832627b4f6{space}"}}')


def test_the_not_configured_log_line_names_the_secret(
    secrets: FakeSecrets, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    secrets.value = PLACEHOLDER_API_KEY
    with pytest.raises(NotConfigured):
        make_store(secrets, clock).current(DEADLINE)
    (logged,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert logged.__dict__["secretId"] == SECRET_ID


def test_an_unreachable_secrets_manager_tells_the_client_to_try_again_shortly(
    secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = EndpointConnectionError(endpoint_url="https://secretsmanager.example")
    with pytest.raises(ServiceUnavailable) as info:
        make_store(secrets, clock).current(DEADLINE)
    assert info.value.detail == "The service cannot answer right now; try again shortly."


@pytest.mark.parametrize(
    ("failure", "field", "value"),
    [
        (EndpointConnectionError(endpoint_url="https://x.example"), "error_type", None),
        ('{"apiKey": ""}', "reason", "API key secret holds no usable key: the secret holds no key"),
    ],
    ids=["unreachable", "unusable"],
)
def test_keeping_the_cached_key_logs_why(
    failure: object,
    field: str,
    value: str | None,
    secrets: FakeSecrets,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = make_store(secrets, clock)
    store.current(DEADLINE)
    secrets.value = failure
    assert store.current(DEADLINE) == "key-1"
    (logged,) = [record for record in caplog.records if record.levelname == "WARNING"]
    assert logged.__dict__[field] == (value or type(failure).__name__)


def test_a_forced_read_of_an_unusable_secret_before_any_key_is_not_a_change(
    secrets: FakeSecrets, clock: Clock
) -> None:
    secrets.value = '{"apiKey": ""}'
    assert make_store(secrets, clock).refresh_after_rejection(DEADLINE) is False
