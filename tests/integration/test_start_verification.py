"""POST /v1/verifications through the real handler, moto and the sandbox over HTTP.

Start -> inbox -> wrong PIN -> right PIN -> token naming the number; the fraud guard's
layers; what a started reference changes in the PIN check; test numbers; start faults.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3
import jwt
import pytest
import urllib3

from local.dev import LOCAL_TOKEN_ISSUER
from local.emulator import local_aws_environment
from local.lambda_runtime import build_rest_event
from local.sandbox import VENDOR_REFERENCE
from local.sandbox.starts import fault_number
from local.server import LocalApiServer, serve
from tests.integration.raw_upstream import RawUpstream, Script, answer, raw_upstream
from tests.integration.support import (
    FORM_HEADERS,
    JSON_HEADERS,
    AwsProxy,
    assert_problem,
    body_of,
    emf_metrics,
    find_leaks,
    header,
    lookup_event,
    sent_pin,
)

if TYPE_CHECKING:
    from tests.integration.conftest import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

START: Final = "/v1/verifications"
NUMBER: Final = "+12025550142"  # fictional (555-01xx), valid for libphonenumber
OTHER_SAME_RANGE: Final = "+12025550143"
TEST_NUMBER: Final = "+12025550123"
TEST_PIN: Final = "24680"
PREMIUM: Final = "+19005550199"
FRENCH_MOBILE: Final = "+33612345678"
UK_FIXED_LINE: Final = "+442079460123"
HTTP: Final = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=15))

sent_pin(TEST_PIN)


def _cold() -> None:
    from telephone_status.service import reset_cold_start_state  # noqa: PLC0415 (lazy)

    reset_cold_start_state()


@pytest.fixture
def starts(function_env: FunctionEnv) -> FunctionEnv:
    """The route on: US and GB, one test number."""
    function_env.monkeypatch.setenv("START_COUNTRIES", "US,GB")
    function_env.monkeypatch.setenv("TEST_NUMBERS", json.dumps({TEST_NUMBER: TEST_PIN}))
    function_env.monkeypatch.setenv("SANDBOX_DELIVERY_SECONDS", "0")
    _cold()
    return function_env


def _configure(env: FunctionEnv, **settings: str) -> None:
    for name, value in settings.items():
        env.monkeypatch.setenv(name, value)
    _cold()


def start_event(payload: dict[str, Any]) -> dict[str, Any]:
    return build_rest_event("POST", START, headers=JSON_HEADERS, body=json.dumps(payload))


def _start(env: FunctionEnv, number: str = NUMBER, channel: str = "sms", **extra: str) -> Any:
    return env.invoke(start_event({"phoneNumber": number, "channel": channel, **extra}))


def _inbox(env: FunctionEnv, number: str | None = None) -> list[dict[str, str]]:
    query = "" if number is None else "?phoneNumber=" + number.replace("+", "%2B")
    with urllib.request.urlopen(f"{env.sandbox.url}/inbox{query}", timeout=5) as response:
        messages: list[dict[str, str]] = json.load(response)
    for message in messages:
        sent_pin(message["code"])  # the log-hygiene check now looks for it everywhere
    return messages


def _start_requests(env: FunctionEnv) -> list[dict[str, Any]]:
    return [e for e in env.journal() if e["path"].startswith(("/telephonesms", "/telephonecall"))]


def _epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _table(env: FunctionEnv) -> list[dict[str, Any]]:
    credentials = local_aws_environment(env.moto.endpoint_url, env.region)
    client = boto3.client(
        "dynamodb",
        endpoint_url=env.moto.endpoint_url,
        region_name=env.region,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    )
    items: list[dict[str, Any]] = client.scan(TableName=env.table_name, ConsistentRead=True)[
        "Items"
    ]
    return items


@pytest.fixture
def api(starts: FunctionEnv) -> Iterator[str]:
    server: LocalApiServer = serve(0, quiet=True)
    try:
        yield server.url
    finally:
        server.stop()


# --------------------------------------------------------------------------- the whole flow


def test_start_inbox_wrong_then_right_pin_gives_a_token_naming_the_number(
    api: str, starts: FunctionEnv, function_output: FunctionOutput
) -> None:
    before = int(time.time())
    response = HTTP.request(
        "POST",
        f"{api}{START}",
        body=json.dumps({"phoneNumber": NUMBER, "channel": "sms"}),
        headers=JSON_HEADERS,
    )
    assert response.status == 201, response.data
    body = json.loads(response.data)
    reference = body["referenceId"]
    assert list(body) == [
        "referenceId",
        "channel",
        "phoneNumber",
        "expiresAt",
        "resendAfter",
        "sendsRemaining",
    ]
    assert response.headers["Location"] == f"/v1/telephone-status?referenceId={reference}"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
    assert body["channel"] == "sms"
    assert body["phoneNumber"] == "+1******0142"
    assert body["sendsRemaining"] == 4
    assert before + 600 <= _epoch(body["expiresAt"]) <= int(time.time()) + 600
    assert before + 30 <= _epoch(body["resendAfter"]) <= int(time.time()) + 30

    (sent,) = _start_requests(starts)
    assert sent["path"] == "/telephonesms.json"
    assert sent["key_in_body"]
    assert not sent["key_in_query"]
    (message,) = _inbox(starts, NUMBER)
    assert message["referenceId"] == reference
    assert message["channel"] == "sms"
    pin = message["code"]
    assert len(pin) == 5
    assert pin[0] != "0"
    assert pin.isdigit()

    wrong = str(10000 + (int(pin) - 10000 + 1) % 90000)
    sent_pin(wrong)
    check = {"referenceId": reference, "code": wrong}
    answer = HTTP.request(
        "POST", f"{api}/v1/telephone-status", body=json.dumps(check), headers=JSON_HEADERS
    )
    assert json.loads(answer.data)["codeValid"] is False

    check["code"] = pin
    answer = HTTP.request(
        "POST", f"{api}/v1/telephone-status", body=json.dumps(check), headers=JSON_HEADERS
    )
    document = json.loads(answer.data)
    assert answer.status == 200, document
    assert document["codeValid"] is True
    assert document["attemptsRemaining"] == 3
    token = document["verification"]["token"]
    key = jwt.PyJWKClient(f"{api}/v1/jwks.json", cache_keys=False).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["ES256"], issuer=LOCAL_TOKEN_ISSUER)
    assert claims["sub"] == reference
    assert claims["phone_number"] == NUMBER
    assert claims["channel"] == "sms"

    # The PIN is nowhere: not in any table item, response or log line (the hygiene hook
    # checks the logs of this test for it as well).
    for item in _table(starts):
        assert pin not in json.dumps(item).replace(reference, "")
    assert pin not in response.data.decode()
    output = function_output.read()
    metrics = emf_metrics(output)
    assert metrics["VerificationSends"] == 2  # once plain, once by channel and country
    assert metrics["VerifiedStarts"] == 1


def test_second_start_within_the_interval_is_429_with_retry_after(starts: FunctionEnv) -> None:
    assert _start(starts)["statusCode"] == 201
    refused = _start(starts, channel="call")
    assert_problem(refused, 429, "TOO_MANY_SENDS")
    assert 1 <= int(header(refused, "Retry-After") or 0) <= 30
    assert len(_start_requests(starts)) == 1


@pytest.mark.parametrize(
    ("number", "status", "code", "layer"),
    [
        (PREMIUM, 400, "INVALID_REQUEST", "number"),
        ("+18005550100", 400, "INVALID_REQUEST", "number"),  # toll free
        ("+1202555", 400, "INVALID_REQUEST", None),  # too short for E.164
        ("+1202555014", 400, "INVALID_REQUEST", "number"),  # not valid for the US
        (FRENCH_MOBILE, 403, "COUNTRY_NOT_ALLOWED", "country"),
        (UK_FIXED_LINE, 400, "INVALID_REQUEST", "number"),  # fixed line by SMS
    ],
)
def test_refused_numbers_never_reach_the_upstream(
    starts: FunctionEnv,
    function_output: FunctionOutput,
    number: str,
    status: int,
    code: str,
    layer: str | None,
) -> None:
    document = assert_problem(_start(starts, number), status, code)
    if status == 400:
        assert document["errors"][0]["field"] == "phoneNumber"
    assert _start_requests(starts) == []
    assert _table(starts) == []  # no counter was touched
    output = function_output.read()
    refused = [
        json.loads(line)
        for line in output.splitlines()
        if '"StartRefused"' in line and line.startswith("{")
    ]
    assert [r["Layer"] for r in refused] == ([layer] if layer else [])


def test_a_fixed_line_can_be_called(starts: FunctionEnv) -> None:
    result = _start(starts, UK_FIXED_LINE, "call", locale="fr")
    assert result["statusCode"] == 201, result["body"]
    (sent,) = _start_requests(starts)
    assert sent["path"] == "/telephonecall.json"
    (message,) = _inbox(starts, UK_FIXED_LINE)
    assert message["language"] == "French"
    assert json.loads(result["body"])["phoneNumber"] == "+44******0123"


def test_route_is_off_without_countries(function_env: FunctionEnv) -> None:
    assert_problem(_start(function_env), 404, "NOT_FOUND")
    options = function_env.invoke(build_rest_event("OPTIONS", START))
    assert options["statusCode"] == 404
    assert _start_requests(function_env) == []


def test_other_methods_and_preflight(starts: FunctionEnv) -> None:
    refused = starts.invoke(build_rest_event("GET", START))
    assert_problem(refused, 405, "METHOD_NOT_ALLOWED")
    assert header(refused, "Allow") == "POST, OPTIONS"
    preflight = starts.invoke(
        build_rest_event(
            "OPTIONS",
            START,
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
        )
    )
    assert preflight["statusCode"] == 204
    assert header(preflight, "Access-Control-Allow-Methods") == "POST, OPTIONS"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phoneNumber": "+1 202 555 0142", "channel": "sms"}, "phoneNumber"),
        ({"phoneNumber": "12025550142", "channel": "sms"}, "phoneNumber"),
        ({"phoneNumber": 12025550142, "channel": "sms"}, "phoneNumber"),
        ({"phoneNumber": NUMBER, "channel": "SMS"}, "channel"),
        ({"phoneNumber": NUMBER, "channel": "sms", "locale": "EN"}, "locale"),
        ({"phoneNumber": NUMBER}, "channel"),
        ({"phoneNumber": NUMBER, "channel": "sms", "code": "12345"}, "code"),
    ],
)
def test_invalid_fields_are_400_before_anything(
    starts: FunctionEnv, payload: dict[str, Any], field: str
) -> None:
    document = assert_problem(starts.invoke(start_event(payload)), 400, "INVALID_REQUEST")
    assert field in [error["field"] for error in document["errors"]]
    assert _start_requests(starts) == []


def test_fields_in_the_query_string_are_refused(starts: FunctionEnv) -> None:
    event = build_rest_event(
        "POST",
        START,
        query=[("phoneNumber", NUMBER)],
        headers=JSON_HEADERS,
        body=json.dumps({"phoneNumber": NUMBER, "channel": "sms"}),
    )
    assert_problem(starts.invoke(event), 400, "INVALID_REQUEST")
    assert _start_requests(starts) == []


def test_form_body_and_xml_upstream(starts: FunctionEnv) -> None:
    starts.set_format("xml")
    event = build_rest_event(
        "POST",
        START,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="phoneNumber=%2B12025550142&channel=call",
    )
    result = starts.invoke(event)
    assert result["statusCode"] == 201, result["body"]
    (message,) = _inbox(starts, NUMBER)
    assert json.loads(result["body"])["referenceId"] == message["referenceId"]
    assert _start_requests(starts)[0]["path"] == "/telephonecall.xml"


# --------------------------------------------------------------------------- the PIN check


def test_expired_verification_is_410_without_upstream_or_attempt(starts: FunctionEnv) -> None:
    _configure(starts, VERIFICATION_TTL_SECONDS="1")
    started = json.loads(_start(starts)["body"])
    reference = started["referenceId"]
    (message,) = _inbox(starts, NUMBER)
    # Past expiresAt (whole seconds): the PIN can no longer be checked.
    time.sleep(max(0.0, _epoch(started["expiresAt"]) + 1.05 - time.time()))
    before = len(starts.journal())
    assert_problem(
        starts.invoke(lookup_event(reference, message["code"])), 410, "VERIFICATION_EXPIRED"
    )
    assert len(starts.journal()) == before
    assert starts.checks(reference) is None
    # A status-only lookup still works.
    assert body_of(starts.invoke(lookup_event(reference)))["status"]["code"] == 200


def test_superseded_verification_is_409(starts: FunctionEnv) -> None:
    _configure(starts, MIN_SEND_INTERVAL_SECONDS="0")
    first = json.loads(_start(starts)["body"])["referenceId"]
    second = json.loads(_start(starts, channel="call")["body"])["referenceId"]
    newest, older = _inbox(starts, NUMBER)
    assert (newest["referenceId"], older["referenceId"]) == (second, first)
    before = len(starts.journal())
    assert_problem(
        starts.invoke(lookup_event(first, older["code"])), 409, "VERIFICATION_SUPERSEDED"
    )
    assert len(starts.journal()) == before
    assert starts.checks(first) is None
    ok = body_of(starts.invoke(lookup_event(second, newest["code"])))
    assert ok["codeValid"] is True


def test_external_references_refused_when_configured(starts: FunctionEnv) -> None:
    _configure(starts, ACCEPT_EXTERNAL_REFERENCES="false")
    assert_problem(starts.invoke(lookup_event(VENDOR_REFERENCE, "16322")), 404, "UNKNOWN_REFERENCE")
    assert starts.journal() == []
    assert starts.attempt_record(VENDOR_REFERENCE) is None
    reference = json.loads(_start(starts)["body"])["referenceId"]
    (message,) = _inbox(starts, NUMBER)
    assert body_of(starts.invoke(lookup_event(reference, message["code"])))["codeValid"] is True


def test_a_started_reference_locks_out_as_usual_when_external_ones_are_refused(
    starts: FunctionEnv,
) -> None:
    """Refusing unknown references must not turn a started one's lockout into a 404."""
    _configure(starts, ACCEPT_EXTERNAL_REFERENCES="false")
    reference = json.loads(_start(starts)["body"])["referenceId"]
    (message,) = _inbox(starts, NUMBER)
    wrong = [f"{(int(message['code']) + n) % 100000:05d}" for n in range(1, 7)]
    for pin in wrong[:5]:
        assert body_of(starts.invoke(lookup_event(reference, pin)))["codeValid"] is False
    locked_out = starts.invoke(lookup_event(reference, wrong[5]))
    assert_problem(locked_out, 429, "TOO_MANY_ATTEMPTS")
    # The window is a day long, here counted from the start: never longer.
    assert 86_000 < int(header(locked_out, "Retry-After") or 0) <= 86_400


def test_external_references_still_work_by_default(starts: FunctionEnv) -> None:
    assert body_of(starts.invoke(lookup_event(VENDOR_REFERENCE, "16322")))["codeValid"] is True


# --------------------------------------------------------------------------- test numbers


def test_test_number_is_checked_locally(
    starts: FunctionEnv, function_output: FunctionOutput
) -> None:
    result = _start(starts, TEST_NUMBER)
    assert result["statusCode"] == 201, result["body"]
    reference = json.loads(result["body"])["referenceId"]
    assert starts.journal() == []  # no upstream call
    assert _inbox(starts) == []
    status = body_of(starts.invoke(lookup_event(reference)))
    assert status["status"] == {
        "code": 200,
        "channel": "sms",
        "state": "delivered",
        "description": status["status"]["description"],
        "final": True,
        "retryable": None,
    }
    sent_pin("97531")
    wrong = body_of(starts.invoke(lookup_event(reference, "97531")))
    assert (wrong["codeValid"], wrong["attemptsRemaining"]) == (False, 4)
    right = body_of(starts.invoke(lookup_event(reference, TEST_PIN)))
    assert (right["codeValid"], right["attemptsRemaining"]) == (True, 3)
    claims = jwt.decode(right["verification"]["token"], options={"verify_signature": False})
    assert (claims["phone_number"], claims["channel"]) == (TEST_NUMBER, "sms")
    assert starts.journal() == []
    metrics = emf_metrics(function_output.read())
    assert metrics["VerificationSends"] == 0
    assert metrics["VerifiedStarts"] == 0  # never sent: not in the pumping ratio


def test_test_number_by_call_is_status_100(starts: FunctionEnv) -> None:
    reference = json.loads(_start(starts, TEST_NUMBER, "call")["body"])["referenceId"]
    assert body_of(starts.invoke(lookup_event(reference, TEST_PIN)))["status"]["code"] == 100


# --------------------------------------------------------------------------- guard layers


def test_per_number_hourly_limit(starts: FunctionEnv) -> None:
    _configure(starts, MIN_SEND_INTERVAL_SECONDS="0", MAX_SENDS_PER_PHONE="2")
    first = json.loads(_start(starts)["body"])
    assert first["sendsRemaining"] == 1
    second = json.loads(_start(starts)["body"])
    assert second["sendsRemaining"] == 0
    assert _epoch(second["resendAfter"]) >= int(time.time()) + 3590
    refused = _start(starts)
    assert_problem(refused, 429, "TOO_MANY_SENDS")
    assert 3590 <= int(header(refused, "Retry-After") or 0) <= 3600
    assert len(_start_requests(starts)) == 2
    # Another number is not affected.
    assert _start(starts, OTHER_SAME_RANGE)["statusCode"] == 201


def test_range_limit_gives_back_the_number_quota(starts: FunctionEnv) -> None:
    _configure(starts, MAX_SENDS_PER_PREFIX="1")
    assert _start(starts)["statusCode"] == 201
    refused = _start(starts, OTHER_SAME_RANGE)
    assert_problem(refused, 429, "TOO_MANY_SENDS")
    assert 86_390 <= int(header(refused, "Retry-After") or 0) <= 86_400
    assert len(_start_requests(starts)) == 1
    # The refused number's own quota was given back: with room in the range it goes through
    # (and the range, with 5 more left, does not hide the number's 4).
    _configure(starts, MAX_SENDS_PER_PREFIX="7")
    result = _start(starts, OTHER_SAME_RANGE)
    assert result["statusCode"] == 201
    assert json.loads(result["body"])["sendsRemaining"] == 4


def test_environment_budget(starts: FunctionEnv, function_output: FunctionOutput) -> None:
    _configure(starts, MAX_SENDS_PER_HOUR="2")

    def resend_after(number: str) -> tuple[int, range]:
        before = int(time.time())
        body = json.loads(_start(starts, number)["body"])
        return _epoch(body["resendAfter"]), range(before, int(time.time()) + 1)

    # The hour's budget has a send left: the number's own interval decides.
    resend, seconds = resend_after(NUMBER)
    assert resend in {t + 30 for t in seconds}
    # That took the hour's last send: the next to this number also waits for the next hour.
    resend, seconds = resend_after("+14155550133")
    assert resend in {max(t - t % 3600 + 3600, t + 30) for t in seconds}
    refused = _start(starts, "+14155550132")
    assert_problem(refused, 503, "SEND_BUDGET_EXHAUSTED")
    now = int(time.time())
    assert int(header(refused, "Retry-After") or 0) == pytest.approx(3600 - now % 3600, abs=2)
    assert len(_start_requests(starts)) == 2
    assert emf_metrics(function_output.read())["SendBudgetExhausted"] == 1
    # Test numbers cost nothing: no budget.
    assert _start(starts, TEST_NUMBER)["statusCode"] == 201


def test_counter_keys_hold_no_phone_number(starts: FunctionEnv) -> None:
    assert _start(starts)["statusCode"] == 201
    keys = sorted(item["referenceId"]["S"].split("#")[0] for item in _table(starts))
    assert keys.count("phone") == 1
    assert keys.count("prefix") == 1
    assert keys.count("hour") == 1
    for item in _table(starts):
        key = item["referenceId"]["S"]
        assert "2025550142" not in key
        assert "202555" not in key


def test_ten_simultaneous_starts_send_exactly_one(starts: FunctionEnv, aws_proxy: AwsProxy) -> None:
    _cold()
    assert starts.invoke(lookup_event(VENDOR_REFERENCE))["statusCode"] == 200  # warm
    starts.sandbox.reset()
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = Counter(pool.map(lambda _: int(_start(starts)["statusCode"]), range(10)))
    assert statuses == {201: 1, 429: 9}
    assert len(_start_requests(starts)) == 1
    assert len(_inbox(starts, NUMBER)) == 1


# --------------------------------------------------------------------------- start faults


@pytest.mark.parametrize(
    ("fault", "status", "code", "counted"),
    [
        ("91", 503, "UPSTREAM_UNAVAILABLE", True),  # 5xx after sending
        ("93", 400, "INVALID_REQUEST", True),  # INVALID_TELEPHONE
        ("95", 502, "UPSTREAM_BAD_RESPONSE", True),  # ref not 32 hex
        ("96", 502, "UPSTREAM_REJECTED", True),
    ],
)
def test_start_faults_are_never_retried_and_still_count(
    starts: FunctionEnv, fault: str, status: int, code: str, counted: bool
) -> None:
    number = fault_number(fault)
    assert_problem(_start(starts, number), status, code)
    assert len(_start_requests(starts)) == 1  # never repeated
    # It reached the upstream: it counts for the number.
    assert_problem(_start(starts, number), 429, "TOO_MANY_SENDS")
    assert len(_start_requests(starts)) == 1


def test_start_fault_unquoted_ref_is_understood(starts: FunctionEnv) -> None:
    result = _start(starts, fault_number("94"))
    assert result["statusCode"] == 201, result["body"]
    (message,) = _inbox(starts, fault_number("94"))
    assert json.loads(result["body"])["referenceId"] == message["referenceId"]


def test_start_fault_timeout(starts: FunctionEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # Room for the key and the counters even on a loaded machine; the upstream never fits.
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "8")
    result = starts.invoke(
        start_event({"phoneNumber": fault_number("92"), "channel": "sms"}), timeout_seconds=4
    )
    assert_problem(result, 504, "UPSTREAM_TIMEOUT")
    assert len(_start_requests(starts)) == 1


def test_upstream_down_before_sending_gives_the_quota_back(
    starts: FunctionEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A closed port: the connection is refused, nothing was sent.
    with socket_closed_port() as url:
        monkeypatch.setenv("PROXSTOP_API_URL", url)
        _cold()
        assert_problem(_start(starts), 503, "UPSTREAM_UNAVAILABLE")
    monkeypatch.setenv("PROXSTOP_API_URL", starts.sandbox.url)
    _cold()
    assert _start(starts)["statusCode"] == 201


class socket_closed_port:  # noqa: N801 - used as a context manager
    def __enter__(self) -> str:
        import socket  # noqa: PLC0415

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def _values(item: dict[str, Any]) -> list[str]:
    """Every attribute value of a table item as text (sets and lists flattened)."""
    found: list[str] = []
    for typed in item.values():
        for kind, value in typed.items():
            if kind in ("SS", "NS"):
                found.extend(value)
            elif kind == "L":
                found.extend(_values({str(i): v for i, v in enumerate(value)}))
            else:
                found.append(str(value))
    return found


@pytest.mark.parametrize("channel", ["sms", "call"])
def test_the_pin_is_in_no_log_line_response_or_table_item(
    starts: FunctionEnv, function_output: FunctionOutput, channel: str
) -> None:
    result = _start(starts, channel=channel)
    assert result["statusCode"] == 201
    (message,) = _inbox(starts, NUMBER)
    pin = message["code"]
    output = function_output.read()
    assert find_leaks(output, keys=[], pins=[pin]) == []
    assert pin not in json.dumps(result)
    for item in _table(starts):
        for value in _values(item):
            assert not re.search(rf"(?<![0-9A-Fa-f]){pin}(?![0-9A-Fa-f])", value), item
    # And the sandbox saw it only in the request body: never in a URL.
    (sent,) = _start_requests(starts)
    assert sent["query_keys"] == []
    assert sorted(sent["form_keys"]) == sorted(
        ["key", "country", "phone", "code", *(["message"] if channel == "call" else [])]
    )


# --------------------------------------------------------------------------- the rolling window


def test_rolling_hour_on_the_real_table(function_env: FunctionEnv) -> None:
    """The number's window on moto with a controlled clock: interval, rolling hour, refill."""
    from telephone_status.aws_clients import AwsClients  # noqa: PLC0415 (after env setup)
    from telephone_status.deadline import Deadline  # noqa: PLC0415
    from telephone_status.fraud_guard import FraudGuard, Refused  # noqa: PLC0415

    clock = [1_800_000_000.0]
    guard = FraudGuard(
        AwsClients().dynamodb,
        function_env.table_name,
        max_per_phone=2,
        min_interval=30,
        max_per_prefix=1000,
        max_per_hour=1000,
        clock=lambda: clock[0],
    )
    start = int(clock[0])

    def admit_at(offset: int) -> int | tuple[str, int | None]:
        clock[0] = start + offset
        try:
            admission = guard.admit("key", NUMBER, "+1202555", Deadline(5))
        except Refused as refused:
            return refused.layer, refused.error.retry_after_seconds
        return admission.sends_remaining

    assert admit_at(0) == 1
    assert admit_at(10) == ("phone", 20)  # 30 s apart
    assert admit_at(30) == 0
    assert admit_at(100) == ("phone", 3500)  # until the send at 0 leaves the hour
    assert admit_at(3600) == 0  # [30, 3600]: the list is rewritten without 0
    assert admit_at(3629) == ("phone", 1)
    assert admit_at(3630) == 0  # the send at 30 is an hour old: out of the window
    assert admit_at(3631) == ("phone", 3569)  # [3600, 3630] fill the hour
    assert admit_at(7300) == 1  # all old: [7300]


def test_a_budget_refusal_gives_back_number_and_range(function_env: FunctionEnv) -> None:
    from telephone_status.aws_clients import AwsClients  # noqa: PLC0415 (after env setup)
    from telephone_status.deadline import Deadline  # noqa: PLC0415
    from telephone_status.fraud_guard import FraudGuard, Refused  # noqa: PLC0415

    def guard(per_hour: int) -> FraudGuard:
        return FraudGuard(
            AwsClients().dynamodb,
            function_env.table_name,
            max_per_phone=3,
            min_interval=30,
            max_per_prefix=2,
            max_per_hour=per_hour,
        )

    # The range's 2 leave 1: fewer than the number's 3 leave.
    assert guard(1).admit("key", NUMBER, "+1202555", Deadline(5)).sends_remaining == 1
    with pytest.raises(Refused) as refused:
        guard(1).admit("key", OTHER_SAME_RANGE, "+1202555", Deadline(5))
    assert refused.value.layer == "budget"
    # Nothing of the refused start is left: the number has its whole hour (and no 30 s
    # wait), the range still has room for one more.
    roomy = guard(10)
    assert roomy.admit("key", OTHER_SAME_RANGE, "+1202555", Deadline(5)).sends_remaining == 0
    phone_item = function_env.attempt_record(roomy.phone_key("key", OTHER_SAME_RANGE))
    assert phone_item is not None
    assert len(phone_item["sends"]["L"]) == 1
    with pytest.raises(Refused) as full:
        roomy.admit("key", "+12025550144", "+1202555", Deadline(5))
    assert full.value.layer == "prefix"


def test_code_length_four(starts: FunctionEnv) -> None:
    _configure(starts, CODE_LENGTH="4", MIN_SEND_INTERVAL_SECONDS="0")
    for _ in range(3):
        assert _start(starts)["statusCode"] == 201
    pins = [message["code"] for message in _inbox(starts, NUMBER)]
    assert len(pins) == 3
    assert all(len(pin) == 4 and pin[0] != "0" and pin.isdigit() for pin in pins)


# --------------------------------------------------------------------------- edge classes


def test_the_range_shows_in_resend_after_and_sends_remaining(starts: FunctionEnv) -> None:
    """The next send to a number waits for its range too: the 201 says so."""
    _configure(starts, MAX_SENDS_PER_PREFIX="2")
    first = json.loads(_start(starts)["body"])
    assert first["sendsRemaining"] == 1  # the range's day, not the number's hour (4)
    assert _epoch(first["resendAfter"]) <= int(time.time()) + 30
    second = json.loads(_start(starts, OTHER_SAME_RANGE)["body"])
    assert second["sendsRemaining"] == 0
    assert _epoch(second["resendAfter"]) >= int(time.time()) + 86_390
    # What the 201 promised is what the guard does, for every number in the range.
    refused = _start(starts, "+12025550144")
    assert_problem(refused, 429, "TOO_MANY_SENDS")
    assert int(header(refused, "Retry-After") or 0) >= 86_390


def test_a_start_counts_as_verified_once(
    starts: FunctionEnv, function_output: FunctionOutput
) -> None:
    """The same right PIN again (a double tap) must not feed the verified-per-sent ratio."""
    reference = json.loads(_start(starts)["body"])["referenceId"]
    (message,) = _inbox(starts, NUMBER)
    before = int(time.time())
    for _ in range(3):
        document = body_of(starts.invoke(lookup_event(reference, message["code"])))
        assert document["codeValid"] is True
        assert document["verification"] is not None
    metrics = emf_metrics(function_output.read())
    assert metrics["VerifiedStarts"] == 1
    # The mark is when the first right PIN came, in whole seconds.
    verified_at = int(starts.attempt_record(reference)["verifiedAt"]["N"])  # type: ignore[index]
    assert before <= verified_at <= int(time.time())
    assert metrics["VerificationSends"] == 2  # one send (plain + by channel and country)


@pytest.mark.parametrize(
    "number",
    [
        "+\u0661\u0662\u0660\u0662\u0665\u0665\u0665\u0660\u0661\u0664\u0662",  # Arabic-Indic
        "+\uff11\uff12\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff14\uff12",  # fullwidth digits
        "\uff0b12025550142",  # fullwidth plus
        " +12025550142",
        "+12025550142 ",
        "+12025550142\n",
        "0012025550142",
        "+02025550142",
        "+1(202)5550142",
        "+1202555",  # 7 digits
        "+1202555014212345",  # 16 digits
        "",
    ],
)
def test_phone_number_spellings_are_400(starts: FunctionEnv, number: str) -> None:
    document = assert_problem(_start(starts, number), 400, "INVALID_REQUEST")
    assert [error["field"] for error in document["errors"]] == ["phoneNumber"]
    assert starts.journal() == []


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"phoneNumber": None, "channel": "sms"}, ["phoneNumber"]),
        ({"phoneNumber": ["+12025550142"], "channel": "sms"}, ["phoneNumber"]),
        ({"phoneNumber": NUMBER, "channel": "Sms"}, ["channel"]),
        ({"phoneNumber": NUMBER, "channel": " sms"}, ["channel"]),
        ({"phoneNumber": NUMBER, "channel": ["sms"]}, ["channel"]),
        ({"phoneNumber": NUMBER, "channel": "call", "locale": None}, ["locale"]),
        ({"phoneNumber": NUMBER, "channel": "call", "locale": "en-US"}, ["locale"]),
        ({"phoneNumber": NUMBER, "channel": "call", "locale": "ar"}, ["locale"]),
        ({"phonenumber": NUMBER, "channel": "sms"}, ["phonenumber", "phoneNumber"]),
        ({"phoneNumber": NUMBER, "channel": "sms", "referenceId": "X"}, ["referenceId"]),
    ],
)
def test_field_rules(starts: FunctionEnv, payload: dict[str, Any], fields: list[str]) -> None:
    document = assert_problem(starts.invoke(start_event(payload)), 400, "INVALID_REQUEST")
    assert [error["field"] for error in document["errors"]] == fields
    assert starts.journal() == []


def _raw_start_event(body: str, content_type: str | None, **extra: Any) -> dict[str, Any]:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return build_rest_event("POST", START, headers=headers, body=body, **extra)


_GOOD_JSON: Final = json.dumps({"phoneNumber": NUMBER, "channel": "sms"})


@pytest.mark.parametrize(
    ("body", "content_type", "query"),
    [
        (_GOOD_JSON, "text/plain", None),
        (_GOOD_JSON, None, None),
        (_GOOD_JSON, "application/json; charset=utf-16", None),
        (_GOOD_JSON, "application/json; charset=nonsense", None),
        (_GOOD_JSON[:-1] + ',"pad":"' + "x" * 4096 + '"}', "application/json", None),
        ("[" + _GOOD_JSON + "]", "application/json", None),
        ("{'phoneNumber': '+12025550142'}", "application/json", None),
        (
            '{"phoneNumber":"+12025550142","channel":"sms","channel":"call"}',
            "application/json",
            None,
        ),
        ("phoneNumber=%2B12025550142&channel=sms&channel=call", FORM_HEADERS["Content-Type"], None),
        ("phoneNumber=%2B12025550142&channel=sms&", FORM_HEADERS["Content-Type"], None),
        ("", "application/json", None),
        (_GOOD_JSON, "application/json", [("channel", "sms")]),
        (_GOOD_JSON, "application/json", [("x", "")]),
    ],
)
def test_body_rules_are_those_of_the_status_post(
    starts: FunctionEnv, body: str, content_type: str | None, query: list[tuple[str, str]] | None
) -> None:
    assert_problem(
        starts.invoke(_raw_start_event(body, content_type, query=query)), 400, "INVALID_REQUEST"
    )
    assert starts.journal() == []
    assert _table(starts) == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (_GOOD_JSON, "application/json; charset=us-ascii"),
        (_GOOD_JSON, "Application/JSON; charset=UTF-8"),
        ('{"channel":"sms","phoneNumber":"+12025550142","channel":"sms"}', "application/json"),
        ("phoneNumber=%2B12025550142&channel=sms", "application/x-www-form-urlencoded"),
    ],
)
def test_accepted_bodies(starts: FunctionEnv, body: str, content_type: str) -> None:
    result = starts.invoke(_raw_start_event(body, content_type))
    assert result["statusCode"] == 201, result["body"]


def test_a_locale_with_sms_is_accepted_and_not_sent(starts: FunctionEnv) -> None:
    assert _start(starts, channel="sms", locale="ja")["statusCode"] == 201
    (sent,) = _start_requests(starts)
    assert sent["path"] == "/telephonesms.json"
    assert "message" not in sent["form_keys"]


def test_a_call_without_locale_is_in_english(starts: FunctionEnv) -> None:
    assert _start(starts, channel="call")["statusCode"] == 201
    (message,) = _inbox(starts, NUMBER)
    assert message["language"] == "English"


def test_validation_comes_before_the_key(starts: FunctionEnv) -> None:
    from telephone_status.credentials import PLACEHOLDER_API_KEY  # noqa: PLC0415 (after env)

    starts.put_secret(json.dumps({"apiKey": PLACEHOLDER_API_KEY}))
    assert_problem(_start(starts, "+1202555"), 400, "INVALID_REQUEST")
    assert_problem(_start(starts, NUMBER, "email"), 400, "INVALID_REQUEST")
    # The number's own checks are step 3: after the key.
    assert_problem(_start(starts, PREMIUM), 503, "NOT_CONFIGURED")
    assert_problem(_start(starts, TEST_NUMBER), 503, "NOT_CONFIGURED")
    assert_problem(_start(starts, FRENCH_MOBILE), 503, "NOT_CONFIGURED")
    assert starts.journal() == []
    assert _table(starts) == []


@pytest.mark.parametrize(
    ("number", "channel"),
    [
        ("+33891123456", "sms"),  # French premium rate
        ("+33884012345", "call"),  # French shared cost
        ("+33123456789", "sms"),  # French fixed line by SMS
        ("+3361234567", "sms"),  # not valid for France
    ],
)
def test_number_checks_come_before_the_country(
    starts: FunctionEnv, number: str, channel: str
) -> None:
    """Outside START_COUNTRIES and a bad number: the number's 400 (step 3) wins."""
    document = assert_problem(_start(starts, number, channel), 400, "INVALID_REQUEST")
    assert [error["field"] for error in document["errors"]] == ["phoneNumber"]
    # The same kind of number inside an allowed country is refused alike.
    _configure(starts, START_COUNTRIES="FR")
    assert_problem(_start(starts, number, channel), 400, "INVALID_REQUEST")
    assert starts.journal() == []


def test_a_good_number_outside_the_countries_is_403_and_counts_nothing(
    starts: FunctionEnv,
) -> None:
    assert_problem(_start(starts, "+33123456789", "call"), 403, "COUNTRY_NOT_ALLOWED")
    assert_problem(_start(starts, "+14165550123"), 403, "COUNTRY_NOT_ALLOWED")  # Canada
    assert _table(starts) == []
    assert starts.journal() == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD"])
def test_every_other_method_is_405_with_allow(starts: FunctionEnv, method: str) -> None:
    result = starts.invoke(build_rest_event(method, START))
    assert_problem(result, 405, "METHOD_NOT_ALLOWED")
    assert header(result, "Allow") == "POST, OPTIONS"


@pytest.mark.parametrize("method", ["GET", "PUT", "OPTIONS", "POST"])
def test_a_route_that_is_off_is_404_for_every_method(
    function_env: FunctionEnv, method: str
) -> None:
    _configure(function_env, START_COUNTRIES=" , ")
    result = function_env.invoke(
        build_rest_event(method, START, headers=JSON_HEADERS, body=_GOOD_JSON)
    )
    assert_problem(result, 404, "NOT_FOUND")
    assert header(result, "Allow") is None
    assert function_env.journal() == []


def test_a_refusal_exposes_retry_after_to_browsers(starts: FunctionEnv) -> None:
    _configure(starts, CORS_ALLOW_ORIGINS="https://app.example.com")
    event = start_event({"phoneNumber": NUMBER, "channel": "sms"})
    event["headers"]["Origin"] = "https://app.example.com"
    event["multiValueHeaders"]["Origin"] = ["https://app.example.com"]
    created = starts.invoke(event)
    assert created["statusCode"] == 201
    assert "Location" in (header(created, "Access-Control-Expose-Headers") or "")
    assert header(created, "Access-Control-Allow-Origin") == "https://app.example.com"
    refused = starts.invoke(event)
    assert_problem(refused, 429, "TOO_MANY_SENDS")
    assert "Retry-After" in (header(refused, "Access-Control-Expose-Headers") or "")


def test_a_non_fictional_test_number_is_refused_at_run_time(starts: FunctionEnv) -> None:
    real = "+14155552671"  # a 555 number outside the 0100-0199 range: not fictional
    _configure(starts, TEST_NUMBERS=json.dumps({real: "24680"}))
    assert_problem(_start(starts, real), 500, "INTERNAL_ERROR")
    assert starts.journal() == []
    assert _inbox(starts) == []


def test_an_expired_test_number_reference_is_410(starts: FunctionEnv) -> None:
    _configure(starts, VERIFICATION_TTL_SECONDS="1")
    started = json.loads(_start(starts, TEST_NUMBER, "call")["body"])
    time.sleep(max(0.0, _epoch(started["expiresAt"]) + 1.05 - time.time()))
    reference = started["referenceId"]
    assert_problem(starts.invoke(lookup_event(reference, TEST_PIN)), 410, "VERIFICATION_EXPIRED")
    assert starts.checks(reference) is None
    assert body_of(starts.invoke(lookup_event(reference)))["status"]["code"] == 100


# --------------------------------------------------------------------------- odd upstreams


@pytest.fixture
def raw(starts: FunctionEnv) -> Iterator[RawUpstream]:
    with raw_upstream() as server:
        _configure(starts, PROXSTOP_API_URL=server.url, MIN_SEND_INTERVAL_SECONDS="0")
        yield server


def _reply(status: str, body: bytes) -> Script:
    return answer(
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}",
        body,
    )


@pytest.mark.parametrize(
    ("body", "reference"),
    [
        (b'{"response":{"ref":"97a677dd3e0a42b8ea58d93d05bac89f"}}', VENDOR_REFERENCE),
        (b'{"response":{"ref": 12345678901234567890123456789012}}', "1234567890" * 3 + "12"),
        (b'{"ref": "97A677DD3E0A42B8EA58D93D05BAC89F"}', VENDOR_REFERENCE),
    ],
)
def test_odd_but_readable_references(
    starts: FunctionEnv, raw: RawUpstream, body: bytes, reference: str
) -> None:
    raw.play(_reply("200 OK", body))
    result = _start(starts)
    assert result["statusCode"] == 201, result["body"]
    assert json.loads(result["body"])["referenceId"] == reference
    assert header(result, "Location") == f"/v1/telephone-status?referenceId={reference}"
    assert raw.requests == 1


@pytest.mark.parametrize(
    ("status", "body", "http", "code"),
    [
        (
            "200 OK",
            b'{"response":{"ref":"97A677DD3E0A42B8EA58D93D05BAC89FF"}}',
            502,
            "UPSTREAM_BAD_RESPONSE",
        ),
        ("200 OK", b'{"response":{}}', 502, "UPSTREAM_BAD_RESPONSE"),
        ("200 OK", b"", 503, "UPSTREAM_UNAVAILABLE"),
        (
            "400 Bad Request",
            b'{"failed":{"error_code":"INVALID_TELEPHONE"}}',
            400,
            "INVALID_REQUEST",
        ),
        ("403 Forbidden", b"", 502, "UPSTREAM_REJECTED"),
        ("200 OK", b'{"failed":{"error_code":"OUT_OF_CREDIT"}}', 502, "UPSTREAM_REJECTED"),
        ("500 Internal Server Error", b"oops", 503, "UPSTREAM_UNAVAILABLE"),
        ("503 Service Unavailable", b"", 503, "UPSTREAM_UNAVAILABLE"),
        ("429 Too Many Requests", b"", 503, "UPSTREAM_UNAVAILABLE"),
        ("302 Found", b"", 502, "UPSTREAM_BAD_RESPONSE"),
    ],
)
def test_an_answered_start_is_never_repeated_and_counts(
    starts: FunctionEnv, raw: RawUpstream, status: str, body: bytes, http: int, code: str
) -> None:
    raw.play(_reply(status, body))
    document = assert_problem(_start(starts), http, code)
    if http == 400:
        assert [error["field"] for error in document["errors"]] == ["phoneNumber"]
    assert raw.requests == 1
    # It reached the upstream: it counts for the number (MAX_SENDS_PER_PHONE is 5).
    _configure(starts, MAX_SENDS_PER_PHONE="1", MIN_SEND_INTERVAL_SECONDS="0")
    assert_problem(_start(starts), 429, "TOO_MANY_SENDS")
    assert raw.requests == 1


def test_the_started_reference_item_has_the_fixed_layout(starts: FunctionEnv) -> None:
    before = int(time.time())
    body = json.loads(_start(starts, channel="call")["body"])
    item = starts.attempt_record(body["referenceId"])
    assert item is not None
    started_at = int(item["startedAt"]["N"])
    assert before <= started_at <= int(time.time())
    assert (item["phoneNumber"], item["channel"]) == ({"S": NUMBER}, {"S": "call"})
    assert int(item["verifyBy"]["N"]) == started_at + 600 == _epoch(body["expiresAt"])
    # The TTL ends the attempt window a day after the start, well after verifyBy.
    assert int(item["expiresAt"]["N"]) == started_at + 86_400
    # The guard and the record each read the clock: the same second, or the next.
    assert 0 <= started_at + 30 - _epoch(body["resendAfter"]) <= 1
    # Nothing about the PIN, and no attempt counted by starting.
    assert not {"guesses", "checks", "code", "pin"} & set(item)


@pytest.mark.parametrize(
    "counter",
    [
        {"sends": {"S": "1700000000"}},
        {"sends": {"L": [{"S": "1700000000"}]}},
        {"sends": {"L": [{"N": "1.5"}]}},
        {"sends": {"L": []}, "n": {"S": "3"}},
        {"sends": {"L": []}, "lastSend": {"S": "yesterday"}},
    ],
    ids=["sends-string", "send-time-string", "send-time-fraction", "n-string", "last-send-string"],
)
def test_a_counter_item_of_another_shape_sends_nothing(
    starts: FunctionEnv, counter: dict[str, Any]
) -> None:
    assert _start(starts)["statusCode"] == 201
    (phone_key,) = [
        item["referenceId"]["S"]
        for item in _table(starts)
        if item["referenceId"]["S"].startswith("phone#")
    ]
    dynamodb = starts._session().client("dynamodb", endpoint_url=starts.moto.endpoint_url)
    dynamodb.put_item(
        TableName=starts.table_name, Item={"referenceId": {"S": phone_key}, **counter}
    )
    # Fail closed: a count nobody can read grants no send (not a 500, not a 429).
    assert_problem(_start(starts), 503, "SERVICE_UNAVAILABLE")
    assert len(_start_requests(starts)) == 1
