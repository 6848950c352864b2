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

import boto3
import urllib3
from botocore import xform_name
from botocore.config import Config

from bench.common import MAX_CODE_ATTEMPTS, MAX_CODE_CHECKS, START_LIMITS, TABLE_NAME
from bench.targets import PIN_OVERHEAD_P50_MS, START_OVERHEAD_P50_MS, STATUS_OVERHEAD_P50_MS
from local.lambda_runtime import API_PATH, build_rest_event
from local.sandbox import DEFAULT_KEY, PIN, VENDOR_REFERENCE, status_reference

WRONG_PIN: Final = "54321"  # any other five digits: the sandbox answers valid = -1
START_PATH: Final = "/v1/verifications"
JSON: Final = (("Content-Type", "application/json"),)
FORM: Final = (("Content-Type", "application/x-www-form-urlencoded"),)
# Status-only lookups: every published class and plenty of unknown codes.
STATUS_REFERENCES: Final = (VENDOR_REFERENCE, *(status_reference(c) for c in range(100, 1000, 7)))
# PIN checks spread over 100 ids (sandbox status 100..199).
CODE_REFERENCES: Final = tuple(status_reference(c) for c in range(100, 200))
# Starts: +1 AAA 555 NNNN, valid US numbers for libphonenumber, NNNN from 1000 (the fictional
# 555 01NN range of test numbers and sandbox faults stays out). A fresh number per request,
# its range (all but the last 4 digits) rotating over 40 area codes.
AREA_CODES: Final = (
    *(201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219),
    *(220, 223, 224, 225, 227, 228, 229, 231, 234, 235, 239, 240, 248, 251, 252, 253, 254),
    *(256, 260, 262, 267, 269, 270),
)
BARE_PIN: Final = "13579"  # the bare start's PIN; the function's is random


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

    AWS requests are sent as botocore would, unsigned (moto does not check signatures), or,
    with `through_sdk`, by a plain boto3 client configured as the function's are (one try,
    no client-side validation) but without their deadline-bound reads (those are the
    function's own work): what any caller of the store pays through the SDK.
    """

    def __init__(self, sandbox_url: str, moto_url: str, *, through_sdk: bool = False) -> None:
        pools = [urlsplit(url) for url in (sandbox_url, moto_url)]
        self._sandbox, self._moto = (
            urllib3.HTTPConnectionPool(u.hostname or "", u.port, maxsize=1, retries=False)
            for u in pools
        )
        self._moto_url = moto_url
        self._through_sdk = through_sdk
        # Each block writes items of its own: a block that updated the other block's items
        # instead of creating them would wait less on the store than the function does
        # (creating an item costs moto more than updating one).
        self.item_prefix = "sdk:" if through_sdk else "raw:"
        self._clients: dict[str, Any] = {}

    def upstream(self, path: str, fields: dict[str, str]) -> None:
        fields = {"key": DEFAULT_KEY, **fields}
        response = self._sandbox.request("POST", path, body=urlencode(fields), headers=dict(FORM))
        if response.status != 200:
            raise RuntimeError(f"bare upstream {path}: HTTP {response.status}")

    def aws(self, service: str, target: str, payload: dict[str, Any]) -> dict[str, Any]:
        """An AWS JSON-protocol request, e.g. ("dynamodb", "DynamoDB_20120810.UpdateItem")."""
        if self._through_sdk:
            call = getattr(self._client(service), xform_name(target.rpartition(".")[2]))
            answer: dict[str, Any] = call(**payload)
            return answer
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
        decoded: dict[str, Any] = json.loads(response.data)
        return decoded

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.session.Session().client(
                service,  # type: ignore[call-overload]
                endpoint_url=self._moto_url,
                config=Config(
                    connect_timeout=1.0,
                    read_timeout=2.0,
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    parameter_validation=False,
                ),
            )
        return self._clients[service]


@dataclass(frozen=True)
class Reference:
    name: str
    send: Callable[[Bare, int], object]
    store: bool = True  # an AWS call (measured raw and through boto3); False: the upstream


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

    return Reference("upstream", send, store=False)


def _bare_attempt(bare: Bare, i: int) -> object:
    """The function's own UpdateItem (expressions, values, return options) on an item of its
    own; the guess is an unkeyed stand-in of the same length."""
    from telephone_status.attempts import (  # noqa: PLC0415
        MAX_WINDOW_AHEAD_SECONDS,
        REGISTER_CONDITION,
        REGISTER_UPDATE,
        WINDOW_SECONDS,
    )

    now, guess = int(time.time()), _stand_in(f"guess:{i}")
    values = {
        ":guess": {"SS": [guess]},
        ":guessValue": {"S": guess},
        ":one": {"N": "1"},
        ":zero": {"N": "0"},
        ":expires": {"N": str(now + WINDOW_SECONDS)},
        ":now": {"N": str(now)},
        ":latest": {"N": str(now + MAX_WINDOW_AHEAD_SECONDS)},
        ":maxChecks": {"N": str(MAX_CODE_CHECKS)},
        ":maxAttempts": {"N": str(MAX_CODE_ATTEMPTS)},
        ":numberType": {"S": "N"},
        ":stringSetType": {"S": "SS"},
    }
    return _update(bare, "BARE" + _code_ref(i)[4:], REGISTER_UPDATE, values, REGISTER_CONDITION)


def _update(
    bare: Bare,
    key: str,
    update: str,
    values: dict[str, Any],
    condition: str | None = None,
    **more: str,
) -> dict[str, Any]:
    """A raw UpdateItem as the function sends it (conditional ones return the old item)."""
    extra = {"ConditionExpression": condition, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    return bare.aws(
        "dynamodb",
        "DynamoDB_20120810.UpdateItem",
        {
            "TableName": TABLE_NAME,
            "Key": {"referenceId": {"S": bare.item_prefix + key}},
            "UpdateExpression": update,
            "ExpressionAttributeValues": values,
            **({"ReturnValues": "ALL_NEW", **extra} if condition else {}),
            **more,
        },
    )


def _stand_in(message: str) -> str:
    """An unkeyed stand-in of a keyed hash: same length, never the function's own."""
    return hashlib.sha256(f"bare:{message}".encode()).hexdigest()


ATTEMPT_STORE: Final = Reference("attempt store", _bare_attempt)


def _number(i: int) -> str:
    area, line = AREA_CODES[i % len(AREA_CODES)], 1000 + i // len(AREA_CODES) % 9000
    return f"+1{area}555{line:04d}"


def _start_references() -> tuple[Reference, ...]:
    """The round trips of a start to a fresh number in the function's order, one per write of
    fraud_guard.py and starts.py, each on items of its own with the function's expressions: the
    number's and the range's windows, the hourly budget, the upstream send, the record, the
    newest reference."""

    def window(name: str, of: Callable[[str], str], max_sends: int) -> Reference:
        def send(bare: Bare, i: int) -> object:
            from telephone_status.fraud_guard import (  # noqa: PLC0415
                APPEND_CONDITION,
                APPEND_UPDATE,
            )

            now = int(time.time())
            values = {
                ":now": {"N": str(now)},
                ":expires": {"N": str(now + 86400)},
                ":one": {"N": "1"},
                ":nowList": {"L": [{"N": str(now)}]},
                ":empty": {"L": []},
                ":max": {"N": str(max_sends)},
                ":intervalCutoff": {"N": str(now - START_LIMITS["MIN_SEND_INTERVAL_SECONDS"])},
            }
            return _update(bare, of(_number(i)), APPEND_UPDATE, values, APPEND_CONDITION)

        return Reference(name, send)

    def hour(bare: Bare, i: int) -> object:
        from telephone_status.fraud_guard import HOUR_CONDITION, HOUR_UPDATE  # noqa: PLC0415

        now = int(time.time())
        values = {
            ":one": {"N": "1"},
            ":max": {"N": str(START_LIMITS["MAX_SENDS_PER_HOUR"])},
            ":expires": {"N": str(now - now % 3600 + 3600 + 86400)},
        }
        key = "hour#bare" + time.strftime("%Y%m%d%H", time.gmtime(now))
        return _update(bare, key, HOUR_UPDATE, values, HOUR_CONDITION)

    def record(bare: Bare, i: int) -> object:
        from telephone_status.starts import RECORD_UPDATE  # noqa: PLC0415

        now = int(time.time())
        values = {
            ":phone": {"S": _number(i)},
            ":channel": {"S": "sms"},
            ":startedAt": {"N": str(now)},
            ":verifyBy": {"N": str(now + 600)},
            ":expires": {"N": str(now + 600 + 86400)},
        }
        return _update(bare, _stand_in(f"ref:{i}")[:32].upper(), RECORD_UPDATE, values)

    def latest(bare: Bare, i: int) -> object:
        from telephone_status.starts import LATEST_UPDATE  # noqa: PLC0415

        ref = {":ref": {"S": _stand_in(f"ref:{i}")[:32].upper()}}
        key = _phone_key(_number(i))
        return _update(bare, key, LATEST_UPDATE, ref, ReturnValues="UPDATED_OLD")

    def upstream(bare: Bare, i: int) -> None:
        fields = {"country": "1", "phone": _number(i)[2:], "code": BARE_PIN}
        bare.upstream("/telephonesms.json", fields)

    return (
        window("number", _phone_key, START_LIMITS["MAX_SENDS_PER_PHONE"]),
        window(
            "range", lambda n: "prefix#" + _stand_in(n[:-4]), START_LIMITS["MAX_SENDS_PER_PREFIX"]
        ),
        Reference("budget", hour),
        Reference("upstream", upstream, store=False),
        Reference("record", record),
        Reference("latest", latest),
    )


def _phone_key(number: str) -> str:
    return "phone#" + _stand_in(number)


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
        (ATTEMPT_STORE, _bare_status(PIN)),
        PIN_OVERHEAD_P50_MS,
        load_weight=2,
    ),
    Scenario(
        "POST PIN wrong",
        _pin_check(WRONG_PIN),
        200,
        _pin_checked(WRONG_PIN),
        (ATTEMPT_STORE, _bare_status(WRONG_PIN)),
        PIN_OVERHEAD_P50_MS,
        load_weight=4,
    ),
    Scenario(
        "POST start (SMS)",
        lambda i: Request(
            "POST",
            START_PATH,
            headers=JSON,
            body=json.dumps({"phoneNumber": _number(i), "channel": "sms"}),
        ),
        201,
        lambda i, body: (
            body["channel"] == "sms"
            and body["phoneNumber"][-4:] == _number(i)[-4:]
            and len(body["referenceId"]) == 32
        ),
        _start_references(),
        START_OVERHEAD_P50_MS,
        load_weight=1,
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
