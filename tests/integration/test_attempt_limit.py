"""The PIN attempt limit against the AWS emulator (docs/api.md#pin-attempt-limit).

Distinct-PIN limit, check cap, table layout, failure modes.

The fixture gives each test its own attempts table (ATTEMPTS_TABLE_NAME), the
default MAX_CODE_ATTEMPTS of 5 and MAX_CODE_CHECKS of 20.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telephone_status.attempts import DynamoAttemptLimiter
from telephone_status.aws_clients import AwsClients
from telephone_status.deadline import Deadline
from telephone_status.errors import TooManyAttempts

from local.emulator import local_aws_environment
from local.sandbox import DEFAULT_KEY, status_reference
from tests.integration.support import (
    PIN,
    UPDATE_ITEM,
    VENDOR_REFERENCE,
    WRONG_PIN,
    AwsProxy,
    assert_problem,
    assert_status,
    emf_metrics,
    find_leaks,
    get_event,
    header,
    log_records,
    lookup_event,
    post_form_event,
    sent_pin,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

    from tests.integration.function_env import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

MAX_ATTEMPTS: Final = 5
MAX_CHECKS: Final = 20
DAY: Final = 24 * 60 * 60
# Five different PINs, as a guessing client would send them (the first one is right).
GUESSES: Final = [PIN, WRONG_PIN, sent_pin("11223"), sent_pin("44556"), sent_pin("77889")]
# Twenty different wrong PINs, for the concurrency test.
MANY_PINS: Final = [sent_pin(str(20000 + 7 * n)) for n in range(20)]
ONE_MORE_PIN: Final = sent_pin("31415")
ITEM_ATTRIBUTES: Final = {"referenceId", "guesses", "checks", "expiresAt"}


def _dynamodb(env: FunctionEnv) -> DynamoDBClient:
    credentials = local_aws_environment(env.moto.endpoint_url, env.region)
    client: DynamoDBClient = boto3.session.Session(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        region_name=env.region,
    ).client("dynamodb", endpoint_url=env.moto.endpoint_url)
    return client


def _items(env: FunctionEnv) -> list[dict[str, Any]]:
    scan = _dynamodb(env).scan(TableName=env.table_name, ConsistentRead=True)
    items: list[dict[str, Any]] = scan["Items"]
    return items


def _put(env: FunctionEnv, **attributes: Any) -> None:
    _dynamodb(env).put_item(
        TableName=env.table_name, Item={"referenceId": {"S": VENDOR_REFERENCE}, **attributes}
    )


def _check(env: FunctionEnv, reference: str, pin: str) -> dict[str, Any]:
    return env.invoke(lookup_event(reference, pin))


def _remaining(result: dict[str, Any]) -> object:
    return json.loads(result["body"]).get("attemptsRemaining", "absent")


def _check_locked_out(env: FunctionEnv, pin: str) -> None:
    """A check of `pin` is 429 TOO_MANY_ATTEMPTS, attemptsRemaining 0, Retry-After to the end."""
    asked_at = time.time()
    result = _check(env, VENDOR_REFERENCE, pin)
    answered_at = time.time()
    _assert_locked_out(env, result, asked_at, answered_at)


def _assert_locked_out(
    env: FunctionEnv, result: dict[str, Any], asked_at: float, answered_at: float
) -> None:
    """429 TOO_MANY_ATTEMPTS with attemptsRemaining 0 and Retry-After up to the window's end."""
    problem = assert_problem(result, 429, "TOO_MANY_ATTEMPTS")
    assert problem["attemptsRemaining"] == 0
    assert "codeValid" not in problem
    retry_after = header(result, "Retry-After")
    assert retry_after is not None
    assert retry_after.isascii()
    assert retry_after.isdigit()
    record = env.attempt_record(VENDOR_REFERENCE)
    assert record is not None
    window_end = int(record["expiresAt"]["N"])
    assert int(retry_after) >= 1
    # Whole seconds, rounded up, as of the moment the function answered (between the two).
    assert window_end - answered_at <= int(retry_after) <= max(window_end - asked_at, 0) + 1


def _use_up_attempts(env: FunctionEnv, reference: str = VENDOR_REFERENCE) -> None:
    for index, pin in enumerate(GUESSES):
        result = _check(env, reference, pin)
        assert_status(result, reference, 100, pin == PIN)
        assert _remaining(result) == MAX_ATTEMPTS - 1 - index


@pytest.mark.usefixtures("outside_utc")  # Retry-After counts seconds whatever the zone
def test_sixth_distinct_pin_is_429_and_never_reaches_the_upstream(
    function_env: FunctionEnv,
) -> None:
    _use_up_attempts(function_env)
    assert len(function_env.journal()) == MAX_ATTEMPTS

    for new_pin in (sent_pin("99887"), sent_pin("12121")):
        _check_locked_out(function_env, new_pin)
    assert len(function_env.journal()) == MAX_ATTEMPTS
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS
    assert function_env.checks(VENDOR_REFERENCE) == MAX_ATTEMPTS  # refused checks write nothing


def test_a_pin_already_tried_is_checked_again_at_no_cost(function_env: FunctionEnv) -> None:
    """A network retry, a double tap, a retry after a 503: never a lockout of its own."""
    for _ in range(3):
        result = _check(function_env, VENDOR_REFERENCE, WRONG_PIN)
        assert_status(result, VENDOR_REFERENCE, 100, False)
        assert _remaining(result) == MAX_ATTEMPTS - 1
    assert function_env.attempts(VENDOR_REFERENCE) == 1
    assert function_env.checks(VENDOR_REFERENCE) == 3

    # WRONG_PIN is among the five guesses: as a repeat it costs nothing again.
    for pin, remaining in zip(GUESSES, (3, 3, 2, 1, 0), strict=True):
        assert _remaining(_check(function_env, VENDOR_REFERENCE, pin)) == remaining
    # Locked out for new PINs, yet every PIN already tried is still answered, the right one too.
    for pin in (PIN, WRONG_PIN, GUESSES[-1]):
        result = _check(function_env, VENDOR_REFERENCE, pin)
        assert_status(result, VENDOR_REFERENCE, 100, pin == PIN)
        assert _remaining(result) == 0
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS
    assert len(function_env.journal()) == 3 + len(GUESSES) + 3


def test_all_checks_are_capped_at_max_code_checks(function_env: FunctionEnv) -> None:
    function_env.monkeypatch.setenv("MAX_CODE_CHECKS", "7")
    function_env.set_format("json")
    expected_remaining = [4, 4, 4, 3, 2, 1, 0]  # min(distinct PINs left, checks left)
    pins = [WRONG_PIN, WRONG_PIN, WRONG_PIN, GUESSES[2], WRONG_PIN, WRONG_PIN, WRONG_PIN]
    for pin, remaining in zip(pins, expected_remaining, strict=True):
        result = _check(function_env, VENDOR_REFERENCE, pin)
        assert_status(result, VENDOR_REFERENCE, 100, False)
        assert _remaining(result) == remaining
    for pin in (WRONG_PIN, PIN):  # a repeat and a new PIN alike
        _check_locked_out(function_env, pin)
    assert len(function_env.journal()) == 7
    assert function_env.checks(VENDOR_REFERENCE) == 7


def test_the_limit_follows_max_code_attempts(function_env: FunctionEnv) -> None:
    function_env.monkeypatch.setenv("MAX_CODE_ATTEMPTS", "2")
    function_env.set_format("json")
    for pin, remaining in zip(GUESSES[:2], (1, 0), strict=True):
        assert _remaining(_check(function_env, VENDOR_REFERENCE, pin)) == remaining
    assert_problem(_check(function_env, VENDOR_REFERENCE, GUESSES[2]), 429, "TOO_MANY_ATTEMPTS")
    assert len(function_env.journal()) == 2


def _concurrently(env: FunctionEnv, pins: list[str]) -> Counter[int]:
    def check(pin: str) -> int:
        return int(_check(env, VENDOR_REFERENCE, pin)["statusCode"])

    with ThreadPoolExecutor(max_workers=len(pins)) as pool:
        return Counter(pool.map(check, pins))


def test_20_concurrent_different_pins_let_exactly_max_through(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    """Twenty invocations at once (threads, each its own handler call) on one reference id.

    The aws_proxy forwards DynamoDB requests one at a time, as DynamoDB applies
    writes to one item: moto's conditional update is not atomic under concurrency.
    """
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200  # warm
    function_env.sandbox.reset()
    assert _concurrently(function_env, MANY_PINS) == {200: MAX_ATTEMPTS, 429: 20 - MAX_ATTEMPTS}
    assert len(function_env.journal()) == MAX_ATTEMPTS
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS
    assert function_env.checks(VENDOR_REFERENCE) == MAX_ATTEMPTS
    assert aws_proxy.count(UPDATE_ITEM) == 20  # one conditional write per check


def test_20_concurrent_identical_checks_are_all_answered(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200  # warm
    function_env.sandbox.reset()
    assert _concurrently(function_env, [PIN] * MAX_CHECKS) == {200: MAX_CHECKS}
    assert len(function_env.journal()) == MAX_CHECKS
    assert function_env.attempts(VENDOR_REFERENCE) == 1
    assert function_env.checks(VENDOR_REFERENCE) == MAX_CHECKS
    assert aws_proxy.count(UPDATE_ITEM) == MAX_CHECKS
    # The cap holds for repeats too.
    assert_problem(_check(function_env, VENDOR_REFERENCE, PIN), 429, "TOO_MANY_ATTEMPTS")


def test_case_variants_share_one_record(function_env: FunctionEnv) -> None:
    spellings = [
        VENDOR_REFERENCE,
        VENDOR_REFERENCE.lower(),
        VENDOR_REFERENCE[:16].lower() + VENDOR_REFERENCE[16:],
        VENDOR_REFERENCE.lower(),
        VENDOR_REFERENCE,
    ]
    for spelling, pin in zip(spellings, GUESSES, strict=True):
        assert _check(function_env, spelling, pin)["statusCode"] == 200
    # The same PIN under another spelling is a repeat, not a new attempt.
    assert _check(function_env, VENDOR_REFERENCE.lower(), GUESSES[1])["statusCode"] == 200
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS
    assert function_env.attempt_record(VENDOR_REFERENCE.lower()) is None
    upstream_spelling = {"referenceid": VENDOR_REFERENCE.lower(), "code": sent_pin("31313")}
    result = function_env.invoke(post_form_event(upstream_spelling))
    assert_problem(result, 429, "TOO_MANY_ATTEMPTS")
    assert [item["referenceId"]["S"] for item in _items(function_env)] == [VENDOR_REFERENCE]


def test_status_only_lookups_are_never_counted_nor_limited(function_env: FunctionEnv) -> None:
    for _ in range(8):
        document = assert_status(
            function_env.invoke(get_event(VENDOR_REFERENCE)), VENDOR_REFERENCE, 100, None
        )
        assert document["attemptsRemaining"] is None
    assert _items(function_env) == []

    _use_up_attempts(function_env)
    assert_problem(
        _check(function_env, VENDOR_REFERENCE, sent_pin("66554")), 429, "TOO_MANY_ATTEMPTS"
    )
    for event in (get_event(VENDOR_REFERENCE), lookup_event(VENDOR_REFERENCE)):
        document = assert_status(function_env.invoke(event), VENDOR_REFERENCE, 100, None)
        assert document["attemptsRemaining"] is None
    assert function_env.checks(VENDOR_REFERENCE) == MAX_ATTEMPTS


def test_record_layout_and_window(function_env: FunctionEnv) -> None:
    before = int(time.time())
    _check(function_env, VENDOR_REFERENCE, PIN)
    after = int(time.time())
    (item,) = _items(function_env)
    assert set(item) == ITEM_ATTRIBUTES
    assert item["referenceId"] == {"S": VENDOR_REFERENCE}
    assert len(item["guesses"]["SS"]) == 1
    assert item["checks"] == {"N": "1"}
    expires = int(item["expiresAt"]["N"])
    assert before + DAY - 5 <= expires <= after + DAY + 5

    # The window runs from the first check: later checks do not move expiresAt.
    first_window_end = str(after + 1000)
    _dynamodb(function_env).update_item(
        TableName=function_env.table_name,
        Key={"referenceId": {"S": VENDOR_REFERENCE}},
        UpdateExpression="SET expiresAt = :end",
        ExpressionAttributeValues={":end": {"N": first_window_end}},
    )
    _check(function_env, VENDOR_REFERENCE, WRONG_PIN)
    (item,) = _items(function_env)
    assert set(item) == ITEM_ATTRIBUTES
    assert len(item["guesses"]["SS"]) == 2
    assert item["checks"] == {"N": "2"}
    assert item["expiresAt"] == {"N": first_window_end}


@pytest.mark.parametrize("full", ["distinct PINs", "checks"])
def test_expired_record_starts_a_new_window(function_env: FunctionEnv, full: str) -> None:
    """TTL deletion lags: an item past expiresAt that still exists starts a new window."""
    now = int(time.time())
    guesses = [f"{n:064x}" for n in range(MAX_ATTEMPTS if full == "distinct PINs" else 1)]
    _put(
        function_env,
        guesses={"SS": guesses},
        checks={"N": str(MAX_CHECKS if full == "checks" else MAX_ATTEMPTS)},
        expiresAt={"N": str(now - 10)},
        attempts={"N": "99"},  # a v1 counter is dropped with the old window
    )
    result = _check(function_env, VENDOR_REFERENCE, PIN)
    assert_status(result, VENDOR_REFERENCE, 100, True)
    assert _remaining(result) == MAX_ATTEMPTS - 1
    (item,) = _items(function_env)
    assert set(item) == ITEM_ATTRIBUTES
    assert len(item["guesses"]["SS"]) == 1
    assert not set(item["guesses"]["SS"]) & set(guesses)
    assert item["checks"] == {"N": "1"}
    assert now + DAY - 5 <= int(item["expiresAt"]["N"]) <= int(time.time()) + DAY + 5
    # And the new window counts as usual from there.
    assert _remaining(_check(function_env, VENDOR_REFERENCE, WRONG_PIN)) == MAX_ATTEMPTS - 2


@pytest.mark.parametrize("full", [False, True], ids=["room-left", "full"])
def test_a_window_ending_this_very_second_is_over(function_env: FunctionEnv, full: bool) -> None:
    """expiresAt is the first second outside the window, in the table's condition and here."""
    now = int(time.time())
    guesses = [f"{n:064x}" for n in range(MAX_ATTEMPTS if full else 1)]
    _put(
        function_env,
        guesses={"SS": guesses},
        checks={"N": str(len(guesses))},
        expiresAt={"N": str(now)},
    )
    limiter = DynamoAttemptLimiter(
        AwsClients().dynamodb, function_env.table_name, MAX_ATTEMPTS, MAX_CHECKS,
        clock=lambda: now + 0.5,
    )  # fmt: skip
    assert limiter.register_check(VENDOR_REFERENCE, PIN, DEFAULT_KEY, Deadline(5)).remaining == (
        MAX_ATTEMPTS - 1
    )
    (item,) = _items(function_env)
    assert (item["checks"], item["expiresAt"]) == ({"N": "1"}, {"N": str(now + DAY)})


def test_a_window_reset_lost_to_a_concurrent_check_is_retried(function_env: FunctionEnv) -> None:
    now = int(time.time())
    _put(
        function_env,
        guesses={"SS": [f"{n:064x}" for n in range(MAX_ATTEMPTS)]},
        checks={"N": str(MAX_ATTEMPTS)},
        expiresAt={"N": str(now - 10)},
    )
    clients = AwsClients().dynamodb
    raced: list[str] = []

    class RacingClient:
        """The real client; another check's reset of the same window lands just before ours."""

        def __init__(self, client: Any) -> None:
            self._client = client

        def update_item(self, **kwargs: Any) -> Any:
            if kwargs["ConditionExpression"].startswith("expiresAt = :old") and not raced:
                raced.append("reset")
                values = {**kwargs["ExpressionAttributeValues"], ":guess": {"SS": ["f" * 64]}}
                self._client.update_item(**{**kwargs, "ExpressionAttributeValues": values})
            return self._client.update_item(**kwargs)

    limiter = DynamoAttemptLimiter(
        lambda deadline: RacingClient(clients(deadline)),  # type: ignore[arg-type,return-value]
        function_env.table_name,
        MAX_ATTEMPTS,
        MAX_CHECKS,
    )
    assert limiter.register_check(VENDOR_REFERENCE, PIN, DEFAULT_KEY, Deadline(5)).remaining == (
        MAX_ATTEMPTS - 2
    )
    assert raced == ["reset"]
    (item,) = _items(function_env)
    assert (len(item["guesses"]["SS"]), item["checks"]) == (2, {"N": "2"})


@pytest.mark.parametrize("full", ["distinct PINs", "checks"])
def test_live_full_record_is_429_until_its_window_ends(
    function_env: FunctionEnv, full: str
) -> None:
    window_end = int(time.time()) + 3600
    _put(
        function_env,
        guesses={
            "SS": [f"{n:064x}" for n in range(MAX_ATTEMPTS if full == "distinct PINs" else 1)]
        },
        checks={"N": str(MAX_CHECKS if full == "checks" else MAX_ATTEMPTS)},
        expiresAt={"N": str(window_end)},
    )
    _check_locked_out(function_env, PIN)
    assert function_env.journal() == []


@pytest.mark.parametrize("v1_attempts", [MAX_ATTEMPTS, MAX_ATTEMPTS + 3])
def test_a_reference_v1_locked_stays_locked_until_its_window_ends(
    function_env: FunctionEnv, v1_attempts: int
) -> None:
    """An item left by v1 (only the `attempts` counter) must not unlock on upgrade."""
    _put(
        function_env,
        attempts={"N": str(v1_attempts)},
        expiresAt={"N": str(int(time.time()) + 3600)},
    )
    _check_locked_out(function_env, PIN)
    assert function_env.journal() == []


@pytest.mark.parametrize("v1_attempts", range(MAX_ATTEMPTS))
def test_a_v1_reference_under_its_limit_keeps_its_count_on_upgrade(
    function_env: FunctionEnv, v1_attempts: int
) -> None:
    """The v1 count is carried into the set: the window's total stays at MAX_CODE_ATTEMPTS."""
    window_end = str(int(time.time()) + 3600)
    _put(function_env, attempts={"N": str(v1_attempts)}, expiresAt={"N": window_end})
    left = MAX_ATTEMPTS - v1_attempts
    for index, pin in enumerate(GUESSES[:left]):
        result = _check(function_env, VENDOR_REFERENCE, pin)
        assert_status(result, VENDOR_REFERENCE, 100, pin == PIN)
        assert _remaining(result) == left - 1 - index
    (item,) = _items(function_env)
    assert set(item) == ITEM_ATTRIBUTES  # upgraded: the v1 counter is gone
    assert item["expiresAt"] == {"N": window_end}  # the v1 window goes on
    assert len(item["guesses"]["SS"]) == MAX_ATTEMPTS
    assert item["checks"] == {"N": str(MAX_ATTEMPTS)}
    # The window's distinct PINs are used up: a new one is refused, a repeat is not.
    function_env.sandbox.reset()
    locked = assert_problem(
        _check(function_env, VENDOR_REFERENCE, ONE_MORE_PIN), 429, "TOO_MANY_ATTEMPTS"
    )
    assert locked["attemptsRemaining"] == 0
    assert function_env.journal() == []
    repeat = _check(function_env, VENDOR_REFERENCE, GUESSES[left - 1])
    assert repeat["statusCode"] == 200
    assert _remaining(repeat) == 0


def test_a_v1_counter_beside_guesses_and_checks_counts_them_all(function_env: FunctionEnv) -> None:
    """A v1 counter on an item that also holds guesses and checks (an item edited by hand, or
    half-upgraded): every one of them counts, the conservative reading."""
    window_end = str(int(time.time()) + 3600)
    others = [f"{n:064x}" for n in range(1, MAX_ATTEMPTS - 1)]  # stand-ins of other PINs' hashes
    _put(
        function_env,
        attempts={"N": "1"},
        guesses={"SS": others},
        checks={"N": "2"},
        expiresAt={"N": window_end},
    )
    # 1 (v1) + MAX_ATTEMPTS - 2 (guesses) distinct PINs: exactly one more is allowed.
    result = _check(function_env, VENDOR_REFERENCE, PIN)
    assert_status(result, VENDOR_REFERENCE, 100, True)
    assert _remaining(result) == 0
    assert function_env.checks(VENDOR_REFERENCE) == 2 + 1 + 1  # its checks, v1's, this one
    _check_locked_out(function_env, ONE_MORE_PIN)


def test_a_v1_counter_that_brings_the_checks_to_their_cap_is_locked(
    function_env: FunctionEnv,
) -> None:
    _put(
        function_env,
        attempts={"N": "1"},
        checks={"N": str(MAX_CHECKS - 1)},
        expiresAt={"N": str(int(time.time()) + 3600)},
    )
    _check_locked_out(function_env, PIN)
    assert function_env.journal() == []


def test_a_v1_record_with_four_attempts_allows_exactly_one_more_pin_under_concurrency(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    _put(
        function_env,
        attempts={"N": str(MAX_ATTEMPTS - 1)},
        expiresAt={"N": str(int(time.time()) + 3600)},
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda pin: _check(function_env, VENDOR_REFERENCE, pin), GUESSES))
    assert sorted(r["statusCode"] for r in results) == [200] + [429] * (MAX_ATTEMPTS - 1)
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS


# ------------------------------------------------------------------- records we did not write

LIVE = "LIVE"  # replaced by an expiresAt an hour ahead
FULL_SET: Final = {"SS": [f"{n:064x}" for n in range(MAX_ATTEMPTS)]}
PARTIAL_SET: Final = {"SS": [f"{n:064x}" for n in range(2)]}
STARTED: Final = {
    "phoneNumber": {"S": "+12025550143"},
    "channel": {"S": "sms"},
    "startedAt": {"N": "1700000000"},
}
UNEXPECTED_RECORDS: Final[dict[str, dict[str, Any]]] = {
    "fractional expiresAt": {"expiresAt": "LIVE.5", "guesses": PARTIAL_SET, "checks": {"N": "2"}},
    "fractional expiresAt, full": {
        "expiresAt": "LIVE.5",
        "guesses": FULL_SET,
        "checks": {"N": "5"},
    },
    "exponent expiresAt": {"expiresAt": {"N": "1.7e9"}, "guesses": PARTIAL_SET},
    "string expiresAt": {"expiresAt": {"S": "LIVE"}, "guesses": PARTIAL_SET, "checks": {"N": "2"}},
    "string expiresAt alone": {"expiresAt": {"S": "2030-01-01T00:00:00Z"}},
    "negative expiresAt": {"expiresAt": {"N": "-5"}, "guesses": FULL_SET, "checks": {"N": "5"}},
    "zero expiresAt": {"expiresAt": {"N": "0"}, "guesses": FULL_SET, "checks": {"N": "5"}},
    "huge expiresAt": {"expiresAt": {"N": "1" + "0" * 30}, "guesses": PARTIAL_SET},
    "milliseconds expiresAt": {"expiresAt": {"N": str(int(time.time() * 1000))}},
    "no expiresAt, full set": {"guesses": FULL_SET, "checks": {"N": "5"}},
    "no expiresAt, partial set": {"guesses": PARTIAL_SET, "checks": {"N": "2"}},
    "no expiresAt, checks only": {"checks": {"N": "3"}},
    "no expiresAt, v1 count": {"attempts": {"N": "2"}},
    "guesses a list": {"expiresAt": LIVE, "guesses": {"L": [{"S": "a"}]}, "checks": {"N": "1"}},
    "guesses a string": {"expiresAt": LIVE, "guesses": {"S": "abc"}, "checks": {"N": "1"}},
    "guesses a number set": {"expiresAt": LIVE, "guesses": {"NS": ["1", "2"]}},
    "checks a string": {"expiresAt": LIVE, "guesses": PARTIAL_SET, "checks": {"S": "2"}},
    "checks negative": {"expiresAt": LIVE, "guesses": PARTIAL_SET, "checks": {"N": "-100"}},
    "checks fractional": {"expiresAt": LIVE, "guesses": PARTIAL_SET, "checks": {"N": "2.5"}},
    "v1 attempts a string": {"expiresAt": LIVE, "attempts": {"S": "4"}},
    "v1 attempts negative": {"expiresAt": LIVE, "attempts": {"N": "-3"}},
    "v1 attempts fractional": {"expiresAt": LIVE, "attempts": {"N": "3.5"}},
    # A started verification's deadline, in any shape but whole epoch seconds. (A string
    # verifyBy fails closed too, but moto answers its comparison with an error where
    # DynamoDB says "condition false": not a case moto can show.)
    "verifyBy fractional": {**STARTED, "expiresAt": LIVE, "verifyBy": "LIVE.5"},
    "verifyBy exponent": {**STARTED, "expiresAt": LIVE, "verifyBy": {"N": "1.7e10"}},
}


def _live(value: Any) -> Any:
    end = str(int(time.time()) + 3600)
    if value == LIVE:
        return {"N": end}
    if isinstance(value, str) and value.startswith(LIVE):
        return {"N": end + value[len(LIVE) :]}
    if isinstance(value, dict) and value.get("S") == LIVE:
        return {"S": end}
    return value


@pytest.mark.parametrize("name", list(UNEXPECTED_RECORDS))
def test_a_record_the_function_did_not_write_fails_closed_and_grants_no_guess(
    function_env: FunctionEnv, function_output: FunctionOutput, name: str
) -> None:
    _put(function_env, **{k: _live(v) for k, v in UNEXPECTED_RECORDS[name].items()})
    before = _items(function_env)
    for pin in GUESSES[:2]:
        assert_problem(_check(function_env, VENDOR_REFERENCE, pin), 503, "SERVICE_UNAVAILABLE")
    assert function_env.journal() == []  # no guess reached the upstream
    # No fresh window: the record's window end is still what it was (or still absent).
    ((old,), (new,)) = (before, _items(function_env))
    assert new.get("expiresAt") == old.get("expiresAt")
    text = function_output.read()
    problems = [r for r in log_records(text) if r.get("recordProblem")]
    assert problems, "no log line names the record's problem"
    assert all(r.get("referenceId") == VENDOR_REFERENCE for r in problems)
    # The words docs/operations.md tells an operator to search the logs for.
    assert all(
        str(r.get("message")).startswith("PIN attempt record has an unexpected shape")
        for r in problems
    )
    assert find_leaks(text, keys=[], pins=GUESSES[:2]) == []
    # A status-only lookup is not counted and still works.
    assert_status(function_env.invoke(get_event(VENDOR_REFERENCE)), VENDOR_REFERENCE, 100, None)
    # The operator's remedy: delete the item; the next check starts a fresh window.
    function_env.clear_attempts()
    result = _check(function_env, VENDOR_REFERENCE, PIN)
    assert_status(result, VENDOR_REFERENCE, 100, True)
    assert _remaining(result) == MAX_ATTEMPTS - 1


def test_a_started_verification_record_without_counters_is_counted_as_usual(
    function_env: FunctionEnv,
) -> None:
    """The guard for the test above: a record with other attributes and a live TTL is ours."""
    end = str(int(time.time()) + 600)
    _put(function_env, expiresAt={"N": end}, channel={"S": "sms"}, startedAt={"N": "1"})
    result = _check(function_env, VENDOR_REFERENCE, PIN)
    assert_status(result, VENDOR_REFERENCE, 100, True)
    assert _remaining(result) == MAX_ATTEMPTS - 1
    assert function_env.attempt_record(VENDOR_REFERENCE)["expiresAt"] == {"N": end}  # type: ignore[index]


# --------------------------------------------------------------------------- keyed hashes only


def _unkeyed_forms(reference: str, pin: str) -> set[str]:
    """A PIN and every unkeyed hash of it a careless design might store (hex and base64)."""
    forms = {pin}
    for message in (pin, f"{reference}:{pin}", f"{reference}{pin}", f"{pin}:{reference}"):
        for algorithm in ("md5", "sha1", "sha256", "sha512"):
            digest = hashlib.new(algorithm, message.encode()).digest()
            forms |= {
                digest.hex(),
                base64.b64encode(digest).decode(),
                base64.urlsafe_b64encode(digest).decode().rstrip("="),
            }
    return forms


def test_the_table_never_holds_a_pin_nor_an_unkeyed_hash_of_one(function_env: FunctionEnv) -> None:
    other_reference = status_reference(200)
    sent: list[tuple[str, str]] = []
    for reference in (VENDOR_REFERENCE, other_reference):
        for pin in [*GUESSES, GUESSES[1]]:
            function_env.invoke(lookup_event(reference, pin))
            sent.append((reference, pin))
    items = _items(function_env)
    assert len(items) == 2, "both reference ids were recorded"
    stored = json.dumps(items)
    for reference, pin in sent:
        for form in _unkeyed_forms(reference, pin):
            assert form.lower() not in stored.lower(), f"unkeyed form of a PIN stored: {form[:8]}…"
    assert DEFAULT_KEY not in stored, "the API key itself is never stored"
    # The reference id is part of the MAC input: one PIN gives a different hash per reference.
    first, second = (set(item["guesses"]["SS"]) for item in items)
    assert len(first) == len(second) == MAX_ATTEMPTS
    assert not first & second


# --------------------------------------------------------------------------- store unreachable


def test_missing_table_fails_closed_for_code_checks_only(function_env: FunctionEnv) -> None:
    function_env.monkeypatch.setenv("ATTEMPTS_TABLE_NAME", "telephone-status-no-such-table")
    function_env.set_format("json")
    assert_problem(_check(function_env, VENDOR_REFERENCE, PIN), 503, "SERVICE_UNAVAILABLE")
    assert function_env.journal() == []
    assert_status(function_env.invoke(get_event(VENDOR_REFERENCE)), VENDOR_REFERENCE, 100, None)


def test_unreachable_aws_fails_closed_while_the_cached_key_serves_lookups(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200  # key cached
    function_env.sandbox.reset()
    aws_proxy.stop()  # DynamoDB (and Secrets Manager) now refuse connections
    started = time.monotonic()
    assert_problem(_check(function_env, VENDOR_REFERENCE, PIN), 503, "SERVICE_UNAVAILABLE")
    assert time.monotonic() - started < 5.0
    assert function_env.journal() == []
    assert_status(function_env.invoke(get_event(VENDOR_REFERENCE)), VENDOR_REFERENCE, 100, None)


def test_dead_aws_endpoint_on_a_cold_start(function_env: FunctionEnv) -> None:
    """The key is read first: Secrets Manager unreachable and no key yet: 503, nothing counted."""
    dead = AwsProxy(function_env.moto.endpoint_url)
    dead.stop()
    function_env.monkeypatch.setenv("AWS_ENDPOINT_URL", dead.url)
    function_env.set_format("json")
    for event in (lookup_event(VENDOR_REFERENCE, PIN), get_event(VENDOR_REFERENCE)):
        assert_problem(function_env.invoke(event), 503, "SERVICE_UNAVAILABLE")
    assert function_env.journal() == []


# --------------------------------------------------------------------------- observability


def test_lockout_emits_a_metric_and_a_log_line_without_the_pin(
    function_env: FunctionEnv, function_output: FunctionOutput
) -> None:
    _use_up_attempts(function_env)
    before = function_output.read()
    assert emf_metrics(before)["AttemptLockouts"] == 0

    locked_pin = sent_pin("90817")
    assert_problem(_check(function_env, VENDOR_REFERENCE, locked_pin), 429, "TOO_MANY_ATTEMPTS")
    text = function_output.read()
    assert emf_metrics(text)["AttemptLockouts"] == 1
    records = log_records(text)
    lockout = [r for r in records if r.get("referenceId") == VENDOR_REFERENCE]
    assert lockout, "no log line names the locked-out reference id"
    assert all(record["level"] in ("WARNING", "ERROR") for record in lockout)
    assert any(r.get("errorCode") == "TOO_MANY_ATTEMPTS" for r in records)
    assert find_leaks(before + text, keys=[], pins=[*GUESSES, locked_pin]) == []
    assert locked_pin not in text


# --------------------------------------------------------------------------- against a model


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sequence=st.lists(st.sampled_from(["101", "202", "303", "404", "505"]), max_size=10),
    max_attempts=st.integers(min_value=1, max_value=4),
    extra_checks=st.integers(min_value=0, max_value=4),
)
def test_the_record_follows_the_distinct_pin_model(
    function_env: FunctionEnv, sequence: list[str], max_attempts: int, extra_checks: int
) -> None:
    """Any sequence of PINs on the real table: allowed, refused and remaining as documented.

    The rule: docs/api.md#pin-attempt-limit.
    """
    max_checks = max_attempts + extra_checks
    limiter = DynamoAttemptLimiter(
        AwsClients().dynamodb, function_env.table_name, max_attempts, max_checks
    )
    reference = uuid.uuid4().hex.upper()
    tried: set[str] = set()
    checks = 0
    for pin in sequence:
        allowed = checks < max_checks and (pin in tried or len(tried) < max_attempts)
        if allowed:
            tried.add(pin)
            checks += 1
            remaining = limiter.register_check(reference, pin, DEFAULT_KEY, Deadline(5)).remaining
            assert remaining == min(max_attempts - len(tried), max_checks - checks)
        else:
            with pytest.raises(TooManyAttempts) as refused:
                limiter.register_check(reference, pin, DEFAULT_KEY, Deadline(5))
            assert refused.value.retry_after_seconds is not None
            assert DAY - 5 <= refused.value.retry_after_seconds <= DAY
    record = function_env.attempt_record(reference)
    if not sequence:
        assert record is None
    else:
        assert record is not None
        assert len(record["guesses"]["SS"]) == len(tried)
        assert int(record["checks"]["N"]) == checks
