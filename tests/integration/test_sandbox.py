"""The ProxStop sandbox itself, over real HTTP: the function's tests are only as good as it is."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest

from local.sandbox import (
    DEFAULT_KEY,
    FAULTS,
    PIN,
    VENDOR_REFERENCE,
    SandboxServer,
    control,
    fault_reference,
    fetch_journal,
    reset_remote,
    start_sandbox,
    status_reference,
)
from local.sandbox.__main__ import main as sandbox_main
from local.sandbox.starts import START_FAULTS, fault_number

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
VENDOR_JSON_SAMPLE = (
    '{\n\t"version": "1.0",\n\t"encoding": "UTF-8",\n\t"response": {\n'
    '\t\t"status": 100\n\t\t"valid": 0\n\t}\n}'
)


@pytest.fixture(autouse=True)
def _clean(sandbox: SandboxServer) -> None:
    reset_remote(sandbox.url)


def _connect(sandbox: SandboxServer, timeout: float = 3.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=timeout)


def _ask(
    sandbox: SandboxServer,
    fmt: str,
    *,
    method: str = "POST",
    connection: http.client.HTTPConnection | None = None,
    fields: dict[str, str] | None = None,
    **overrides: str,
) -> tuple[int, bytes]:
    """One upstream call; fields default to the vendor example with the default key."""
    fields = {"key": DEFAULT_KEY, "referenceid": VENDOR_REFERENCE, **(fields or {}), **overrides}
    conn = connection or _connect(sandbox)
    try:
        if method == "GET":
            conn.request("GET", f"/telephonestatus.{fmt}?{urlencode(fields)}")
        else:
            conn.request("POST", f"/telephonestatus.{fmt}", body=urlencode(fields), headers=FORM)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        if connection is None:
            conn.close()


def _expected(fmt: str, **values: int) -> dict[str, Any]:
    """What a response element holds once parsed: XML text is always a string."""
    return dict(values) if fmt == "json" else {name: str(value) for name, value in values.items()}


def _parse(fmt: str, body: bytes) -> dict[str, Any]:
    """The answer as {"response": {...}} or {"failed": {...}}, whatever the format."""
    if fmt == "json":
        document: dict[str, Any] = json.loads(body)
        return document
    root = ElementTree.fromstring(body)
    return {root.tag: {child.tag: child.text for child in root}}


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_vendor_example_checks_the_pin(sandbox: SandboxServer, fmt: str, method: str) -> None:
    status, right = _ask(sandbox, fmt, method=method, code=PIN)
    assert status == 200
    _, wrong = _ask(sandbox, fmt, method=method, code="12345")
    _, no_code = _ask(sandbox, fmt, method=method)
    assert _parse(fmt, right)["response"] == _expected(fmt, status=100, valid=0)
    assert _parse(fmt, wrong)["response"] == _expected(fmt, status=100, valid=-1)
    assert _parse(fmt, no_code)["response"] == _expected(fmt, status=100)


def test_documents_use_the_vendor_layout(sandbox: SandboxServer) -> None:
    _, xml = _ask(sandbox, "xml", code=PIN)
    assert xml == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n'
        b"\t<status>100</status>\n\t<valid>0</valid>\n</response>"
    )
    _, body = _ask(sandbox, "json", code=PIN)
    assert json.loads(body) == {
        "version": "1.0",
        "encoding": "UTF-8",
        "response": {"status": 100, "valid": 0},
    }


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_failures_in_documented_order(sandbox: SandboxServer, fmt: str) -> None:
    cases = {
        "INVALID_KEY": {"key": "0" * 32, "referenceid": "not-even-checked"},
        "MISSING_REFERENCEID": {"referenceid": ""},
        "INVALID_TELEREFERENCE": {"referenceid": "DEADBEEF" * 4},
    }
    for error_code, fields in cases.items():
        status, body = _ask(sandbox, fmt, fields=fields)
        assert status == 200
        assert _parse(fmt, body)["failed"]["error_code"] == error_code
    _, body = _ask(sandbox, fmt, referenceid="DEADBEEF" * 4)
    message = _parse(fmt, body)["failed"]["error_msg"]
    assert message == "The telephone reference ID provided is not valid."


def test_missing_key_is_invalid_key(sandbox: SandboxServer) -> None:
    conn = _connect(sandbox)
    conn.request("GET", f"/telephonestatus.json?referenceid={VENDOR_REFERENCE}")
    body = conn.getresponse().read()
    assert json.loads(body)["failed"]["error_code"] == "INVALID_KEY"


def test_references_are_case_insensitive_and_any_status_is_available(
    sandbox: SandboxServer,
) -> None:
    _, body = _ask(sandbox, "json", referenceid=VENDOR_REFERENCE.lower(), code=PIN)
    assert json.loads(body)["response"] == {"status": 100, "valid": 0}
    for code in (101, 203, 222, 599, 999):
        _, body = _ask(sandbox, "json", referenceid=status_reference(code))
        assert json.loads(body)["response"] == {"status": code}


def test_journal_records_where_the_key_was_sent(sandbox: SandboxServer) -> None:
    _ask(sandbox, "json", method="POST", code=PIN)
    _ask(sandbox, "xml", method="GET")
    post, get = fetch_journal(sandbox.url)
    assert post["method"] == "POST"
    assert post["path"] == "/telephonestatus.json"
    assert (post["key_in_body"], post["key_in_query"]) == (True, False)
    assert sorted(post["form_keys"]) == ["code", "key", "referenceid"]
    assert post["query_keys"] == []
    assert post["has_code"] is True
    assert post["referenceid"] == VENDOR_REFERENCE
    assert (get["key_in_body"], get["key_in_query"]) == (False, True)
    assert get["has_code"] is False
    assert get["timestamp"] >= post["timestamp"]
    assert isinstance(get["connection_id"], int)
    # The journal must never hold the key or the PIN themselves.
    assert DEFAULT_KEY not in json.dumps([post, get])
    assert PIN not in json.dumps([post, get])


def test_flaky_fault_fails_twice_then_recovers_until_reset(sandbox: SandboxServer) -> None:
    flaky = fault_reference(10)
    statuses = [_ask(sandbox, "json", referenceid=flaky)[0] for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    control(sandbox.url, "POST", "reset")
    assert _ask(sandbox, "json", referenceid=flaky)[0] == 500


def test_keep_alive_requests_share_one_connection(sandbox: SandboxServer) -> None:
    conn = _connect(sandbox)
    try:
        first = _ask(sandbox, "json", connection=conn)
        second = _ask(sandbox, "xml", connection=conn, code=PIN)
    finally:
        conn.close()
    assert first[0] == second[0] == 200
    stats = control(sandbox.url, "GET", "stats")
    assert stats["requests"] == 2
    assert stats["connections"] == 1
    assert len({entry["connection_id"] for entry in fetch_journal(sandbox.url)}) == 1


def test_key_can_be_rotated(sandbox: SandboxServer) -> None:
    control(sandbox.url, "POST", "key", {"key": "rotated-key"})
    _, old = _ask(sandbox, "json")
    _, new = _ask(sandbox, "json", key="rotated-key")
    assert json.loads(old)["failed"]["error_code"] == "INVALID_KEY"
    assert json.loads(new)["response"] == {"status": 100}


def test_fault_table_is_complete_printed_for_the_docs_and_ids_pass_validation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert list(FAULTS) == [fault_reference(n) for n in range(1, 36)]
    assert all(re.fullmatch(r"[0-9A-F]{32}", reference) for reference in FAULTS)
    # `python -m local.sandbox --faults` prints exactly this table, as Markdown, for the docs.
    assert sandbox_main(["--faults"]) == 0
    status_table, start_table = capsys.readouterr().out.split("\n\n", 1)
    header, rule, *rows = status_table.splitlines()
    assert header.startswith("|")
    assert set(rule) <= set("|- ")
    printed = {}
    for row in rows:
        number, reference, description = (cell.strip() for cell in row.strip("|").split(" | "))
        assert reference == f"`{fault_reference(int(number))}`"
        printed[reference.strip("`")] = description
    assert printed == FAULTS
    # The start faults follow, keyed by the phone number that shows each one.
    start_rows = [line for line in start_table.splitlines() if line.startswith("| 9")]
    printed_starts = {}
    for row in start_rows:
        nn, number, description = (cell.strip() for cell in row.strip("|").split(" | "))
        assert number == f"`{fault_number(nn)}`"
        printed_starts[nn] = description
    assert printed_starts == START_FAULTS


def test_vendor_sample_fault_is_verbatim(sandbox: SandboxServer) -> None:
    _, body = _ask(sandbox, "json", referenceid=fault_reference(8), code="99999")
    assert body.decode() == VENDOR_JSON_SAMPLE
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_connection_faults_break_the_connection(sandbox: SandboxServer) -> None:
    with pytest.raises((ConnectionError, http.client.IncompleteRead)):
        _ask(sandbox, "json", referenceid=fault_reference(12))
    with pytest.raises(http.client.RemoteDisconnected):
        _ask(sandbox, "json", referenceid=fault_reference(13))


@pytest.mark.parametrize(("fault", "header"), [(15, "Content-Length"), (16, "Transfer-Encoding")])
def test_big_bodies_stop_when_the_client_leaves(
    sandbox: SandboxServer, fault: int, header: str
) -> None:
    conn = _connect(sandbox)
    query = urlencode({"key": DEFAULT_KEY, "referenceid": fault_reference(fault)})
    conn.request("GET", f"/telephonestatus.json?{query}")
    response = conn.getresponse()
    assert response.getheader(header) in ("10485760", "chunked")
    response.read(1024)
    conn.close()
    assert _ask(sandbox, "json")[0] == 200


def test_stop_wakes_a_sleeping_scenario() -> None:
    server = start_sandbox(slow_seconds=30)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(_ask(server, "json", referenceid=fault_reference(1)))
        except (ConnectionError, http.client.HTTPException, TimeoutError) as error:
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 2
    while not server.journal() and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    caller.join(3)
    assert time.monotonic() - started < 1.5
    assert not caller.is_alive()
    assert isinstance(outcome[0], http.client.RemoteDisconnected | ConnectionError)
