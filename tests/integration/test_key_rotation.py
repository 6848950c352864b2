"""SPEC §7 / issue 4: the API key in Secrets Manager, rotation, and Secrets Manager outages.

Secret reads are counted at the server: the `aws_proxy` fixture puts a
counting proxy in front of moto and points the function's AWS_ENDPOINT_URL
at it, so every GetSecretValue the function makes (botocore retries included)
is seen, whatever caching the function does.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.integration.support import (
    GET_SECRET_VALUE,
    PIN,
    REJECTED,
    VENDOR_REFERENCE,
    AwsProxy,
    assert_problem,
    assert_status,
    emf_metrics,
    get_event,
    log_records,
    lookup_event,
    rotated_key,
)

if TYPE_CHECKING:
    from tests.integration.function_env import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


def _rotate_secret(env: FunctionEnv) -> str:
    key = rotated_key()
    env.put_secret(json.dumps({"apiKey": key}))
    return key


def _warm(env: FunctionEnv, proxy: AwsProxy) -> None:
    assert_status(env.invoke(get_event(VENDOR_REFERENCE)), VENDOR_REFERENCE, 100, None)
    assert proxy.count(GET_SECRET_VALUE) == 1
    env.sandbox.reset()


@pytest.mark.parametrize("function_env", ["json", "xml"], indirect=True)
def test_rotation_while_warm_costs_exactly_one_extra_secret_read(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    _warm(function_env, aws_proxy)
    new_key = _rotate_secret(function_env)
    function_env.set_upstream_key(new_key)  # the old key is refused from now on

    result = function_env.invoke(lookup_event(VENDOR_REFERENCE, PIN))
    assert_status(result, VENDOR_REFERENCE, 100, True)
    assert aws_proxy.count(GET_SECRET_VALUE) == 2
    assert len(function_env.journal()) == 2  # refused with the old key, then the new one
    assert function_env.attempts(VENDOR_REFERENCE) == 1  # the retry is the same PIN check

    for _ in range(3):  # the new key is cached from now on
        assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200
    assert aws_proxy.count(GET_SECRET_VALUE) == 2


def test_second_rejection_is_502_without_another_forced_read(
    function_env: FunctionEnv, aws_proxy: AwsProxy, function_output: FunctionOutput
) -> None:
    _warm(function_env, aws_proxy)
    function_env.set_upstream_key(_rotate_secret(function_env))
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200
    assert aws_proxy.count(GET_SECRET_VALUE) == 2
    function_output.read()

    # The upstream changes its key again, but the secret does not.
    function_env.set_upstream_key(rotated_key())
    for attempt in (1, 2):
        problem = assert_problem(function_env.invoke(get_event(VENDOR_REFERENCE)), 502, REJECTED)
        assert problem["title"]
        # Forced reads happen at most once a minute: the one above was seconds ago.
        assert aws_proxy.count(GET_SECRET_VALUE) == 2, attempt
        assert emf_metrics(function_output.read())["UpstreamRejected"] == 1


def test_persistent_rejection_forces_one_read_a_minute(
    function_env: FunctionEnv, aws_proxy: AwsProxy, function_output: FunctionOutput
) -> None:
    _warm(function_env, aws_proxy)
    function_env.set_upstream_key(rotated_key())  # revoked upstream; the secret still old

    assert_problem(function_env.invoke(get_event(VENDOR_REFERENCE)), 502, REJECTED)
    assert aws_proxy.count(GET_SECRET_VALUE) == 2  # one forced read: the key had not changed
    assert len(function_env.journal()) == 1  # so no retry
    first = function_output.read()
    assert emf_metrics(first)["UpstreamRejected"] == 1

    for _ in range(3):
        assert_problem(function_env.invoke(lookup_event(VENDOR_REFERENCE)), 502, REJECTED)
    assert aws_proxy.count(GET_SECRET_VALUE) == 2
    assert len(function_env.journal()) == 4
    assert emf_metrics(function_output.read())["UpstreamRejected"] == 3


def test_secrets_manager_down_keeps_the_cached_key(
    function_env: FunctionEnv, aws_proxy: AwsProxy, function_output: FunctionOutput
) -> None:
    function_env.monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")  # re-read on every request
    function_env.set_format("json")
    for expected_reads in (1, 2):
        assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200
        assert aws_proxy.count(GET_SECRET_VALUE) == expected_reads
    function_output.read()

    aws_proxy.stop()
    for _ in range(2):
        result = function_env.invoke(get_event(VENDOR_REFERENCE), timeout_seconds=6)
        assert_status(result, VENDOR_REFERENCE, 100, None)
    warnings = [
        record
        for record in log_records(function_output.read())
        if record["level"] == "WARNING" and "Secrets Manager" in str(record.get("message"))
    ]
    assert warnings, "no warning about the unreachable Secrets Manager"
    assert all(entry["key_in_body"] for entry in function_env.journal())


def test_no_key_yet_and_secrets_manager_unreachable_is_503(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    aws_proxy.stop()  # Secrets Manager unreachable before any key was ever read
    problem = assert_problem(
        function_env.invoke(get_event(VENDOR_REFERENCE)), 503, "SERVICE_UNAVAILABLE"
    )
    assert "PIN" not in problem["detail"]  # a status-only lookup was refused, not a PIN check
    assert function_env.journal() == []


def test_no_such_secret_is_500(function_env: FunctionEnv) -> None:
    function_env.monkeypatch.setenv("PROXSTOP_SECRET_ID", "telephone-status/no-such-secret")
    function_env.set_format("json")
    for event in (get_event(VENDOR_REFERENCE), lookup_event(VENDOR_REFERENCE, PIN)):
        assert_problem(function_env.invoke(event), 500, "INTERNAL_ERROR")
    assert function_env.journal() == []
    assert function_env.attempt_record(VENDOR_REFERENCE) is None  # the key is read first
