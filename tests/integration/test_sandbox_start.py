"""The sandbox's telephonesms / telephonecall, its PIN-aware telephonestatus and its inbox."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest

from local.sandbox import DEFAULT_KEY, SandboxServer, control, reset_remote
from local.sandbox.starts import START_FAULTS, fault_number
from tests.integration.support import sent_pin

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PIN = sent_pin("24613")


@pytest.fixture(autouse=True)
def _clean(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_DELIVERY_SECONDS", "0.3")
    reset_remote(sandbox.url)


def _call(
    sandbox: SandboxServer, method: str, path: str, fields: dict[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    try:
        if method == "GET":
            conn.request("GET", f"{path}?{urlencode(fields)}" if fields else path)
        else:
            conn.request("POST", path, body=urlencode(fields or {}), headers=FORM)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _parse(fmt: str, body: bytes) -> dict[str, Any]:
    if fmt == "json":
        document: dict[str, Any] = json.loads(body)
        return document
    root = ElementTree.fromstring(body)
    return {root.tag: {child.tag: child.text for child in root}}


def _start(sandbox: SandboxServer, endpoint: str, fmt: str, **fields: str) -> dict[str, Any]:
    given = {"key": DEFAULT_KEY, "country": "1", "phone": "2025550142", "code": PIN, **fields}
    status, body = _call(sandbox, "POST", f"/{endpoint}.{fmt}", given)
    assert status == 200
    return _parse(fmt, body)


def _inbox(sandbox: SandboxServer, query: str = "") -> Any:
    status, body = _call(sandbox, "GET", "/inbox" + query)
    assert status == 200
    return json.loads(body)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("endpoint", "channel"), [("telephonesms", "sms"), ("telephonecall", "call")]
)
def test_start_remembers_the_pin_and_delivers(
    sandbox: SandboxServer, fmt: str, endpoint: str, channel: str
) -> None:
    document = _start(sandbox, endpoint, fmt)
    reference = document["response"]["ref"]
    assert len(reference) == 32
    assert reference == reference.upper()
    int(reference, 16)

    def status(code: str | None = None) -> dict[str, Any]:
        fields = {"key": DEFAULT_KEY, "referenceid": reference.lower()}
        if code is not None:
            fields["code"] = code
        _, body = _call(sandbox, "POST", f"/telephonestatus.{fmt}", fields)
        return dict(_parse(fmt, body)["response"])

    pending = {"sms": "203", "call": "103"}[channel]
    delivered = {"sms": "200", "call": "100"}[channel]
    assert str(status()["status"]) == pending
    assert str(status(PIN)["valid"]) == "0"
    assert str(status("99999")["valid"]) == "-1"
    time.sleep(0.35)
    assert str(status()["status"]) == delivered
    (message,) = _inbox(sandbox)
    assert message["phoneNumber"] == "+12025550142"
    assert (message["channel"], message["code"], message["referenceId"]) == (
        channel,
        PIN,
        reference,
    )


def test_inbox_is_newest_first_and_filters_one_number(sandbox: SandboxServer) -> None:
    first = _start(sandbox, "telephonesms", "json")["response"]["ref"]
    other = _start(sandbox, "telephonesms", "json", phone="2025550143")["response"]["ref"]
    second = _start(sandbox, "telephonecall", "json", message="German")["response"]["ref"]
    assert [m["referenceId"] for m in _inbox(sandbox)] == [second, other, first]
    mine = _inbox(sandbox, "?phoneNumber=%2B12025550142")
    assert [m["referenceId"] for m in mine] == [second, first]
    assert mine[0]["language"] == "German"
    assert _inbox(sandbox, "?phoneNumber=%2B19999999999") == []
    assert _inbox(sandbox, "?phoneNumber=+12025550142") == mine  # an unencoded +
    status, _ = _call(sandbox, "GET", "/inbox?number=1")
    assert status == 400


@pytest.mark.parametrize(
    ("fields", "error_code"),
    [
        ({"key": "wrong"}, "INVALID_KEY"),
        ({"phone": "202-555-0142"}, "INVALID_TELEPHONE"),
        ({"country": "+1"}, "INVALID_TELEPHONE"),
        ({"country": "1234"}, "INVALID_TELEPHONE"),
        ({"code": "99"}, "INVALID_CODE"),
        ({"code": "012345"}, "INVALID_CODE"),
    ],
)
def test_bad_starts_fail_and_send_nothing(
    sandbox: SandboxServer, fields: dict[str, str], error_code: str
) -> None:
    document = _start(sandbox, "telephonesms", "json", **fields)
    assert document["failed"]["error_code"] == error_code
    assert _inbox(sandbox) == []


def test_start_faults_are_listed_and_selected_by_number(sandbox: SandboxServer) -> None:
    assert control(sandbox.url, "GET", "start-faults") == START_FAULTS
    status, _ = _call(
        sandbox,
        "POST",
        "/telephonesms.json",
        {"key": DEFAULT_KEY, "country": "1", "phone": fault_number("91")[2:], "code": PIN},
    )
    assert status == 500
    assert len(_inbox(sandbox)) == 1  # sent, then failed
    document = _start(sandbox, "telephonesms", "json", phone=fault_number("93")[2:])
    assert document["failed"]["error_code"] == "INVALID_TELEPHONE"
    _, raw = _call(
        sandbox,
        "POST",
        "/telephonesms.json",
        {"key": DEFAULT_KEY, "country": "1", "phone": fault_number("94")[2:], "code": PIN},
    )
    with pytest.raises(ValueError, match="Expecting"):
        json.loads(raw)  # the vendor's example is not JSON


def test_requests_are_counted_and_reset_forgets_everything(sandbox: SandboxServer) -> None:
    reference = _start(sandbox, "telephonesms", "json")["response"]["ref"]
    assert control(sandbox.url, "GET", "stats")["requests"] == 1
    reset_remote(sandbox.url)
    assert _inbox(sandbox) == []
    _, body = _call(
        sandbox, "POST", "/telephonestatus.json", {"key": DEFAULT_KEY, "referenceid": reference}
    )
    assert json.loads(body)["failed"]["error_code"] == "INVALID_TELEREFERENCE"
