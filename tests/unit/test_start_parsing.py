"""A start's request fields and the upstream's start answer (both formats)."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from telephone_status.deadline import Deadline
from telephone_status.errors import (
    InvalidRequest,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from telephone_status.normalise import StartAnswer, UpstreamFailure, parse_start
from telephone_status.request import LOCALES, PHONE_MESSAGE, parse_request, parse_start_request
from telephone_status.starts import new_pin, record_lifetime
from telephone_status.upstream import NotSent, UpstreamClient

from local.lambda_runtime import build_rest_event

REF = "97A677DD3E0A42B8EA58D93D05BAC89F"


def _event(body: str, content_type: str = "application/json", **kw: Any) -> APIGatewayProxyEvent:
    return APIGatewayProxyEvent(
        build_rest_event(
            "POST", "/v1/verifications", headers={"Content-Type": content_type}, body=body, **kw
        )
    )


def test_json_and_form_give_the_same_request() -> None:
    by_json = parse_start_request(
        _event(json.dumps({"phoneNumber": "+12025550142", "channel": "call", "locale": "de"}))
    )
    by_form = parse_start_request(
        _event(
            "phoneNumber=%2B12025550142&channel=call&locale=de",
            "application/x-www-form-urlencoded",
        )
    )
    assert by_json == by_form
    assert (by_json.phone_number, by_json.channel, by_json.locale) == ("+12025550142", "call", "de")


def test_locale_defaults_to_english() -> None:
    request = parse_start_request(_event('{"phoneNumber": "+12025550142", "channel": "sms"}'))
    assert request.locale == "en"


def test_a_repeat_with_the_same_value_is_fine() -> None:
    request = parse_start_request(
        _event('{"channel": "sms", "phoneNumber": "+12025550142", "channel": "sms"}')
    )
    assert request.channel == "sms"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ("{}", ["phoneNumber", "channel"]),
        ('{"phoneNumber": "+12025550142", "channel": "sms", "channel": "call"}', ["channel"]),
        ('{"phoneNumber": "+12025550142", "channel": "email"}', ["channel"]),
        ('{"phoneNumber": "+12025550142", "channel": null}', ["channel"]),
        ('{"phoneNumber": "+1202555014\\u0662", "channel": "sms"}', ["phoneNumber"]),
        ('{"phoneNumber": "+12025550142 ", "channel": "sms"}', ["phoneNumber"]),
        ('{"phoneNumber": "+1-202-555-0142", "channel": "sms"}', ["phoneNumber"]),
        ('{"phoneNumber": "+1234567890123456", "channel": "sms"}', ["phoneNumber"]),
        ('{"phoneNumber": "+12025550142", "channel": "sms", "locale": "xx"}', ["locale"]),
        ('{"phoneNumber": "+12025550142", "channel": "sms", "extra": 1}', ["extra"]),
        ('["+12025550142"]', ["body"]),
    ],
)
def test_invalid_bodies(body: str, fields: list[str]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_start_request(_event(body))
    assert [error.field for error in refused.value.errors] == fields
    # Each error reaches the problem body with its message; a missing one would be a 500.
    assert all(isinstance(e.message, str) and e.message for e in refused.value.errors)


@pytest.mark.parametrize(
    ("body", "query", "fields"),
    [
        ("", [], ["phoneNumber", "channel"]),
        ('{"other": 1, "phoneNumber": "+12025550142", "channel": "sms"}', [], ["other"]),
        ('{"channel": "sms"}', [("phone\x00", "1"), ("channel", "sms")], ["phone?", "channel"]),
    ],
    ids=["no-body", "unknown-first", "query-names"],
)
def test_each_field_is_named_once_and_printable(
    body: str, query: list[tuple[str, str]], fields: list[str]
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_start_request(_event(body, query=query))
    assert [error.field for error in refused.value.errors] == fields
    assert all(error.message for error in refused.value.errors)


def test_a_form_plus_is_a_space_and_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_start_request(
            _event("phoneNumber=+12025550142&channel=sms", "application/x-www-form-urlencoded")
        )


def test_query_fields_are_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_start_request(_event('{"channel": "sms"}', query=[("phoneNumber", "+12025550142")]))
    assert [error.field for error in refused.value.errors] == ["phoneNumber"]


VENDOR_JSON = (
    b'{\n\t"version": "1.0",\n\t"encoding": "UTF-8",\n\t"response": {\n'
    b'\t\t"ref": 97A677DD3E0A42B8EA58D93D05BAC89F\n\t}\n}'
)
VENDOR_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n'
    b"\t<ref>97A677DD3E0A42B8EA58D93D05BAC89F</ref>\n</response>"
)


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (VENDOR_JSON, "json"),
        (VENDOR_XML, "xml"),
        (b'{"response": {"ref": "97a677dd3e0a42b8ea58d93d05bac89f"}}', "json"),
        (b'{"ref": " 97A677DD3E0A42B8EA58D93D05BAC89F "}', "json"),
        (b"<response><ref>97a677dd3e0a42b8ea58d93d05bac89f</ref></response>", "xml"),
    ],
)
def test_the_reference_in_both_formats(body: bytes, fmt: str) -> None:
    assert parse_start(body, fmt) == StartAnswer(REF)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        b'{"response": {"ref": "97A677DD3E0A42B8EA58D93D05BAC89"}}',
        b'{"response": {"ref": "97A677DD3E0A42B8EA58D93D05BAC89FF"}}',
        b'{"response": {"ref": "97A677DD3E0A42B8EA58D93D05BAC89G"}}',
        b'{"response": {"ref": 12345}}',
        b'{"response": {"ref": ["97A677DD3E0A42B8EA58D93D05BAC89F"]}}',
        b'{"response": {"ref": "97A677DD3E0A42B8EA58D93D05BAC89F", "ref": "X"}}',
        b'{"response": {}}',
        b"<html>maintenance</html>",
    ],
)
def test_anything_but_32_hex_is_a_bad_response(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_start(body, "json")


def test_empty_is_unavailable() -> None:
    with pytest.raises(UpstreamUnavailable):
        parse_start(b" \r\n", "json")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_invalid_telephone(fmt: str) -> None:
    body = (
        b'{"failed": {"error_code": "INVALID_TELEPHONE", "error_msg": "x"}}'
        if fmt == "json"
        else b"<failed><error_code>INVALID_TELEPHONE</error_code></failed>"
    )
    outcome = parse_start(body, fmt)  # type: ignore[arg-type]
    assert isinstance(outcome, UpstreamFailure)
    assert outcome.is_invalid_telephone


@pytest.mark.parametrize("length", [4, 5])
def test_new_pin(length: int) -> None:
    pins = {new_pin(length) for _ in range(2000)}
    assert all(len(pin) == length and pin.isdigit() and pin[0] != "0" for pin in pins)
    assert len(pins) > 1500  # random, not a constant
    assert {pin[0] for pin in pins} == set("123456789")


def test_a_start_without_time_left_is_not_sent() -> None:
    """Cut before the request could leave: the caller learns nothing was sent (and gives
    the guard's quota back), the error is still the timeout."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        client = UpstreamClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "json")
        with pytest.raises(NotSent) as not_sent:
            client.send_once("telephonesms", {"phone": "2025550142"}, Deadline(0.05))
        assert isinstance(not_sent.value.error, UpstreamTimeout)
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()  # no connection was ever opened
        # A lookup sees the same timeout, unwrapped.
        with pytest.raises(UpstreamTimeout):
            client.fetch(key="k", reference_id=REF, code="12345", deadline=Deadline(0.05))
    finally:
        listener.close()


def _messages(event: APIGatewayProxyEvent, parse: Any) -> dict[str, str]:
    with pytest.raises(InvalidRequest) as refused:
        parse(event)
    return {error.field: error.message for error in refused.value.errors}


def test_a_start_speaks_the_lookups_words_for_the_same_mistakes() -> None:
    start = _messages(_event('{"channel": "sms", "channel": "call", "x": 1}'), parse_start_request)
    lookup = _messages(
        _event(f'{{"referenceId": "{REF}", "referenceId": "{REF[:-1]}0", "x": 1}}'),
        parse_request,
    )
    assert start["channel"] == lookup["referenceId"]  # given twice, differently
    assert start["x"] == lookup["x"]  # unknown field
    assert start["phoneNumber"] == _messages(_event("{}"), parse_request)["referenceId"]


def test_an_invalid_field_says_why_and_the_others_are_still_read() -> None:
    messages = _messages(
        _event('{"channel": "email", "phoneNumber": "+12025550142"}'), parse_start_request
    )
    assert list(messages) == ["channel"]
    assert "sms" in messages["channel"]


def test_every_wrong_field_is_named_with_its_message_in_one_answer() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_start_request(
            _event(
                json.dumps(
                    {"colour": "red", "phoneNumber": "555", "channel": "fax", "locale": "xx"}
                )
            )
        )
    assert [(e.field, e.message) for e in info.value.errors] == [
        ("colour", "unknown field"),
        ("phoneNumber", PHONE_MESSAGE),
        ("channel", "must be sms or call"),
        ("locale", "must be one of " + ", ".join(LOCALES)),
    ]


def test_a_start_that_meets_a_5xx_is_sent_once_and_answered_with_that_status() -> None:
    """A lookup retries a 5xx; a start never does: the SMS may already be on its way."""
    seen: list[tuple[str, bytes]] = []

    class Failing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = UpstreamClient(f"http://127.0.0.1:{server.server_address[1]}", "json")
        reply = client.send_once("telephonesms", {"phone": "2025550142"}, Deadline(5.0))
        assert (reply.status, reply.tries) == (503, 1)
        assert seen == [("/telephonesms.json", b"phone=2025550142")]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "answer",
    [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"],
    ids=["closed-before-answering", "body-broken-off"],
)
def test_a_start_cut_off_after_it_was_received_counts_as_sent(answer: bytes) -> None:
    """The upstream read the request: the SMS may be on its way, so it is neither repeated nor
    reported as unsent (the guard keeps its quota)."""
    listener = socket.create_server(("127.0.0.1", 0))
    requests: list[bytes] = []

    def serve_one() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5.0)
            requests.append(conn.recv(65536))
            conn.sendall(answer)

    server = threading.Thread(target=serve_one, daemon=True)
    server.start()
    try:
        client = UpstreamClient(f"http://127.0.0.1:{listener.getsockname()[1]}", "json")
        with pytest.raises(UpstreamUnavailable):
            client.send_once("telephonesms", {"phone": "2025550142"}, Deadline(5.0))
        server.join(timeout=5.0)
        assert len(requests) == 1
        assert requests[0].startswith(b"POST /telephonesms.json ")
    finally:
        listener.close()


@pytest.mark.parametrize(
    ("ttl", "lifetime"),
    [(1, 86_400), (600, 86_400), (82_800, 86_400), (82_801, 86_401), (86_400, 90_000)],
)
def test_a_started_record_lives_a_day_and_at_least_an_hour_past_verify_by(
    ttl: int, lifetime: int
) -> None:
    assert record_lifetime(ttl) == lifetime
