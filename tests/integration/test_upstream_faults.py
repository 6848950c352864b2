"""The fault matrix: every upstream misbehaviour, in both formats, mapped to docs/api.md#errors.

The real handler runs in-process and talks real HTTP to the sandbox (faults
FA17…NN) and to moto; deadlines come from the LocalContext's remaining time,
so the timing assertions measure what Lambda would see.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
import urllib3.util.connection

from local.sandbox import fault_reference
from tests.integration.support import (
    DEFAULT_KEY,
    FAULT_EXPECTATIONS,
    PIN,
    SLOW_FAULTS,
    TIMEOUT,
    UNAVAILABLE,
    UNKNOWN_REFERENCE,
    VENDOR_REFERENCE,
    assert_outcome,
    assert_problem,
    assert_status,
    body_of,
    log_records,
    lookup_event,
)

if TYPE_CHECKING:
    from tests.integration.function_env import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

FORMATS: Final = pytest.mark.parametrize("function_env", ["json", "xml"], indirect=True)
# Fault -> (min, max) upstream requests of a status-only lookup, which may be retried after
# a 5xx or a broken connection (docs/upstream.md): 10 and 11 fail 2 and 1 times, then answer; 2, 3,
# 4, 12, 13 fail every time (bounded retries); so do 30-32, whose 5xx bodies are never read,
# so all 3 tries fit. Every other fault: exactly one request.
RETRIED_WITHOUT_PIN: Final = {
    2: (2, 3),
    3: (2, 3),
    4: (2, 3),
    10: (3, 3),
    11: (2, 2),
    12: (2, 3),
    13: (2, 3),
    30: (3, 3),
    31: (3, 3),
    32: (3, 3),
}
DEADLINE_SECONDS: Final = 2.0
DEADLINE_MARGIN: Final = 0.2


def _warm(env: FunctionEnv) -> None:
    """One cheap lookup: imports the handler and builds the runtime, as a warm Lambda has."""
    assert env.invoke(lookup_event(VENDOR_REFERENCE))["statusCode"] == 200
    env.sandbox.reset()


def _timed(env: FunctionEnv, event: dict[str, Any], timeout: float) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    result = env.invoke(event, timeout_seconds=timeout)
    return result, time.monotonic() - started


def _fmt(env: FunctionEnv) -> str:
    """The upstream format this test's function uses (set by the fixture's parameter)."""
    return os.environ["PROXSTOP_FORMAT"]


def _assert_clean_handling(text: str) -> None:
    """No unhandled exception: every failure went through a mapped error (docs/api.md#errors)."""
    assert "Traceback" not in text
    for record in log_records(text):
        assert not str(record.get("reason", "")).startswith("unexpected"), record
        assert record.get("message") != "Resolver failed", record


# --------------------------------------------------------------------------- the matrix


def _hostname_pattern() -> re.Pattern[str]:
    hostname = Path("/etc/hostname").read_text().strip()
    assert hostname, "the XXE check needs a non-empty /etc/hostname"
    return re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(hostname)}(?![A-Za-z0-9_.-])")


@dataclass
class Exchange:
    """One invocation of the matrix and what came with it."""

    result: dict[str, Any]
    elapsed: float
    journal: list[dict[str, Any]]
    output: str


# Fault-specific checks on top of the documented outcome (both exchanges: without, with a PIN).
def _not_read_whole(exchanges: list[Exchange]) -> None:
    for exchange in exchanges:  # a 10 MiB body is refused, not downloaded
        assert exchange.elapsed < 1.0, exchange.elapsed


def _no_entity_expansion(exchanges: list[Exchange]) -> None:
    for exchange in exchanges:  # billion laughs: nothing is expanded
        assert exchange.elapsed < 1.0, exchange.elapsed
        assert "lol" not in exchange.result["body"]


def _no_local_file_read(exchanges: list[Exchange]) -> None:
    hostname = _hostname_pattern()  # XXE: file:///etc/hostname stays unread
    for exchange in exchanges:
        assert not hostname.search(exchange.result["body"])
        assert not hostname.search(exchange.output)


def _never_code_valid(exchanges: list[Exchange]) -> None:
    for exchange in exchanges:  # valid 1 / "abc": fail closed
        assert "codeValid" not in exchange.result["body"]


def _redirect_not_followed(exchanges: list[Exchange]) -> None:
    for exchange in exchanges:
        assert all(entry["path"] != "/elsewhere" for entry in exchange.journal)


def _upstream_code_not_echoed(exchanges: list[Exchange]) -> None:
    for exchange in exchanges:  # the upstream's error code is for logs, not clients
        assert "ACCOUNT_SUSPENDED" not in exchange.result["body"]
        assert "INVALID_KEY" not in exchange.result["body"]


EXTRA_CHECKS: Final[dict[int, Callable[[list[Exchange]], None]]] = {
    15: _not_read_whole,
    16: _not_read_whole,
    17: _no_entity_expansion,
    18: _no_local_file_read,
    19: _never_code_valid,
    20: _never_code_valid,
    25: _redirect_not_followed,
    23: _upstream_code_not_echoed,
    27: _upstream_code_not_echoed,
}


@FORMATS
def test_fault_matrix(
    function_env: FunctionEnv,
    function_output: FunctionOutput,
    subtests: pytest.Subtests,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every sandbox fault but the slow two (timed below), without and with a PIN.

    Each maps to its documented outcome through a handled error; a status-only lookup
    is retried (boundedly) only after a 5xx or a broken connection, a PIN check
    never once the request left (docs/upstream.md); the key is only ever in the POST body.
    """
    caplog.set_level(logging.INFO)  # (at DEBUG, botocore logs raw AWS responses)
    fmt = _fmt(function_env)
    _warm(function_env)
    function_output.read()
    for number, (without_pin, with_pin) in sorted(FAULT_EXPECTATIONS.items()):
        if number in SLOW_FAULTS:
            continue
        reference = fault_reference(number)
        with subtests.test(msg=f"fault {number:02d} {fmt}"):
            exchanges = []
            for pin in (None, PIN):
                function_env.sandbox.reset()
                result, elapsed = _timed(function_env, lookup_event(reference, pin), 5.0)
                exchanges.append(
                    Exchange(result, elapsed, function_env.journal(), function_output.read())
                )
            plain, checked = exchanges
            assert_outcome(plain.result, reference, without_pin)
            assert_outcome(checked.result, reference, with_pin)
            low, high = RETRIED_WITHOUT_PIN.get(number, (1, 1))
            assert low <= len(plain.journal) <= high
            assert len(checked.journal) == 1
            for exchange in exchanges:
                assert all(entry["path"] == f"/telephonestatus.{fmt}" for entry in exchange.journal)
                assert all(entry["key_in_body"] for entry in exchange.journal)
                assert not any(entry["key_in_query"] for entry in exchange.journal)
                _assert_clean_handling(exchange.output)
            if with_pin.code is not None:
                assert "codeValid" not in body_of(checked.result)
            if number in EXTRA_CHECKS:
                EXTRA_CHECKS[number](exchanges)
    assert not _hostname_pattern().search(caplog.text)  # nor in any other logger's records


# --------------------------------------------------------------------------- deadlines


@FORMATS
@pytest.mark.parametrize("number", sorted(SLOW_FAULTS), ids=lambda n: f"fault-{n:02d}")
def test_slow_upstream_answers_504_before_the_deadline(
    function_env: FunctionEnv, number: int
) -> None:
    function_env.monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "4")  # fault 01 sleeps past 2 s
    _warm(function_env)
    reference = fault_reference(number)
    result, elapsed = _timed(function_env, lookup_event(reference), DEADLINE_SECONDS)
    assert_problem(result, 504, TIMEOUT)
    assert elapsed < DEADLINE_SECONDS + DEADLINE_MARGIN, elapsed
    assert elapsed > DEADLINE_SECONDS / 2  # it did wait for the upstream
    assert len(function_env.journal()) == 1  # no retry after a timeout


def test_slow_upstream_with_a_pin_answers_504_before_the_deadline(
    function_env: FunctionEnv,
) -> None:
    function_env.monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "4")
    _warm(function_env)
    event = lookup_event(fault_reference(1), PIN)
    result, elapsed = _timed(function_env, event, DEADLINE_SECONDS)
    assert_problem(result, 504, TIMEOUT)
    assert elapsed < DEADLINE_SECONDS + DEADLINE_MARGIN, elapsed
    assert len(function_env.journal()) == 1


def test_deadline_holds_on_a_cold_start_too(function_env: FunctionEnv) -> None:
    """Building the runtime (AWS clients, the key) happens inside the same deadline."""
    function_env.monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "4")
    function_env.invoke(lookup_event(VENDOR_REFERENCE))  # the module import (Lambda's init)
    function_env.set_format("json")  # forget the runtime: the next invocation is cold
    result, elapsed = _timed(function_env, lookup_event(fault_reference(1)), DEADLINE_SECONDS)
    assert_problem(result, 504, TIMEOUT)
    assert elapsed < DEADLINE_SECONDS + DEADLINE_MARGIN, elapsed


# --------------------------------------------------------------------------- refused


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections: bound, never listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def connection_attempts(monkeypatch: pytest.MonkeyPatch) -> dict[int, int]:
    """Counts TCP connects made through urllib3, by destination port (a spy, not a stub)."""
    counts: dict[int, int] = {}
    real: Callable[..., socket.socket] = urllib3.util.connection.create_connection

    def counting(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        counts[address[1]] = counts.get(address[1], 0) + 1
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    return counts


@FORMATS
def test_connection_refused_is_503_after_retries(
    function_env: FunctionEnv, refused_port: int, connection_attempts: dict[int, int]
) -> None:
    """Nothing was sent, so even a PIN check may be retried (docs/upstream.md), within bounds."""
    function_env.monkeypatch.setenv("PROXSTOP_API_URL", f"http://127.0.0.1:{refused_port}")
    function_env.set_format(_fmt(function_env))  # cold start with the new URL
    for code in (None, PIN):
        connection_attempts.clear()
        result, elapsed = _timed(function_env, lookup_event(VENDOR_REFERENCE, code), 5.0)
        assert_problem(result, 503, UNAVAILABLE)
        assert 2 <= connection_attempts.get(refused_port, 0) <= 3, code
        assert elapsed < 2.0
    assert function_env.journal() == []


# --------------------------------------------------------------------------- the secret


def test_missing_secret_is_500(function_env: FunctionEnv) -> None:
    function_env.monkeypatch.setenv("PROXSTOP_SECRET_ID", "proxstop/no-such-secret")
    function_env.set_format("json")
    assert_problem(function_env.invoke(lookup_event(VENDOR_REFERENCE)), 500, "INTERNAL_ERROR")
    assert function_env.journal() == []


def test_empty_or_malformed_secret_is_500(function_env: FunctionEnv) -> None:
    for secret in ('{"apiKey": ""}', '{"apiKey": 12}', "{not json"):
        function_env.put_secret(secret)
        function_env.set_format("json")  # a cold start reads the secret afresh
        result = function_env.invoke(lookup_event(VENDOR_REFERENCE))
        assert_problem(result, 500, "INTERNAL_ERROR")
    assert function_env.journal() == []


def test_bare_key_secret_works(function_env: FunctionEnv) -> None:
    function_env.put_secret(DEFAULT_KEY)
    result = function_env.invoke(lookup_event(VENDOR_REFERENCE, PIN))
    assert_status(result, VENDOR_REFERENCE, 100, True)


# --------------------------------------------------------------------------- no stack traces


def test_failures_log_no_stack_trace(
    function_env: FunctionEnv, function_output: FunctionOutput, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/security.md: no log line ever contains a stack trace, whichever logger writes it.

    caplog's handler sits on the root logger, where the Lambda runtime's own
    handler sits in production: whatever reaches it reaches CloudWatch.
    """
    caplog.set_level(logging.WARNING)
    cases = [
        (lookup_event(UNKNOWN_REFERENCE), 404),
        (lookup_event(fault_reference(4)), 503),
        (lookup_event(fault_reference(6), PIN), 502),
    ]
    for event, status in cases:
        assert function_env.invoke(event)["statusCode"] == status
    traced = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.exc_info is not None or "Traceback" in record.getMessage()
    ]
    assert traced == [], "log records carrying a stack trace"
    assert "Traceback" not in function_output.read()
