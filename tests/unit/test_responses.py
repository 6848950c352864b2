"""The responses module on its own: the last-resort 500 and the key set's response."""

from __future__ import annotations

import json

import pytest
from telephone_status import responses
from telephone_status.errors import InternalError, MethodNotAllowed, TooManyAttempts
from telephone_status.models import JsonWebKeySet

KEY = {
    "kty": "EC",
    "crv": "P-256",
    "x": "A" * 43,
    "y": "B" * 43,
    "kid": "C" * 43,
    "use": "sig",
    "alg": "ES256",
}


def test_the_last_resort_500_is_a_complete_problem_document() -> None:
    result = responses.internal_error_result("req-1")
    assert {name: value for name, value in result.items() if name != "body"} == {
        "statusCode": 500,
        "multiValueHeaders": {"Content-Type": ["application/problem+json"]},
        "isBase64Encoded": False,
    }
    assert json.loads(result["body"]) == {
        "type": "about:blank",
        "title": "Internal error",
        "status": 500,
        "code": "INTERNAL_ERROR",
        "detail": InternalError.default_detail,
        "requestId": "req-1",
    }


def test_the_key_set_is_a_public_cacheable_json_document() -> None:
    document = JsonWebKeySet.model_validate({"keys": [KEY]})
    response = responses.key_set(document)
    assert response.status_code == 200
    assert response.body is document
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=3600"


def test_a_429_problem_carries_attempts_remaining_and_retry_after() -> None:
    response = responses.problem(TooManyAttempts(retry_after_seconds=61), "req-2")
    assert response.status_code == 429
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "61"
    assert "Allow" not in response.headers
    body = json.loads(str(response.body))
    assert (body["attemptsRemaining"], body["requestId"]) == (0, "req-2")
    assert "errors" not in body


def test_a_405_problem_says_what_is_allowed_and_nothing_else() -> None:
    response = responses.problem(MethodNotAllowed(allow="GET, OPTIONS"), "req-3")
    assert response.headers["Allow"] == "GET, OPTIONS"
    assert "Retry-After" not in response.headers
    assert set(json.loads(str(response.body))) == {
        "type", "title", "status", "code", "detail", "requestId",
    }  # fmt: skip


def test_a_preflight_answer_lists_methods_headers_and_its_max_age() -> None:
    response = responses.preflight()
    assert response.status_code == 204
    assert {k: v for k, v in response.headers.items() if k.startswith("Access-Control-")} == {
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": responses.ALLOWED_HEADERS,
        "Access-Control-Max-Age": "600",
    }


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {"Vary": ["Origin"]}),
        ({"vary": ["Accept-Encoding"]}, {"vary": ["Accept-Encoding, Origin"]}),
        ({"Vary": ["Accept-Encoding,origin"]}, {"Vary": ["Accept-Encoding,origin"]}),
        ({"VARY": ["Accept, ", "Cookie"]}, {"VARY": ["Accept, Cookie, Origin"]}),
    ],
    ids=["none", "merged", "already-there", "spread-over-values"],
)
def test_origin_joins_the_vary_header_once_whatever_its_spelling(
    before: dict[str, list[str]], after: dict[str, list[str]]
) -> None:
    responses._add_vary(before, "Origin")
    assert before == after


@pytest.mark.parametrize(
    ("status", "cache_control", "kept"),
    [
        (200, "public, max-age=3600", True),
        (404, "public, max-age=3600", False),
        (200, "public, max-age=60", False),
    ],
    ids=["key-set", "not-a-200", "other-cache-control"],
)
def test_only_the_key_sets_200_stays_publicly_cacheable(
    status: int, cache_control: str, kept: bool
) -> None:
    result = {"statusCode": status, "headers": {"Cache-Control": cache_control}}
    finalised = responses.finalise(result, {}, ())
    headers = finalised["multiValueHeaders"]
    assert headers["Cache-Control"] == [cache_control if kept else "no-store"]
    assert headers["X-Content-Type-Options"] == ["nosniff"]


@pytest.mark.parametrize(
    "multi_value",
    [["public, max-age=3600"], ["public, max-age=3600", "public, max-age=3600"], ["private"]],
    ids=["one-value", "two-values", "other"],
)
def test_a_cache_control_given_as_multi_value_is_kept_only_when_it_is_the_key_sets_alone(
    multi_value: list[str],
) -> None:
    result = {"statusCode": 200, "multiValueHeaders": {"cache-control": multi_value}}
    headers = responses.finalise(result, {}, ())["multiValueHeaders"]
    kept = multi_value == ["public, max-age=3600"]
    assert headers["Cache-Control"] == ["public, max-age=3600" if kept else "no-store"]


ORIGIN = "https://app.example"


@pytest.mark.parametrize("allowed", [("*",), (ORIGIN,)], ids=["any-origin", "listed-origin"])
@pytest.mark.parametrize(
    ("status", "exposed"),
    [
        (201, "Retry-After, Allow, Location"),
        (200, "Retry-After, Allow"),
        (429, "Retry-After, Allow"),
    ],
)
def test_cors_grants_carry_exact_header_names_and_expose_location_on_a_start_only(
    allowed: tuple[str, ...], status: int, exposed: str
) -> None:
    event = {"headers": {"origin": ORIGIN}}
    headers = responses.finalise({"statusCode": status}, event, allowed)["multiValueHeaders"]
    granted = {k: v for k, v in headers.items() if k.startswith("Access-Control-")}
    assert granted == {
        "Access-Control-Allow-Origin": [allowed[0]],
        "Access-Control-Expose-Headers": [exposed],
    }
    assert headers.get("Vary") == (None if allowed == ("*",) else ["Origin"])


def test_a_problem_result_carries_the_errors_own_headers_with_their_values() -> None:
    result = responses.problem_result(TooManyAttempts(retry_after_seconds=61), "req-4")
    assert result["statusCode"] == 429
    assert result["multiValueHeaders"]["Retry-After"] == ["61"]
    assert result["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
