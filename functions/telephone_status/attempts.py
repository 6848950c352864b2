"""PIN attempt limit (SPEC §6): one atomic DynamoDB counter per reference id.

The counter is incremented before the upstream is called; the request is
refused once it exceeds the limit. Counters expire 24 h after the first check
(TTL on `expiresAt`). Since TTL deletion lags, an expired item that still
exists is reset here rather than counted.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .errors import ServiceUnavailable, TooManyAttempts
from .observability import ATTEMPT_LOCKOUTS, count, logger

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

WINDOW_SECONDS: Final = 24 * 60 * 60
CONDITION_FAILED: Final = "ConditionalCheckFailedException"
MAX_RESETS: Final = 3


class AttemptLimiter(Protocol):
    def register_check(self, reference_id: str) -> None:
        """Counts one PIN check; raises TooManyAttempts or ServiceUnavailable."""


class NoAttemptLimit:
    """Used when ATTEMPTS_TABLE_NAME is unset (local experiments only)."""

    def register_check(self, reference_id: str) -> None:
        return None


class DynamoAttemptLimiter:
    def __init__(
        self,
        client_factory: Callable[[], DynamoDBClient],
        table_name: str,
        max_attempts: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_factory = client_factory
        self._table = table_name
        self._max_attempts = max_attempts
        self._clock = clock

    @functools.cached_property
    def _client(self) -> DynamoDBClient:
        # Built on the first PIN check, not at cold start: status lookups never need it.
        return self._client_factory()

    def register_check(self, reference_id: str) -> None:
        try:
            attempts = self._increment(reference_id)
        except (BotoCoreError, ClientError) as exc:
            # Fail closed: without the counter a PIN could be brute forced.
            raise ServiceUnavailable(
                reason=f"attempt store unreachable: {type(exc).__name__}"
            ) from None
        if attempts > self._max_attempts:
            count(ATTEMPT_LOCKOUTS)
            logger.warning(
                "PIN attempt limit reached",
                extra={"referenceId": reference_id, "attempts": attempts},
            )
            raise TooManyAttempts(reason=f"attempt {attempts} over limit {self._max_attempts}")

    def _increment(self, reference_id: str) -> int:
        key = {"referenceId": {"S": reference_id}}
        for _ in range(MAX_RESETS):
            now = int(self._clock())
            try:
                result = self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=(
                        "ADD attempts :one SET expiresAt = if_not_exists(expiresAt, :expires)"
                    ),
                    ConditionExpression="attribute_not_exists(expiresAt) OR expiresAt > :now",
                    ExpressionAttributeValues={
                        ":one": {"N": "1"},
                        ":expires": {"N": str(now + WINDOW_SECONDS)},
                        ":now": {"N": str(now)},
                    },
                    ReturnValues="UPDATED_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return int(result["Attributes"]["attempts"]["N"])
            except ClientError as exc:
                if _error_code(exc) != CONDITION_FAILED:
                    raise
                old_item: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                self._restart_window(key, old_item, now)
        raise ServiceUnavailable(reason="attempt counter kept changing during reset")

    def _restart_window(self, key: dict[str, Any], old_item: dict[str, Any], now: int) -> None:
        """The item outlived its TTL: start a new window, unless a concurrent check did."""
        expires = old_item.get("expiresAt", {}).get("N")
        if expires is None:
            return
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET attempts = :zero, expiresAt = :expires",
                ConditionExpression="expiresAt = :old",
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":expires": {"N": str(now + WINDOW_SECONDS)},
                    ":old": {"N": expires},
                },
            )
        except ClientError as exc:
            if _error_code(exc) != CONDITION_FAILED:
                raise


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
