"""The smoke test's verdict on one answer, and what counts as a key (pure logic)."""

from __future__ import annotations

import json

import pytest
from telephone_status.credentials import PLACEHOLDER_API_KEY as FUNCTION_PLACEHOLDER

from tools.deploy.secret_value import (
    PLACEHOLDER_API_KEY,
    is_placeholder,
    secret_document,
    stored_key,
    usable_key,
)
from tools.deploy.smoke import SMOKE_REFERENCE_ID, judge

PROBLEM = "application/problem+json"


def _problem(status: int, code: str) -> bytes:
    return json.dumps(
        {"type": "about:blank", "title": "t", "status": status, "code": code, "detail": "d"}
    ).encode()


def _status_body(reference: str = SMOKE_REFERENCE_ID) -> bytes:
    return json.dumps(
        {
            "referenceId": reference,
            "status": {"code": 100, "channel": "call", "state": "delivered", "final": True},
            "codeValid": None,
        }
    ).encode()


def test_the_tools_know_the_placeholder_the_function_knows() -> None:
    assert PLACEHOLDER_API_KEY == FUNCTION_PLACEHOLDER
    assert is_placeholder(secret_document(PLACEHOLDER_API_KEY))
    assert is_placeholder(f"  {PLACEHOLDER_API_KEY}\n")  # the bare form
    assert not is_placeholder(secret_document("a-real-key"))


@pytest.mark.parametrize(
    ("secret", "key"),
    [('{"apiKey": " k1 "}', "k1"), ("k2", "k2"), ('{"apiKey": 5}', ""), ("{broken", "")],
)
def test_stored_key_reads_both_forms(secret: str, key: str) -> None:
    assert stored_key(secret) == key


@pytest.mark.parametrize("key", ["", "two words", "tab\there", "ключ", PLACEHOLDER_API_KEY])
def test_what_is_not_a_key(key: str) -> None:
    assert not usable_key(key)


def test_before_the_key_only_not_configured_passes() -> None:
    assert judge(503, PROBLEM, _problem(503, "NOT_CONFIGURED"), "not-configured").ok
    for status, code in ((500, "INTERNAL_ERROR"), (404, "UNKNOWN_REFERENCE"), (403, "FORBIDDEN")):
        assert not judge(status, PROBLEM, _problem(status, code), "not-configured").ok
    # A 503 whose body says another status is not this service's answer.
    assert not judge(503, PROBLEM, _problem(500, "NOT_CONFIGURED"), "not-configured").ok


def test_after_the_key_a_proxstop_answer_passes() -> None:
    assert judge(200, "application/json", _status_body(), "configured").ok
    assert judge(404, PROBLEM, _problem(404, "UNKNOWN_REFERENCE"), "configured").ok


@pytest.mark.parametrize(
    ("status", "content_type", "body", "says"),
    [
        (502, PROBLEM, _problem(502, "UPSTREAM_REJECTED"), "refused the key"),
        (503, PROBLEM, _problem(503, "NOT_CONFIGURED"), "no usable key"),
        (200, "application/json", _status_body("0" * 32), "unexpected"),
        (200, "text/html", _status_body(), "unexpected"),
        (200, "application/json", b"<html>", "not JSON"),
        (403, "application/json", b'{"message": "Forbidden"}', "unexpected"),
    ],
)
def test_after_the_key_anything_else_fails(
    status: int, content_type: str, body: bytes, says: str
) -> None:
    verdict = judge(status, content_type, body, "configured")
    assert not verdict.ok
    assert says in verdict.message
