"""Integration fixtures: the real handler against moto and the ProxStop sandbox over HTTP.

Each pytest(-xdist) worker starts its own emulator and sandbox on free ports
(session scope); each test gets its own secret and attempts table, so tests
never share counters and can run in any order or group.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass

import pytest

from local.dev import conflicting_aws_variables, function_environment
from local.emulator import (
    DEFAULT_SECRET_NAME,
    DEFAULT_TABLE_NAME,
    SHARED_MOTO_URL,
    create_signing_key,
    provision,
    start_moto,
)
from local.sandbox import (
    DEFAULT_KEY,
    SandboxServer,
    reset_remote,
    start_sandbox,
)
from tests.integration.function_env import OUTPUT_READ, Emulator, reset_cold_start_state

# Re-exported: some test modules still import these types from conftest.
from tests.integration.function_env import FunctionEnv as FunctionEnv  # noqa: PLC0414
from tests.integration.function_env import FunctionOutput as FunctionOutput  # noqa: PLC0414
from tests.integration.support import AwsProxy, flag_leaks, phase_output


@dataclass(frozen=True)
class SharedMoto:
    endpoint_url: str


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Emulator]:
    """This worker's AWS emulator (moto in a subprocess on a free port)."""
    # One already running for the whole run (`make mutate` starts one for all its mutants,
    # each a pytest session of its own). Tests never share items: each has its own table.
    shared = os.environ.get(SHARED_MOTO_URL)
    if shared:
        yield SharedMoto(shared)
        return
    with start_moto() as server:
        yield server


@pytest.fixture(scope="session")
def signing_key(moto_server: Emulator) -> str:
    """This worker's KMS token-signing key (ECC_NIST_P256) in the emulator: its ARN."""
    return create_signing_key(moto_server.endpoint_url)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    """This worker's ProxStop sandbox (in-process thread, free port, vendor example key)."""
    with start_sandbox(0, DEFAULT_KEY) as server:
        yield server


@pytest.fixture
def function_env(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    moto_server: Emulator,
    sandbox: SandboxServer,
    signing_key: str,
) -> Iterator[FunctionEnv]:
    """A fresh secret and attempts table, the function's environment, a cold start.

    The upstream format is json unless the test parametrises this fixture
    indirectly: ``@pytest.mark.parametrize("function_env", ["xml"], indirect=True)``.
    """
    fmt = str(getattr(request, "param", "json"))
    suffix = uuid.uuid4().hex[:12]
    env = FunctionEnv(
        secret_name=f"{DEFAULT_SECRET_NAME}-{suffix}",
        table_name=f"{DEFAULT_TABLE_NAME}-{suffix}",
        sandbox=sandbox,
        moto=moto_server,
        monkeypatch=monkeypatch,
    )
    provision(
        moto_server.endpoint_url,
        secret_name=env.secret_name,
        secret_value=json.dumps({"apiKey": DEFAULT_KEY}),
        table_name=env.table_name,
    )
    # Optional settings from the developer's shell must not leak into tests.
    for name in (
        "SECRET_MAX_AGE_SECONDS",
        "CORS_ALLOW_ORIGINS",
        "POWERTOOLS_METRICS_DISABLED",
        "MAX_CODE_CHECKS",
        "TOKEN_AUDIENCE",
        "TOKEN_TTL_SECONDS",
        "START_COUNTRIES",
        "TEST_NUMBERS",
        "CODE_LENGTH",
        "VERIFICATION_TTL_SECONDS",
        "MAX_SENDS_PER_PHONE",
        "MIN_SEND_INTERVAL_SECONDS",
        "MAX_SENDS_PER_PREFIX",
        "MAX_SENDS_PER_HOUR",
        "ACCEPT_EXTERNAL_REFERENCES",
        "SANDBOX_DELIVERY_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name in conflicting_aws_variables(os.environ):
        monkeypatch.delenv(name, raising=False)
    for name, value in function_environment(
        endpoint_url=moto_server.endpoint_url,
        api_url=sandbox.url,
        secret_name=env.secret_name,
        table_name=env.table_name,
        upstream_format=fmt,
        signing_key_id=signing_key,
    ).items():
        monkeypatch.setenv(name, value)
    reset_remote(sandbox.url, DEFAULT_KEY)
    reset_cold_start_state()
    yield env
    reset_cold_start_state()


# --------------------------------------------------------------------------- log hygiene
# docs/security.md: no log line ever contains the API key or the PIN. Every integration
# test's captured stdout/stderr/logs (and whatever a test read through the
# `function_output` fixture) is searched for the sandbox key, every rotated key
# and every PIN the suite sent; a hit fails the test, whatever it asserted.


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    read = item.stash.get(OUTPUT_READ, [])
    item.stash[OUTPUT_READ] = []
    flag_leaks(report, "\n".join([phase_output(report), *read]))
    return report


class _CurrentStdout(io.TextIOBase):
    """Writes to whatever `sys.stdout` is at the time of the write.

    Powertools' Logger keeps the stream it was created with; pytest swaps
    `sys.stdout` per test and per capture fixture. Behind this, the function's
    log lines land in the running test's capture, as print() output does.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(scope="session", autouse=True)
def _function_logs_follow_stdout() -> Iterator[None]:
    from telephone_status.observability import logger  # noqa: PLC0415 (after sys.path setup)

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.stream
    handler.stream = _CurrentStdout()
    yield
    handler.stream = previous


@pytest.fixture
def function_output(
    request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> FunctionOutput:
    """The function's stdout/stderr during this test (Powertools Logger lines, EMF metrics)."""
    return FunctionOutput(capsys, request.node)


@pytest.fixture
def aws_proxy(function_env: FunctionEnv) -> Iterator[AwsProxy]:
    """A counting proxy in front of moto; the function reaches AWS only through it.

    DynamoDB requests are forwarded one at a time (DynamoDB's per-item atomicity,
    which moto lacks under concurrency). `stop()` cuts AWS off mid-test.
    """
    proxy = AwsProxy(function_env.moto.endpoint_url, serialise_dynamodb=True)
    function_env.monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    reset_cold_start_state()
    with proxy:
        yield proxy
