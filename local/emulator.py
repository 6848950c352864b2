"""The local AWS emulator: moto's server in a subprocess, provisioned like the deployed stack.

Why a subprocess and not moto's in-process mocks: the function must reach AWS
through the standard `AWS_ENDPOINT_URL` over real HTTP, exactly the code path
production uses, with no test-only branch in the function.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from local.lifecycle import Stoppable

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient
    from types_boto3_kms.client import KMSClient
    from types_boto3_secretsmanager.client import SecretsManagerClient

HOST: Final = "127.0.0.1"
DEFAULT_SECRET_NAME: Final = "proxstop/api-key"  # noqa: S105 (a name, not a secret)
DEFAULT_TABLE_NAME: Final = "telephone-status-attempts"
DEFAULT_REGION: Final = "us-east-1"
STARTUP_TIMEOUT_SECONDS: Final = 20.0
LOG_TAIL_LINES: Final = 40
_CLIENT_CONFIG: Final = Config(
    connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
)


def free_port() -> int:
    """A port that was free a moment ago (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    """True once moto's own API answers on `port` (not just anything listening there)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/moto-api/data.json")
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return response.status == 200


# Names an emulator the test fixtures use instead of starting their own (tools/mutate.py).
SHARED_MOTO_URL: Final = "TEST_SHARED_MOTO_URL"


class MotoServer(Stoppable):
    """A running `python -m moto.server` bound to 127.0.0.1; stop() ends it for good.

    Its output (a line per request) is drained continuously and only the
    last lines are kept, for error messages: long runs cannot fill a pipe or a disk.
    """

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.endpoint_url = f"http://{HOST}:{port}"
        self._tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self._drain = threading.Thread(target=self._read_output, name="moto-log", daemon=True)
        self._drain.start()

    def _read_output(self) -> None:
        if self.process.stdout is None:
            return
        for line in self.process.stdout:  # ends at EOF, i.e. when moto exits
            self._tail.append(line.decode("utf-8", "replace").rstrip())

    def stop(self, timeout: float = 5.0) -> None:
        """Terminates moto and waits for it (kills it if it does not go in time)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._drain.join(1.0)
        if self.process.stdout is not None:
            with contextlib.suppress(OSError):
                self.process.stdout.close()

    def log_tail(self) -> str:
        """The last lines moto printed, for error messages."""
        return "\n".join(self._tail)


def _launch(port: int) -> MotoServer:
    process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # Its own session: a Ctrl-C in the terminal reaches only the parent,
        # which then stops moto in order (no interleaved tracebacks).
        start_new_session=True,
    )
    return MotoServer(process, port)


def start_moto(port: int = 0) -> MotoServer:
    """Starts moto on `port` (0: a free one) and returns once it answers HTTP."""
    attempts = 3 if port == 0 else 1
    failure = ""
    for _ in range(attempts):
        server = _launch(port or free_port())
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
            while time.monotonic() < deadline and server.process.poll() is None:
                if _answers(server.port):
                    return server
                time.sleep(0.1)
        except BaseException:  # e.g. Ctrl-C while waiting: never leave moto behind
            server.stop()
            raise
        exited_early = server.process.poll() is not None  # e.g. the port was taken meanwhile
        failure = server.log_tail()
        server.stop()
        if not exited_early:
            break
    raise RuntimeError(f"moto did not start on {HOST}:{port or 'a free port'}:\n{failure}")


def local_aws_environment(endpoint_url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point boto3 (in any process) at the emulator."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@functools.lru_cache(maxsize=16)
def _session(region: str) -> boto3.session.Session:
    """One session per region: building clients is the slow part of provisioning."""
    credentials = local_aws_environment("", region)
    return boto3.session.Session(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )


@functools.lru_cache(maxsize=16)
def _secrets_client(endpoint_url: str, region: str) -> SecretsManagerClient:
    return _session(region).client(
        "secretsmanager", endpoint_url=endpoint_url, config=_CLIENT_CONFIG
    )


@functools.lru_cache(maxsize=16)
def _dynamodb_client(endpoint_url: str, region: str) -> DynamoDBClient:
    return _session(region).client("dynamodb", endpoint_url=endpoint_url, config=_CLIENT_CONFIG)


@functools.lru_cache(maxsize=16)
def _kms_client(endpoint_url: str, region: str) -> KMSClient:
    return _session(region).client("kms", endpoint_url=endpoint_url, config=_CLIENT_CONFIG)


def create_signing_key(endpoint_url: str, region: str = DEFAULT_REGION) -> str:
    """A new ECC_NIST_P256 token signing key in the emulator; returns its ARN."""
    metadata = _kms_client(endpoint_url, region).create_key(
        KeySpec="ECC_NIST_P256",
        KeyUsage="SIGN_VERIFY",
        Description="telephone-status verification tokens (local)",
    )["KeyMetadata"]
    return metadata["Arn"]


def provision(
    endpoint_url: str,
    *,
    secret_name: str,
    secret_value: str,
    table_name: str,
    region: str = DEFAULT_REGION,
) -> None:
    """Creates the API-key secret and the attempts table (docs/api.md#table-layout); safe to repeat.

    An existing secret gets `secret_value` as its new current version; an
    existing table is left as it is apart from making sure TTL is on.
    """
    secrets = _secrets_client(endpoint_url, region)
    try:
        secrets.create_secret(Name=secret_name, SecretString=secret_value)
    except ClientError as error:
        if _error_code(error) != "ResourceExistsException":
            raise
        secrets.put_secret_value(SecretId=secret_name, SecretString=secret_value)

    dynamodb = _dynamodb_client(endpoint_url, region)
    try:
        dynamodb.create_table(
            TableName=table_name,
            AttributeDefinitions=[{"AttributeName": "referenceId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "referenceId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as error:
        if _error_code(error) != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 20}
    )
    ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
        )
