"""SPEC §2/§5: the Lambda handler on paths that never reach AWS or the upstream.

AWS_ENDPOINT_URL points at a closed local port, so a stray AWS call fails instead of
reaching anything real.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telephone_status import service
from telephone_status.handler import lambda_handler
from telephone_status.observability import logger

ROUTE = "/v1/telephone-status"
RID = "97A677DD3E0A42B8EA58D93D05BAC89F"
PIN = "73195"
ALLOWED_ORIGIN = "https://app.example.com"
FOREIGN_ORIGIN = "https://evil.example.net"
# observability.py silences this at import; pytest restores warning filters per test.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

APIGW_REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
LAMBDA_REQUEST_ID = "0f6c3e1a-lambda-request-id"


@dataclass
class FakeContext:
    aws_request_id: str = LAMBDA_REQUEST_ID
    function_name: str = "telephone-status"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:telephone-status"
    log_group_name: str = "/aws/lambda/telephone-status"
    log_stream_name: str = "2024/01/01/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def make_event(
    method: str = "GET",
    path: str = ROUTE,
    *,
    query: dict[str, str] | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = APIGW_REQUEST_ID,
) -> dict[str, Any]:
    headers = headers or {}
    request_context: dict[str, Any] = {
        "resourcePath": ROUTE,
        "httpMethod": method,
        "path": f"/dev{path}",
        "stage": "dev",
        "identity": {"sourceIp": "192.0.2.1"},
    }
    if request_id is not None:
        request_context["requestId"] = request_id
    return {
        "resource": ROUTE,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": request_context,
    }


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = lambda_handler(event, cast(LambdaContext, FakeContext()))
    return result


def headers_of(result: dict[str, Any]) -> dict[str, str]:
    """Response headers, lower-cased names, whichever of the two maps carries them."""
    found = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        found[name.lower()] = ", ".join(values)
    return found


def problem_of(result: dict[str, Any]) -> dict[str, Any]:
    assert headers_of(result)["content-type"] == "application/problem+json"
    body: dict[str, Any] = json.loads(result["body"])
    assert body["status"] == result["statusCode"]
    assert body["type"] == "about:blank"
    assert body["title"]
    assert body["detail"]
    return body


@pytest.fixture(scope="module")
def shared_session() -> boto3.session.Session:
    return boto3.session.Session(region_name="us-east-1")


@pytest.fixture(autouse=True)
def environment(
    monkeypatch: pytest.MonkeyPatch, shared_session: boto3.session.Session
) -> Iterator[None]:
    for name in (
        "PROXSTOP_API_URL",
        "PROXSTOP_FORMAT",
        "ATTEMPTS_TABLE_NAME",
        "MAX_CODE_ATTEMPTS",
        "SECRET_MAX_AGE_SECONDS",
        "POWERTOOLS_LOGGER_LOG_EVENT",
        "POWERTOOLS_DEV",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROXSTOP_SECRET_ID", "proxstop/api-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", f"{ALLOWED_ORIGIN},http://localhost:3000")
    # Speed only: one real boto3 session for the module, so that each cold start does not
    # reload botocore's service models (clients are still built per cold start, for real).
    monkeypatch.setattr(boto3.session, "Session", lambda *_, **__: shared_session)
    service.reset_cold_start_state()
    yield
    service.reset_cold_start_state()


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the time (capsys' buffer during a test)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Returns a function giving the JSON log lines written so far."""
    # The Powertools handler keeps the stdout it saw at import, which capsys does not see.
    monkeypatch.setattr(logger.registered_handler, "stream", _CurrentStdout())

    def read() -> list[dict[str, Any]]:
        out = capsys.readouterr().out
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    return read


# --- 400 ---------------------------------------------------------------------------------

INVALID_REQUESTS = [
    pytest.param(
        make_event(query={"referenceId": RID[:31], "code": PIN}), ["referenceId"], id="get"
    ),
    pytest.param(
        make_event(
            "POST",
            body=json.dumps({"referenceId": RID, "code": "0" + PIN}),
            headers={"Content-Type": "application/json"},
        ),
        ["code"],
        id="post-json-bad-pin",
    ),
    pytest.param(
        make_event(
            "POST",
            body=f"referenceId={RID}&pin={PIN}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        ["pin"],
        id="post-form-unknown-field",
    ),
    pytest.param(
        make_event(
            "POST", body=f"referenceId={RID}&code={PIN}", headers={"Content-Type": "text/plain"}
        ),
        ["Content-Type"],
        id="post-text-plain",
    ),
    pytest.param(make_event(query={"code": PIN}), ["referenceId"], id="get-missing-reference"),
]


@pytest.mark.parametrize(("event", "fields"), INVALID_REQUESTS)
def test_invalid_request_is_a_400_problem_with_field_errors(
    event: dict[str, Any], fields: list[str], log_lines: Any
) -> None:
    result = invoke(event)
    assert result["statusCode"] == 400
    problem = problem_of(result)
    assert problem["code"] == "INVALID_REQUEST"
    assert problem["requestId"] == APIGW_REQUEST_ID
    assert [error["field"] for error in problem["errors"]] == fields
    assert all(set(error) == {"field", "message"} for error in problem["errors"])
    # The PIN is in neither the response nor any log line.
    assert PIN not in result["body"]
    lines = log_lines()
    assert lines, "the handler logs as JSON on stdout"
    assert all(PIN not in json.dumps(line) for line in lines)
    assert any(line.get("errorCode") == "INVALID_REQUEST" for line in lines)


@pytest.mark.parametrize("request_context", [{"stage": "dev"}, {"requestId": ""}, None])
def test_request_id_falls_back_to_the_lambda_request_id(request_context: Any) -> None:
    event = make_event(query={"referenceId": "nope"})
    if request_context is None:
        del event["requestContext"]
    else:
        event["requestContext"] = request_context
    result = invoke(event)
    assert result["statusCode"] == 400
    assert problem_of(result)["requestId"] == LAMBDA_REQUEST_ID


def test_validation_comes_before_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXSTOP_SECRET_ID")
    service.reset_cold_start_state()
    result = invoke(make_event(query={"referenceId": "nope"}))
    assert result["statusCode"] == 400
    assert problem_of(result)["code"] == "INVALID_REQUEST"


# --- 404 / 405 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/v1"),
        ("GET", "/v1/telephone-status/extra"),
        ("GET", "/v2/telephone-status"),
        ("POST", "/telephonestatus.json"),
        ("GET", "/v1/TELEPHONE-STATUS"),
    ],
)
def test_unknown_path_is_a_404_not_found(method: str, path: str) -> None:
    result = invoke(make_event(method, path, query={"referenceId": RID}))
    assert result["statusCode"] == 404
    problem = problem_of(result)
    assert problem["code"] == "NOT_FOUND"
    assert problem["requestId"] == APIGW_REQUEST_ID
    assert "errors" not in problem


@pytest.mark.parametrize("path", ["/v1/telephone-status", "/v1/telephone-status/"])
@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH", "HEAD"])
def test_other_methods_are_a_405_with_allow(method: str, path: str) -> None:
    result = invoke(make_event(method, query={"referenceId": RID}, path=path))
    assert result["statusCode"] == 405
    assert problem_of(result)["code"] == "METHOD_NOT_ALLOWED"
    allowed = {m.strip() for m in headers_of(result)["allow"].split(",")}
    assert allowed == {"GET", "POST", "OPTIONS"}


# --- CORS --------------------------------------------------------------------------------


def preflight(origin: str) -> dict[str, Any]:
    return make_event(
        "OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


@pytest.mark.parametrize("origin", [ALLOWED_ORIGIN, "http://localhost:3000"])
def test_preflight_from_an_allowed_origin_is_granted(origin: str) -> None:
    result = invoke(preflight(origin))
    assert result["statusCode"] == 204
    assert not result["body"]
    headers = headers_of(result)
    assert headers["access-control-allow-origin"] == origin
    assert "POST" in headers["access-control-allow-methods"]
    assert "GET" in headers["access-control-allow-methods"]
    assert "content-type" in headers["access-control-allow-headers"].lower()
    assert "x-api-key" in headers["access-control-allow-headers"].lower()
    assert "origin" in headers["vary"].lower()
    # Deployed, OPTIONS reaches this same function (tests/infra: test_preflight_is_answered_by_
    # the_function), so this is the preflight browsers get in every environment.
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "origin", [FOREIGN_ORIGIN, "https://app.example.com.evil.net", "http://app.example.com", "null"]
)
def test_preflight_from_a_foreign_origin_gets_no_cors_grant(origin: str) -> None:
    result = invoke(preflight(origin))
    assert not any(name.startswith("access-control-") for name in headers_of(result))


def test_error_responses_carry_the_cors_grant_for_an_allowed_origin() -> None:
    result = invoke(make_event(query={"referenceId": "nope"}, headers={"Origin": ALLOWED_ORIGIN}))
    assert result["statusCode"] == 400
    assert headers_of(result)["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_error_responses_carry_no_cors_grant_for_a_foreign_origin() -> None:
    result = invoke(make_event(query={"referenceId": "nope"}, headers={"Origin": FOREIGN_ORIGIN}))
    assert result["statusCode"] == 400
    assert not any(name.startswith("access-control-") for name in headers_of(result))


def test_wildcard_allow_list_grants_any_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "*")
    service.reset_cold_start_state()
    result = invoke(preflight(FOREIGN_ORIGIN))
    assert result["statusCode"] == 204
    assert headers_of(result)["access-control-allow-origin"] == "*"


# --- headers on every response -----------------------------------------------------------

EVERY_KIND_OF_RESPONSE = [
    pytest.param(make_event(query={"referenceId": "nope"}), id="400"),
    pytest.param(make_event("GET", "/nowhere"), id="404"),
    pytest.param(make_event("DELETE"), id="405"),
    pytest.param(preflight(ALLOWED_ORIGIN), id="204-preflight"),
    pytest.param(preflight(FOREIGN_ORIGIN), id="preflight-foreign"),
]


@pytest.mark.parametrize("event", EVERY_KIND_OF_RESPONSE)
def test_every_response_has_cache_control_no_store(event: dict[str, Any]) -> None:
    assert headers_of(invoke(event))["cache-control"] == "no-store"


def test_500_has_cache_control_no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROXSTOP_SECRET_ID")
    service.reset_cold_start_state()
    assert headers_of(invoke(make_event(query={"referenceId": RID})))["cache-control"] == "no-store"


# --- misconfiguration --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROXSTOP_SECRET_ID", None),
        ("PROXSTOP_SECRET_ID", ""),
        ("PROXSTOP_FORMAT", "yaml"),
        ("MAX_CODE_ATTEMPTS", "0"),
        ("PROXSTOP_API_URL", "api.proxstop.com"),
    ],
)
def test_misconfigured_environment_is_a_bare_500(
    monkeypatch: pytest.MonkeyPatch, log_lines: Any, name: str, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    service.reset_cold_start_state()
    event = make_event(
        "POST",
        body=json.dumps({"referenceId": RID, "code": PIN}),
        headers={"Content-Type": "application/json"},
    )
    result = invoke(event)
    assert result["statusCode"] == 500
    problem = problem_of(result)
    assert problem == {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "code": "INTERNAL_ERROR",
        "detail": "The request could not be processed.",
        "requestId": APIGW_REQUEST_ID,
    }
    logged = json.dumps(log_lines())
    for text in (result["body"], logged):
        assert "Traceback" not in text
        assert 'File "' not in text
        assert PIN not in text


def test_unknown_field_names_reach_the_client_but_not_the_logs(log_lines: Any) -> None:
    # A client may put anything in a field name, its PIN included.
    result = invoke(make_event(query={"referenceId": RID, "16322": "x"}))
    assert result["statusCode"] == 400
    assert problem_of(result)["errors"] == [{"field": "16322", "message": "unknown field"}]
    logged = json.dumps(log_lines())
    assert "(unknown field): unknown field" in logged
    assert "16322" not in logged


# --- Vary: Origin on every response an allow-list shapes (issue 11, item 12) ---------------

ORIGIN_CASES = [
    pytest.param({}, id="no-origin"),
    pytest.param({"Origin": ALLOWED_ORIGIN}, id="allowed"),
    pytest.param({"Origin": FOREIGN_ORIGIN}, id="foreign"),
    pytest.param({"origin": "null"}, id="null-origin"),
]
KINDS_OF_EVENT = [
    pytest.param(lambda h: make_event(query={"referenceId": "nope"}, headers=h), id="400"),
    pytest.param(lambda h: make_event("GET", "/nowhere", headers=h), id="404"),
    pytest.param(lambda h: make_event("DELETE", headers=h), id="405"),
    pytest.param(
        lambda h: preflight(h["Origin"]) if "Origin" in h else make_event("OPTIONS"),
        id="preflight",
    ),
]


def _vary(result: dict[str, Any]) -> list[str]:
    value = headers_of(result).get("vary", "")
    return [item.strip().lower() for item in value.split(",") if item.strip()]


@pytest.mark.parametrize("headers", ORIGIN_CASES)
@pytest.mark.parametrize("build", KINDS_OF_EVENT)
def test_with_an_allow_list_every_response_varies_on_origin(
    build: Any, headers: dict[str, str]
) -> None:
    result = invoke(build(headers))
    assert _vary(result).count("origin") == 1


def test_a_500_before_the_settings_load_grants_no_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_CODE_ATTEMPTS", "not a number")  # the runtime cannot be built
    service.reset_cold_start_state()
    result = invoke(make_event(query={"referenceId": RID}, headers={"Origin": FOREIGN_ORIGIN}))
    assert result["statusCode"] == 500
    # The allow-list is unreadable with the rest of the settings: no grant, and no
    # claim that the answer depends on Origin either.
    assert "access-control-allow-origin" not in headers_of(result)


@pytest.mark.parametrize("headers", ORIGIN_CASES)
@pytest.mark.parametrize("build", KINDS_OF_EVENT)
def test_a_wildcard_grants_every_response_alike_without_vary(
    monkeypatch: pytest.MonkeyPatch, build: Any, headers: dict[str, str]
) -> None:
    """`*` answers every origin (and none) the same way, so nothing varies on Origin."""
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "*")
    service.reset_cold_start_state()
    result = invoke(build(headers))
    assert headers_of(result)["access-control-allow-origin"] == "*"
    assert "origin" not in _vary(result)


def test_no_allow_list_means_no_cors_and_no_vary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "")
    service.reset_cold_start_state()
    result = invoke(preflight(ALLOWED_ORIGIN))
    assert not any(name.startswith("access-control-") for name in headers_of(result))
    assert "origin" not in _vary(result)


@pytest.mark.parametrize("build", KINDS_OF_EVENT)
def test_a_granted_origin_may_read_retry_after_and_allow(build: Any) -> None:
    granted = headers_of(invoke(build({"Origin": ALLOWED_ORIGIN})))
    assert granted["access-control-allow-origin"] == ALLOWED_ORIGIN
    exposed = {h.strip().lower() for h in granted["access-control-expose-headers"].split(",")}
    assert {"retry-after", "allow"} <= exposed
    refused = headers_of(invoke(build({"Origin": FOREIGN_ORIGIN})))
    assert not any(name.startswith("access-control-") for name in refused)


# --- hand-made events of any shape ---------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
EVENT_MEMBERS = [
    "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
    "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body",
    "isBase64Encoded", "requestContext",
]  # fmt: skip
# Odd values aimed at each member: the shapes a replayed or edited event can hold.
ODD_MEMBER_VALUES = st.one_of(
    JSON_VALUES,
    st.dictionaries(
        st.sampled_from(["referenceId", "code", "content-type", "Origin"]), JSON_VALUES
    ),
    st.dictionaries(
        st.sampled_from(["referenceId", "code", "Content-Type", "origin"]),
        st.lists(JSON_VALUES, max_size=3) | st.none(),
    ),
)


def _odd_events() -> st.SearchStrategy[Any]:
    base = st.sampled_from(
        [
            make_event(query={"referenceId": RID, "code": PIN}),
            make_event(
                "POST",
                body=json.dumps({"referenceId": RID}),
                headers={"Content-Type": "application/json"},
            ),
            make_event("GET", "/v1/jwks.json"),
        ]
    )
    changes = st.dictionaries(
        st.sampled_from(EVENT_MEMBERS), ODD_MEMBER_VALUES | st.just(_MISSING), min_size=1
    )

    def apply(event: dict[str, Any], changed: dict[str, Any]) -> dict[str, Any]:
        event = json.loads(json.dumps(event))
        for name, value in changed.items():
            if value is _MISSING:
                event.pop(name, None)
            else:
                event[name] = value
        return event

    return st.builds(apply, base, changes) | JSON_VALUES


_MISSING = object()


def _assert_answer(result: Any) -> None:
    assert isinstance(result, dict)
    assert isinstance(result["statusCode"], int)
    if result["statusCode"] != 200:
        body = problem_of(result)
        assert isinstance(body["code"], str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_odd_events())
def test_any_event_shape_gets_an_answer_and_the_handler_never_raises(event: Any) -> None:
    _assert_answer(invoke(event))


ODD_EVENTS = [
    pytest.param({"queryStringParameters": {"referenceId": None}}, id="query-null"),
    pytest.param({"queryStringParameters": {"referenceId": 5}}, id="query-number"),
    pytest.param({"queryStringParameters": {"referenceId": [RID]}}, id="query-list"),
    pytest.param({"multiValueQueryStringParameters": {"referenceId": RID}}, id="multi-string"),
    pytest.param({"multiValueQueryStringParameters": {"referenceId": [5]}}, id="multi-number"),
    pytest.param({"multiValueQueryStringParameters": []}, id="multi-list"),
    pytest.param({"httpMethod": "POST", "body": {"referenceId": RID}}, id="body-dict"),
    pytest.param({"httpMethod": "POST", "body": [RID]}, id="body-list"),
    pytest.param({"httpMethod": "POST", "body": 5}, id="body-number"),
    pytest.param(
        {"httpMethod": "POST", "headers": {"Content-Type": 5}, "body": "{}"}, id="ctype-5"
    ),
    pytest.param({"headers": [["Origin", ALLOWED_ORIGIN]]}, id="headers-list"),
    pytest.param({"multiValueHeaders": {"Origin": [None]}}, id="multi-header-null"),
    pytest.param({"headers": {"Origin": None}}, id="header-null"),
    pytest.param({"multiValueHeaders": {"Origin": ALLOWED_ORIGIN}}, id="multi-header-string"),
    pytest.param({"multiValueHeaders": []}, id="multi-headers-list"),
    pytest.param({"isBase64Encoded": "yes", "httpMethod": "POST", "body": "e30="}, id="b64-str"),
    pytest.param({"isBase64Encoded": 1}, id="b64-int"),
    pytest.param({"httpMethod": None}, id="method-null"),
    pytest.param({"httpMethod": 5}, id="method-number"),
    pytest.param({"httpMethod": _MISSING}, id="method-missing"),
    pytest.param({"path": None}, id="path-null"),
    pytest.param({"path": ["/v1/telephone-status"]}, id="path-list"),
    pytest.param({"path": _MISSING}, id="path-missing"),
    pytest.param({"requestContext": []}, id="context-list"),
    pytest.param({"requestContext": "x"}, id="context-string"),
    pytest.param({"requestContext": {"requestId": 5}}, id="context-request-id-number"),
    pytest.param({"pathParameters": 5, "stageVariables": []}, id="path-parameters"),
]


@pytest.mark.parametrize("changes", ODD_EVENTS)
def test_hand_made_events_with_odd_values_get_a_problem_answer(
    changes: dict[str, Any], log_lines: Any
) -> None:
    event = make_event(query={"referenceId": RID})
    for name, value in changes.items():
        if value is _MISSING:
            event.pop(name)
        else:
            event[name] = value
    if "queryStringParameters" in changes or changes.get("httpMethod") == "POST":
        event["multiValueQueryStringParameters"] = None
    if changes.get("httpMethod") == "POST":
        event["queryStringParameters"] = None
    result = invoke(event)
    assert result["statusCode"] == 400
    body = problem_of(result)
    assert body["code"] == "INVALID_REQUEST"
    assert body["requestId"]
    assert any(line.get("statusCode") == 400 for line in log_lines())


@pytest.mark.parametrize("event", [None, [], "event", 5, True, [make_event()]], ids=repr)
def test_an_event_that_is_not_an_object_gets_a_problem_answer(event: Any) -> None:
    result = invoke(event)
    assert result["statusCode"] == 400
    assert problem_of(result)["requestId"] == LAMBDA_REQUEST_ID
