"""The function environment the integration fixtures hand to tests (see conftest.py).

`FunctionEnv` runs the real handler and reaches moto and the sandbox for a test;
`FunctionOutput` reads what the function printed. Test modules import these from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Protocol

import boto3
import pytest

from local.emulator import DEFAULT_REGION, local_aws_environment
from local.lambda_runtime import invoke
from local.sandbox import SandboxServer, control, fetch_journal


def sandbox_journal(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """Every upstream request the sandbox received since its last reset (over HTTP).

    Test modules can import the same helper as `local.sandbox.fetch_journal(url)`.
    """
    return fetch_journal(sandbox.url)


def reset_cold_start_state() -> None:
    """The next invocation is a cold start: settings, clients and caches are built again."""
    from telephone_status.service import reset_cold_start_state  # noqa: PLC0415 (lazy)

    reset_cold_start_state()


class Emulator(Protocol):
    """moto, started for this session or shared by the whole run (conftest.moto_server)."""

    @property
    def endpoint_url(self) -> str: ...


@dataclass
class FunctionEnv:
    """One test's function environment, and the handles tests need around it."""

    secret_name: str
    table_name: str
    sandbox: SandboxServer
    moto: Emulator
    monkeypatch: pytest.MonkeyPatch
    region: str = DEFAULT_REGION

    def set_format(self, fmt: str) -> None:
        """Switches PROXSTOP_FORMAT; the next invocation is a cold start that reads it."""
        self.monkeypatch.setenv("PROXSTOP_FORMAT", fmt)
        reset_cold_start_state()

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
        """Distinct PINs recorded for `reference_id` (canonical form), if any.

        The table's layout: docs/api.md#pin-attempt-limit.
        """
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


# What FunctionOutput.read() handed a test; the log-hygiene check still scans it.
OUTPUT_READ: Final = pytest.StashKey[list[str]]()


@dataclass
class FunctionOutput:
    """What the function printed (JSON log lines, EMF metrics) since the last read."""

    capsys: pytest.CaptureFixture[str]
    item: pytest.Item

    def read(self) -> str:
        out, err = self.capsys.readouterr()
        text = out + err
        self.item.stash.setdefault(OUTPUT_READ, []).append(text)  # still checked for leaks
        return text
