"""SPEC §7 / issue 11 item 6: every AWS call fits the invocation's remaining time.

Against AWS endpoints that accept connections and never answer, the function
still gives its own answer (503 SERVICE_UNAVAILABLE) before its timeout, alone
or chained after a slow attempt store and a forced secret re-read; and a call
that cannot fit in the time left is never started.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import pytest

from tests.integration.blackhole import BlackHole
from tests.integration.raw_upstream import Script, drip, raw_upstream
from tests.integration.support import (
    GET_SECRET_VALUE,
    PIN,
    UPDATE_ITEM,
    VENDOR_REFERENCE,
    WRONG_PIN,
    AwsProxy,
    assert_problem,
    assert_status,
    get_event,
    lookup_event,
    rotated_key,
)

if TYPE_CHECKING:
    from tests.integration.conftest import FunctionEnv

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

DYNAMODB: Final = "DynamoDB_"
SECRETS_MANAGER: Final = "secretsmanager."


def _timed(env: FunctionEnv, event: dict[str, Any], timeout: float) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    result = env.invoke(event, timeout_seconds=timeout)
    return result, time.monotonic() - started


@pytest.mark.parametrize("timeout", [1.0, 4.0])
def test_hung_aws_on_a_cold_start_is_503_before_the_timeout(
    function_env: FunctionEnv, timeout: float
) -> None:
    with BlackHole() as hole:
        function_env.monkeypatch.setenv("AWS_ENDPOINT_URL", hole.url)
        function_env.set_format("json")
        for event in (lookup_event(VENDOR_REFERENCE, PIN), get_event(VENDOR_REFERENCE)):
            result, elapsed = _timed(function_env, event, timeout)
            assert_problem(result, 503, "SERVICE_UNAVAILABLE")
            assert elapsed < timeout
        assert hole.connections >= 1, "the secret read reached the hung endpoint"
    assert function_env.journal() == []


def test_hung_attempt_store_with_a_cached_key_is_503_before_the_timeout(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200  # key cached
    function_env.sandbox.reset()
    aws_proxy.stall(DYNAMODB)
    for timeout in (1.0, 3.0):
        result, elapsed = _timed(function_env, lookup_event(VENDOR_REFERENCE, PIN), timeout)
        assert_problem(result, 503, "SERVICE_UNAVAILABLE")
        assert elapsed < timeout
    assert aws_proxy.count(UPDATE_ITEM) == 2
    assert function_env.journal() == []  # fail closed: the upstream never saw the PIN
    # Status-only lookups do not need the store.
    assert_status(function_env.invoke(get_event(VENDOR_REFERENCE)), VENDOR_REFERENCE, 100, None)


def test_slow_store_then_hung_forced_secret_read_is_503_before_the_timeout(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    """The chain of issue 11: attempt store slow, upstream refuses the key, re-read hangs."""
    timeout = 3.0
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200  # key cached
    function_env.sandbox.reset()
    function_env.set_upstream_key(rotated_key())  # our key is refused: forces a re-read
    aws_proxy.delay(DYNAMODB, 0.8)
    aws_proxy.stall(SECRETS_MANAGER)

    result, elapsed = _timed(function_env, lookup_event(VENDOR_REFERENCE, WRONG_PIN), timeout)
    assert_problem(result, 503, "SERVICE_UNAVAILABLE")
    assert elapsed < timeout
    assert aws_proxy.count(UPDATE_ITEM) == 1
    assert aws_proxy.count(GET_SECRET_VALUE) == 2  # the cold start's, then the hung forced one
    assert len(function_env.journal()) == 1  # asked once: no retry with an unknown key


def test_a_call_that_cannot_fit_is_never_started(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    """Too little time left for the smallest AWS budget: no request leaves at all."""
    for event in (lookup_event(VENDOR_REFERENCE, PIN), get_event(VENDOR_REFERENCE)):
        assert_problem(function_env.invoke(event, timeout_seconds=0.3), 503, "SERVICE_UNAVAILABLE")
    assert sum(aws_proxy.counts().values()) == 0
    # Warm, with the key cached: the attempt store is not asked either.
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200
    aws_proxy.reset()
    result = function_env.invoke(lookup_event(VENDOR_REFERENCE, PIN), timeout_seconds=0.3)
    assert_problem(result, 503, "SERVICE_UNAVAILABLE")
    assert sum(aws_proxy.counts().values()) == 0
    # Only the warm-up lookup reached the upstream: the PIN check stopped before the store.
    assert [entry["has_code"] for entry in function_env.journal()] == [False]


AWS_HEAD: Final = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(Script(drip(AWS_HEAD, 0.5)), id="status line and headers dripped"),
        pytest.param(
            Script([AWS_HEAD + b"Content-Length: 40\r\n\r\n", *drip(b'{"SecretString": "x"', 0.5)]),
            id="body dripped",
        ),
    ],
)
def test_a_dripping_aws_endpoint_is_503_before_the_timeout(
    function_env: FunctionEnv, script: Script
) -> None:
    """botocore times out per read: each byte inside the tier's read timeout, never the whole."""
    with raw_upstream() as endpoint:
        endpoint.play(script)
        function_env.monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
        function_env.set_format("json")
        result, elapsed = _timed(function_env, lookup_event(VENDOR_REFERENCE, PIN), 3.0)
        assert_problem(result, 503, "SERVICE_UNAVAILABLE")
        assert elapsed < 3.0, elapsed
        assert endpoint.requests >= 1, "the secret read reached the dripping endpoint"
    assert function_env.journal() == []
