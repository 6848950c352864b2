"""SPEC §6 against the AWS emulator: the PIN attempt limit, its table layout and its failure modes.

The fixture gives each test its own attempts table (ATTEMPTS_TABLE_NAME) and the
default MAX_CODE_ATTEMPTS of 5.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

import boto3
import pytest

from local.emulator import local_aws_environment
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
    log_records,
    lookup_event,
    post_form_event,
    sent_pin,
)

if TYPE_CHECKING:
    from types_boto3_dynamodb.client import DynamoDBClient

    from tests.integration.conftest import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

MAX_ATTEMPTS: Final = 5
DAY: Final = 24 * 60 * 60
# Five different PINs, as a guessing client would send them (the first one is right).
GUESSES: Final = [PIN, WRONG_PIN, sent_pin("11223"), sent_pin("44556"), sent_pin("77889")]
ITEM_ATTRIBUTES: Final = {"referenceId", "attempts", "expiresAt"}


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


def _check(env: FunctionEnv, reference: str, pin: str) -> dict[str, Any]:
    return env.invoke(lookup_event(reference, pin))


def _use_up_attempts(env: FunctionEnv, reference: str = VENDOR_REFERENCE) -> None:
    for pin in GUESSES:
        result = _check(env, reference, pin)
        assert_status(result, reference, 100, pin == PIN)


def test_sixth_check_is_429_and_never_reaches_the_upstream(function_env: FunctionEnv) -> None:
    _use_up_attempts(function_env)
    assert len(function_env.journal()) == MAX_ATTEMPTS

    for _ in range(2):  # the right PIN does not help once locked out
        problem = assert_problem(
            _check(function_env, VENDOR_REFERENCE, PIN), 429, "TOO_MANY_ATTEMPTS"
        )
        assert "codeValid" not in problem
    assert len(function_env.journal()) == MAX_ATTEMPTS
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS + 2


def test_the_limit_follows_max_code_attempts(function_env: FunctionEnv) -> None:
    function_env.monkeypatch.setenv("MAX_CODE_ATTEMPTS", "2")
    function_env.set_format("json")
    for pin in GUESSES[:2]:
        assert _check(function_env, VENDOR_REFERENCE, pin)["statusCode"] == 200
    assert_problem(_check(function_env, VENDOR_REFERENCE, PIN), 429, "TOO_MANY_ATTEMPTS")
    assert len(function_env.journal()) == 2


def test_20_concurrent_checks_let_exactly_max_through(
    function_env: FunctionEnv, aws_proxy: AwsProxy
) -> None:
    """Twenty invocations at once (threads, each its own handler call) on one reference id.

    The aws_proxy forwards DynamoDB requests one at a time, as DynamoDB applies
    writes to one item: moto's conditional update is not atomic under concurrency.
    """
    assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200  # warm
    function_env.sandbox.reset()

    def check(index: int) -> int:
        result = _check(function_env, VENDOR_REFERENCE, GUESSES[index % len(GUESSES)])
        return int(result["statusCode"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = Counter(pool.map(check, range(20)))
    assert statuses == {200: MAX_ATTEMPTS, 429: 20 - MAX_ATTEMPTS}
    assert len(function_env.journal()) == MAX_ATTEMPTS
    assert function_env.attempts(VENDOR_REFERENCE) == 20
    assert aws_proxy.count(UPDATE_ITEM) == 20


def test_case_variants_share_one_counter(function_env: FunctionEnv) -> None:
    spellings = [
        VENDOR_REFERENCE,
        VENDOR_REFERENCE.lower(),
        VENDOR_REFERENCE[:16].lower() + VENDOR_REFERENCE[16:],
        VENDOR_REFERENCE.lower(),
        VENDOR_REFERENCE,
    ]
    for spelling, pin in zip(spellings, GUESSES, strict=True):
        assert _check(function_env, spelling, pin)["statusCode"] == 200
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS
    assert function_env.attempts(VENDOR_REFERENCE.lower()) is None
    upstream_spelling = {"referenceid": VENDOR_REFERENCE.lower(), "code": PIN}
    result = function_env.invoke(post_form_event(upstream_spelling))
    assert_problem(result, 429, "TOO_MANY_ATTEMPTS")
    assert [item["referenceId"]["S"] for item in _items(function_env)] == [VENDOR_REFERENCE]


def test_status_only_lookups_are_never_counted_nor_limited(function_env: FunctionEnv) -> None:
    for _ in range(8):
        assert_status(function_env.invoke(get_event(VENDOR_REFERENCE)), VENDOR_REFERENCE, 100, None)
    assert function_env.attempts(VENDOR_REFERENCE) is None
    assert _items(function_env) == []

    _use_up_attempts(function_env)
    assert_problem(_check(function_env, VENDOR_REFERENCE, PIN), 429, "TOO_MANY_ATTEMPTS")
    for event in (get_event(VENDOR_REFERENCE), lookup_event(VENDOR_REFERENCE)):
        assert_status(function_env.invoke(event), VENDOR_REFERENCE, 100, None)
    assert function_env.attempts(VENDOR_REFERENCE) == MAX_ATTEMPTS + 1


def test_counter_item_layout(function_env: FunctionEnv) -> None:
    before = int(time.time())
    _check(function_env, VENDOR_REFERENCE, PIN)
    after = int(time.time())
    (item,) = _items(function_env)
    assert set(item) == ITEM_ATTRIBUTES
    assert item["referenceId"] == {"S": VENDOR_REFERENCE}
    assert item["attempts"] == {"N": "1"}
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
    assert item["attempts"] == {"N": "2"}
    assert item["expiresAt"] == {"N": first_window_end}


def test_expired_counter_is_reset_not_counted(function_env: FunctionEnv) -> None:
    """TTL deletion lags: an item past expiresAt that still exists starts a new window."""
    now = int(time.time())
    _dynamodb(function_env).put_item(
        TableName=function_env.table_name,
        Item={
            "referenceId": {"S": VENDOR_REFERENCE},
            "attempts": {"N": "99"},
            "expiresAt": {"N": str(now - 10)},
        },
    )
    assert_status(_check(function_env, VENDOR_REFERENCE, PIN), VENDOR_REFERENCE, 100, True)
    (item,) = _items(function_env)
    assert set(item) == ITEM_ATTRIBUTES
    assert item["attempts"] == {"N": "1"}
    assert now + DAY - 5 <= int(item["expiresAt"]["N"]) <= int(time.time()) + DAY + 5


def test_live_counter_over_the_limit_is_429(function_env: FunctionEnv) -> None:
    _dynamodb(function_env).put_item(
        TableName=function_env.table_name,
        Item={
            "referenceId": {"S": VENDOR_REFERENCE},
            "attempts": {"N": "99"},
            "expiresAt": {"N": str(int(time.time()) + 3600)},
        },
    )
    assert_problem(_check(function_env, VENDOR_REFERENCE, PIN), 429, "TOO_MANY_ATTEMPTS")
    assert function_env.journal() == []


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
    """The key is read before the limiter (SPEC §5 NOT_CONFIGURED): no key at all is 500."""
    dead = AwsProxy(function_env.moto.endpoint_url)
    dead.stop()
    function_env.monkeypatch.setenv("AWS_ENDPOINT_URL", dead.url)
    function_env.set_format("json")
    assert_problem(_check(function_env, VENDOR_REFERENCE, PIN), 500, "INTERNAL_ERROR")
    assert_problem(function_env.invoke(get_event(VENDOR_REFERENCE)), 500, "INTERNAL_ERROR")
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
