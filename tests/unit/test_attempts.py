"""The attempt store's pure parts: the guess hash (keyed by the current API key, stable across
releases) and the verified mark's failure paths (the table itself: tests/integration)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from telephone_status.attempts import (
    MAX_WINDOW_AHEAD_SECONDS,
    DynamoAttemptLimiter,
    GuessHasher,
    NoAttemptLimit,
    StartedReference,
)
from telephone_status.deadline import Deadline
from telephone_status.errors import ServiceUnavailable, TooManyAttempts, VerificationExpired

KEY = "098f6bcd4621d373cade4e832627b4f6"
ROTATED = "rotated-key-0123456789abcdef"
REFERENCE = "97A677DD3E0A42B8EA58D93D05BAC89F"


def test_a_stored_guess_hash_stays_valid_across_releases() -> None:
    # A changed label or construction would re-key every record: a locked reference id
    # would get its guesses back. This value was computed once and must never change.
    expected = "cf2b6febb23ca3ed59da119bb65f46bc29637531765c3acdd0dc42e88e84a021"
    assert GuessHasher().digest(KEY, REFERENCE, "16322") == expected


def test_after_a_rotation_guesses_are_keyed_with_the_new_key() -> None:
    hasher = GuessHasher()
    before = hasher.digest(KEY, REFERENCE, "16322")
    after = hasher.digest(ROTATED, REFERENCE, "16322")
    assert after != before
    assert after == GuessHasher().digest(ROTATED, REFERENCE, "16322")
    # The label keys the HMAC: the API key alone (or with an empty label) gives other hashes.
    message = f"{REFERENCE}:16322".encode()
    for unlabelled in (ROTATED.encode(), hmac.new(ROTATED.encode(), b"", hashlib.sha256).digest()):
        assert after != hmac.new(unlabelled, message, hashlib.sha256).hexdigest()
    assert hasher.digest(KEY, REFERENCE, "16322") == before


# --- marking a start verified: only its metric depends on it, and only a real mark counts


class _Unreachable:
    """A DynamoDB client stand-in whose every call fails as the given error."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def update_item(self, **_: object) -> dict[str, object]:
        raise self._error


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://dynamodb.example"),
        ClientError({"Error": {"Code": "ConditionalCheckFailedException"}}, "UpdateItem"),
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem"),
    ],
    ids=["unreachable", "already-verified", "throttled"],
)
def test_a_verification_that_could_not_be_marked_is_not_a_first(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = DynamoAttemptLimiter(
        lambda _deadline: _Unreachable(error),  # type: ignore[arg-type,return-value]
        "table",
        max_attempts=5,
        max_checks=20,
    )
    assert limiter.first_verification(REFERENCE, Deadline(5.0)) is False
    # "Verified before" is the expected answer to a double tap; anything else is logged.
    logged = [r.__dict__["error_type"] for r in caplog.records if r.levelname == "WARNING"]
    failed = "ConditionalCheckFailed" not in str(error)
    assert logged == ([type(error).__name__] if failed else [])


def test_without_a_table_no_start_is_ever_counted_verified() -> None:
    assert NoAttemptLimit().first_verification(REFERENCE, Deadline(5.0)) is False


def test_a_started_verification_is_checkable_through_its_verify_by_second() -> None:
    record = {"verifyBy": {"N": "1700000000"}}
    DynamoAttemptLimiter._refuse_started(record, 1_700_000_000)  # its last second: still on
    with pytest.raises(VerificationExpired):
        DynamoAttemptLimiter._refuse_started(record, 1_700_000_001)


class _Holding:
    """A DynamoDB client stand-in whose table holds one item."""

    def __init__(self, item: dict[str, object] | None) -> None:
        self._item = item

    def get_item(self, **_: object) -> dict[str, object]:
        return {} if self._item is None else {"Item": self._item}


STARTED_ITEM: dict[str, object] = {
    "startedAt": {"N": "1700000000"},
    "phoneNumber": {"S": "+12025550143"},
    "channel": {"S": "call"},
}


def _started(item: dict[str, object] | None) -> StartedReference | None:
    limiter = DynamoAttemptLimiter(
        lambda _deadline: _Holding(item),  # type: ignore[arg-type,return-value]
        "table",
        max_attempts=5,
        max_checks=20,
    )
    return limiter.started(REFERENCE, Deadline(5.0))


def test_a_started_reference_is_one_with_its_start_number_and_channel() -> None:
    assert _started(STARTED_ITEM) == StartedReference("+12025550143", "call", test_number=False)
    assert _started({**STARTED_ITEM, "testNumber": {"BOOL": True}}) == StartedReference(
        "+12025550143", "call", test_number=True
    )
    # Any one of the three missing: not a reference the API started (no phone_number claim).
    for name in STARTED_ITEM:
        assert _started({k: v for k, v in STARTED_ITEM.items() if k != name}) is None, name
    assert _started(None) is None


class _Refusing:
    """A DynamoDB client stand-in whose attempt write is refused, showing `item` as it was."""

    def __init__(self, item: dict[str, object]) -> None:
        self._item = item

    def update_item(self, **_: object) -> dict[str, object]:
        raise ClientError(
            {"Error": {"Code": "ConditionalCheckFailedException"}, "Item": self._item},  # type: ignore[typeddict-unknown-key]
            "UpdateItem",
        )


def _check_full_window(*, expires_at: int, now: float) -> None:
    """A PIN check at `now` against a record whose five guesses are spent until `expires_at`."""
    record = {
        "referenceId": {"S": REFERENCE},
        "guesses": {"SS": [f"{n:064x}" for n in range(5)]},
        "checks": {"N": "5"},
        "expiresAt": {"N": str(expires_at)},
    }
    limiter = DynamoAttemptLimiter(
        lambda _deadline: _Refusing(record),  # type: ignore[arg-type,return-value]
        "table",
        max_attempts=5,
        max_checks=20,
        clock=lambda: now,
    )
    limiter.register_check(REFERENCE, "16322", KEY, Deadline(5.0))


@pytest.mark.parametrize(
    ("now", "ahead", "retry_after"),
    [(1_700_000_000.5, 1, 1), (1_700_000_000.0, 1, 1), (1_700_000_000.5, 2, 2)],
    ids=["half-a-second", "one-second", "one-and-a-half"],
)
def test_a_lockout_says_the_whole_seconds_to_its_window_end_rounded_up(
    now: float, ahead: int, retry_after: int
) -> None:
    """Retry-After never sends a client back before the window ends, nor a second later."""
    with pytest.raises(TooManyAttempts) as refused:
        _check_full_window(expires_at=int(now) + ahead, now=now)
    assert refused.value.retry_after_seconds == retry_after


@pytest.mark.parametrize(
    ("ahead", "error"),
    [
        (MAX_WINDOW_AHEAD_SECONDS, TooManyAttempts),
        (MAX_WINDOW_AHEAD_SECONDS + 1, ServiceUnavailable),
    ],
    ids=["farthest-window", "further"],
)
def test_a_full_window_ends_at_most_the_farthest_a_window_may_reach(
    ahead: int, error: type[Exception]
) -> None:
    """A full record whose window ends exactly as far ahead as any window may is a lockout; a
    second further, it is a record this function never wrote (fail closed, logged)."""
    now = 1_700_000_000
    with pytest.raises(error):
        _check_full_window(expires_at=now + ahead, now=now)
