"""The API key in Secrets Manager: rotation, outages, unusable values (docs/upstream.md).

Secret reads are counted at the server: the `aws_proxy` fixture puts a
counting proxy in front of moto and points the function's AWS_ENDPOINT_URL
at it, so every GetSecretValue the function makes (botocore retries included)
is seen, whatever caching the function does.

A secret with no usable key is a 500 that says so, never sent upstream; a failed read
(missing, denied, throttled, slow) is remembered for the back-off.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Final

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


# --- a secret with no usable key; a failed read remembered for the back-off ----------------------

SECRET_BYTES = b"s3cr3t-\xff\xfe-binary"


@pytest.mark.parametrize(
    "secret",
    [
        SECRET_BYTES,
        b"\x80s3cr3t",
        b"s3cr3t\x00value",
        b'{"apiKey": "s3cr3t\xe9"}',
        "s3cr3t\nvalue",
        "s3cr3t\u200bvalue",
    ],
    ids=repr,
)
def test_a_secret_with_no_usable_key_is_a_500_that_says_so(
    function_env: FunctionEnv, function_output: FunctionOutput, secret: bytes | str
) -> None:
    secrets = function_env._session().client(
        "secretsmanager", endpoint_url=function_env.moto.endpoint_url
    )
    if isinstance(secret, bytes):
        secrets.put_secret_value(SecretId=function_env.secret_name, SecretBinary=secret)
    else:
        secrets.put_secret_value(SecretId=function_env.secret_name, SecretString=secret)
    function_env.set_format("json")  # a cold start reads the secret afresh
    result = function_env.invoke(lookup_event(VENDOR_REFERENCE))
    problem = assert_problem(result, 500, "INTERNAL_ERROR")
    assert "no usable key" in problem["detail"]
    assert "s3cr3t" not in result["body"]
    assert function_env.journal() == []  # nothing reached the upstream
    output = function_output.read()
    assert "no usable key" in output
    assert "s3cr3t" not in output


SECRETS_MANAGER: Final = "secretsmanager."
REQUESTS: Final = 40


def _break_secrets_manager(env: FunctionEnv, proxy: AwsProxy, how: str) -> None:
    if how == "missing":
        secrets = env._session().client("secretsmanager", endpoint_url=env.moto.endpoint_url)
        secrets.delete_secret(SecretId=env.secret_name, ForceDeleteWithoutRecovery=True)
    elif how == "slow":
        proxy.stall(SECRETS_MANAGER)  # accepted and never answered
    else:
        proxy.refuse(SECRETS_MANAGER, how)


@pytest.mark.parametrize(
    ("how", "status", "code"),
    [
        ("missing", 500, "INTERNAL_ERROR"),
        ("AccessDeniedException", 500, "INTERNAL_ERROR"),
        ("ThrottlingException", 503, "SERVICE_UNAVAILABLE"),
        ("slow", 503, "SERVICE_UNAVAILABLE"),
    ],
)
def test_a_failed_secret_read_is_remembered_so_40_requests_ask_at_most_twice(
    function_env: FunctionEnv, aws_proxy: AwsProxy, how: str, status: int, code: str
) -> None:
    _break_secrets_manager(function_env, aws_proxy, how)
    first = function_env.invoke(get_event(VENDOR_REFERENCE), timeout_seconds=4.0)
    assert_problem(first, status, code)
    for index in range(REQUESTS - 1):
        event = lookup_event(VENDOR_REFERENCE, PIN if index % 2 else None)
        started = time.monotonic()
        assert_problem(function_env.invoke(event, timeout_seconds=4.0), status, code)
        # During the back-off the answer comes at once, not after another read that stalls
        # until the deadline (4 s): half of that tells the two apart on a loaded machine.
        assert time.monotonic() - started < 2.0
    assert 1 <= aws_proxy.count(GET_SECRET_VALUE) <= 2
    assert function_env.journal() == []
