"""End to end: the real handler in-process, over real HTTP to the sandbox and to moto.

Issue 2: the vendor example in every request shape, every status class, every
sandbox scenario in both upstream formats with byte-identical bodies, every
file in events/ replayed, the key only ever in the upstream POST body, and
`Cache-Control: no-store` on every response.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest
from telephone_status.catalogue import retryable_of

from local.lambda_runtime import ROOT, build_rest_event
from local.sandbox import FAULTS, fault_reference, status_reference
from tests.integration.support import (
    FAULT_EXPECTATIONS,
    PIN,
    SLOW_FAULTS,
    UNKNOWN_REFERENCE,
    VENDOR_REFERENCE,
    WRONG_PIN,
    Expect,
    assert_outcome,
    assert_problem,
    assert_status,
    body_of,
    comparable_body,
    get_event,
    header,
    post_form_event,
    post_json_event,
)

if TYPE_CHECKING:
    from tests.integration.conftest import FunctionEnv, FunctionOutput

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

EventFactory = Callable[[str, str | None], dict[str, Any]]


def _get(reference: str, code: str | None) -> dict[str, Any]:
    return get_event(reference, code)


def _post_json(reference: str, code: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"referenceId": reference}
    if code is not None:
        payload["code"] = code
    return post_json_event(payload)


def _post_form(reference: str, code: str | None) -> dict[str, Any]:
    fields = {"referenceId": reference}
    if code is not None:
        fields["code"] = code
    return post_form_event(fields)


SHAPES: Final[dict[str, EventFactory]] = {
    "get-query": _get,
    "post-json": _post_json,
    "post-form": _post_form,
}

# SPEC §4 and the upstream reference: code -> (channel, state, description).
PUBLISHED: Final[dict[int, tuple[str, str, str]]] = {
    100: ("call", "delivered", "Call answered"),
    101: ("call", "failed", "Not answered"),
    103: ("call", "pending", "Call in progress"),
    105: ("call", "pending", "Call not handled yet"),
    106: ("call", "failed", "Call failed"),
    107: ("call", "failed", "Line busy"),
    108: ("call", "failed", "Call canceled"),
    129: ("call", "failed", "Call blocked by customer request"),
    130: ("call", "failed", "Call blocked"),
    200: ("sms", "delivered", "Delivered to handset"),
    203: ("sms", "pending", "Delivered to gateway"),
    207: ("sms", "failed", "Error delivering SMS to handset (reason unknown)"),
    210: ("sms", "failed", "Temporary phone error"),
    211: ("sms", "failed", "Permanent phone error"),
    220: ("sms", "failed", "Gateway/network cannot route message"),
    221: ("sms", "failed", "Message expired before delivery"),
    222: ("sms", "failed", "SMS not supported"),
}
# The likely further codes (inferred from Telesign's list): state given there, no description.
INFERRED: Final[dict[int, tuple[str, str]]] = {
    102: ("call", "failed"),
    104: ("call", "failed"),
    **dict.fromkeys((229, 230, 231, 233, 237, 238), ("sms", "failed")),
    **dict.fromkeys((250, 251), ("sms", "unknown")),
    **dict.fromkeys((290, 291, 292, 295), ("sms", "pending")),
    **dict.fromkeys(
        (503, 504, 505, 506, 507, 510, 511, 512, 513, 514, 515, 518, 519),
        ("unknown", "failed"),
    ),
    599: ("unknown", "unknown"),
}
# Neither published nor inferred: passed on, classified by first digit, never rejected.
UNKNOWN: Final[dict[int, tuple[str, str]]] = {
    109: ("call", "unknown"),
    199: ("call", "unknown"),
    201: ("sms", "unknown"),
    299: ("sms", "unknown"),
    300: ("unknown", "unknown"),
    404: ("unknown", "unknown"),
    500: ("unknown", "unknown"),
    999: ("unknown", "unknown"),
}
EXPECTED_STATUS: Final[dict[int, tuple[str, str, str | None]]] = {
    **PUBLISHED,
    **{code: (*pair, None) for code, pair in INFERRED.items()},
    **{code: (*pair, None) for code, pair in UNKNOWN.items()},
}

# Deadlines themselves are timed in test_faults.py. Long enough that the attempt store's
# budget (it fits the time left too, SPEC §7) still leaves the upstream a try under load.
SLOW_SCENARIO_TIMEOUT: Final = 1.5
EVENTS_DIR: Final = ROOT / "events"
# events/<name>.json -> expected HTTP status when replayed against the sandbox.
EVENT_STATUS: Final = {
    "get-status": 200,
    "get-with-code": 200,
    "post-json": 200,
    "post-form": 200,
    "invalid-reference": 400,
    "invalid-code": 400,
    "unknown-reference": 404,
    "get-jwks": 200,
    "start-sms": 201,
    "start-call-form": 201,
    "start-test-number": 201,
    "start-premium-rate": 400,
}
# The start events need the route on: the countries and test number `make run` uses.
START_SETTINGS: Final = {"START_COUNTRIES": "US,GB", "TEST_NUMBERS": '{"+12025550123": "24680"}'}


def assert_key_only_in_post_body(journal: list[dict[str, Any]], fmt: str) -> None:
    """SPEC §7: the key travels in a POST form body, never in a URL (and neither does a PIN)."""
    assert journal, "the sandbox saw no request"
    for entry in journal:
        assert entry["method"] == "POST"
        assert entry["path"] == f"/telephonestatus.{fmt}"
        assert entry["key_in_body"] is True
        assert entry["key_in_query"] is False
        assert entry["query_keys"] == []
        assert str(entry["content_type"]).startswith("application/x-www-form-urlencoded")


# --------------------------------------------------------------------------- vendor example


def test_vendor_example_in_every_request_shape(function_env: FunctionEnv) -> None:
    """16322 is right, another PIN wrong, no PIN null: by GET query, POST JSON and POST form."""
    status = {
        "code": 100,
        "channel": "call",
        "state": "delivered",
        "description": "Call answered",
        "final": True,
        "retryable": None,
    }
    reference = {"referenceId": VENDOR_REFERENCE, "status": status}
    for index, (shape, make) in enumerate(SHAPES.items()):
        right = body_of(function_env.invoke(make(VENDOR_REFERENCE, PIN)))
        wrong = body_of(function_env.invoke(make(VENDOR_REFERENCE, WRONG_PIN)))
        status_only = body_of(function_env.invoke(make(VENDOR_REFERENCE, None)))
        verification = right.pop("verification")
        assert set(verification) == {"token", "expiresAt"}, shape  # checked in test_verification
        # Two distinct PINs in all: the later shapes repeat them at no cost.
        assert right == {**reference, "codeValid": True, "attemptsRemaining": 3 if index else 4}
        assert wrong == {
            **reference,
            "codeValid": False,
            "attemptsRemaining": 3,
            "verification": None,
        }
        assert status_only == {
            **reference,
            "codeValid": None,
            "attemptsRemaining": None,
            "verification": None,
        }
        journal = function_env.journal()
        assert [entry["has_code"] for entry in journal] == [True, True, False], shape
        assert_key_only_in_post_body(journal, "json")
        function_env.sandbox.reset()

    # Any case in, the canonical upper-case id out (and upstream).
    result = function_env.invoke(_post_json(VENDOR_REFERENCE.lower(), PIN))
    assert_status(result, VENDOR_REFERENCE, 100, True)
    assert [entry["referenceid"] for entry in function_env.journal()] == [VENDOR_REFERENCE]


def test_unknown_reference_is_404(function_env: FunctionEnv) -> None:
    event = get_event(UNKNOWN_REFERENCE)
    problem = assert_problem(function_env.invoke(event), 404, "UNKNOWN_REFERENCE")
    assert problem["title"] == "Unknown reference"
    assert problem["detail"] == "The telephone reference ID provided is not valid."
    assert problem["requestId"] == event["requestContext"]["requestId"]


# --------------------------------------------------------------------------- status classes


def test_every_status_class_in_both_formats(function_env: FunctionEnv) -> None:
    bodies: dict[str, dict[int, str]] = {}
    for fmt in ("json", "xml"):
        function_env.set_format(fmt)
        bodies[fmt] = {}
        for code, (channel, state, description) in EXPECTED_STATUS.items():
            reference = status_reference(code)
            result = function_env.invoke(get_event(reference))
            document = assert_status(result, reference, code, None)
            assert document["status"] == {
                "code": code,
                "channel": channel,
                "state": state,
                "description": description,
                "final": state in ("delivered", "failed"),
                "retryable": retryable_of(code),
            }, code
            bodies[fmt][code] = result["body"]
    assert bodies["json"] == bodies["xml"]

    # Status references check PINs like any other reference.
    for code, pin, valid in [(203, PIN, True), (999, WRONG_PIN, False)]:
        reference = status_reference(code)
        assert_status(function_env.invoke(_post_form(reference, pin)), reference, code, valid)


# --------------------------------------------------------------------------- both formats

SCENARIOS: Final[dict[str, tuple[str, str | None, Expect]]] = {
    "vendor-status-only": (VENDOR_REFERENCE, None, Expect(200, status=100)),
    "vendor-right-pin": (VENDOR_REFERENCE, PIN, Expect(200, status=100, code_valid=True)),
    "vendor-wrong-pin": (VENDOR_REFERENCE, WRONG_PIN, Expect(200, status=100, code_valid=False)),
    "status-203-right-pin": (
        status_reference(203),
        PIN,
        Expect(200, status=203, code_valid=True),
    ),
    "status-599": (status_reference(599), None, Expect(200, status=599)),
    "unknown-reference": (UNKNOWN_REFERENCE, None, Expect(404, "UNKNOWN_REFERENCE")),
    "unknown-reference-with-pin": (UNKNOWN_REFERENCE, PIN, Expect(404, "UNKNOWN_REFERENCE")),
    **{
        f"fault-{number:02d}{'-pin' if with_pin else ''}": (
            fault_reference(number),
            PIN if with_pin else None,
            FAULT_EXPECTATIONS[number][with_pin],
        )
        for number in sorted(FAULT_EXPECTATIONS)
        for with_pin in (False, True)
    },
}


def test_scenarios_cover_every_sandbox_fault() -> None:
    assert set(FAULT_EXPECTATIONS) == set(range(1, len(FAULTS) + 1))
    assert [fault_reference(n) for n in FAULT_EXPECTATIONS] == list(FAULTS)


def _is_slow(scenario: str) -> bool:
    reference = SCENARIOS[scenario][0]
    return any(fault_reference(number) == reference for number in SLOW_FAULTS)


SCENARIO_GROUPS: Final[dict[str, list[str]]] = {
    "answers": [name for name in SCENARIOS if not _is_slow(name)],
    **{
        f"slow-fault-{number:02d}": [
            name for name in SCENARIOS if SCENARIOS[name][0] == fault_reference(number)
        ]
        for number in sorted(SLOW_FAULTS)
    },
}


@pytest.mark.parametrize("group", SCENARIO_GROUPS)
def test_both_formats_give_byte_identical_bodies(
    function_env: FunctionEnv,
    function_output: FunctionOutput,
    subtests: pytest.Subtests,
    group: str,
) -> None:
    """Each scenario once per format (one cold start per format); bodies compared byte for byte.

    Error bodies are compared with their per-request `requestId` cut out.
    """
    names = SCENARIO_GROUPS[group]
    function_env.monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "3")
    results: dict[str, dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]] = {}
    for fmt in ("json", "xml"):
        function_env.set_format(fmt)
        function_env.clear_attempts()  # the same attemptsRemaining in both formats
        # Warm: a slow scenario's short deadline is then all the upstream's.
        assert function_env.invoke(get_event(VENDOR_REFERENCE))["statusCode"] == 200
        results[fmt] = {}
        for name in names:
            reference, code, _ = SCENARIOS[name]
            function_env.sandbox.reset()  # fault counters (10, 11) start over
            timeout = SLOW_SCENARIO_TIMEOUT if _is_slow(name) else 5.0
            result = function_env.invoke(_post_json(reference, code), timeout_seconds=timeout)
            results[fmt][name] = (result, function_env.journal())
    for name in names:
        reference, code, expect = SCENARIOS[name]
        with subtests.test(msg=name):
            for fmt in ("json", "xml"):
                result, journal = results[fmt][name]
                assert_outcome(result, reference, expect)
                assert_key_only_in_post_body(journal, fmt)
                assert all(entry["has_code"] is (code is not None) for entry in journal)
            json_body = comparable_body(results["json"][name][0])
            assert json_body == comparable_body(results["xml"][name][0])
    assert "Traceback" not in function_output.read()


# --------------------------------------------------------------------------- events/


def _event_files() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


def test_every_event_file_has_an_expectation() -> None:
    assert {path.stem for path in _event_files()} == set(EVENT_STATUS)


def test_event_files_replay(function_env: FunctionEnv, subtests: pytest.Subtests) -> None:
    for name, value in START_SETTINGS.items():
        function_env.monkeypatch.setenv(name, value)
    for path in _event_files():
        with subtests.test(msg=path.name):
            function_env.sandbox.reset()
            _replay(function_env, path)


def _replay(function_env: FunctionEnv, path: Path) -> None:
    event = json.loads(path.read_text())
    result = function_env.invoke(event)
    expected = EVENT_STATUS[path.stem]
    assert result["statusCode"] == expected, result["body"]
    if path.stem.startswith("start-"):
        _replayed_start(function_env, path.stem, result)
        return
    if path.stem == "get-jwks":  # the one cacheable response (SPEC §9)
        assert header(result, "Cache-Control") == "public, max-age=3600"
        assert [key["alg"] for key in json.loads(result["body"])["keys"]] == ["ES256"]
        assert function_env.journal() == []  # the key set never asks the upstream
        return
    document = body_of(result)
    if expected == 200:
        sent_code = any(entry["has_code"] for entry in function_env.journal())
        assert document["referenceId"] == VENDOR_REFERENCE
        assert document["status"]["code"] == 100
        assert document["codeValid"] is (True if sent_code else None)
        assert_key_only_in_post_body(function_env.journal(), "json")
        return
    assert document["requestId"] == event["requestContext"]["requestId"]
    if expected == 400:
        assert_problem(result, 400, "INVALID_REQUEST")
        field = "code" if "code" in path.stem else "referenceId"
        assert [error["field"] for error in document["errors"]] == [field]
        assert function_env.journal() == []  # validation happens before any network call
    else:
        assert_problem(result, 404, "UNKNOWN_REFERENCE")


def _replayed_start(function_env: FunctionEnv, name: str, result: dict[str, Any]) -> None:
    document = body_of(result)
    sends = [e for e in function_env.journal() if e["path"].startswith("/telephone")]
    if name == "start-premium-rate":
        assert_problem(result, 400, "INVALID_REQUEST")
        assert [error["field"] for error in document["errors"]] == ["phoneNumber"]
        assert sends == []
        return
    assert header(result, "Location") == (
        f"/v1/telephone-status?referenceId={document['referenceId']}"
    )
    expected_path = {
        "start-sms": ["/telephonesms.json"],
        "start-call-form": ["/telephonecall.json"],
        "start-test-number": [],  # a test number is never sent
    }[name]
    assert [entry["path"] for entry in sends] == expected_path
    assert all(entry["key_in_body"] and not entry["key_in_query"] for entry in sends)


# --------------------------------------------------------------------------- every response


ROUTING_ANSWERS: Final = [
    ("PUT", "/v1/telephone-status", 405),
    ("DELETE", "/v1/telephone-status", 405),
    ("PATCH", "/v1/telephone-status", 405),
    ("GET", "/v1/elsewhere", 404),
    ("POST", "/", 404),
    ("OPTIONS", "/v1/telephone-status", 204),
]


def test_no_store_on_routing_answers(function_env: FunctionEnv) -> None:
    headers = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    for method, path, status in ROUTING_ANSWERS:
        result = function_env.invoke(build_rest_event(method, path, headers=headers))
        assert result["statusCode"] == status, (method, path)
        assert header(result, "Cache-Control") == "no-store"
        if status == 405:
            assert_problem(result, 405, "METHOD_NOT_ALLOWED")
            assert header(result, "Allow") == "GET, POST, OPTIONS"
        elif status == 404:
            assert_problem(result, 404, "NOT_FOUND")
        else:
            assert header(result, "Access-Control-Allow-Methods") == "GET, POST, OPTIONS"
    assert function_env.journal() == []
