"""Issue 11, item 10: a secret with no usable key is a 500 that says so, never sent upstream."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.integration.support import VENDOR_REFERENCE, assert_problem, lookup_event

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
