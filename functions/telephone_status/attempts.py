"""PIN attempt limit: distinct PINs per reference id, one conditional write per check.

The rules and the table layout: docs/api.md#pin-attempt-limit.

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
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .aws_clients import CallDoesNotFit, ClientFactory, condition_failed
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
# How far ahead a window may end. The function writes now + WINDOW_SECONDS; a started
# verification's TTL is within a day too. An end further away (a record written by hand,
# a value in milliseconds) is not a window this function knows how to honour.
MAX_WINDOW_AHEAD_SECONDS: Final = 7 * 24 * 60 * 60
MAX_RESETS: Final = 3
HASH_KEY_LABEL: Final = b"telephone-status/attempt-guesses/v1"
# Members that stand for the distinct PINs a v1 record counted (its `attempts`), carried
# into the set on upgrade so that the window's total stays at MAX_CODE_ATTEMPTS. They
# hold nothing about any PIN and can never equal a keyed hash (64 hex digits).
V1_ATTEMPT_MARKER: Final = "v1-attempt-"

# `checks` and `guesses` are reserved-word-free; the names are the fixed table layout.
REGISTER_UPDATE: Final = (
    "ADD guesses :guess, checks :one SET expiresAt = if_not_exists(expiresAt, :expires)"
)
# Only a record in the shape this function writes (or none at all) is updated. Anything
# else fails the condition and is looked at in Python (_record_problem): fail closed.
REGISTER_CONDITION: Final = (
    # A v1 record (its `attempts` counter) is upgraded by a write of its own first.
    "attribute_not_exists(attempts)"
    " AND ((attribute_not_exists(expiresAt) AND attribute_not_exists(guesses)"
    " AND attribute_not_exists(checks))"
    " OR (attribute_type(expiresAt, :numberType) AND expiresAt > :now"
    " AND expiresAt <= :latest))"
    " AND (attribute_not_exists(checks)"
    " OR (attribute_type(checks, :numberType) AND checks >= :zero AND checks < :maxChecks))"
    " AND (attribute_not_exists(guesses) OR (attribute_type(guesses, :stringSetType)"
    " AND (contains(guesses, :guessValue) OR size(guesses) < :maxAttempts)))"
    # A reference started through the API: only until its verifyBy, and only while no newer
    # start for the number superseded it (docs/api.md#starting-a-verification).
    " AND (attribute_not_exists(verifyBy) OR verifyBy >= :now)"
    " AND attribute_not_exists(supersededBy)"
)
# ACCEPT_EXTERNAL_REFERENCES=false: only references the API started may be checked.
STARTED_ONLY_CONDITION: Final = " AND attribute_exists(startedAt)"
# Logged (with the record's problem, never its contents) when a record cannot be read safely.
UNEXPECTED_RECORD_LOG: Final = (
    "PIN attempt record has an unexpected shape; checks for this reference id fail until the"
    " item is deleted"
)


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

    def first_verification(self, reference_id: str, deadline: Deadline) -> bool:
        """Marks a started reference verified; True only the first time (the same PIN again,
        a double tap, must not count as one more verified start)."""


def _log_not_marked(exc: Exception) -> None:
    logger.warning(
        "verification not marked",  # pragma: no mutate
        extra={"error_type": type(exc).__name__},
    )


class NoAttemptLimit:
    """Used when ATTEMPTS_TABLE_NAME is unset (local experiments only)."""

    def register_check(
        self, reference_id: str, pin: str, api_key: str, deadline: Deadline
    ) -> CheckRecord:
        return CheckRecord(remaining=None)

    def started(self, reference_id: str, deadline: Deadline) -> StartedReference | None:
        return None

    def first_verification(self, reference_id: str, deadline: Deadline) -> bool:
        return False


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
    """A counted check: distinct PINs still allowed, and the start it belongs to."""

    remaining: int
    started: StartedReference | None = None


class _LockedOut(Exception):
    """The record's window is full (distinct PINs or checks) until `expires_at`."""

    def __init__(self, expires_at: int) -> None:
        super().__init__()
        self.expires_at = expires_at


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
                reason=f"attempt store unreachable: {type(exc).__name__}"  # pragma: no mutate
            ) from None
        return _started(item or {})

    def first_verification(self, reference_id: str, deadline: Deadline) -> bool:
        try:
            self._clients(deadline).update_item(
                TableName=self._table,
                Key={"referenceId": {"S": reference_id}},
                UpdateExpression="SET verifiedAt = :now",
                ConditionExpression=(
                    "attribute_exists(startedAt) AND attribute_not_exists(verifiedAt)"
                ),
                ExpressionAttributeValues={":now": {"N": str(int(self._clock()))}},
            )
        except ClientError as exc:
            if not condition_failed(exc):  # not "verified before": a real failure
                _log_not_marked(exc)
            return False
        except (BotoCoreError, CallDoesNotFit) as exc:
            # Only the verified-starts metric depends on it: the correct PIN still counts.
            _log_not_marked(exc)
            return False
        return True

    def register_check(
        self, reference_id: str, pin: str, api_key: str, deadline: Deadline
    ) -> CheckRecord:
        guess = self._hasher.digest(api_key, reference_id, pin)
        try:
            outcome = self._register(reference_id, guess, deadline)
        except (BotoCoreError, ClientError, CallDoesNotFit) as exc:
            # Fail closed: without the record a PIN could be brute forced.
            raise ServiceUnavailable(
                reason=f"attempt store unreachable: {type(exc).__name__}"  # pragma: no mutate
            ) from None
        except _UnexpectedRecord as exc:
            # Never a guess for a record of unknown meaning; the log names its problem (no
            # PIN, no hash) so that an operator can remove it (docs/operations.md).
            logger.error(
                UNEXPECTED_RECORD_LOG,
                extra={"referenceId": reference_id, "recordProblem": exc.problem},
            )
            raise ServiceUnavailable(
                reason=f"attempt record unexpected: {exc.problem}"  # pragma: no mutate
            ) from None
        except _LockedOut as locked_out:
            count(ATTEMPT_LOCKOUTS)
            logger.warning(
                "PIN attempt limit reached",  # pragma: no mutate
                extra={"referenceId": reference_id},
            )
            retry_after = max(1, math.ceil(locked_out.expires_at - self._clock()))
            raise TooManyAttempts(
                retry_after_seconds=retry_after,
                reason="attempt limit reached",  # pragma: no mutate
            ) from None
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
                        ":zero": {"N": "0"},
                        ":expires": {"N": str(now + WINDOW_SECONDS)},
                        ":now": {"N": str(now)},
                        ":latest": {"N": str(now + MAX_WINDOW_AHEAD_SECONDS)},
                        ":maxChecks": {"N": str(self._max_checks)},
                        ":maxAttempts": {"N": str(self._max_attempts)},
                        ":numberType": {"S": "N"},
                        ":stringSetType": {"S": "SS"},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                old: dict[str, Any] = exc.response.get("Item") or {}  # type: ignore[assignment]
                decided = self._after_refusal(key, old, guess, now, deadline)
                if decided is not None:
                    return decided
                continue
            return self._allowed(result["Attributes"], now)
        raise ServiceUnavailable(
            reason="attempt record kept changing during reset"  # pragma: no mutate
        )

    def _after_refusal(
        self, key: dict[str, Any], old: dict[str, Any], guess: str, now: int, deadline: Deadline
    ) -> _Outcome | None:
        """Why the write was refused, and what follows; None: the item changed, try again."""
        if not self._accept_external and "startedAt" not in old:
            raise UnknownReference(
                reason="reference was not started through the API"  # pragma: no mutate
            )
        if not old:
            return None  # deleted in between (TTL or an operator)
        problem = _record_problem(old, now)
        if problem is not None:
            raise _UnexpectedRecord(problem)
        self._refuse_started(old, now)
        if "expiresAt" not in old:
            # Every refusal a record without a window can earn is decided above.
            raise _UnexpectedRecord("attempt counters without expiresAt")  # pragma: no mutate
        expires = _integer(old["expiresAt"])
        if expires <= now:
            return self._restart_window(key, old, guess, now, deadline)
        if "attempts" in old:
            return self._upgrade_v1(key, old, guess, now, deadline)
        # A live record in our shape: the set is full for a new PIN, or the checks are.
        raise _LockedOut(expires)

    @staticmethod
    def _refuse_started(old: dict[str, Any], now: int) -> None:
        """The refusals that count nothing: expired or superseded verifications."""
        if "verifyBy" in old and _integer(old["verifyBy"]) < now:
            raise VerificationExpired(reason="verification past its verifyBy")  # pragma: no mutate
        if "supersededBy" in old:
            raise VerificationSuperseded(
                reason="a newer verification exists for the number"  # pragma: no mutate
            )

    def _allowed(self, item: dict[str, Any], now: int) -> _Outcome:
        problem = _record_problem(item, now)
        if problem is not None:
            # The condition cannot see a fraction; the record written is checked too.
            raise _UnexpectedRecord(problem)
        tried = len(item["guesses"]["SS"])
        checks = _integer(item["checks"])
        remaining = min(self._max_attempts - tried, self._max_checks - checks)
        return _Outcome(remaining=max(remaining, 0), started=_started(item))

    def _upgrade_v1(
        self, key: dict[str, Any], old: dict[str, Any], guess: str, now: int, deadline: Deadline
    ) -> _Outcome | None:
        """A live v1 record: its count is carried into the set, with this check, in one write.

        v1 counted PIN checks in `attempts`; each counts as a distinct PIN tried (the
        conservative reading) and as a check. None when a concurrent check changed the
        item first (the caller tries again).
        """
        counted = _integer(old["attempts"])
        expires = _integer(old["expiresAt"])
        tried = {f"{V1_ATTEMPT_MARKER}{n}" for n in range(1, min(counted, self._max_attempts) + 1)}
        tried |= set(old.get("guesses", {}).get("SS", []))
        checks = _integer(old["checks"]) if "checks" in old else 0
        checks += counted
        if (guess not in tried and len(tried) >= self._max_attempts) or (
            checks >= self._max_checks
        ):
            raise _LockedOut(expires)
        try:
            result = self._clients(deadline).update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET guesses = :tried, checks = :checks REMOVE attempts",
                # Only the v1 record read above: a concurrent upgrade removes `attempts`.
                ConditionExpression="attempts = :counted AND expiresAt = :expires",
                ExpressionAttributeValues={
                    ":tried": {"SS": sorted(tried | {guess})},
                    ":checks": {"N": str(checks + 1)},
                    ":counted": old["attempts"],
                    ":expires": old["expiresAt"],
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return None
        return self._allowed(result["Attributes"], now)

    def _restart_window(
        self, key: dict[str, Any], old: dict[str, Any], guess: str, now: int, deadline: Deadline
    ) -> _Outcome | None:
        """The item outlived its TTL: a new window starting with this check.

        None when a concurrent check changed the item first (the caller tries again).
        """
        try:
            result = self._clients(deadline).update_item(
                TableName=self._table,
                Key=key,
                # REMOVE: a v1 item's counter, so that the item keeps the documented layout.
                UpdateExpression=(
                    "SET guesses = :guess, checks = :one, expiresAt = :expires REMOVE attempts"
                ),
                ConditionExpression="expiresAt = :old",
                ExpressionAttributeValues={
                    ":guess": {"SS": [guess]},
                    ":one": {"N": "1"},
                    ":expires": {"N": str(now + WINDOW_SECONDS)},
                    ":old": old["expiresAt"],
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return None
        return self._allowed(result["Attributes"], now)


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


class _UnexpectedRecord(Exception):
    """The item is not in a shape this function writes; `problem` says how (no values)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)  # pragma: no mutate
        self.problem = problem


# A DynamoDB number this function writes: an integer, no sign, no fraction or exponent.
_PLAIN_INTEGER: Final = re.compile(r"0|[1-9][0-9]{0,37}")


def _integer(value: Any) -> int:
    """The integer of an attribute _record_problem accepted."""
    return int(value["N"])


def _is_plain_integer(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"N"}
        and isinstance(value["N"], str)
        and _PLAIN_INTEGER.fullmatch(value["N"]) is not None
    )


def _record_problem(item: dict[str, Any], now: int) -> str | None:
    """What makes `item` a record this function did not write, or None for a known shape.

    Known: no `expiresAt` (a new or a started verification; counters without it never pass
    the attempt condition, and the refusal names them), or `expiresAt` a positive integer
    at most MAX_WINDOW_AHEAD_SECONDS ahead with, optionally, `guesses` a string set,
    `checks` a non-negative integer and (v1) `attempts` one too.
    """
    if "verifyBy" in item and not _is_plain_integer(item["verifyBy"]):
        return "verifyBy is not a whole number of epoch seconds"  # pragma: no mutate
    expires = item.get("expiresAt")
    if expires is None:
        # Counters without a window never pass the attempt condition: the refusal that
        # follows names them (_after_refusal).
        return None
    if not _is_plain_integer(expires):
        return "expiresAt is not a whole number of epoch seconds"  # pragma: no mutate
    end = _integer(expires)
    if end == 0:
        return "expiresAt is zero"  # pragma: no mutate
    if end > now + MAX_WINDOW_AHEAD_SECONDS:
        return "expiresAt is further ahead than any window"  # pragma: no mutate
    guesses = item.get("guesses")
    if guesses is not None and (
        not isinstance(guesses, dict)
        or set(guesses) != {"SS"}
        or not isinstance(guesses["SS"], list)
    ):
        return "guesses is not a string set"  # pragma: no mutate
    for name in ("checks", "attempts"):
        if name in item and not _is_plain_integer(item[name]):
            return f"{name} is not a non-negative whole number"  # pragma: no mutate
    return None
