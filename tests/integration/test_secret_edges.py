"""The API key secret at its edges: a secret with no usable key is a 500 that says so, never
sent upstream; a failed read (missing, denied, throttled, slow) is remembered for the back-off.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

import pytest

from tests.integration.support import (
    GET_SECRET_VALUE,
    PIN,
    VENDOR_REFERENCE,
    AwsProxy,
    assert_problem,
    get_event,
    lookup_event,
)

if TYPE_CHECKING:
    from tests.integration.conftest import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

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
    started = time.monotonic()
    for index in range(REQUESTS - 1):
        event = lookup_event(VENDOR_REFERENCE, PIN if index % 2 else None)
        assert_problem(function_env.invoke(event, timeout_seconds=4.0), status, code)
    # During the back-off the answer comes at once, not after another slow read.
    assert time.monotonic() - started < 0.05 * REQUESTS
    assert 1 <= aws_proxy.count(GET_SECRET_VALUE) <= 2
    assert function_env.journal() == []
