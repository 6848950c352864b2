"""PIN attempt limit (SPEC §6): distinct PINs per reference id, one conditional write per check.

Item per canonical reference id: `guesses` (string set of keyed hashes, one per
distinct PIN tried), `checks` (all PIN checks), `expiresAt` (TTL, end of the
24-hour window that starts at the first check).

The one conditional UpdateItem adds the PIN's hash to the set (a no-op for a
repeat) and counts the check, on condition that the window is live, the check
cap is not reached, and the PIN was tried before or the set still has room.
DynamoDB evaluates that atomically, so concurrent checks cannot overshoot.
Since TTL deletion lags, an expired item that still exists is replaced by a
new window holding this check (a second write, once per window).

Hash key: HMAC(ProxStop API key, fixed label). It needs no new infrastructure
(the function already reads that secret before counting a check), the table
never holds it, and without it the 99,900 possible PINs cannot be recomputed
from a table dump. Rotating the API key only makes a repeated PIN count as a new
one, which never helps a guesser.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import CallDoesNotFit, ClientFactory
from .deadline import Deadline
from .errors import (
    ServiceUnavailable,
    TooManyAttempts,
    UnknownReference,
    VerificationExpired,
    VerificationSuperseded,
)
from .observability import ATTEMPT_LOCKOUTS, count, logger

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

WINDOW_SECONDS: Final = 24 * 60 * 60
CONDITION_FAILED: Final = "ConditionalCheckFailedException"
MAX_RESETS: Final = 3
HASH_KEY_LABEL: Final = b"telephone-status/attempt-guesses/v1"

# `checks` and `guesses` are reserved-word-free; the names are the fixed table layout.
REGISTER_UPDATE: Final = (
    "ADD guesses :guess, checks :one SET expiresAt = if_not_exists(expiresAt, :expires)"
)
REGISTER_CONDITION: Final = (
    "(attribute_not_exists(expiresAt) OR expiresAt > :now)"
    " AND (attribute_not_exists(checks) OR checks < :maxChecks)"
    " AND (attribute_not_exists(guesses) OR contains(guesses, :guessValue)"
    " OR size(guesses) < :maxAttempts)"
    # A v1 item (its `attempts` counter, until its window ends) keeps a reference it locked
    # locked: upgrading must not hand out fresh guesses.
    " AND (attribute_not_exists(attempts) OR attempts < :maxAttempts)"
    # A reference started through the API: only until its verifyBy, and only while no newer
    # start for the number superseded it (docs/api.md#starting-a-verification).
    " AND (attribute_not_exists(verifyBy) OR verifyBy >= :now)"
    " AND attribute_not_exists(supersededBy)"
)
# ACCEPT_EXTERNAL_REFERENCES=false: only references the API started may be checked.
STARTED_ONLY_CONDITION: Final = " AND attribute_exists(startedAt)"


@dataclass(frozen=True)
class StartedReference:
    """What the table knows about a reference started through the API."""

    phone_number: str
    channel: str
    test_number: bool


@dataclass(frozen=True)
class CheckRecord:
    """A counted PIN check: distinct PINs still allowed, and the start it belongs to."""

    remaining: int | None
    started: StartedReference | None = None


class AttemptLimiter(Protocol):
    def register_check(
        self, reference_id: str, pin: str, api_key: str, deadline: Deadline
    ) -> CheckRecord:
        """Records one PIN check; returns the distinct PINs still allowed after it.

        Raises TooManyAttempts (429) or ServiceUnavailable (503, fail closed); for a started
        reference VerificationExpired (410) or VerificationSuperseded (409), nothing counted.
        """

    def started(self, reference_id: str, deadline: Deadline) -> StartedReference | None:
        """The start record of `reference_id`, if the API started it (a consistent read)."""


class NoAttemptLimit:
    """Used when ATTEMPTS_TABLE_NAME is unset (local experiments only)."""

    def register_check(
        self, reference_id: str, pin: str, api_key: str, deadline: Deadline
    ) -> CheckRecord:
        return CheckRecord(remaining=None)

    def started(self, reference_id: str, deadline: Deadline) -> StartedReference | None:
        return None


class KeyedHasher:
    """HMAC-SHA-256 under a key derived from the API key and a label; kept per API key.

    One mechanism for every keyed hash the table holds (PIN guesses, send counters): the
    table never holds the key, and a different label per use keeps the hashes apart.
    """

    def __init__(self, label: bytes = HASH_KEY_LABEL) -> None:
        self._label = label
        self._for: tuple[str, bytes] | None = None

    def hexdigest(self, api_key: str, message: str) -> str:
        cached = self._for
        if cached is None or cached[0] != api_key:
            derived = hmac.new(api_key.encode("utf-8"), self._label, hashlib.sha256).digest()
            cached = self._for = (api_key, derived)
        return hmac.new(cached[1], message.encode("ascii"), hashlib.sha256).hexdigest()


class GuessHasher(KeyedHasher):
    """Keyed hash of (reference id, PIN); the derived key is kept for the current API key."""

    def digest(self, api_key: str, reference_id: str, pin: str) -> str:
        return self.hexdigest(api_key, f"{reference_id}:{pin}")


@dataclass(frozen=True)
class _Outcome:
    allowed: bool
    remaining: int
    expires_at: int
    started: StartedReference | None = None


class DynamoAttemptLimiter:
    def __init__(
        self,
        clients: ClientFactory[DynamoDBClient],
        table_name: str,
        max_attempts: int,
        max_checks: int,
        clock: Callable[[], float] = time.time,
        *,
        accept_external: bool = True,
    ) -> None:
        self._clients = clients
        self._condition = REGISTER_CONDITION + ("" if accept_external else STARTED_ONLY_CONDITION)
        self._accept_external = accept_external
        self._table = table_name
        self._max_attempts = max_attempts
        self._max_checks = max_checks
        self._clock = clock
        self._hasher = GuessHasher()

    def started(self, reference_id: str, deadline: Deadline) -> StartedReference | None:
        try:
            item = (
                self._clients(deadline)
                .get_item(
                    TableName=self._table,
                    Key={"referenceId": {"S": reference_id}},
                    ConsistentRead=True,
                    ProjectionExpression="phoneNumber, channel, testNumber, startedAt",
                )
                .get("Item")
            )
        except (BotoCoreError, ClientError, CallDoesNotFit) as exc:
            raise ServiceUnavailable(
                reason=f"attempt store unreachable: {type(exc).__name__}"
            ) from None
        return _started(item or {})

    def register_check(
        self, reference_id: str, pin: str, api_key: str, deadline: Deadline
    ) -> CheckRecord:
        guess = self._hasher.digest(api_key, reference_id, pin)
        try:
            outcome = self._register(reference_id, guess, deadline)
        except (BotoCoreError, ClientError, CallDoesNotFit) as exc:
            # Fail closed: without the record a PIN could be brute forced.
            raise ServiceUnavailable(
                reason=f"attempt store unreachable: {type(exc).__name__}"
            ) from None
        if not outcome.allowed:
            count(ATTEMPT_LOCKOUTS)
            logger.warning("PIN attempt limit reached", extra={"referenceId": reference_id})
            retry_after = max(1, math.ceil(outcome.expires_at - self._clock()))
            raise TooManyAttempts(retry_after_seconds=retry_after, reason="attempt limit reached")
        return CheckRecord(remaining=outcome.remaining, started=outcome.started)

    def _register(self, reference_id: str, guess: str, deadline: Deadline) -> _Outcome:
        key = {"referenceId": {"S": reference_id}}
        for _ in range(MAX_RESETS):
            now = int(self._clock())
            try:
                result = self._clients(deadline).update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression=REGISTER_UPDATE,
                    ConditionExpression=self._condition,
                    ExpressionAttributeValues={
                        ":guess": {"SS": [guess]},
                        ":guessValue": {"S": guess},
                        ":one": {"N": "1"},
                        ":expires": {"N": str(now + WINDOW_SECONDS)},
                        ":now": {"N": str(now)},
                        ":maxChecks": {"N": str(self._max_checks)},
                        ":maxAttempts": {"N": str(self._max_attempts)},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if _error_code(exc) != CONDITION_FAILED:
                    raise
                old: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                self._refuse_started(old, now)
                expires = _number(old, "expiresAt")
                if expires is not None and expires > now:
                    return _Outcome(allowed=False, remaining=0, expires_at=expires)
                restarted = self._restart_window(key, old, guess, now, deadline)
                if restarted is not None:
                    return restarted
                continue
            return self._allowed(result["Attributes"])
        raise ServiceUnavailable(reason="attempt record kept changing during reset")

    def _refuse_started(self, old: dict[str, Any], now: int) -> None:
        """The refusals that count nothing: not started here, expired, superseded."""
        if not self._accept_external and "startedAt" not in old:
            raise UnknownReference(reason="reference was not started through the API")
        verify_by = _number(old, "verifyBy")
        if verify_by is not None and verify_by < now:
            raise VerificationExpired(reason="verification past its verifyBy")
        if "supersededBy" in old:
            raise VerificationSuperseded(reason="a newer verification exists for the number")

    def _allowed(self, item: dict[str, Any]) -> _Outcome:
        tried = len(item["guesses"]["SS"])
        checks = _number(item, "checks") or 0
        remaining = min(self._max_attempts - tried, self._max_checks - checks)
        return _Outcome(
            allowed=True, remaining=max(remaining, 0), expires_at=0, started=_started(item)
        )

    def _restart_window(
        self, key: dict[str, Any], old: dict[str, Any], guess: str, now: int, deadline: Deadline
    ) -> _Outcome | None:
        """The item outlived its TTL: a new window starting with this check.

        None when a concurrent check changed the item first (the caller tries again).
        """
        expires = old.get("expiresAt", {}).get("N")
        values: dict[str, Any] = {
            ":guess": {"SS": [guess]},
            ":one": {"N": "1"},
            ":expires": {"N": str(now + WINDOW_SECONDS)},
        }
        if expires is None:
            condition = "attribute_not_exists(expiresAt)"
        else:
            condition = "expiresAt = :old"
            values[":old"] = {"N": expires}
        try:
            result = self._clients(deadline).update_item(
                TableName=self._table,
                Key=key,
                # REMOVE: a v1 item's counter, so that the item keeps the §6 layout.
                UpdateExpression=(
                    "SET guesses = :guess, checks = :one, expiresAt = :expires REMOVE attempts"
                ),
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _error_code(exc) != CONDITION_FAILED:
                raise
            return None
        return self._allowed(result["Attributes"])


def _started(item: dict[str, Any]) -> StartedReference | None:
    phone = item.get("phoneNumber", {}).get("S")
    channel = item.get("channel", {}).get("S")
    if "startedAt" not in item or phone is None or channel is None:
        return None
    return StartedReference(
        phone_number=phone,
        channel=channel,
        test_number=item.get("testNumber", {}).get("BOOL") is True,
    )


def _number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(value) if value is not None else None


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
