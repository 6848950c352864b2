"""Helpers shared by the integration test modules (imported as `tests.integration.support`).

- the secrets the suite sends (keys, PINs), registered so that the log-hygiene
  hook in conftest.py can look for them in every test's captured output;
- API Gateway events for the three request shapes, and readers for results;
- `AwsProxy` (re-exported from local/aws_proxy.py): a counting HTTP proxy in
  front of moto, so that AWS calls are counted at the server (by `X-Amz-Target`),
  and can be cut off on demand.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import pytest

from local.aws_proxy import GET_SECRET_VALUE, UPDATE_ITEM, AwsProxy
from local.lambda_runtime import build_rest_event
from local.sandbox import DEFAULT_KEY, PIN, VENDOR_REFERENCE

JSON_HEADERS: Final = {"Content-Type": "application/json"}
FORM_HEADERS: Final = {"Content-Type": "application/x-www-form-urlencoded"}
UNKNOWN_REFERENCE: Final = "DEADBEEFDEADBEEFDEADBEEFDEADBEEF"
WRONG_PIN: Final = "54321"

# --------------------------------------------------------------------------- secrets sent

ROTATED_KEY_PREFIX: Final = "rotated-key-"
# Every API key and PIN the suite sends: none may ever reach a log line (docs/security.md).
SENSITIVE_KEYS: Final[set[str]] = {DEFAULT_KEY}
SENSITIVE_PINS: Final[set[str]] = {PIN, WRONG_PIN}
_ROTATED_KEY_RE: Final = re.compile(re.escape(ROTATED_KEY_PREFIX) + r"[0-9a-f]{8,}")


def rotated_key() -> str:
    """A fresh API key for rotation tests, registered for the log-hygiene check."""
    key = f"{ROTATED_KEY_PREFIX}{uuid.uuid4().hex}"
    SENSITIVE_KEYS.add(key)
    return key


def sent_pin(pin: str) -> str:
    """Registers a PIN a test sends (so the log-hygiene check looks for it); returns it."""
    SENSITIVE_PINS.add(pin)
    return pin


def _pin_pattern(pin: str) -> re.Pattern[str]:
    # A PIN as a log *value*: "16322", :16322 or =16322 (bare digits could be part of an id).
    digits = re.escape(pin)
    return re.compile(rf'"{digits}"|[:=]\s?{digits}(?![0-9])')


def find_leaks(
    text: str, keys: Iterable[str] | None = None, pins: Iterable[str] | None = None
) -> list[str]:
    """Describes (without repeating them) the keys and PINs found in `text`."""
    keys = SENSITIVE_KEYS if keys is None else keys
    pins = SENSITIVE_PINS if pins is None else pins
    found = {key for key in keys if key and key in text}
    leaks = [
        "the sandbox API key" if key == DEFAULT_KEY else "a registered API key"
        for key in sorted(found)
    ]
    if any(match.group() not in found for match in _ROTATED_KEY_RE.finditer(text)):
        leaks.append(f"a rotated API key ({ROTATED_KEY_PREFIX}…)")
    leaks.extend(
        f"a PIN as a log value ({pin[:1]}{'*' * (len(pin) - 1)})"
        for pin in sorted(pins)
        if pin and _pin_pattern(pin).search(text)
    )
    return leaks


def phase_output(report: pytest.TestReport) -> str:
    """The output captured during the report's phase (setup, call or teardown)."""
    return "\n".join(
        content for title, content in report.sections if title.endswith(f" {report.when}")
    )


def flag_leaks(report: pytest.TestReport, text: str) -> None:
    """Turns `report` into a failure when `text` holds a key or a PIN (never echoing them)."""
    leaks = find_leaks(text)
    if not leaks:
        return
    message = f"log hygiene ({report.when}): the captured output contains " + "; ".join(leaks)
    report.outcome = "failed"
    report.longrepr = message if report.longrepr is None else f"{report.longrepr}\n\n{message}"


# --------------------------------------------------------------------------- events


def get_event(
    reference: str, code: str | None = None, *, field: str = "referenceId"
) -> dict[str, Any]:
    """GET /v1/telephone-status?referenceId=…[&code=…]."""
    query = [(field, reference)]
    if code is not None:
        query.append(("code", code))
    return build_rest_event("GET", query=query, headers={"Accept": "application/json"})


def post_json_event(payload: dict[str, Any]) -> dict[str, Any]:
    return build_rest_event("POST", headers=JSON_HEADERS, body=json.dumps(payload))


def post_form_event(fields: dict[str, str]) -> dict[str, Any]:
    return build_rest_event("POST", headers=FORM_HEADERS, body=urlencode(fields))


def lookup_event(reference: str, code: str | None = None) -> dict[str, Any]:
    """The recommended shape: POST JSON (keeps a PIN out of URLs)."""
    payload: dict[str, Any] = {"referenceId": reference}
    if code is not None:
        payload["code"] = code
    return post_json_event(payload)


# --------------------------------------------------------------------------- results


def header(result: dict[str, Any], name: str) -> str | None:
    """A response header from a proxy result (multi-value or single-value map)."""
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower() and values:
            return str(values[-1])
    for key, value in (result.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def body_of(result: dict[str, Any]) -> dict[str, Any]:
    """The parsed JSON body; every response must carry `Cache-Control: no-store`."""
    assert header(result, "Cache-Control") == "no-store", result
    document = json.loads(result["body"])
    assert isinstance(document, dict)
    return document


def comparable_body(result: dict[str, Any]) -> str:
    """The raw body with the per-request `requestId` and token values blanked (nothing else).

    A verification token differs per request (iat, jti); docs/api.md#success-response sets it aside.
    """
    text = str(result["body"])
    text = re.sub(r'"(token|expiresAt)":"[^"]*"', r'"\1":""', text)
    return re.sub(r',"requestId":"[^"]*"|"requestId":"[^"]*",?', "", text)


def assert_problem(result: dict[str, Any], status: int, code: str) -> dict[str, Any]:
    """Asserts a problem+json answer (docs/api.md#errors) and returns its body."""
    document = body_of(result)
    assert (result["statusCode"], document.get("code")) == (status, code), document
    assert header(result, "Content-Type") == "application/problem+json"
    assert document["status"] == status
    assert document["type"] == "about:blank"
    assert isinstance(document["title"], str)
    assert isinstance(document["detail"], str)
    assert isinstance(document["requestId"], str)
    assert document["requestId"]
    return document


def assert_status(
    result: dict[str, Any], reference: str, status: int, code_valid: bool | None
) -> dict[str, Any]:
    """Asserts a success answer for `reference` and returns its body.

    The body's fields: docs/api.md#success-response.
    """
    document = body_of(result)
    assert result["statusCode"] == 200, document
    assert header(result, "Content-Type") == "application/json"
    assert document["referenceId"] == reference.upper()
    assert document["status"]["code"] == status
    assert document["codeValid"] is code_valid
    return document


def emf_metrics(text: str) -> Counter[str]:
    """Sums of every CloudWatch EMF metric printed in `text` (one JSON document a line)."""
    totals: Counter[str] = Counter()
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                name = metric["Name"]
                values = document[name]
                values = values if isinstance(values, list) else [values]
                totals[name] += int(sum(values))
    return totals


def log_records(text: str) -> list[dict[str, Any]]:
    """The function's structured log lines (Powertools JSON), EMF documents left out."""
    records = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("{") and '"_aws"' not in line:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and "level" in record:
                    records.append(record)
    return records


# --------------------------------------------------------------------------- fault outcomes


@dataclass(frozen=True)
class Expect:
    """An outcome: a problem `code`, or a 200 with `status` and `codeValid`.

    Both are described in docs/api.md (#success-response, #errors).
    """

    http: int
    code: str | None = None
    status: int | None = None
    code_valid: bool | None = None


def _problem(http: int, code: str) -> tuple[Expect, Expect]:
    return Expect(http, code), Expect(http, code)


def _ok(status: int, *, valid_with_pin: bool | None) -> tuple[Expect, Expect]:
    return Expect(200, status=status), Expect(200, status=status, code_valid=valid_with_pin)


TIMEOUT: Final = "UPSTREAM_TIMEOUT"
UNAVAILABLE: Final = "UPSTREAM_UNAVAILABLE"
BAD_RESPONSE: Final = "UPSTREAM_BAD_RESPONSE"
REJECTED: Final = "UPSTREAM_REJECTED"

# Sandbox fault number -> (outcome without a code, outcome with the right PIN), per docs/api.md.
FAULT_EXPECTATIONS: Final[dict[int, tuple[Expect, Expect]]] = {
    1: _problem(504, TIMEOUT),  # sleeps past the deadline
    2: _problem(503, UNAVAILABLE),  # HTTP 500, small error document
    3: _problem(503, UNAVAILABLE),  # HTTP 502, nginx HTML page
    4: _problem(503, UNAVAILABLE),  # HTTP 503, empty body
    5: _problem(503, UNAVAILABLE),  # HTTP 200, empty body
    6: _problem(502, BAD_RESPONSE),  # HTTP 200, HTML maintenance page
    7: _problem(502, BAD_RESPONSE),  # truncated document
    8: _ok(100, valid_with_pin=True),  # the vendor's own (invalid) JSON sample
    9: _problem(503, UNAVAILABLE),  # neither status nor failed
    # 10/11: a status-only lookup retries past the 5xx; a PIN check must not (docs/upstream.md).
    10: (Expect(200, status=100), Expect(503, UNAVAILABLE)),
    11: (Expect(200, status=100), Expect(503, UNAVAILABLE)),
    12: _problem(503, UNAVAILABLE),  # TCP reset mid-body
    13: _problem(503, UNAVAILABLE),  # closed without a response
    14: _problem(504, TIMEOUT),  # drip-fed body
    15: _problem(502, BAD_RESPONSE),  # 10 MiB with Content-Length
    16: _problem(502, BAD_RESPONSE),  # 10 MiB chunked
    17: _problem(502, BAD_RESPONSE),  # billion laughs
    18: _problem(502, BAD_RESPONSE),  # XXE
    19: _problem(502, BAD_RESPONSE),  # valid = 1: fail closed
    20: _problem(502, BAD_RESPONSE),  # valid = "abc": fail closed
    21: _problem(502, BAD_RESPONSE),  # status "abc"
    22: _ok(100, valid_with_pin=True),  # BOM, CRLF, padded strings
    23: _problem(502, REJECTED),  # ACCOUNT_SUSPENDED
    24: _problem(503, UNAVAILABLE),  # HTTP 429
    25: _problem(502, BAD_RESPONSE),  # HTTP 302, not followed
    26: _ok(100, valid_with_pin=True),  # status "0100"
    27: _problem(502, REJECTED),  # HTTP 403 + failed INVALID_KEY
    28: _ok(100, valid_with_pin=True),  # compact JSON served as text/html
    29: _ok(203, valid_with_pin=None),  # no valid although a code was sent
    30: _problem(503, UNAVAILABLE),  # HTTP 500 with 10 MiB: decided on the status
    31: _problem(503, UNAVAILABLE),  # HTTP 502 dripping: its body is not waited for
    32: _problem(503, UNAVAILABLE),  # HTTP 503 with 10 MiB chunked
    33: _problem(502, BAD_RESPONSE),  # valid "+0": fail closed
    34: _problem(502, BAD_RESPONSE),  # status 1e2, in both formats
    35: _problem(502, REJECTED),  # failed without an error_code, alike in both formats
}
SLOW_FAULTS: Final = frozenset({1, 14})


def assert_outcome(result: dict[str, Any], reference: str, expect: Expect) -> dict[str, Any]:
    if expect.code is not None:
        return assert_problem(result, expect.http, expect.code)
    assert expect.status is not None
    return assert_status(result, reference, expect.status, expect.code_valid)


__all__ = [
    "DEFAULT_KEY",
    "GET_SECRET_VALUE",
    "PIN",
    "UNKNOWN_REFERENCE",
    "UPDATE_ITEM",
    "VENDOR_REFERENCE",
    "WRONG_PIN",
    "AwsProxy",
]
