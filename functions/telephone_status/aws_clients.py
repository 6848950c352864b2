"""boto3 clients whose timeouts fit the invocation's remaining time (docs/upstream.md).

botocore fixes connect/read timeouts and retries per client, so each service
gets a few clients, one per budget tier, each built on first use and then
reused for the life of the execution environment. A call asks for a client
with its Deadline and gets the largest tier that still fits in the time left;
when none fits, the call is not started (CallDoesNotFit).

Every tier makes one try only: botocore's retry pause can grow to seconds
(throttling backoff, honoured `x-amz-retry-after`), which no budget inside a
10 s function can promise. A failed AWS call fails closed instead, and a
client's retry of the same PIN costs no attempt (docs/api.md#pin-attempt-limit).

botocore's read timeout counts per socket read, so a tier's budget holds only for an
endpoint that answers in one go. Each client's connections read against the deadline of
the call (bounded_io): a dripping endpoint ends at the deadline whatever the tier.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import boto3
from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError

from .bounded_io import CALL_DEADLINE, DeadlineBoundResponse
from .deadline import Deadline

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient
    from types_boto3_kms.client import KMSClient
    from types_boto3_secretsmanager.client import SecretsManagerClient

ClientT = TypeVar("ClientT")
# What a module that calls AWS takes: "a client that fits this deadline".
ClientFactory = Callable[[Deadline], ClientT]


# DynamoDB's answer to a conditional write whose condition did not hold.
CONDITION_FAILED: Final = "ConditionalCheckFailedException"


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call ("" when the answer names none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def condition_failed(exc: ClientError) -> bool:
    """The write was refused by its condition (the item says why), not by a failure."""
    return error_code(exc) == CONDITION_FAILED


class CallDoesNotFit(Exception):
    """Too little time is left to start this AWS call and still answer in time."""


@dataclass(frozen=True)
class BudgetTier:
    connect_timeout: float
    read_timeout: float

    @property
    def worst_case_seconds(self) -> float:
        # One try (no botocore retries): connect, then wait for the answer.
        return self.connect_timeout + self.read_timeout


# Largest first. The smallest still suits an in-region call (single-digit ms normally).
TIERS: Final = (
    BudgetTier(connect_timeout=1.0, read_timeout=2.0),
    BudgetTier(connect_timeout=0.5, read_timeout=1.0),
    BudgetTier(connect_timeout=0.25, read_timeout=0.5),
    BudgetTier(connect_timeout=0.1, read_timeout=0.25),
)


def tier_for(remaining_seconds: float, tiers: tuple[BudgetTier, ...] = TIERS) -> int | None:
    """Index of the largest tier whose worst case fits in the time left, or None."""
    for index, tier in enumerate(tiers):
        if tier.worst_case_seconds <= remaining_seconds:
            return index
    return None


# botocore's own response class is http.client's (its stubs say otherwise).
class _BoundAwsConnection(AWSHTTPConnection):
    response_class = DeadlineBoundResponse  # type: ignore[assignment]


class _BoundAwsHTTPSConnection(AWSHTTPSConnection):
    response_class = DeadlineBoundResponse  # type: ignore[assignment]


class _BoundAwsPool(AWSHTTPConnectionPool):
    ConnectionCls = _BoundAwsConnection


class _BoundAwsHTTPSPool(AWSHTTPSConnectionPool):
    ConnectionCls = _BoundAwsHTTPSConnection


def bind_reads_to_deadlines(client: Any) -> None:
    """Makes `client`'s connections read against CALL_DEADLINE.

    botocore has no public hook for its connection classes; its URLLib3Session keeps
    them in one per-session map that its pool managers share, filled before the first
    request. Anything else is a botocore this code does not know: refuse to run on it
    (a test builds a client and calls through it).
    """
    if not isinstance(client, BaseClient):
        return  # a stand-in (unit tests): no connections to bind
    session = getattr(getattr(client, "_endpoint", None), "http_session", None)
    classes = getattr(session, "_pool_classes_by_scheme", None)
    if not isinstance(classes, dict) or set(classes) != {"http", "https"}:
        raise RuntimeError("botocore's HTTP session changed: AWS reads cannot be deadline-bound")
    classes.update(http=_BoundAwsPool, https=_BoundAwsHTTPSPool)


class AwsClients:
    """Per-service, per-tier boto3 clients, built lazily and cached (one set per environment)."""

    def __init__(
        self,
        session: boto3.session.Session | None = None,
        tiers: tuple[BudgetTier, ...] = TIERS,
    ) -> None:
        self._session = session or boto3.session.Session()
        self._tiers = tiers
        self._clients: dict[tuple[str, int], Any] = {}
        # boto3 client creation is not thread-safe; the local server and tests run threads.
        self._lock = threading.Lock()

    def prebuild(self, service_names: tuple[str, ...]) -> None:
        """Build every tier's client now (before a SnapStart snapshot), not mid-request."""
        for service_name in service_names:
            for index in range(len(self._tiers)):
                self._build(service_name, index)

    def dynamodb(self, deadline: Deadline) -> DynamoDBClient:
        return cast("DynamoDBClient", self.client("dynamodb", deadline))

    def secretsmanager(self, deadline: Deadline) -> SecretsManagerClient:
        return cast("SecretsManagerClient", self.client("secretsmanager", deadline))

    def kms(self, deadline: Deadline) -> KMSClient:
        return cast("KMSClient", self.client("kms", deadline))

    def client(self, service_name: str, deadline: Deadline) -> Any:
        """The largest-budget client for `service_name` that fits; raises CallDoesNotFit."""
        while True:
            index = tier_for(deadline.remaining(), self._tiers)
            if index is None:
                raise CallDoesNotFit(f"{service_name}: {deadline.remaining():.3f}s left")
            found = self._clients.get((service_name, index))
            if found is not None:
                # The caller makes its call at once (`clients(deadline).update_item(...)`):
                # that call's reads are bound to this deadline.
                CALL_DEADLINE.set(deadline)
                return found
            self._build(service_name, index)
            # Building took time (a cold start loads the service model): choose again.

    def _build(self, service_name: str, index: int) -> None:
        with self._lock:
            if (service_name, index) in self._clients:
                return
            tier = self._tiers[index]
            client = self._session.client(
                service_name,  # type: ignore[call-overload]
                config=Config(
                    connect_timeout=tier.connect_timeout,
                    read_timeout=tier.read_timeout,
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    # Our calls have fixed shapes (typed in code and tested against moto):
                    # botocore's client-side re-validation cost ~0.1-0.2 ms per PIN check.
                    parameter_validation=False,
                ),
            )
            bind_reads_to_deadlines(client)
            self._clients[(service_name, index)] = client
