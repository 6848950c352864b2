"""The requests `make bench` and `make load` send: one table, one row per scenario.

A row says what to send (`request(i)` for the i-th request), what must come back, and, for
the warm bench, the bare round trips the function cannot avoid on that path (`references`):
its own overhead is its wall time minus theirs. `target_p50_ms=None` keeps a row out of the
warm bench; `load_weight=0` keeps it out of `make load`. bench/README.md shows how to add one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import urllib3

from bench.common import MAX_CODE_ATTEMPTS, MAX_CODE_CHECKS, TABLE_NAME
from bench.targets import PIN_OVERHEAD_P50_MS, STATUS_OVERHEAD_P50_MS
from local.lambda_runtime import API_PATH, build_rest_event
from local.sandbox import DEFAULT_KEY, PIN, VENDOR_REFERENCE, status_reference

WRONG_PIN: Final = "54321"  # any other five digits: the sandbox answers valid = -1
JSON: Final = (("Content-Type", "application/json"),)
FORM: Final = (("Content-Type", "application/x-www-form-urlencoded"),)
# Status-only lookups: every published class and plenty of unknown codes.
STATUS_REFERENCES: Final = (VENDOR_REFERENCE, *(status_reference(c) for c in range(100, 1000, 7)))
# PIN checks spread over 100 ids (sandbox status 100..199).
CODE_REFERENCES: Final = tuple(status_reference(c) for c in range(100, 200))


@dataclass(frozen=True)
class Request:
    method: str
    path: str = API_PATH
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None

    def event(self) -> dict[str, Any]:
        """The API Gateway REST proxy event of this request."""
        return build_rest_event(
            self.method,
            self.path,
            query=list(self.query),
            headers=list(self.headers),
            body=self.body,
            stage="prod",
        )


class Bare:
    """Keep-alive connections straight to the sandbox and moto: what any client pays at least.

    AWS requests are sent as botocore would, unsigned (moto does not check signatures).
    """

    def __init__(self, sandbox_url: str, moto_url: str) -> None:
        pools = [urlsplit(url) for url in (sandbox_url, moto_url)]
        self._sandbox, self._moto = (
            urllib3.HTTPConnectionPool(u.hostname or "", u.port, maxsize=1, retries=False)
            for u in pools
        )

    def upstream(self, path: str, fields: dict[str, str]) -> None:
        fields = {"key": DEFAULT_KEY, **fields}
        response = self._sandbox.request("POST", path, body=urlencode(fields), headers=dict(FORM))
        if response.status != 200:
            raise RuntimeError(f"bare upstream {path}: HTTP {response.status}")

    def aws(self, service: str, target: str, payload: dict[str, Any]) -> dict[str, Any]:
        """An AWS JSON-protocol request, e.g. ("dynamodb", "DynamoDB_20120810.UpdateItem")."""
        protocol = "1.0" if service == "dynamodb" else "1.1"
        headers = {
            "Content-Type": f"application/x-amz-json-{protocol}",
            "X-Amz-Target": target,
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/"
            "aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0",
        }
        response = self._moto.request("POST", "/", body=json.dumps(payload), headers=headers)
        if response.status != 200:
            raise RuntimeError(f"bare {target}: HTTP {response.status} {response.data[:200]!r}")
        answer: dict[str, Any] = json.loads(response.data)
        return answer


@dataclass(frozen=True)
class Reference:
    name: str
    send: Callable[[Bare, int], object]


@dataclass(frozen=True)
class Scenario:
    name: str
    request: Callable[[int], Request]
    status: int  # the one HTTP status every request of this row must get
    check: Callable[[int, Any], bool] = lambda _i, _body: True  # on the JSON body (warm bench)
    references: tuple[Reference, ...] = ()
    target_p50_ms: float | None = None  # own overhead; None: not in the warm bench
    load_weight: int = 0


def _status_ref(i: int) -> str:
    return STATUS_REFERENCES[i % len(STATUS_REFERENCES)]


def _code_ref(i: int) -> str:
    return CODE_REFERENCES[i % len(CODE_REFERENCES)]


def _status_of(reference: str) -> int:
    return 100 if reference == VENDOR_REFERENCE else int(reference[-3:])


def _pin_check(pin: str) -> Callable[[int], Request]:
    return lambda i: Request(
        "POST", headers=JSON, body=json.dumps({"referenceId": _code_ref(i), "code": pin})
    )


def _pin_checked(pin: str) -> Callable[[int, Any], bool]:
    return lambda i, body: (
        body["status"]["code"] == _status_of(_code_ref(i)) and body["codeValid"] is (pin == PIN)
    )


def _bare_status(pin: str | None) -> Reference:
    def send(bare: Bare, i: int) -> None:
        code = {} if pin is None else {"code": pin}
        reference = _status_ref(i) if pin is None else _code_ref(i)
        bare.upstream("/telephonestatus.json", {"referenceid": reference, **code})

    return Reference("upstream", send)


def _bare_attempt(bare: Bare, i: int) -> object:
    """The function's own UpdateItem (expressions, values, return options) on an item of its
    own; the guess is an unkeyed stand-in of the same length."""
    from telephone_status.attempts import REGISTER_CONDITION, REGISTER_UPDATE  # noqa: PLC0415

    now, guess = int(time.time()), hashlib.sha256(f"bare:{i}".encode()).hexdigest()
    values = {
        ":guess": {"SS": [guess]},
        ":guessValue": {"S": guess},
        ":one": {"N": "1"},
        ":expires": {"N": str(now + 86400)},
        ":now": {"N": str(now)},
        ":maxChecks": {"N": str(MAX_CODE_CHECKS)},
        ":maxAttempts": {"N": str(MAX_CODE_ATTEMPTS)},
    }
    return bare.aws(
        "dynamodb",
        "DynamoDB_20120810.UpdateItem",
        {
            "TableName": TABLE_NAME,
            "Key": {"referenceId": {"S": "BARE" + _code_ref(i)[4:]}},
            "UpdateExpression": REGISTER_UPDATE,
            "ConditionExpression": REGISTER_CONDITION,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )


ATTEMPT_STORE: Final = Reference("attempt store", _bare_attempt)

SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario(
        "GET status-only",
        lambda i: Request("GET", query=(("referenceId", _status_ref(i)),)),
        200,
        lambda i, body: (
            body["status"]["code"] == _status_of(_status_ref(i)) and body["codeValid"] is None
        ),
        (_bare_status(None),),
        STATUS_OVERHEAD_P50_MS,
        load_weight=10,
    ),
    Scenario(
        "POST PIN correct",
        _pin_check(PIN),
        200,
        _pin_checked(PIN),
        (_bare_status(PIN), ATTEMPT_STORE),
        PIN_OVERHEAD_P50_MS,
        load_weight=2,
    ),
    Scenario(
        "POST PIN wrong",
        _pin_check(WRONG_PIN),
        200,
        _pin_checked(WRONG_PIN),
        (_bare_status(WRONG_PIN), ATTEMPT_STORE),
        PIN_OVERHEAD_P50_MS,
        load_weight=4,
    ),
    # Load only from here on.
    Scenario(
        "POST PIN check (form)",
        lambda i: Request(
            "POST",
            headers=FORM,
            body=urlencode(
                {"referenceid": _code_ref(i).lower(), "code": PIN if i % 3 == 0 else WRONG_PIN}
            ),
        ),
        200,
        load_weight=2,
    ),
    Scenario(
        "POST unknown id (404)",
        lambda i: Request(
            "POST",
            headers=JSON,
            body=json.dumps({"referenceId": f"{i + 1:032X}".replace("0", "E")}),
        ),  # unknown to the sandbox
        404,
        load_weight=1,
    ),
    Scenario(
        "POST bad input (400)",
        lambda i: (
            Request("POST", headers=JSON, body='{"referenceId": '),  # truncated JSON
            Request("POST", headers=JSON, body='{"code": "12345"}'),  # no referenceId
            Request("POST", headers=FORM, body="referenceid=ABC&referenceid=DEF"),
        )[i % 3],
        400,
        load_weight=1,
    ),
)
WARM: Final = tuple(s for s in SCENARIOS if s.target_p50_ms is not None)
