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
from typing import Any, Final

import boto3
import pytest

from local.dev import conflicting_aws_variables, function_environment
from local.emulator import (
    DEFAULT_REGION,
    DEFAULT_SECRET_NAME,
    DEFAULT_TABLE_NAME,
    MotoServer,
    create_signing_key,
    local_aws_environment,
    provision,
    start_moto,
)
from local.lambda_runtime import invoke
from local.sandbox import (
    DEFAULT_KEY,
    SandboxServer,
    control,
    fetch_journal,
    reset_remote,
    start_sandbox,
)
from tests.integration.support import AwsProxy, flag_leaks, phase_output


def sandbox_journal(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """Every upstream request the sandbox received since its last reset (over HTTP).

    Test modules can import the same helper as `local.sandbox.fetch_journal(url)`.
    """
    return fetch_journal(sandbox.url)


def _reset_cold_start_state() -> None:
    from telephone_status.service import reset_cold_start_state  # noqa: PLC0415 (lazy)

    reset_cold_start_state()


@dataclass
class FunctionEnv:
    """One test's function environment, and the handles tests need around it."""

    secret_name: str
    table_name: str
    sandbox: SandboxServer
    moto: MotoServer
    monkeypatch: pytest.MonkeyPatch
    region: str = DEFAULT_REGION

    def set_format(self, fmt: str) -> None:
        """Switches PROXSTOP_FORMAT; the next invocation is a cold start that reads it."""
        self.monkeypatch.setenv("PROXSTOP_FORMAT", fmt)
        _reset_cold_start_state()

    def invoke(self, event: dict[str, Any], timeout_seconds: float = 10.0) -> dict[str, Any]:
        """Runs the real handler on `event` with a fresh context (its deadline included)."""
        return invoke(event, timeout_seconds=timeout_seconds)

    def journal(self) -> list[dict[str, Any]]:
        return sandbox_journal(self.sandbox)

    def set_upstream_key(self, key: str) -> None:
        """Makes the sandbox accept only `key` from now on (the upstream side of a rotation)."""
        control(self.sandbox.url, "POST", "key", {"key": key})

    def put_secret(self, secret_string: str) -> None:
        """Stores a new secret version (e.g. a rotated key: '{"apiKey": "..."}')."""
        secrets = self._session().client("secretsmanager", endpoint_url=self.moto.endpoint_url)
        secrets.put_secret_value(SecretId=self.secret_name, SecretString=secret_string)

    def attempts(self, reference_id: str) -> int | None:
        """Distinct PINs recorded for `reference_id` (canonical form), if any (SPEC §6)."""
        item = self.attempt_record(reference_id)
        if item is None or "guesses" not in item:
            return None
        return len(item["guesses"]["SS"])

    def checks(self, reference_id: str) -> int | None:
        """All PIN checks recorded for `reference_id` (canonical form), if any."""
        item = self.attempt_record(reference_id)
        if item is None or "checks" not in item:
            return None
        return int(item["checks"]["N"])

    def clear_attempts(self) -> None:
        """Deletes every attempt record (a fresh window for every reference id)."""
        dynamodb = self._session().client("dynamodb", endpoint_url=self.moto.endpoint_url)
        for item in dynamodb.scan(TableName=self.table_name, ConsistentRead=True)["Items"]:
            dynamodb.delete_item(
                TableName=self.table_name, Key={"referenceId": item["referenceId"]}
            )

    def attempt_record(self, reference_id: str) -> dict[str, Any] | None:
        """The raw attempts-table item of `reference_id` (canonical form), if any."""
        dynamodb = self._session().client("dynamodb", endpoint_url=self.moto.endpoint_url)
        item: dict[str, Any] | None = dynamodb.get_item(
            TableName=self.table_name,
            Key={"referenceId": {"S": reference_id}},
            ConsistentRead=True,
        ).get("Item")
        return item

    def _session(self) -> boto3.session.Session:
        credentials = local_aws_environment(self.moto.endpoint_url, self.region)
        return boto3.session.Session(
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            region_name=self.region,
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """This worker's AWS emulator (moto in a subprocess on a free port)."""
    with start_moto() as server:
        yield server


@pytest.fixture(scope="session")
def signing_key(moto_server: MotoServer) -> str:
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
    moto_server: MotoServer,
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
    _reset_cold_start_state()
    yield env
    _reset_cold_start_state()


# --------------------------------------------------------------------------- log hygiene
# SPEC §5: no log line ever contains the API key or the PIN. Every integration
# test's captured stdout/stderr/logs (and whatever a test read through the
# `function_output` fixture) is searched for the sandbox key, every rotated key
# and every PIN the suite sent; a hit fails the test, whatever it asserted.

_OUTPUT_READ: Final = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    read = item.stash.get(_OUTPUT_READ, [])
    item.stash[_OUTPUT_READ] = []
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


@dataclass
class FunctionOutput:
    """What the function printed (JSON log lines, EMF metrics) since the last read."""

    capsys: pytest.CaptureFixture[str]
    item: pytest.Item

    def read(self) -> str:
        out, err = self.capsys.readouterr()
        text = out + err
        self.item.stash.setdefault(_OUTPUT_READ, []).append(text)  # still checked for leaks
        return text


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
    _reset_cold_start_state()
    with proxy:
        yield proxy
